//! Incident-bound access through a real `latch serve` and the real CLI, with a real local HTTP/1.1 server as the
//! incident system: listing a ticket's tasks, a valid task granting a window capped at its expiry, a task not open
//! refused, a lookup that times out refusing the request, test mode creating nothing, and the incident system's
//! authenticated inbound call revoking the incident's grant at once.

#![expect(clippy::unwrap_used, clippy::panic, reason = "test helpers fail the test by panicking")]

#[path = "cli/harness.rs"]
#[expect(dead_code, reason = "the harness serves several test binaries; this one uses part of it")]
mod harness;
#[path = "incidents/system.rs"]
mod system;

use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use system::{INBOUND, IncidentSystem, OUTBOUND, SLOW_TICKET};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

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
    let config = incidents.config("itsm", dir.path());
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
