//! The wire types of Latch's HTTP API, shared by the server and the CLI, and a typed client.
//!
//! Architecture Invariant: no logic here beyond (de)serialization and HTTP plumbing.
//! Times are RFC 3339 strings in UTC; ids are UUID strings.

mod api_accounts;
mod audit;
mod auth;
pub mod client;
mod error;
mod groups;
mod inventory;
mod redact;
mod ssh_keys;
mod sys;
mod users;

pub use api_accounts::*;
pub use audit::*;
pub use auth::*;
pub use error::*;
pub use groups::*;
pub use inventory::*;
pub use ssh_keys::*;
pub use sys::*;
pub use users::*;
