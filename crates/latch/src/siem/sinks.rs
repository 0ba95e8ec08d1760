//! The transports. [`Sink::deliver`] returns `Ok` only once the sink has taken the whole batch, which is when the
//! exporter moves its cursor:
//!
//! - file: the lines are appended and the file is synced (`fsync`) before `Ok`;
//! - http: the endpoint answered 2xx to the POST; anything else, or no answer, is a failure;
//! - syslog over TCP: every frame was written to a connection the receiver had not closed. Plain syslog has no
//!   acknowledgement, so what the receiver had not yet read when it died is lost with the connection; a receiver
//!   that closed the connection before the batch is noticed, and the batch goes on a new connection;
//! - syslog over UDP: every datagram was sent. UDP confirms nothing; a datagram lost on the way is not resent.
//!
//! Error texts name what failed without secrets: never a token, and never a URL (which may carry a key).

use super::record::SiemRecord;
use super::syslog::{SyslogHeader, frame_octet_counted};
use crate::config::{HttpUrl, SiemDestination, SiemSinkConfig, SyslogTransport};
use latch_app::SecretString;
use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};

/// Why a delivery failed, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryError(pub String);

impl std::fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One sink's transport, with the connection it keeps between batches.
#[derive(Debug)]
pub enum Sink {
    File { path: PathBuf },
    SyslogTcp { address: String, header: SyslogHeader, connection: Option<TcpStream> },
    SyslogUdp { address: String, header: SyslogHeader, max_message_bytes: usize, socket: Option<UdpSocket> },
    Http { client: reqwest::Client, url: HttpUrl, token: Option<SecretString> },
}

impl Sink {
    /// The transport of `config`; connects only when it first delivers.
    pub fn new(config: &SiemSinkConfig) -> anyhow::Result<Sink> {
        Ok(match &config.destination {
            SiemDestination::File { path } => Sink::File { path: path.clone() },
            SiemDestination::Syslog { address, transport: SyslogTransport::Tcp, header } => {
                Sink::SyslogTcp { address: address.clone(), header: header.clone(), connection: None }
            }
            SiemDestination::Syslog { address, transport: SyslogTransport::Udp { max_message_bytes }, header } => {
                Sink::SyslogUdp {
                    address: address.clone(),
                    header: header.clone(),
                    max_message_bytes: *max_message_bytes,
                    socket: None,
                }
            }
            SiemDestination::Http { url, token } => Sink::Http {
                client: reqwest::Client::builder()
                    .timeout(config.timeout)
                    .redirect(reqwest::redirect::Policy::none())
                    .user_agent(concat!("latch/", env!("CARGO_PKG_VERSION")))
                    .build()?,
                url: url.clone(),
                token: token.clone(),
            },
        })
    }

    /// Hands `records` to the sink; `Ok` when it took all of them (see the module documentation).
    pub async fn deliver(&mut self, records: &[SiemRecord]) -> Result<(), DeliveryError> {
        match self {
            Sink::File { path } => append_to_file(path, json_lines(records)).await,
            Sink::SyslogTcp { address, header, connection } => {
                let mut frames = Vec::new();
                for record in records {
                    frame_octet_counted(&mut frames, &header.message(record, &record.to_json()));
                }
                send_tcp(address, connection, &frames).await
            }
            Sink::SyslogUdp { address, header, max_message_bytes, socket } => {
                let datagrams: Vec<String> =
                    records.iter().map(|record| header.datagram(record, *max_message_bytes)).collect();
                send_udp(address, socket, &datagrams).await
            }
            Sink::Http { client, url, token } => post(client, url, token.as_ref(), json_lines(records)).await,
        }
    }

    /// Forgets the connection after an attempt that did not finish (a timeout), so that a half-written frame never
    /// prefixes the next batch.
    pub fn reset(&mut self) {
        match self {
            Sink::SyslogTcp { connection, .. } => *connection = None,
            Sink::SyslogUdp { socket, .. } => *socket = None,
            Sink::File { .. } | Sink::Http { .. } => {}
        }
    }
}

/// One JSON object per line, each line ending in `\n`.
fn json_lines(records: &[SiemRecord]) -> Vec<u8> {
    let mut out = Vec::new();
    for record in records {
        out.extend_from_slice(record.to_json().as_bytes());
        out.push(b'\n');
    }
    out
}

async fn append_to_file(path: &Path, lines: Vec<u8>) -> Result<(), DeliveryError> {
    let owned = path.to_owned();
    tokio::task::spawn_blocking(move || append_synced(&owned, &lines))
        .await
        .map_err(|_| DeliveryError("the file writer stopped".to_owned()))?
        .map_err(|err| DeliveryError(format!("cannot append to {}: {err}", path.display())))
}

/// The lock serializing this process's appends to `path`: a sink exporting several streams has one task per
/// stream, and a failed append cuts the file back to where it began, which must never cut what another task
/// appended meanwhile.
fn file_lock(path: &Path) -> Arc<Mutex<()>> {
    static LOCKS: LazyLock<Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>> = LazyLock::new(Mutex::default);
    let mut locks = LOCKS.lock().unwrap_or_else(PoisonError::into_inner);
    Arc::clone(locks.entry(path.to_owned()).or_default())
}

/// Appends `lines` and syncs. A last line left unfinished by a crash is ended first, so it never runs into the next
/// record; a failed write is cut off again, so a retry does not follow half a batch.
fn append_synced(path: &Path, lines: &[u8]) -> std::io::Result<()> {
    let lock = file_lock(path);
    let _appending = lock.lock().unwrap_or_else(PoisonError::into_inner);
    let mut file = std::fs::OpenOptions::new().read(true).append(true).create(true).mode(0o600).open(path)?;
    let length = file.metadata()?.len();
    let mut last = [0u8; 1];
    if length > 0 {
        file.read_exact_at(&mut last, length - 1)?;
        if last[0] != b'\n' {
            file.write_all(b"\n")?;
        }
    }
    let length = file.metadata()?.len();
    if let Err(err) = file.write_all(lines).and_then(|()| file.sync_data()) {
        let _ = file.set_len(length);
        return Err(err);
    }
    Ok(())
}

async fn send_tcp(address: &str, connection: &mut Option<TcpStream>, frames: &[u8]) -> Result<(), DeliveryError> {
    if connection.as_ref().is_some_and(peer_closed) {
        *connection = None;
    }
    let stream = match connection {
        Some(stream) => stream,
        None => {
            let stream = TcpStream::connect(address)
                .await
                .map_err(|err| DeliveryError(format!("cannot connect to {address}: {err}")))?;
            let _ = stream.set_nodelay(true);
            connection.insert(stream)
        }
    };
    let written = async {
        stream.write_all(frames).await?;
        stream.flush().await
    };
    if let Err(err) = written.await {
        *connection = None;
        return Err(DeliveryError(format!("cannot send to {address}: {err}")));
    }
    Ok(())
}

/// Whether the receiver closed the connection: a syslog receiver never sends, so a readable end of stream (or an
/// error) means it is gone.
fn peer_closed(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    match stream.try_read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(err) => err.kind() != std::io::ErrorKind::WouldBlock,
    }
}

async fn send_udp(address: &str, socket: &mut Option<UdpSocket>, datagrams: &[String]) -> Result<(), DeliveryError> {
    let socket = match socket {
        Some(socket) => socket,
        None => socket.insert(connect_udp(address).await?),
    };
    for datagram in datagrams {
        if let Err(err) = socket.send(datagram.as_bytes()).await {
            return Err(DeliveryError(format!("cannot send to {address}: {err}")));
        }
    }
    Ok(())
}

async fn connect_udp(address: &str) -> Result<UdpSocket, DeliveryError> {
    let cannot = |err: std::io::Error| DeliveryError(format!("cannot reach {address}: {err}"));
    let peer = tokio::net::lookup_host(address)
        .await
        .map_err(cannot)?
        .next()
        .ok_or_else(|| DeliveryError(format!("{address} resolves to no address")))?;
    let local = if peer.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
    let socket = UdpSocket::bind(local).await.map_err(cannot)?;
    socket.connect(peer).await.map_err(cannot)?;
    Ok(socket)
}

async fn post(
    client: &reqwest::Client,
    url: &HttpUrl,
    token: Option<&SecretString>,
    body: Vec<u8>,
) -> Result<(), DeliveryError> {
    let mut request = client.post(&url.0).header("content-type", "application/x-ndjson").body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token.expose());
    }
    // Described by kind only: the error's text can contain the URL.
    let response = request.send().await.map_err(|err| {
        DeliveryError(
            if err.is_timeout() {
                "the request timed out"
            } else if err.is_connect() {
                "cannot connect"
            } else {
                "the request failed"
            }
            .to_owned(),
        )
    })?;
    let status = response.status();
    if status.is_success() { Ok(()) } else { Err(DeliveryError(format!("HTTP {}", status.as_u16()))) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_file_is_private_and_a_cut_last_line_is_ended() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        append_synced(&path, b"{\"seq\":1}\n").unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"{\"seq\":2,\"ti").unwrap();
        append_synced(&path, b"{\"seq\":2}\n{\"seq\":3}\n").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "{\"seq\":1}\n{\"seq\":2,\"ti\n{\"seq\":2}\n{\"seq\":3}\n");
    }

    /// Writing into a connection the receiver already closed would "succeed" and lose the batch: the sink notices the
    /// close first and sends on a new connection.
    #[tokio::test]
    async fn a_batch_after_the_receiver_closed_goes_on_a_new_connection() {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let mut connection = None;
        send_tcp(&address, &mut connection, b"5 first").await.unwrap();
        let (mut first, _) = listener.accept().await.unwrap();
        let mut got = [0u8; 7];
        first.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"5 first");
        drop(first);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !connection.as_ref().is_some_and(peer_closed) {
            assert!(std::time::Instant::now() < deadline, "the close was never noticed");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        send_tcp(&address, &mut connection, b"6 second").await.unwrap();
        let (mut second, _) = listener.accept().await.unwrap();
        let mut got = [0u8; 8];
        second.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"6 second");
    }
}
