//! A client's TCP stream with a kill switch: once the token is cancelled, every read and write fails, so russh's
//! connection task ends even when it would not act on a disconnect request (for instance in the middle of a key
//! exchange that the client never finishes). Dropping russh's session handle does not stop that task.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// A stream that fails with `ConnectionAborted` once `kill` is cancelled.
#[derive(Debug)]
pub(crate) struct KillableStream {
    inner: TcpStream,
    killed: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl KillableStream {
    pub(crate) fn new(inner: TcpStream, kill: CancellationToken) -> KillableStream {
        KillableStream { inner, killed: Box::pin(kill.cancelled_owned()) }
    }

    /// Registers the caller's waker with the kill switch and says whether it fired.
    fn check(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        match self.killed.as_mut().poll(cx) {
            Poll::Ready(()) => {
                Err(io::Error::new(io::ErrorKind::ConnectionAborted, "connection closed by the gateway"))
            }
            Poll::Pending => Ok(()),
        }
    }
}

impl AsyncRead for KillableStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.check(cx)?;
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.check(cx)?;
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check(cx)?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn reads_fail_once_killed_even_while_waiting() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let mut peer = TcpStream::connect(address).await.unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        let kill = CancellationToken::new();
        let mut stream = KillableStream::new(accepted, kill.clone());

        peer.write_all(b"ab").await.unwrap();
        let mut buffer = [0u8; 2];
        stream.read_exact(&mut buffer).await.unwrap();
        assert_eq!(&buffer, b"ab");

        let reader = tokio::spawn(async move {
            let mut buffer = [0u8; 1];
            stream.read(&mut buffer).await
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        kill.cancel();
        let error = reader.await.unwrap().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionAborted);
    }
}
