//! Test helpers shared by Latch's crates: a ready application on SQLite or PostgreSQL with a
//! manual clock, a throwaway PostgreSQL cluster, a throwaway OpenSSH server, S3 (s3s-fs) and Azure Blob
//! (Azurite) servers, a headless Chromium, and a small private disk for a server.
//!
//! Architecture Invariant: this crate appears only in `[dev-dependencies]`.

pub mod app;
pub mod azurite;
pub mod browser;
pub mod postgres;
mod process;
pub mod s3;
pub mod small_disk;
pub mod sshd;
