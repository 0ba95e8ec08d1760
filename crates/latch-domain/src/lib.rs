//! Latch's domain model: identifiers, identities, inventory, permissions and audit events.
//!
//! Architecture Invariant: this crate does no IO, is not async, never reads the clock or a
//! random source (times and fresh ids come in as arguments) and knows neither serde nor SQL.

pub mod access_request;
pub mod account;
pub mod api_account;
pub mod audit;
pub mod auth_session;
pub mod break_glass;
pub mod checkout;
pub mod error;
pub mod gateway_login;
pub mod gateway_session;
pub mod grant;
pub mod ids;
pub mod lockout;
pub mod names;
pub mod notification;
pub mod permission;
pub mod policy;
pub mod ssh_key;
pub mod target;
pub mod time;
pub mod user;

pub use error::DomainError;
pub use ids::*;
pub use time::{TimeSpan, Timestamp};
