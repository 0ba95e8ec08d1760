//! A typed client of Latch's HTTP API, used by the `latch` CLI.
//!
//! One method per route (in [`routes`]); every failure is a [`ClientError`]: the server's
//! `{"error": code, "message": text}` answer, a transport problem, or an answer that could not be
//! read. The bearer token never appears in `Debug` output or error messages.

mod routes;
mod trust;

pub use trust::{Fingerprint, Trust};

use reqwest::{Method, RequestBuilder, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// How long connecting may take before the client gives up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// The longest line [`LineStream`] accepts.
const MAX_STREAMED_LINE: usize = 8 << 20;

/// What went wrong with a call.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error.
    #[error("{message}")]
    Api { status: u16, code: String, message: String },
    /// The server could not be reached, or TLS refused it.
    #[error("cannot reach the server: {0}")]
    Transport(String),
    /// The server's answer was not what this client understands.
    #[error("unexpected answer from the server: {0}")]
    Decode(String),
    /// The client's own settings are unusable (a bad URL, CA file or fingerprint).
    #[error("{0}")]
    Config(String),
}

impl ClientError {
    /// The server's error code (`not_found`, `totp_required`, …), when the server answered.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A connection to one Latch server, optionally with a bearer token. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    token: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Client {
    /// A client of the server at `base_url` (`https://host:port`), trusting certificates as `trust` says.
    pub fn new(base_url: &str, trust: &Trust) -> Result<Client, ClientError> {
        let base = parse_base_url(base_url)?;
        let mut builder = reqwest::Client::builder().connect_timeout(CONNECT_TIMEOUT).user_agent(user_agent());
        if let Some(config) = trust::rustls_config(trust)? {
            builder = builder.tls_backend_preconfigured(config);
        }
        let http = builder.build().map_err(|err| ClientError::Transport(error_chain(&err)))?;
        Ok(Client { http, base, token: None })
    }

    /// The same client, sending `token` as `Authorization: Bearer`.
    pub fn with_token(mut self, token: impl Into<String>) -> Client {
        self.token = Some(token.into());
        self
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    fn url(&self, segments: &[&str]) -> Result<Url, ClientError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| ClientError::Config(format!("{} cannot be a base URL", self.base)))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    fn request(&self, method: Method, segments: &[&str]) -> Result<RequestBuilder, ClientError> {
        let builder = self.http.request(method, self.url(segments)?);
        Ok(match &self.token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        })
    }

    /// Sends `builder` and decodes a JSON answer.
    async fn json<T: DeserializeOwned>(&self, builder: RequestBuilder) -> Result<T, ClientError> {
        let (path, bytes) = self.send(builder).await?;
        serde_json::from_slice(&bytes).map_err(|err| ClientError::Decode(format!("{path}: {err}")))
    }

    /// Sends `builder` and returns the answer's bytes as they are.
    async fn bytes(&self, builder: RequestBuilder) -> Result<Vec<u8>, ClientError> {
        self.send(builder).await.map(|(_, bytes)| bytes)
    }

    /// Sends `builder` and expects an empty answer (204).
    async fn empty(&self, builder: RequestBuilder) -> Result<(), ClientError> {
        self.send(builder).await.map(drop)
    }

    async fn send(&self, builder: RequestBuilder) -> Result<(String, Vec<u8>), ClientError> {
        let response = builder.send().await.map_err(|err| ClientError::Transport(error_chain(&err)))?;
        let status = response.status();
        let path = response.url().path().to_owned();
        let bytes = response.bytes().await.map_err(|err| ClientError::Transport(error_chain(&err)))?.to_vec();
        if status.is_success() {
            return Ok((path, bytes));
        }
        Err(api_error(status, &bytes))
    }

    /// Sends `builder` and hands out a successful answer line by line as it arrives.
    async fn lines(&self, builder: RequestBuilder) -> Result<LineStream, ClientError> {
        let response = builder.send().await.map_err(|err| ClientError::Transport(error_chain(&err)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(LineStream { response, buffer: Vec::new() });
        }
        let bytes = response.bytes().await.map_err(|err| ClientError::Transport(error_chain(&err)))?;
        Err(api_error(status, &bytes))
    }

    async fn get<T: DeserializeOwned>(&self, segments: &[&str]) -> Result<T, ClientError> {
        self.json(self.request(Method::GET, segments)?).await
    }

    async fn get_query<T: DeserializeOwned, Q: Serialize>(
        &self,
        segments: &[&str],
        query: &Q,
    ) -> Result<T, ClientError> {
        self.json(self.request(Method::GET, segments)?.query(query)).await
    }

    async fn post<T: DeserializeOwned, B: Serialize>(&self, segments: &[&str], body: &B) -> Result<T, ClientError> {
        self.json(self.request(Method::POST, segments)?.json(body)).await
    }

    async fn post_empty<T: DeserializeOwned>(&self, segments: &[&str]) -> Result<T, ClientError> {
        self.json(self.request(Method::POST, segments)?).await
    }

    async fn put<T: DeserializeOwned, B: Serialize>(&self, segments: &[&str], body: &B) -> Result<T, ClientError> {
        self.json(self.request(Method::PUT, segments)?.json(body)).await
    }

    async fn patch<T: DeserializeOwned, B: Serialize>(&self, segments: &[&str], body: &B) -> Result<T, ClientError> {
        self.json(self.request(Method::PATCH, segments)?.json(body)).await
    }

    async fn delete(&self, segments: &[&str]) -> Result<(), ClientError> {
        self.empty(self.request(Method::DELETE, segments)?).await
    }
}

/// An answer the server streams as lines of text (such as a live session watch), read as they arrive.
#[derive(Debug)]
pub struct LineStream {
    response: reqwest::Response,
    buffer: Vec<u8>,
}

impl LineStream {
    /// The next line, without its newline; `None` once the server has ended the answer.
    pub async fn next_line(&mut self) -> Result<Option<String>, ClientError> {
        loop {
            if let Some(end) = self.buffer.iter().position(|byte| *byte == b'\n') {
                let mut line: Vec<u8> = self.buffer.drain(..=end).collect();
                line.pop();
                return text_line(line).map(Some);
            }
            let chunk = self.response.chunk().await.map_err(|err| ClientError::Transport(error_chain(&err)))?;
            match chunk {
                Some(chunk) => self.buffer.extend_from_slice(&chunk),
                None if self.buffer.is_empty() => return Ok(None),
                None => return text_line(std::mem::take(&mut self.buffer)).map(Some),
            }
            if self.buffer.len() > MAX_STREAMED_LINE {
                return Err(ClientError::Decode(format!("a streamed line is longer than {MAX_STREAMED_LINE} bytes")));
            }
        }
    }
}

fn text_line(line: Vec<u8>) -> Result<String, ClientError> {
    String::from_utf8(line).map_err(|_| ClientError::Decode("a streamed line is not UTF-8".to_owned()))
}

/// Connects to `base_url` accepting whatever certificate it shows, only to read that
/// certificate's fingerprint, so that a person can compare it before trusting it (trust on first
/// use). Sends no credentials.
pub async fn fetch_server_fingerprint(base_url: &str) -> Result<Fingerprint, ClientError> {
    let base = parse_base_url(base_url)?;
    if base.scheme() != "https" {
        return Err(ClientError::Config(format!("{base} is not an https:// URL: there is no certificate to trust")));
    }
    let verifier = trust::LeafVerifier::new();
    let http = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(user_agent())
        .tls_backend_preconfigured(verifier.config()?)
        .build()
        .map_err(|err| ClientError::Transport(error_chain(&err)))?;
    let client = Client { http, base, token: None };
    let answer = client.status().await;
    match (verifier.seen(), answer) {
        (Some(fingerprint), _) => Ok(fingerprint),
        (None, Err(err)) => Err(err),
        (None, Ok(_)) => Err(ClientError::Transport("the server showed no certificate".to_owned())),
    }
}

fn user_agent() -> String {
    format!("latch-cli/{}", env!("CARGO_PKG_VERSION"))
}

fn parse_base_url(text: &str) -> Result<Url, ClientError> {
    let url = Url::parse(text.trim()).map_err(|err| {
        ClientError::Config(format!("{text:?} is not a URL such as https://latch.example:8443: {err}"))
    })?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(ClientError::Config(format!("{text:?} is not an https:// URL with a host")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ClientError::Config(format!("{text:?}: the server URL takes no query or fragment")));
    }
    Ok(url)
}

/// The error of a non-success answer: the API's error shape, OAuth's (RFC 6749 §5.2), or the status.
fn api_error(status: StatusCode, body: &[u8]) -> ClientError {
    let status_code = status.as_u16();
    if let Ok(body) = serde_json::from_slice::<crate::ErrorBody>(body) {
        return ClientError::Api { status: status_code, code: body.error, message: body.message };
    }
    if let Ok(body) = serde_json::from_slice::<crate::OAuthErrorBody>(body) {
        return ClientError::Api { status: status_code, code: body.error, message: body.error_description };
    }
    ClientError::Api {
        status: status_code,
        code: format!("http_{status_code}"),
        message: format!("the server answered {status}"),
    }
}

/// `err` and its causes, joined by `: `, without repeating a message its cause already says.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(err);
    while let Some(cause) = current {
        let text = cause.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        current = cause.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn system_client(url: &str) -> Client {
        let _already_installed = rustls::crypto::aws_lc_rs::default_provider().install_default();
        Client::new(url, &Trust::System).unwrap()
    }

    #[test]
    fn base_urls_are_checked() {
        assert!(parse_base_url("https://localhost:8443").is_ok());
        assert!(parse_base_url(" https://localhost:8443/ ").is_ok());
        assert!(parse_base_url("http://127.0.0.1:8080").is_ok());
        for bad in ["localhost:8443", "ftp://host", "https://host/?x=1", "", "https://"] {
            assert!(parse_base_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn paths_are_joined_and_escaped() {
        let client = system_client("https://localhost:8443/");
        assert_eq!(
            client.url(&["api", "v1", "users", "a b/c"]).unwrap().as_str(),
            "https://localhost:8443/api/v1/users/a%20b%2Fc"
        );
        let prefixed = system_client("https://example.test/latch");
        assert_eq!(
            prefixed.url(&["api", "v1", "sys", "status"]).unwrap().as_str(),
            "https://example.test/latch/api/v1/sys/status"
        );
    }

    #[test]
    fn error_bodies_become_api_errors() {
        let api = api_error(StatusCode::LOCKED, br#"{"error":"locked","message":"locked out"}"#);
        assert!(
            matches!(&api, ClientError::Api { status: 423, code, message } if code == "locked" && message == "locked out")
        );
        let oauth = api_error(StatusCode::UNAUTHORIZED, br#"{"error":"invalid_client","error_description":"no"}"#);
        assert_eq!(oauth.code(), Some("invalid_client"));
        assert_eq!(oauth.to_string(), "no");
        let other = api_error(StatusCode::BAD_GATEWAY, b"<html>");
        assert_eq!(other.code(), Some("http_502"));
        assert_eq!(other.status(), Some(502));
    }

    #[test]
    fn debug_hides_the_token() {
        let client = system_client("https://localhost:8443").with_token("lsess_secret");
        assert!(!format!("{client:?}").contains("lsess_secret"));
    }
}
