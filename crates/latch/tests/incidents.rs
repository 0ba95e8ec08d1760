//! Incident-bound access through a real `latch serve` and the real CLI, with a real local HTTP/1.1 server as the
//! incident system: listing a ticket's tasks, a valid task granting a window capped at its expiry, a task not open
//! refused, a lookup that times out refusing the request, test mode creating nothing, and the incident system's
//! authenticated inbound call revoking the incident's grant at once.

#![expect(clippy::unwrap_used, clippy::panic, reason = "test helpers fail the test by panicking")]

#[path = "cli/harness.rs"]
#[expect(dead_code, reason = "the harness serves several test binaries; this one uses part of it")]
mod harness;

use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const OUTBOUND: &str = "bearer-token-latch-sends-0123456789";
const INBOUND: &str = "bearer-token-itsm-sends-0123456789";
/// A ticket the incident system takes longer to answer than the integration's timeout (1 s).
const SLOW_TICKET: &str = "INC-SLOW";

/// One lookup the incident system received.
#[derive(Debug, Clone)]
struct Lookup {
    authorization: Option<String>,
    body: Value,
}

/// The incident system: a real HTTP/1.1 server on a free port, one thread per connection, answering
/// `{"tasks": [...]}` from `tasks` by ticket, 401 without Latch's bearer token, and late for [`SLOW_TICKET`].
struct IncidentSystem {
    url: String,
    lookups: Arc<Mutex<Vec<Lookup>>>,
}

impl IncidentSystem {
    fn start(tasks: HashMap<String, Value>) -> IncidentSystem {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/pam/tasks", listener.local_addr().unwrap());
        let lookups = Arc::new(Mutex::new(Vec::new()));
        let log = lookups.clone();
        let tasks = Arc::new(tasks);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (log, tasks) = (log.clone(), tasks.clone());
                std::thread::spawn(move || answer(stream, &log, &tasks));
            }
        });
        IncidentSystem { url, lookups }
    }

    fn lookups(&self) -> Vec<Lookup> {
        self.lookups.lock().unwrap().clone()
    }
}

fn answer(mut stream: TcpStream, log: &Mutex<Vec<Lookup>>, tasks: &HashMap<String, Value>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':').unwrap();
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let length: usize = header("content-length").map(|v| v.parse().unwrap()).unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let authorization = header("authorization");
    log.lock().unwrap().push(Lookup { authorization: authorization.clone(), body: body.clone() });
    let ticket = body["ticket"].as_str().unwrap_or_default().to_owned();
    let (status, reply) = if authorization.as_deref() != Some(&format!("Bearer {OUTBOUND}")) {
        ("401 Unauthorized", json!({"error": "who are you"}))
    } else {
        if ticket == SLOW_TICKET {
            std::thread::sleep(Duration::from_secs(4));
        }
        ("200 OK", json!({ "tasks": tasks.get(&ticket).cloned().unwrap_or_else(|| json!([])) }))
    };
    let reply = reply.to_string();
    let _ = stream.write_all(
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
            reply.len()
        )
        .as_bytes(),
    );
}

/// Now plus `minutes`, to the second, as RFC 3339.
fn in_minutes(minutes: i64) -> String {
    let at = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() + time::Duration::minutes(minutes);
    at.format(&Rfc3339).unwrap()
}

fn parse(text: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(text.as_str().unwrap(), &Rfc3339).unwrap()
}

fn ids(list: &Value, key: &str) -> Vec<String> {
    list[key].as_array().unwrap().iter().map(|item| item["id"].as_str().unwrap().to_owned()).collect()
}

/// `POST /api/v1/integrations/{integration}/incidents/closed` over HTTPS as the incident system would send it.
fn report_closed(server: &harness::Server, integration: &str, bearer: &str, ticket: &str) -> (u16, Value) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let pem = std::fs::read(server.cert()).unwrap();
        let client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let response = client
            .post(format!("{}/api/v1/integrations/{integration}/incidents/closed", server.url))
            .bearer_auth(bearer)
            .json(&json!({ "ticket": ticket, "state": "resolved" }))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    })
}

#[test]
fn incident_integration_end_to_end() {
    let t1_expires = in_minutes(30);
    let t2_expires = in_minutes(180);
    let tasks = HashMap::from([
        (
            "INC1".to_owned(),
            json!([
                {"id": "T1", "title": "Restart the primary", "expires_at": t1_expires},
                {"id": "T2", "title": "Check replication", "expires_at": t2_expires},
            ]),
        ),
        (SLOW_TICKET.to_owned(), json!([{"id": "T1", "title": "Slow", "expires_at": t2_expires}])),
    ]);
    let incidents = IncidentSystem::start(tasks);
    let dir = tempfile::tempdir().unwrap();
    let outbound = dir.path().join("itsm.secret");
    let inbound = dir.path().join("itsm-inbound.secret");
    std::fs::write(&outbound, format!("{OUTBOUND}\n")).unwrap();
    std::fs::write(&inbound, format!("{INBOUND}\n")).unwrap();
    let config = format!(
        "[[integrations]]\nname = \"itsm\"\nurl = \"{}\"\nsecret_file = \"{}\"\ntimeout_seconds = 1\n\
         inbound_secret_file = \"{}\"\n",
        incidents.url,
        outbound.display(),
        inbound.display()
    );
    let server = harness::Server::start_with_config(&config);
    let admin = server.admin();
    admin
        .run_with_stdin(
            &["users", "create", "alice", "--role", "user", "--password-stdin"],
            "incident-user-pass-1234\n",
        )
        .success();
    let alice = server.client();
    alice.login_with_stdin("alice", "incident-user-pass-1234\n").success();
    admin.run(&["targets", "add", "db01", "--address", "127.0.0.1"]).success();
    admin.run_with_stdin(&["accounts", "add", "db01", "root", "--secret-stdin"], "target-secret\n").success();
    let policy = json!({
        "name": "incident-root", "users": ["alice"], "targets": [{"name": "db01"}],
        "mode": "on_request", "approvals_required": 0, "max_duration_minutes": 240,
        "ticket_required": true, "integration": "itsm"
    });
    let file = dir.path().join("policy.json");
    std::fs::write(&file, policy.to_string()).unwrap();
    admin.run(&["policies", "create", "--file", file.to_str().unwrap()]).success();

    // The open tasks, asked with Latch's bearer token and the requester, target, account and ticket.
    let listed = alice.run(&["incidents", "tasks", "db01", "--integration", "itsm", "--ticket", "INC1", "--json"]);
    assert_eq!(ids(&listed.success().json(), "tasks"), ["T1", "T2"]);
    let lookup = incidents.lookups().pop().unwrap();
    assert_eq!(lookup.authorization.as_deref(), Some(format!("Bearer {OUTBOUND}").as_str()));
    assert_eq!(lookup.body, json!({"user": "alice", "target": "db01", "account": "root", "ticket": "INC1"}));
    let table = alice.run(&["incidents", "tasks", "db01", "--integration", "itsm", "--ticket", "INC1"]).success();
    assert!(table.stdout.contains("Restart the primary"), "{}", table.stdout);

    // A valid task: approved at once, the window capped at the task's expiry.
    let request = ["request", "db01", "--reason", "fix the outage", "--duration", "2h", "--ticket", "INC1"];
    let granted = alice.run(&[&request[..], &["--task", "T1", "--json"]].concat()).success().json();
    assert_eq!(granted["request"]["status"], "approved");
    assert_eq!(granted["request"]["task"], "T1");
    let grant_id = granted["grant"]["id"].as_str().unwrap().to_owned();
    assert_eq!(parse(&granted["grant"]["ends_at"]), parse(&json!(t1_expires)), "capped at T1's expiry");

    // A task that is not open for the ticket is refused, naming the open ones.
    let refused = alice.run(&[&request[..], &["--task", "T9"]].concat());
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("not open") && refused.stderr.contains("T1, T2"), "{}", refused.stderr);

    // An incident system slower than the timeout refuses the request (fail closed), in about the timeout.
    let started = Instant::now();
    let slow = ["request", "db01", "--reason", "fix", "--duration", "1h", "--ticket", SLOW_TICKET, "--task", "T1"];
    let refused = alice.run(&slow);
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("did not answer in time"), "{}", refused.stderr);
    assert!(started.elapsed() < Duration::from_secs(4), "refused after {:?}", started.elapsed());

    // Test mode: the whole check as alice, reported, with nothing created.
    let requests_before = admin.run(&["requests", "--all", "--json"]).success().json()["requests"].clone();
    let test = ["integrations", "test", "itsm", "--user", "alice", "--target", "db01", "--ticket", "INC1"];
    let report = admin.run(&[&test[..], &["--task", "T1", "--json"]].concat()).success().json();
    assert_eq!(report["verdict"], "would_grant");
    assert_eq!(report["policy"], "incident-root");
    assert_eq!(report["capped"], true, "{report}");
    assert_eq!(ids(&report, "tasks"), ["T1", "T2"]);
    let report = admin.run(&[&test[..], &["--task", "T9", "--json"]].concat()).code(1).json();
    assert_eq!(report["verdict"], "refused");
    assert!(report["message"].as_str().unwrap().contains("not open"), "{report}");
    let shown = admin.run(&[&test[..], &["--task", "T2"]].concat()).success();
    assert!(shown.stdout.contains("would be granted at once"), "{}", shown.stdout);
    let requests_after = admin.run(&["requests", "--all", "--json"]).success().json()["requests"].clone();
    assert_eq!(requests_before, requests_after, "test mode created no request");

    // The inbound call: a wrong secret, a Latch token or an unknown integration get 401 alike.
    let current = |cli: &harness::Cli| ids(&cli.run(&["grants", "--current", "--json"]).success().json(), "grants");
    assert_eq!(current(&alice), vec![grant_id.clone()]);
    let (status, wrong) = report_closed(&server, "itsm", "not-the-inbound-secret-0123456789", "INC1");
    assert_eq!(status, 401);
    let (status, unknown) = report_closed(&server, "nope", INBOUND, "INC1");
    assert_eq!((status, &unknown), (401, &wrong), "an unknown integration looks like a wrong secret");
    let (status, _) = report_closed(&server, "itsm", OUTBOUND, "INC1");
    assert_eq!(status, 401, "the outbound secret is not the inbound one");
    assert_eq!(current(&alice), vec![grant_id.clone()], "refused calls revoke nothing");

    // The right secret revokes the incident's grant at once.
    let (status, closed) = report_closed(&server, "itsm", INBOUND, "INC1");
    assert_eq!(status, 200, "{closed}");
    assert_eq!(closed["grants_revoked"], 1);
    assert!(current(&alice).is_empty(), "the grant is no longer current");
    let shown = alice.run(&["grants", "show", &grant_id, "--json"]).success().json();
    assert_eq!(shown["state"], "revoked");
    assert_eq!(shown["revoked_by"], "integration:itsm");
    let audit = admin.run(&["audit", "list", "--kind", "incident.closed", "--json"]).success().json();
    let records = audit["records"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{audit}");
    assert_eq!(records[0]["details"]["ticket"], "INC1");
    assert_eq!(records[0]["details"]["grants_revoked"], 1);
    let tested = admin.run(&["audit", "list", "--kind", "integration.tested", "--json"]).success().json();
    assert_eq!(tested["records"].as_array().unwrap().len(), 3);
    assert!(!server.logs().contains(OUTBOUND) && !server.logs().contains(INBOUND), "secrets stay out of the logs");
}
