//! SIEM export of a real `latch serve` to real receivers on loopback, written here as the peers: a JSON Lines file,
//! an RFC 5424 syslog receiver over TCP (octet counting) and one over UDP, and an HTTP endpoint. Every sink gets
//! every audit record in order without gaps; an HTTP outage delays delivery without losing anything or holding up
//! the other sinks; and after `kill -9` delivery resumes from the persisted cursor. Session events of real SSH
//! sessions through the gateway (a real `ssh` to a throwaway sshd) reach a file sink as their own stream, each
//! session whole, and what a failing sink missed arrives after a `kill -9` and restart.

#![expect(clippy::unwrap_used, clippy::panic, reason = "test helpers fail the test by panicking")]

#[path = "cli/harness.rs"]
#[expect(dead_code, reason = "the harness serves several test binaries; this one uses part of it")]
mod harness;

use harness::{Cli, Server};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU8, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TOKEN: &str = "siem-bearer-token-0123456789";
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(60);

/// One record of the server's audit log, as `latch audit list --json` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Logged {
    seq: i64,
    kind: String,
    link: String,
}

fn audit_log(admin: &Cli) -> Vec<Logged> {
    let page = admin.run(&["audit", "list", "--limit", "1000", "--json"]).success().json();
    page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| Logged {
            seq: r["seq"].as_i64().unwrap(),
            kind: r["kind"].as_str().unwrap().to_owned(),
            link: r["link"].as_str().unwrap().to_owned(),
        })
        .collect()
}

/// Asserts that `records` are exactly the audit log from its first record on, in order, each once, each carrying
/// its event and chain link; records after the end of `log` must continue without a gap.
#[track_caller]
fn assert_every_record_in_order(sink: &str, records: &[Value], log: &[Logged]) {
    let seqs: Vec<i64> = records.iter().map(|r| r["seq"].as_i64().unwrap()).collect();
    let expected: Vec<i64> = (1..=i64::try_from(seqs.len()).unwrap()).collect();
    assert_eq!(seqs, expected, "{sink}: records out of order, repeated or missing");
    assert!(records.len() >= log.len(), "{sink}: {} of {} records", records.len(), log.len());
    for (record, logged) in records.iter().zip(log) {
        assert_eq!(record["stream"], "audit", "{sink}: {record}");
        assert_eq!(record["event"], logged.kind.as_str(), "{sink}: {record}");
        assert_eq!(record["mac"], logged.link.as_str(), "{sink}: the chain link is exported");
    }
}

/// Polls `done` every 100 ms until it holds, failing with the server's log after [`DELIVERY_TIMEOUT`].
#[track_caller]
fn wait_until(server: &Server, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + DELIVERY_TIMEOUT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}\n{}", server.logs());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The complete lines of the file sink as JSON (a line still being written is left for later).
fn file_records(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.split_inclusive('\n')
        .filter_map(|line| line.strip_suffix('\n'))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("{err}: {line:?}")))
        .collect()
}

/// A syslog message split into its RFC 5424 parts.
#[derive(Debug)]
struct Syslog {
    facility: u16,
    severity: u16,
    timestamp: String,
    hostname: String,
    app_name: String,
    msgid: String,
    json: Value,
}

fn parse_rfc5424(message: &str) -> Syslog {
    let parts: Vec<&str> = message.splitn(8, ' ').collect();
    assert_eq!(parts.len(), 8, "not RFC 5424: {message:?}");
    let pri = parts[0].strip_prefix('<').and_then(|p| p.strip_suffix(">1")).unwrap_or_else(|| panic!("{message:?}"));
    let pri: u16 = pri.parse().unwrap();
    assert!(parts[4].chars().all(|c| c.is_ascii_digit()), "PROCID: {message:?}");
    assert_eq!(parts[6], "-", "no structured data: {message:?}");
    Syslog {
        facility: pri / 8,
        severity: pri % 8,
        timestamp: parts[1].to_owned(),
        hostname: parts[2].to_owned(),
        app_name: parts[3].to_owned(),
        msgid: parts[5].to_owned(),
        json: serde_json::from_str(parts[7]).unwrap_or_else(|err| panic!("{err}: {message:?}")),
    }
}

/// Checks one syslog message against its JSON and the sink's settings; returns the JSON.
#[track_caller]
fn checked_syslog(message: &str, facility: u16) -> Value {
    let syslog = parse_rfc5424(message);
    assert_eq!((syslog.facility, syslog.hostname.as_str(), syslog.app_name.as_str()), (facility, "pam-test", "latch"));
    let expected_severity = if syslog.json["outcome"] == "failure" { 4 } else { 5 };
    assert_eq!(syslog.severity, expected_severity, "{message}");
    assert_eq!(syslog.timestamp, syslog.json["time"].as_str().unwrap());
    let event = syslog.json["event"].as_str().unwrap();
    assert_eq!(syslog.msgid, event[..event.len().min(32)]);
    syslog.json
}

/// A syslog receiver over TCP reading octet-counted frames (`LEN SP MSG`) from every connection.
fn syslog_tcp_receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let messages = Arc::new(Mutex::new(Vec::new()));
    let log = messages.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let log = log.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                loop {
                    let mut length = Vec::new();
                    if reader.read_until(b' ', &mut length).unwrap_or(0) == 0 {
                        return;
                    }
                    let length = std::str::from_utf8(&length[..length.len() - 1]).unwrap();
                    let length: usize = length.parse().unwrap_or_else(|_| panic!("bad frame length {length:?}"));
                    let mut message = vec![0; length];
                    reader.read_exact(&mut message).unwrap();
                    log.lock().unwrap().push(String::from_utf8(message).unwrap());
                }
            });
        }
    });
    (address, messages)
}

/// A syslog receiver over UDP: one message per datagram.
fn syslog_udp_receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let address = socket.local_addr().unwrap().to_string();
    let messages = Arc::new(Mutex::new(Vec::new()));
    let log = messages.clone();
    std::thread::spawn(move || {
        let mut buffer = vec![0; 65_536];
        loop {
            let Ok(length) = socket.recv(&mut buffer) else { return };
            log.lock().unwrap().push(String::from_utf8(buffer[..length].to_vec()).unwrap());
        }
    });
    (address, messages)
}

/// One POST the HTTP receiver got, with the status it answered.
#[derive(Debug, Clone)]
struct Post {
    phase: u8,
    status: u16,
    authorization: Option<String>,
    content_type: Option<String>,
    body: String,
}

/// What the HTTP receiver answers (`status`, after `delay_ms`) and which `phase` of the test it is in.
#[derive(Debug)]
struct HttpControl {
    status: AtomicU16,
    delay_ms: AtomicU64,
    phase: AtomicU8,
    posts: Mutex<Vec<Post>>,
}

impl HttpControl {
    fn posts(&self) -> Vec<Post> {
        self.posts.lock().unwrap().clone()
    }

    /// The records of the POSTs answered 2xx, in the order they came.
    fn accepted(&self, phase: Option<u8>) -> Vec<Value> {
        self.posts()
            .iter()
            .filter(|p| p.status == 200 && phase.is_none_or(|phase| p.phase == phase))
            .flat_map(|p| p.body.lines().map(|line| serde_json::from_str(line).unwrap()).collect::<Vec<Value>>())
            .collect()
    }
}

/// A real HTTP/1.1 endpoint on a free port, one request per connection.
fn http_receiver(status: u16) -> (String, Arc<HttpControl>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/ingest", listener.local_addr().unwrap());
    let control = Arc::new(HttpControl {
        status: AtomicU16::new(status),
        delay_ms: AtomicU64::new(0),
        phase: AtomicU8::new(0),
        posts: Mutex::new(Vec::new()),
    });
    let state = control.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let Some((headers, body)) = read_request(&mut stream) else { continue };
            let header = |name: &str| {
                headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v): &(String, String)| v.clone())
            };
            let status = state.status.load(Ordering::SeqCst);
            state.posts.lock().unwrap().push(Post {
                phase: state.phase.load(Ordering::SeqCst),
                status,
                authorization: header("authorization"),
                content_type: header("content-type"),
                body,
            });
            std::thread::sleep(Duration::from_millis(state.delay_ms.load(Ordering::SeqCst)));
            let reason = if status == 200 { "OK" } else { "Service Unavailable" };
            let _ = stream.write_all(
                format!("HTTP/1.1 {status} {reason}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").as_bytes(),
            );
        }
    });
    (url, control)
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<(Vec<(String, String)>, String)> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':')?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.parse().unwrap_or(0));
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((headers, String::from_utf8(body).ok()?))
}

fn token_file(dir: &Path) -> String {
    let path = dir.join("siem.token");
    std::fs::write(&path, format!("{TOKEN}\n")).unwrap();
    path.display().to_string()
}

/// Adds targets `prefix-0` … as the admin: one audit record each.
fn add_targets(admin: &Cli, prefix: &str, count: usize) {
    for i in 0..count {
        admin.run(&["targets", "add", &format!("{prefix}-{i}"), "--address", "127.0.0.1"]).success();
    }
}

#[test]
fn every_sink_receives_every_audit_record_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.jsonl");
    let (tcp_address, tcp) = syslog_tcp_receiver();
    let (udp_address, udp) = syslog_udp_receiver();
    let (http_url, http) = http_receiver(200);
    let config = format!(
        r#"
[[siem]]
name = "archive"
kind = "file"
path = "{file}"

[[siem]]
name = "soc-tcp"
kind = "syslog"
address = "{tcp_address}"
transport = "tcp"
hostname = "pam-test"
batch_size = 3

[[siem]]
name = "soc-udp"
kind = "syslog"
address = "{udp_address}"
transport = "udp"
hostname = "pam-test"
facility = "local3"
max_message_bytes = 480

[[siem]]
name = "collector"
kind = "http"
url = "{http_url}"
token_file = "{token}"
batch_size = 4
"#,
        file = file.display(),
        token = token_file(dir.path()),
    );
    let server = Server::start_with_config(&config);
    let admin = server.admin();
    admin
        .run_with_stdin(&["users", "create", "alice", "--role", "user", "--password-stdin"], "wonderland-pass-123456\n")
        .success();
    server.client().login_with_stdin("alice", "wrong-password-here\n").code(4);
    add_targets(&admin, "db", 3);
    admin.run_with_stdin(&["accounts", "add", "db-0", "root", "--secret-stdin"], "target-secret\n").success();
    let log = audit_log(&admin);
    assert!(log.iter().any(|r| r.kind == "auth.login_failed"), "{log:?}");

    let all_delivered = || {
        let n = log.len();
        file_records(&file).len() >= n
            && tcp.lock().unwrap().len() >= n
            && udp.lock().unwrap().len() >= n
            && http.accepted(None).len() >= n
    };
    wait_until(&server, "every sink has every record", all_delivered);

    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600, "the file is private");
    assert_every_record_in_order("file", &file_records(&file), &log);

    let tcp_records: Vec<Value> = tcp.lock().unwrap().iter().map(|m| checked_syslog(m, 10)).collect();
    assert_every_record_in_order("syslog over tcp", &tcp_records, &log);
    let failed = tcp_records.iter().find(|r| r["event"] == "auth.login_failed").unwrap();
    assert_eq!(failed["outcome"], "failure");

    let datagrams = udp.lock().unwrap().clone();
    assert!(datagrams.iter().all(|d| d.len() <= 480), "a datagram over max_message_bytes");
    let udp_records: Vec<Value> = datagrams.iter().map(|m| checked_syslog(m, 19)).collect();
    assert_every_record_in_order("syslog over udp", &udp_records, &log);
    let cut: Vec<&Value> = udp_records.iter().filter(|r| r["details_truncated"] == true).collect();
    assert!(!cut.is_empty(), "no record needed cutting; the test no longer proves it: {udp_records:?}");
    assert!(cut.iter().all(|r| r["details"].is_string()), "{cut:?}");

    let posts = http.posts();
    for post in &posts {
        assert_eq!(post.authorization.as_deref(), Some(format!("Bearer {TOKEN}").as_str()));
        assert_eq!(post.content_type.as_deref(), Some("application/x-ndjson"));
        assert!(post.body.ends_with('\n') && post.body.lines().count() <= 4, "{post:?}");
    }
    assert_every_record_in_order("http", &http.accepted(None), &log);
    let account = http.accepted(None).into_iter().find(|r| r["event"] == "account.created").unwrap();
    assert_eq!(account["target"]["type"], "account");
    assert_eq!(account["actor"]["name"], "admin");
    assert_eq!(account["source_ip"], "127.0.0.1");
    assert!(!server.logs().contains(TOKEN), "the token is never logged");
}

#[test]
fn an_http_outage_delays_delivery_but_loses_nothing_and_holds_up_no_other_sink() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.jsonl");
    let (http_url, http) = http_receiver(503);
    let config = format!(
        r#"
[[siem]]
name = "collector"
kind = "http"
url = "{http_url}"
token_file = "{token}"
batch_size = 2
retry_initial_ms = 100
retry_max_seconds = 1

[[siem]]
name = "archive"
kind = "file"
path = "{file}"
"#,
        file = file.display(),
        token = token_file(dir.path()),
    );
    let server = Server::start_with_config(&config);
    let admin = server.admin();
    add_targets(&admin, "down", 4);
    let during_outage = audit_log(&admin);
    wait_until(&server, "the file sink has every record despite the outage", || {
        file_records(&file).len() >= during_outage.len()
    });
    wait_until(&server, "several attempts were refused", || http.posts().len() >= 3);
    assert!(http.accepted(None).is_empty(), "nothing was accepted during the outage");
    let refused = http.posts();
    assert!(refused.iter().all(|p| p.body.starts_with(r#"{"stream":"audit","seq":1,"#)), "retries start over");

    http.status.store(200, Ordering::SeqCst);
    add_targets(&admin, "up", 3);
    let log = audit_log(&admin);
    wait_until(&server, "both sinks have every record", || {
        http.accepted(None).len() >= log.len() && file_records(&file).len() >= log.len()
    });
    assert_every_record_in_order("http", &http.accepted(None), &log);
    assert_every_record_in_order("file", &file_records(&file), &log);
    let logs = server.logs();
    assert!(logs.contains("SIEM export failed; will retry") && logs.contains("HTTP 503"), "{logs}");
    assert!(logs.contains("the SIEM sink recovered"), "{logs}");
    assert!(!logs.contains(TOKEN), "the token is never logged");
}

#[test]
fn after_kill_9_delivery_resumes_from_the_persisted_cursor() {
    const BATCH: i64 = 3;
    let (http_url, http) = http_receiver(503);
    let config = format!(
        "[[siem]]\nname = \"collector\"\nkind = \"http\"\nurl = \"{http_url}\"\nbatch_size = {BATCH}\n\
         retry_initial_ms = 100\nretry_max_seconds = 1\n"
    );
    let mut server = Server::start_with_config(&config);
    let admin = server.admin();
    add_targets(&admin, "t", 20);
    let before_kill = audit_log(&admin);

    // Let batches through slowly, and kill latch once a few are in but well before the end.
    http.delay_ms.store(300, Ordering::SeqCst);
    http.status.store(200, Ordering::SeqCst);
    wait_until(&server, "four batches were delivered", || http.accepted(None).len() >= 4 * 3);
    server.stop();
    let delivered_before: Vec<i64> = http.accepted(Some(0)).iter().map(|r| r["seq"].as_i64().unwrap()).collect();
    let last_before = *delivered_before.last().unwrap();
    assert!(last_before < before_kill.last().unwrap().seq, "latch was killed mid-stream");
    http.phase.store(1, Ordering::SeqCst);
    http.delay_ms.store(0, Ordering::SeqCst);

    server.restart();
    let log = audit_log(&admin);
    let head = log.last().unwrap().seq;
    wait_until(&server, "the endpoint has every record after the restart", || {
        http.accepted(Some(1)).last().is_some_and(|r| r["seq"].as_i64() == Some(head))
    });
    let after: Vec<i64> = http.accepted(Some(1)).iter().map(|r| r["seq"].as_i64().unwrap()).collect();
    let first_after = after[0];
    assert_eq!(after, (first_after..=head).collect::<Vec<_>>(), "in order without gaps after the restart");
    assert!(first_after <= last_before + 1, "nothing between {last_before} and {first_after} was skipped");
    // The cursor lags what the endpoint has by at most the batch being acknowledged and one it never saw answered.
    assert!(first_after > last_before - 2 * BATCH, "resumed at {first_after}, not near the cursor ({last_before})");
    assert!(first_after > 1, "resumed from the persisted cursor, not from the start");
    let mut everything: Vec<i64> = delivered_before.iter().chain(&after).copied().collect();
    everything.sort_unstable();
    everything.dedup();
    assert_eq!(everything, (1..=head).collect::<Vec<_>>(), "every record arrived at least once");
}

/// The records of `stream` among `records`.
fn of_stream(records: &[Value], stream: &str) -> Vec<Value> {
    records.iter().filter(|r| r["stream"] == stream).cloned().collect()
}

/// A person's SSH key pair in `dir`; returns the private key's path.
fn person_key(dir: &Path) -> PathBuf {
    let path = dir.join("person_ed25519");
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "person", "-f"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    path
}

/// Runs `command` through the gateway with a real `ssh` (no config, agent or known hosts) and checks its output.
fn ssh_exec(server: &Server, key: &Path, login: &str, command: &str, expect: &str) {
    let ran = Command::new("ssh")
        .args(["-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"])
        .args(["-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR"])
        .arg("-i")
        .arg(key)
        .args(["-p", &server.ssh_port().to_string(), &format!("{login}@127.0.0.1"), command])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&ran.stdout), expect, "{ran:?}\n{}", server.logs());
}

/// The `session.ended` audit records, as (session id, seq), oldest first.
fn ended_sessions(admin: &Cli) -> Vec<(String, i64)> {
    let page = admin.run(&["audit", "list", "--kind", "session.ended", "--json"]).success().json();
    let mut ended: Vec<(String, i64)> = page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["details"]["session_id"].as_str().unwrap().to_owned(), r["seq"].as_i64().unwrap()))
        .collect();
    ended.sort_by_key(|(_, seq)| *seq);
    ended
}

/// Waits until `count` sessions have ended (the client may exit before the gateway records the end).
fn wait_for_ended(server: &Server, admin: &Cli, count: usize) -> Vec<(String, i64)> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let ended = ended_sessions(admin);
        if ended.len() >= count {
            return ended;
        }
        assert!(Instant::now() < deadline, "{count} sessions did not end: {ended:?}\n{}", server.logs());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Asserts that the session events in `records` of session `id` are its whole event log once or more (at least once),
/// positioned at its `session.ended` seq, with the command it ran, and returns how many distinct events it had.
#[track_caller]
fn assert_whole_session(records: &[Value], (id, seq): &(String, i64), command: &str, account: &str) -> usize {
    let events: Vec<&Value> = records.iter().filter(|r| r["session"]["id"] == id.as_str()).collect();
    assert!(!events.is_empty(), "no events of session {id}: {records:?}");
    let mut positions: Vec<i64> = events.iter().map(|r| r["session"]["position"].as_i64().unwrap()).collect();
    positions.sort_unstable();
    positions.dedup();
    assert_eq!(positions, (0..i64::try_from(positions.len()).unwrap()).collect::<Vec<_>>(), "{id}: a gap");
    for event in &events {
        assert_eq!(event["seq"].as_i64(), Some(*seq), "{id}: positioned at its session.ended record: {event}");
        assert_eq!((event["actor"]["kind"].as_str(), event["actor"]["name"].as_str()), (Some("user"), Some("alice")));
        assert_eq!(event["target"]["type"], "target", "{event}");
        assert_eq!(
            (event["session"]["target"].as_str(), event["session"]["account"].as_str()),
            (Some("db01"), Some(account))
        );
        assert_eq!(event["session"]["protocol"], "ssh", "{event}");
        assert_eq!(event["outcome"], "success", "{event}");
        assert!(event.get("mac").is_none(), "{event}");
    }
    let exec = events.iter().find(|r| r["event"] == "exec").unwrap_or_else(|| panic!("no exec event: {events:?}"));
    assert_eq!(exec["details"]["command"], command, "{exec}");
    assert_eq!(exec["summary"], command, "{exec}");
    assert!(events.iter().any(|r| r["event"] == "session_ended"), "{events:?}");
    positions.len()
}

#[test]
fn session_events_of_real_ssh_sessions_reach_the_sink_whole_and_survive_a_restart() {
    let Some(sshd) = latch_testkit::sshd::start_or_skip(&[]).unwrap() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("siem.jsonl");
    let config = format!(
        "[[siem]]\nname = \"archive\"\nkind = \"file\"\npath = \"{}\"\nstreams = [\"audit\", \"session_events\"]\n\
         batch_size = 2\nretry_initial_ms = 100\nretry_max_seconds = 1\n",
        file.display()
    );
    let mut server = Server::start_with_config(&config);
    let admin = server.admin();
    let key = person_key(dir.path());
    admin
        .run_with_stdin(&["users", "create", "alice", "--role", "user", "--password-stdin"], "wonderland-pass-123456\n")
        .success();
    admin.run(&["ssh-keys", "add", key.with_extension("pub").to_str().unwrap(), "--user", "alice"]).success();
    let port = sshd.port().to_string();
    admin.run(&["targets", "add", "db01", "--address", "127.0.0.1", "--port", &port]).success();
    admin.run(&["targets", "fetch-host-key", "db01", "--yes"]).success();
    let account = sshd.user().name.clone();
    admin
        .run_with_stdin(
            &["accounts", "add", "db01", &account, "--secret-stdin"],
            &format!("{}\n", sshd.user().password),
        )
        .success();
    let policy = dir.path().join("policy.json");
    let rules =
        r#"{"name":"db","users":["alice"],"targets":[{"name":"db01"}],"mode":"standing","max_duration_minutes":60}"#;
    std::fs::write(&policy, rules).unwrap();
    admin.run(&["policies", "create", "--file", policy.to_str().unwrap()]).success();

    // A session's events reach the sink as their own stream, beside the audit stream.
    ssh_exec(&server, &key, "alice@db01", "echo first-siem-session", "first-siem-session\n");
    let first = wait_for_ended(&server, &admin, 1)[0].clone();
    wait_until(&server, "the first session's events are in the file", || {
        of_stream(&file_records(&file), "session_events")
            .iter()
            .any(|r| r["session"]["id"] == first.0.as_str() && r["event"] == "session_ended")
    });
    let delivered = file_records(&file);
    let first_events = assert_whole_session(&delivered, &first, "echo first-siem-session", &account);
    assert!(first_events >= 2, "more events than one batch of 2 would carry: {delivered:?}");
    let audit_seqs: Vec<i64> = of_stream(&delivered, "audit").iter().map(|r| r["seq"].as_i64().unwrap()).collect();
    assert_eq!(audit_seqs, (1..=i64::try_from(audit_seqs.len()).unwrap()).collect::<Vec<_>>(), "the audit stream");

    // The sink fails (a directory where its file was) while a second session ends; then latch is killed.
    let before_restart = dir.path().join("before-restart.jsonl");
    std::fs::rename(&file, &before_restart).unwrap();
    std::fs::create_dir(&file).unwrap();
    ssh_exec(&server, &key, "alice@db01", "echo second-siem-session", "second-siem-session\n");
    let second = wait_for_ended(&server, &admin, 2)[1].clone();
    wait_until(&server, "the sink failed", || server.logs().contains("SIEM export failed; will retry"));
    server.stop();
    std::fs::remove_dir(&file).unwrap();

    // After the restart the sink gets what it missed, from its persisted cursor: the second session, whole.
    server.restart();
    wait_until(&server, "the second session's events are in the file", || {
        of_stream(&file_records(&file), "session_events")
            .iter()
            .any(|r| r["session"]["id"] == second.0.as_str() && r["event"] == "session_ended")
    });
    let after = of_stream(&file_records(&file), "session_events");
    assert_whole_session(&after, &second, "echo second-siem-session", &account);
    assert!(after.iter().all(|r| r["session"]["id"] != first.0.as_str()), "resumed after the first session: {after:?}");
    let mut everything = of_stream(&file_records(&before_restart), "session_events");
    everything.extend(after);
    let seqs: Vec<i64> = everything.iter().map(|r| r["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] <= w[1]), "in the order the sessions ended: {seqs:?}");
    assert_whole_session(&everything, &first, "echo first-siem-session", &account);
    assert_whole_session(&everything, &second, "echo second-siem-session", &account);

    // Every audit record arrived too, in one file or the other.
    let mut audit: Vec<i64> = of_stream(&file_records(&before_restart), "audit")
        .iter()
        .chain(&of_stream(&file_records(&file), "audit"))
        .map(|r| r["seq"].as_i64().unwrap())
        .collect();
    audit.sort_unstable();
    audit.dedup();
    assert!(audit.contains(&second.1), "the second session.ended record: {audit:?}");
    assert_eq!(audit, (1..=*audit.last().unwrap()).collect::<Vec<_>>(), "no audit record skipped");
}
