//! A typed client: added with the CLI.
