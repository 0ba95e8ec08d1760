//! The wire types of Latch's HTTP API, shared by the server and the CLI, and a typed client.
//!
//! Architecture Invariant: no logic here beyond (de)serialization and HTTP plumbing.
//! Times are RFC 3339 strings in UTC; ids are UUID strings.

mod access;
mod api_accounts;
mod audit;
mod auth;
mod break_glass;
mod checkouts;
pub mod client;
mod dashboard;
mod error;
mod groups;
mod integrations;
mod inventory;
mod policies;
mod recordings;
mod redact;
mod sessions;
mod ssh_keys;
mod sys;
mod users;

pub use access::*;
pub use api_accounts::*;
pub use audit::*;
pub use auth::*;
pub use break_glass::*;
pub use checkouts::*;
pub use dashboard::*;
pub use error::*;
pub use groups::*;
pub use integrations::*;
pub use inventory::*;
pub use policies::*;
pub use recordings::*;
pub use sessions::*;
pub use ssh_keys::*;
pub use sys::*;
pub use users::*;
