//! Latch's storage: SQL for SQLite and PostgreSQL behind repository functions that take and
//! return domain types.
//!
//! Architecture Invariant: this is the only crate that knows SQL or sqlx. Repository functions
//! are free functions per table group (`users::insert`, `audit::append`), each taking a
//! [`Db`] handle: a [`Tx`] for changes (so the audit row shares the change's transaction), or a
//! [`Conn`] for reads.

mod codec;
mod db;
mod error;
mod filtered;

pub mod access_requests;
pub mod accounts;
pub mod api_accounts;
pub mod audit;
pub mod auth_sessions;
pub mod break_glass;
pub mod checkouts;
pub mod dashboard;
pub mod gateway_sessions;
pub mod grants;
pub mod groups;
pub mod incident_grants;
pub mod notifications;
pub mod policies;
pub mod rotation_queue;
pub mod session_events;
pub mod siem_cursors;
pub mod system_secrets;
pub mod targets;
pub mod user_ssh_keys;
pub mod users;
pub mod vault;

pub use db::{Backend, Conn, Db, Store, Tx};
pub use error::StoreError;
