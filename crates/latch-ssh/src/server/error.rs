//! `GatewayError`: what can stop the gateway's server side. Per-connection problems end that connection and are
//! logged; only failures of the listener reach the caller of `serve`.

use std::net::SocketAddr;

/// Why the gateway could not serve, or why one connection's protocol handling stopped.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The listening socket could not be opened.
    #[error("cannot listen on {address}")]
    Bind {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The listening socket has no local address (it was closed underneath).
    #[error("cannot read the listening address")]
    LocalAddress(#[source] std::io::Error),
    /// The SSH protocol with one client failed.
    #[error("ssh protocol error with a client")]
    Protocol(#[from] russh::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_lowercase_without_trailing_period() {
        let errors = [
            GatewayError::Bind {
                address: SocketAddr::from(([127, 0, 0, 1], 22)),
                source: std::io::ErrorKind::AddrInUse.into(),
            },
            GatewayError::LocalAddress(std::io::ErrorKind::NotConnected.into()),
            GatewayError::Protocol(russh::Error::Disconnect),
        ];
        for error in errors {
            let message = error.to_string();
            assert!(message.starts_with(|c: char| c.is_lowercase()), "{message}");
            assert!(!message.ends_with('.'), "{message}");
        }
    }
}
