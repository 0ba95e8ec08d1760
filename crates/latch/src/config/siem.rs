//! `[[siem]]`: the sinks the audit stream and session events are exported to, as JSON Lines to a file, RFC 5424
//! syslog over TCP or UDP, or batches POSTed to an HTTP endpoint. Each has a unique `name`, which keys its
//! persisted cursors (one per stream): renaming a sink starts it again from the first record. `streams` names what
//! it gets: `audit` (the default) and/or `session_events` (the events of finished sessions).
//!
//! Keys by `kind`: file: `path`. syslog: `address` (`host:port`), `transport` (`tcp` | `udp`), `app_name` (default
//! `latch`), `hostname` (default the node name), `facility` (`auth`, `authpriv` (default), `local0`…`local7`),
//! `max_message_bytes` (UDP only, default 2048). http: `url` (https, or http to a loopback address), `token_file`
//! (a file holding a bearer token; never the token itself). Every kind: `timeout_seconds` (default 10),
//! `batch_size` (default 500), `retry_initial_ms` (default 500) and `retry_max_seconds` (default 60).

use super::dto::SiemSection;
use crate::UsageError;
use crate::siem::syslog::{Facility, MAX_APP_NAME, MAX_HOSTNAME, SyslogHeader, is_header_field};
use latch_app::ExportStream;
use latch_vault::SecretString;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// One validated sink.
#[derive(Debug, Clone)]
pub struct SiemSinkConfig {
    pub name: String,
    pub destination: SiemDestination,
    /// Records per delivery at most.
    pub batch_size: usize,
    /// How long one delivery attempt may take.
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// The streams it gets, each exported by its own task with its own cursor; at least one, none twice.
    pub streams: Vec<ExportStream>,
}

/// Where a sink's records go.
#[derive(Debug, Clone)]
pub enum SiemDestination {
    /// JSON Lines appended to a file (created with mode 0600), synced after each batch.
    File {
        path: PathBuf,
    },
    Syslog {
        address: String,
        transport: SyslogTransport,
        header: SyslogHeader,
    },
    /// Batches POSTed as `application/x-ndjson`. `Debug` shows the URL without its query.
    Http {
        url: HttpUrl,
        token: Option<SecretString>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyslogTransport {
    /// Octet-counted frames on one connection.
    Tcp,
    /// One message per datagram of at most `max_message_bytes`.
    Udp { max_message_bytes: usize },
}

/// An endpoint URL; `Debug` leaves out the query, which may carry a key.
#[derive(Clone)]
pub struct HttpUrl(pub String);

impl std::fmt::Debug for HttpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let base = self.0.split(['?', '#']).next().unwrap_or_default();
        f.debug_tuple("HttpUrl").field(&base).finish()
    }
}

/// How long to wait after failed deliveries: `initial`, doubling with each failure, at most `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub initial: Duration,
    pub max: Duration,
}

impl RetryPolicy {
    /// The wait after `failures` failed attempts in a row (at least 1).
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.initial.saturating_mul(1 << doublings).min(self.max)
    }
}

const MAX_SINKS: usize = 16;
const DEFAULT_BATCH: i64 = 500;
const MAX_BATCH: i64 = 5000;
const DEFAULT_TIMEOUT_SECONDS: i64 = 10;
const MAX_TIMEOUT_SECONDS: i64 = 300;
const DEFAULT_RETRY_INITIAL_MS: i64 = 500;
const DEFAULT_RETRY_MAX_SECONDS: i64 = 60;
const DEFAULT_UDP_MAX_BYTES: i64 = 2048;
const MAX_UDP_BYTES: i64 = 65_000;
const MIN_TOKEN_CHARS: usize = 8;

/// Validates `sections`; `node_name` is the default syslog HOSTNAME.
pub fn resolve(sections: &[SiemSection], node_name: &str) -> Result<Vec<SiemSinkConfig>, UsageError> {
    if sections.len() > MAX_SINKS {
        return Err(UsageError(format!("at most {MAX_SINKS} [[siem]] sinks")));
    }
    let mut out: Vec<SiemSinkConfig> = Vec::new();
    for (index, section) in sections.iter().enumerate() {
        let at = |what: &str| UsageError(format!("[[siem]] #{}: {what}", index + 1));
        let name =
            section.name.clone().filter(|n| is_name(n)).ok_or_else(|| at("name must be 1 to 64 of a-z 0-9 - _"))?;
        if out.iter().any(|s| s.name == name) {
            return Err(at(&format!("the name {name:?} is used twice")));
        }
        let destination = match section.kind.as_deref() {
            Some("file") => file(section, &at)?,
            Some("syslog") => syslog(section, node_name, &at)?,
            Some("http") => http(section, &at)?,
            Some(other) => return Err(at(&format!("kind must be file, syslog or http, not {other:?}"))),
            None => return Err(at("kind is required (file, syslog or http)")),
        };
        let batch = in_range(section.batch_size, DEFAULT_BATCH, "batch_size", 1, MAX_BATCH, &at)?;
        let timeout =
            in_range(section.timeout_seconds, DEFAULT_TIMEOUT_SECONDS, "timeout_seconds", 1, MAX_TIMEOUT_SECONDS, &at)?;
        let initial_ms =
            in_range(section.retry_initial_ms, DEFAULT_RETRY_INITIAL_MS, "retry_initial_ms", 10, 60_000, &at)?;
        let max_seconds =
            in_range(section.retry_max_seconds, DEFAULT_RETRY_MAX_SECONDS, "retry_max_seconds", 1, 3600, &at)?;
        if max_seconds * 1000 < initial_ms {
            return Err(at(&format!(
                "retry_max_seconds ({max_seconds} s) is shorter than retry_initial_ms ({initial_ms} ms)"
            )));
        }
        let streams = streams(section.streams.as_deref(), &at)?;
        out.push(SiemSinkConfig {
            name,
            streams,
            destination,
            batch_size: usize::try_from(batch).unwrap_or(1),
            timeout: Duration::from_secs(timeout.unsigned_abs()),
            retry: RetryPolicy {
                initial: Duration::from_millis(initial_ms.unsigned_abs()),
                max: Duration::from_secs(max_seconds.unsigned_abs()),
            },
        });
    }
    Ok(out)
}

type At<'a> = &'a dyn Fn(&str) -> UsageError;

/// The streams named by `names`: `audit` when none are given.
fn streams(names: Option<&[String]>, at: At<'_>) -> Result<Vec<ExportStream>, UsageError> {
    let Some(names) = names else { return Ok(vec![ExportStream::Audit]) };
    if names.is_empty() {
        return Err(at("streams must name at least one stream (audit, session_events)"));
    }
    let mut streams = Vec::with_capacity(names.len());
    for name in names {
        let stream = ExportStream::parse(name)
            .ok_or_else(|| at(&format!("streams: {name:?} is not a stream (audit, session_events)")))?;
        if streams.contains(&stream) {
            return Err(at(&format!("streams: {name:?} is named twice")));
        }
        streams.push(stream);
    }
    Ok(streams)
}

fn file(section: &SiemSection, at: At<'_>) -> Result<SiemDestination, UsageError> {
    only_for(section, "file", at)?;
    let path = section.path.as_deref().filter(|p| !p.as_os_str().is_empty()).ok_or_else(|| at("path is required"))?;
    Ok(SiemDestination::File { path: super::make_absolute(path)? })
}

fn syslog(section: &SiemSection, node_name: &str, at: At<'_>) -> Result<SiemDestination, UsageError> {
    only_for(section, "syslog", at)?;
    let address = section.address.clone().ok_or_else(|| at("address is required (host:port)"))?;
    if !is_host_port(&address) {
        return Err(at(&format!("address must be host:port (an IPv6 address in brackets), not {address:?}")));
    }
    let hostname = section.hostname.clone().unwrap_or_else(|| node_name.to_owned());
    if !is_header_field(&hostname, MAX_HOSTNAME) {
        return Err(at(&format!("hostname must be 1 to {MAX_HOSTNAME} printable ASCII characters without spaces")));
    }
    let app_name = section.app_name.clone().unwrap_or_else(|| "latch".to_owned());
    if !is_header_field(&app_name, MAX_APP_NAME) {
        return Err(at(&format!("app_name must be 1 to {MAX_APP_NAME} printable ASCII characters without spaces")));
    }
    let facility = section.facility.as_deref().unwrap_or("authpriv");
    let facility = Facility::parse(facility)
        .ok_or_else(|| at(&format!("facility must be auth, authpriv or local0 to local7, not {facility:?}")))?;
    let header = SyslogHeader { facility, hostname, app_name, procid: std::process::id() };
    let transport = match section.transport.as_deref() {
        Some("tcp") => {
            if section.max_message_bytes.is_some() {
                return Err(at("max_message_bytes is only for transport = \"udp\""));
            }
            SyslogTransport::Tcp
        }
        Some("udp") => {
            let least = i64::try_from(header.minimum_datagram_bytes()).unwrap_or(MAX_UDP_BYTES);
            let bytes = in_range(
                section.max_message_bytes,
                DEFAULT_UDP_MAX_BYTES,
                "max_message_bytes",
                least,
                MAX_UDP_BYTES,
                at,
            )?;
            SyslogTransport::Udp { max_message_bytes: usize::try_from(bytes).unwrap_or(2048) }
        }
        Some(other) => return Err(at(&format!("transport must be tcp or udp, not {other:?}"))),
        None => return Err(at("transport is required (tcp or udp)")),
    };
    Ok(SiemDestination::Syslog { address, transport, header })
}

fn http(section: &SiemSection, at: At<'_>) -> Result<SiemDestination, UsageError> {
    only_for(section, "http", at)?;
    let url = section.url.clone().ok_or_else(|| at("url is required"))?;
    let parsed = reqwest::Url::parse(&url).map_err(|_| at("url is not a URL"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(at("url must not hold credentials: put a bearer token in token_file"));
    }
    let host = parsed.host_str().unwrap_or_default();
    let ip = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host).parse::<IpAddr>();
    let loopback = host == "localhost" || ip.is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(at("url must be https (plain http only to a loopback address)")),
    }
    let token = match &section.token_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|err| at(&format!("cannot read token_file {}: {err}", path.display())))?;
            let text = text.trim_end_matches(['\r', '\n']).to_owned();
            if text.chars().count() < MIN_TOKEN_CHARS || text.chars().any(|c| c.is_control() || c == ' ') {
                return Err(at(&format!(
                    "the token in token_file must be at least {MIN_TOKEN_CHARS} printable characters without spaces"
                )));
            }
            Some(SecretString::new(text))
        }
        None => None,
    };
    Ok(SiemDestination::Http { url: HttpUrl(url), token })
}

/// Refuses keys that belong to another kind, so that a misplaced key is not silently ignored.
fn only_for(section: &SiemSection, kind: &str, at: At<'_>) -> Result<(), UsageError> {
    let keys = [
        ("path", "file", section.path.is_some()),
        ("address", "syslog", section.address.is_some()),
        ("transport", "syslog", section.transport.is_some()),
        ("app_name", "syslog", section.app_name.is_some()),
        ("hostname", "syslog", section.hostname.is_some()),
        ("facility", "syslog", section.facility.is_some()),
        ("max_message_bytes", "syslog", section.max_message_bytes.is_some()),
        ("url", "http", section.url.is_some()),
        ("token_file", "http", section.token_file.is_some()),
    ];
    match keys.iter().find(|(_, owner, set)| *set && *owner != kind) {
        Some((key, owner, _)) => Err(at(&format!("{key} is only for kind = \"{owner}\", not \"{kind}\""))),
        None => Ok(()),
    }
}

fn in_range(value: Option<i64>, default: i64, key: &str, min: i64, max: i64, at: At<'_>) -> Result<i64, UsageError> {
    let value = value.unwrap_or(default);
    if !(min..=max).contains(&value) {
        return Err(at(&format!("{key} must be between {min} and {max}, not {value}")));
    }
    Ok(value)
}

fn is_host_port(address: &str) -> bool {
    let Some((host, port)) = address.rsplit_once(':') else { return false };
    let port_ok = port.parse::<u16>().is_ok_and(|p| p != 0);
    let host_ok = match host.strip_prefix('[') {
        Some(v6) => v6.strip_suffix(']').is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok()),
        None => !host.is_empty() && host.len() <= 253 && !host.contains([':', ' ', '/', '@']),
    };
    port_ok && host_ok
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(name: &str, kind: &str) -> SiemSection {
        SiemSection { name: Some(name.to_owned()), kind: Some(kind.to_owned()), ..SiemSection::default() }
    }

    fn syslog_section(address: &str, transport: &str) -> SiemSection {
        SiemSection {
            address: Some(address.to_owned()),
            transport: Some(transport.to_owned()),
            ..section("syslog", "syslog")
        }
    }

    fn error(sections: Vec<SiemSection>) -> String {
        resolve(&sections, "node-1").err().map(|e| e.0).unwrap_or_else(|| "no error".to_owned())
    }

    #[test]
    fn sinks_get_their_defaults() {
        let file = SiemSection { path: Some("audit.jsonl".into()), ..section("archive", "file") };
        let http = SiemSection { url: Some("https://siem.example/ingest".to_owned()), ..section("splunk", "http") };
        let sinks = resolve(&[file, syslog_section("siem.example:514", "tcp"), http], "node-1").unwrap();
        assert!(matches!(&sinks[0].destination, SiemDestination::File { path } if path.is_absolute()));
        let SiemDestination::Syslog { address, transport, header } = &sinks[1].destination else { panic!("{sinks:?}") };
        assert_eq!((address.as_str(), *transport), ("siem.example:514", SyslogTransport::Tcp));
        assert_eq!((header.hostname.as_str(), header.app_name.as_str()), ("node-1", "latch"));
        assert_eq!(header.facility, Facility::Authpriv);
        assert!(matches!(&sinks[2].destination, SiemDestination::Http { token: None, .. }));
        for sink in &sinks {
            assert_eq!(sink.streams, [ExportStream::Audit], "the audit stream by default");
            assert_eq!(sink.batch_size, 500);
            assert_eq!(sink.timeout, Duration::from_secs(10));
            assert_eq!(sink.retry, RetryPolicy { initial: Duration::from_millis(500), max: Duration::from_secs(60) });
        }
        let udp = resolve(&[syslog_section("[::1]:514", "udp")], "n").unwrap();
        assert!(matches!(
            udp[0].destination,
            SiemDestination::Syslog { transport: SyslogTransport::Udp { max_message_bytes: 2048 }, .. }
        ));
    }

    #[test]
    fn the_token_is_read_from_its_file_and_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, "hec-token-0123456789\n").unwrap();
        let http = SiemSection {
            url: Some("http://127.0.0.1:8088/services/collector?channel=secret-channel".to_owned()),
            token_file: Some(token_file),
            ..section("splunk", "http")
        };
        let sinks = resolve(&[http], "n").unwrap();
        let SiemDestination::Http { token: Some(token), .. } = &sinks[0].destination else { panic!("{sinks:?}") };
        assert_eq!(token.expose(), "hec-token-0123456789");
        let debug = format!("{sinks:?}");
        assert!(!debug.contains("hec-token") && !debug.contains("secret-channel"), "{debug}");
    }

    #[test]
    fn a_sink_names_the_streams_it_gets() {
        let with = |streams: &[&str]| SiemSection {
            path: Some("out.jsonl".into()),
            streams: Some(streams.iter().map(|s| (*s).to_owned()).collect()),
            ..section("archive", "file")
        };
        let both = resolve(&[with(&["session_events", "audit"])], "n").unwrap();
        assert_eq!(both[0].streams, [ExportStream::SessionEvents, ExportStream::Audit]);
        let events = resolve(&[with(&["session_events"])], "n").unwrap();
        assert_eq!(events[0].streams, [ExportStream::SessionEvents]);
        let check = |streams: &[&str], expect: &str| {
            let message = error(vec![with(streams)]);
            assert!(message.contains(expect), "expected {expect:?} in {message:?}");
        };
        check(&[], "#1: streams must name at least one stream");
        check(&["audit", "sessions"], "streams: \"sessions\" is not a stream (audit, session_events)");
        check(&["Audit"], "streams: \"Audit\" is not a stream");
        check(&["audit", "session_events", "audit"], "streams: \"audit\" is named twice");
    }

    #[test]
    fn bad_values_name_the_key() {
        let check = |sections: Vec<SiemSection>, expect: &str| {
            let message = error(sections);
            assert!(message.contains(expect), "expected {expect:?} in {message:?}");
        };
        let file = |path: &str| SiemSection { path: Some(path.into()), ..section("f", "file") };
        let http = |url: &str| SiemSection { url: Some(url.to_owned()), ..section("h", "http") };
        check(vec![section("Bad Name", "file")], "#1: name must be");
        check(vec![file("a"), file("b")], "#2: the name \"f\" is used twice");
        check(vec![section("x", "kafka")], "kind must be file, syslog or http, not \"kafka\"");
        check(vec![SiemSection { kind: None, ..section("x", "file") }], "kind is required");
        check(vec![section("x", "file")], "path is required");
        check(vec![SiemSection { url: Some("https://x".to_owned()), ..file("a") }], "url is only for kind = \"http\"");
        check(vec![section("x", "syslog")], "address is required");
        check(vec![syslog_section("siem.example", "tcp")], "address must be host:port");
        check(vec![syslog_section("::1:514", "tcp")], "address must be host:port");
        check(vec![syslog_section("siem:0", "tcp")], "address must be host:port");
        check(vec![syslog_section("siem:514", "quic")], "transport must be tcp or udp");
        check(vec![SiemSection { transport: None, ..syslog_section("siem:514", "tcp") }], "transport is required");
        let facility = SiemSection { facility: Some("kern".to_owned()), ..syslog_section("siem:514", "tcp") };
        check(vec![facility], "facility must be");
        let hostname = SiemSection { hostname: Some("two words".to_owned()), ..syslog_section("siem:514", "udp") };
        check(vec![hostname], "hostname must be");
        let app_name = SiemSection { app_name: Some("a".repeat(49)), ..syslog_section("siem:514", "udp") };
        check(vec![app_name], "app_name must be");
        let tiny = SiemSection { max_message_bytes: Some(479), ..syslog_section("siem:514", "udp") };
        check(vec![tiny], "max_message_bytes must be between 480 and 65000, not 479");
        let tcp_size = SiemSection { max_message_bytes: Some(4096), ..syslog_section("siem:514", "tcp") };
        check(vec![tcp_size], "max_message_bytes is only for transport = \"udp\"");
        check(vec![http("http://siem.example/ingest")], "url must be https (plain http only to a loopback address)");
        check(vec![http("ftp://127.0.0.1/")], "url must be https");
        check(vec![http("https://user:pw@siem.example/")], "url must not hold credentials");
        check(vec![http("not a url")], "url is not a URL");
        let missing_token =
            SiemSection { token_file: Some("/nonexistent/token".into()), ..http("https://siem.example/") };
        check(vec![missing_token], "cannot read token_file /nonexistent/token");
        check(vec![SiemSection { batch_size: Some(0), ..file("a") }], "batch_size must be between 1 and 5000, not 0");
        check(
            vec![SiemSection { timeout_seconds: Some(301), ..file("a") }],
            "timeout_seconds must be between 1 and 300",
        );
        check(vec![SiemSection { retry_initial_ms: Some(5), ..file("a") }], "retry_initial_ms must be between 10 and");
        let slow = SiemSection { retry_initial_ms: Some(5000), retry_max_seconds: Some(2), ..file("a") };
        check(vec![slow], "retry_max_seconds (2 s) is shorter than retry_initial_ms (5000 ms)");
        check((0..17).map(|i| file(&i.to_string())).collect(), "at most 16 [[siem]] sinks");
    }

    #[test]
    fn the_retry_delay_doubles_up_to_the_cap() {
        let policy = RetryPolicy { initial: Duration::from_millis(500), max: Duration::from_secs(60) };
        let check = |failures: u32, expect_ms: u64| {
            assert_eq!(policy.delay(failures), Duration::from_millis(expect_ms), "after {failures} failures");
        };
        check(0, 500);
        check(1, 500);
        check(2, 1_000);
        check(3, 2_000);
        check(7, 32_000);
        check(8, 60_000);
        check(40, 60_000);
        check(u32::MAX, 60_000);
    }
}
