//! Test helpers shared by Latch's crates: a ready application on SQLite or PostgreSQL with a
//! manual clock, and a throwaway PostgreSQL cluster.
//!
//! Architecture Invariant: this crate appears only in `[dev-dependencies]`.

pub mod app;
pub mod postgres;
pub mod sshd;
