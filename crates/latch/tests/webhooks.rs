//! Outgoing webhooks of a real `latch serve`: every access step is posted as signed JSON to a real local HTTP
//! receiver, and a delivery that fails is retried.

#![expect(clippy::unwrap_used, clippy::panic, reason = "test helpers fail the test by panicking")]

#[path = "cli/harness.rs"]
#[expect(dead_code, reason = "the harness serves several test binaries; this one uses part of it")]
mod harness;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "webhook-signing-secret-0123456789";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A real HTTP/1.1 receiver on a free port that answers 500 to the first request and 204 to the rest.
fn receiver() -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = Vec::new();
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                let trimmed = line.trim_end();
                if trimmed.is_empty() {
                    break;
                }
                let (name, value) = trimmed.split_once(':').unwrap();
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
            let length: usize = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .map(|(_, v)| v.parse().unwrap())
                .unwrap_or(0);
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let first = {
                let mut log = log.lock().unwrap();
                log.push(Received { headers, body: String::from_utf8(body).unwrap() });
                log.len() == 1
            };
            let status = if first { "500 Internal Server Error" } else { "204 No Content" };
            let _ = stream
                .write_all(format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").as_bytes());
        }
    });
    (url, received)
}

#[test]
fn access_steps_are_posted_signed_and_retried() {
    let (url, received) = receiver();
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("webhook.secret");
    std::fs::write(&secret_file, format!("{SECRET}\n")).unwrap();
    let config = format!(
        "[[webhooks]]\nname = \"itsm\"\nurl = \"{url}\"\nsecret_file = \"{}\"\nevents = [\"request.\", \"grant.\"]\n",
        secret_file.display()
    );
    let server = harness::Server::start_with_config(&config);
    let admin = server.admin();
    admin
        .run_with_stdin(&["users", "create", "alice", "--role", "user", "--password-stdin"], "webhook-user-pass-1234\n")
        .success();
    let alice = server.client();
    alice.login_with_stdin("alice", "webhook-user-pass-1234\n").success();
    admin.run(&["targets", "add", "db01", "--address", "127.0.0.1"]).success();
    admin.run_with_stdin(&["accounts", "add", "db01", "root", "--secret-stdin"], "target-secret\n").success();
    let policy = json!({
        "name": "self-service", "users": ["alice"], "targets": [{"name": "db01"}],
        "mode": "on_request", "approvals_required": 0, "max_duration_minutes": 60
    });
    let file = dir.path().join("policy.json");
    std::fs::write(&file, policy.to_string()).unwrap();
    admin.run(&["policies", "create", "--file", file.to_str().unwrap()]).success();
    let granted =
        alice.run(&["request", "db01", "--reason", "patching", "--duration", "30m", "--json"]).success().json();
    let request_id = granted["request"]["id"].as_str().unwrap().to_owned();

    // Three events; the first POST is answered 500 and retried after the backoff (10 s).
    let deadline = Instant::now() + Duration::from_secs(40);
    let kinds = loop {
        let log = received.lock().unwrap().clone();
        let delivered: Vec<String> =
            log[log.len().min(1)..].iter().filter_map(|r| r.header("x-latch-event").map(str::to_owned)).collect();
        if ["request.created", "request.approved", "grant.created"].iter().all(|k| delivered.iter().any(|d| d == k)) {
            break log;
        }
        assert!(Instant::now() < deadline, "not all events delivered: {log:?}\n{}", server.logs());
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(kinds.len() >= 4, "the failed first delivery was not retried: {kinds:?}");
    let first = &kinds[0];
    let retried: Vec<&Received> =
        kinds[1..].iter().filter(|r| r.header("x-latch-delivery") == first.header("x-latch-delivery")).collect();
    assert_eq!(retried.len(), 1, "the failed delivery came again exactly once: {kinds:?}");
    for request in &kinds {
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(request.body.as_bytes());
        let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(request.header("x-latch-signature"), Some(format!("sha256={expected}").as_str()));
        let body: Value = serde_json::from_str(&request.body).unwrap();
        assert_eq!(body["webhook"], "itsm");
        assert!(!request.body.contains("target-secret"));
    }
    let created = kinds.iter().find(|r| r.header("x-latch-event") == Some("request.created")).unwrap();
    let body: Value = serde_json::from_str(&created.body).unwrap();
    assert_eq!(body["details"]["request_id"], request_id.as_str());
    assert_eq!(body["actor"]["name"], "alice");
    assert!(kinds.iter().all(|r| !r.header("x-latch-event").unwrap_or("").starts_with("auth.")), "filtered by events");
}
