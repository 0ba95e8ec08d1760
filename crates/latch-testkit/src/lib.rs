//! Test helpers shared by Latch's crates: a ready application on SQLite or PostgreSQL with a
//! manual clock, a throwaway PostgreSQL cluster and a throwaway OpenSSH server.
//!
//! Architecture Invariant: this crate appears only in `[dev-dependencies]`.

pub mod app;
pub mod postgres;
mod process;
pub mod sshd;
