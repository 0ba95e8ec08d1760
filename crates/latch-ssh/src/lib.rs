//! The SSH gateway front end of Latch.
//!
//! Users reach targets through the gateway; the gateway logs in to each target with a credential from the vault, so
//! users never see it. This crate holds both sides of that relay:
//!
//! - [`upstream`]: the SSH *client* the gateway uses towards a target: dial, verify the pinned host key,
//!   authenticate with a password or private key, and open the channels the relay drives (session, `-L`
//!   direct-tcpip, `-R` forwarded-tcpip). [`upstream::fetch_host_key`] reads a target's host key for an
//!   administrator to pin (trust on first use, confirmed by a person).
//! - [`server`]: the SSH *server* people connect to (`ssh alice@root@db01@gateway`): authentication against
//!   Latch, authorization of the account, the relay of shell, exec, sftp and forwarding channels, recording, and
//!   ending sessions when Latch says so. Start it with [`server::serve`].
//!
//! Invariants:
//!
//! - An upstream connection never accepts a host key that is not pinned: no pin refuses the connection
//!   ([`UpstreamError::HostKeyNotPinned`]), a different key refuses it ([`UpstreamError::HostKeyMismatch`]).
//! - Secrets (passwords, private keys) are held in `latch_vault::SecretString` and never appear in `Debug`
//!   output, error messages or logs. Errors carry fingerprints, addresses and user names only.
//! - The server only opens channels towards this client that the client asked for: forwarded-tcpip channels for an
//!   active `tcpip_forward` request; every other server-initiated channel is refused.

mod error;
pub mod server;
pub mod upstream;

pub use error::{UpstreamError, UpstreamStage};
pub use server::{GatewayConfig, GatewayError, GatewayLimits, GatewayServer, serve};
