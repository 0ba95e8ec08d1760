//! The optional route hint a client may send before the SSH protocol (`LATCH-ROUTE 1 alice db01\r\n`, written by
//! `latch ssh-proxy`). With it, the SSH user name is just the account, so `ssh root@db01` works through an
//! ssh_config block. The hint only names the Latch user and target; authentication is unchanged.
//!
//! OpenSSH clients send their version line at once, so a connection without a hint is recognised as soon as its
//! first bytes arrive; a client that waits for the server to speak first costs at most [`HINT_WAIT`].

use latch_domain::gateway_login::{MAX_ROUTE_HINT_LINE, ROUTE_HINT_PREFIX, RouteHint};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

/// How long to wait for a client's first bytes before letting the SSH exchange start without a hint.
pub(crate) const HINT_WAIT: Duration = Duration::from_millis(300);
/// How long a client that started a hint has to finish its line.
const HINT_LINE_WAIT: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(10);

/// What the start of a connection held.
#[derive(Debug)]
pub(crate) enum RouteStart {
    /// No hint: the SSH exchange starts with the client's first byte, which is still unread.
    Plain,
    Hint(RouteHint),
    /// A malformed or unfinished hint: the connection is closed.
    Invalid,
}

/// Reads a route hint if the connection starts with one, consuming exactly its line.
pub(crate) async fn read_route_hint(stream: &mut TcpStream) -> RouteStart {
    let prefix = ROUTE_HINT_PREFIX.as_bytes();
    let mut buf = [0u8; MAX_ROUTE_HINT_LINE];
    let started = Instant::now();
    let mut hint_begun = false;
    loop {
        let deadline = started + if hint_begun { HINT_LINE_WAIT } else { HINT_WAIT };
        let peeked = match timeout_at(deadline, stream.peek(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return RouteStart::Invalid,
            Ok(Ok(n)) => n,
            Err(_) if hint_begun => return RouteStart::Invalid,
            Err(_) => return RouteStart::Plain,
        };
        let seen = &buf[..peeked];
        let shared = seen.len().min(prefix.len());
        if seen[..shared] != prefix[..shared] {
            return RouteStart::Plain;
        }
        if let Some(end) = seen.iter().position(|b| *b == b'\n') {
            return consume_line(stream, end + 1).await;
        }
        if peeked == buf.len() {
            return RouteStart::Invalid;
        }
        hint_begun = shared == prefix.len();
        // `peek` returns at once while bytes are buffered: wait for more to arrive.
        tokio::time::sleep(POLL).await;
        if Instant::now() >= deadline {
            return if hint_begun { RouteStart::Invalid } else { RouteStart::Plain };
        }
    }
}

async fn consume_line(stream: &mut TcpStream, len: usize) -> RouteStart {
    let mut line = vec![0u8; len];
    if stream.read_exact(&mut line).await.is_err() {
        return RouteStart::Invalid;
    }
    match std::str::from_utf8(&line).ok().map(RouteHint::parse_line) {
        Some(Ok(hint)) => RouteStart::Hint(hint),
        _ => RouteStart::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    async fn start_with(first: &'static [u8], then: &'static [u8]) -> (RouteStart, Vec<u8>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let client = tokio::spawn(async move {
            let mut client = TcpStream::connect(address).await.unwrap();
            client.write_all(first).await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
            client.write_all(then).await.unwrap();
            client.shutdown().await.unwrap();
        });
        let (mut server, _) = listener.accept().await.unwrap();
        let start = read_route_hint(&mut server).await;
        let mut rest = Vec::new();
        if !matches!(start, RouteStart::Invalid) {
            server.read_to_end(&mut rest).await.unwrap();
        }
        client.await.unwrap();
        (start, rest)
    }

    #[tokio::test]
    async fn a_hint_is_consumed_and_the_ssh_bytes_stay() {
        let (start, rest) = start_with(b"LATCH-ROUTE 1 alice", b" db01\r\nSSH-2.0-OpenSSH_9.2\r\n").await;
        let RouteStart::Hint(hint) = start else { panic!("no hint: {start:?}") };
        assert_eq!((hint.user.as_str(), hint.target.as_str()), ("alice", "db01"));
        assert_eq!(rest, b"SSH-2.0-OpenSSH_9.2\r\n");
    }

    #[tokio::test]
    async fn plain_ssh_is_left_untouched() {
        let (start, rest) = start_with(b"SSH-2.0-OpenSSH_9.2\r\n", b"more").await;
        assert!(matches!(start, RouteStart::Plain), "{start:?}");
        assert_eq!(rest, b"SSH-2.0-OpenSSH_9.2\r\nmore");
    }

    #[tokio::test]
    async fn a_malformed_hint_is_refused() {
        let (start, _) = start_with(b"LATCH-ROUTE 9 alice db01\r\n", b"").await;
        assert!(matches!(start, RouteStart::Invalid), "{start:?}");
    }
}
