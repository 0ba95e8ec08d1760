//! Benchmark (not a test): session report queries on a generated table of a million sessions, on SQLite and on a
//! throwaway PostgreSQL cluster, through the same store functions the API uses.
//!
//! ```sh
//! cargo run --release -p latch-store --example session_queries                 # both backends, 1 000 000 sessions
//! cargo run --release -p latch-store --example session_queries -- sqlite 200000 # one backend, fewer sessions
//! ```
//!
//! The data: 200 users, 500 targets (each with an address and one or two of 20 tags), sessions spread over a year
//! (80 % ssh, 10 % telnet, 10 % rdp; every end reason; 1 % still live), and five indexed events for one session in
//! ten. Each query asks for the newest page of 100, as the API does, and is run 7 times; the median and the slowest
//! run are printed in milliseconds.

#![expect(clippy::unwrap_used, reason = "a benchmark program: any error ends it with its message")]
#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark program: it prints its report and progress"
)]

use std::time::{Duration, Instant};

use latch_domain::gateway_session::{GatewaySession, RecordingRetention, SessionEndReason, SessionEventEntry};
use latch_domain::names::{HostAddress, TagName, TargetName};
use latch_domain::target::{Protocol, Target, TargetSpec};
use latch_domain::{AccountId, GatewaySessionId, PolicyId, TargetId, Timestamp, UserId};
use latch_store::gateway_sessions::{self, SessionFilter};
use latch_store::session_events::{self, EventFilter};
use latch_store::{Store, targets};
use uuid::Uuid;

const USERS: u64 = 200;
const TARGETS: u64 = 500;
const TAGS: u64 = 20;
const YEAR_MS: i64 = 365 * 24 * 3_600_000;
const START_MS: i64 = 1_760_000_000_000;
const BATCH: u64 = 5_000;
const RUNS: usize = 7;

/// A small deterministic generator, so that every run builds the same table.
struct Numbers(u64);

impl Numbers {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, bound: u64) -> u64 {
        // Two draws of 31 bits: enough for a year in milliseconds.
        ((self.next() << 31) | self.next()) % bound
    }
}

fn id(kind: u128, number: u64) -> Uuid {
    Uuid::from_u128((kind << 96) | u128::from(number))
}

fn target(number: u64) -> Target {
    let tags = [number % TAGS, (number * 7 + 3) % TAGS];
    let spec = TargetSpec {
        name: TargetName::parse(&format!("host-{number:03}")).unwrap(),
        address: HostAddress::parse(&format!("host-{number:03}.example.com")).unwrap(),
        port: 22,
        protocols: vec![Protocol::Ssh, Protocol::Telnet, Protocol::Rdp],
        tags: tags.iter().map(|tag| TagName::parse(&format!("tag-{tag:02}")).unwrap()).collect(),
        description: String::new(),
        host_key_pin: None,
    }
    .normalized()
    .unwrap();
    Target {
        id: TargetId::from_uuid(id(2, number)),
        spec,
        created_at: Timestamp::from_millis(START_MS),
        updated_at: Timestamp::from_millis(START_MS),
    }
}

fn session(number: u64, numbers: &mut Numbers) -> GatewaySession {
    let user = numbers.below(USERS);
    let target = numbers.below(TARGETS);
    let started = START_MS + i64::try_from(numbers.below(u64::try_from(YEAR_MS).unwrap())).unwrap();
    let protocol = match numbers.below(10) {
        0 => Protocol::Telnet,
        1 => Protocol::Rdp,
        _ => Protocol::Ssh,
    };
    let live = numbers.below(100) == 0;
    let reason = SessionEndReason::ALL[usize::try_from(numbers.below(11)).unwrap()];
    GatewaySession {
        id: GatewaySessionId::from_uuid(id(3, number)),
        user_id: UserId::from_uuid(id(1, user)),
        username: format!("user{user:03}"),
        target_id: TargetId::from_uuid(id(2, target)),
        target_name: format!("host-{target:03}"),
        account_id: AccountId::from_uuid(id(4, target)),
        account_name: "root".to_owned(),
        grant_id: None,
        policy_id: PolicyId::from_uuid(id(5, 0)),
        protocol,
        source: Some("198.51.100.7:52000".to_owned()),
        started_at: Timestamp::from_millis(started),
        ended_at: (!live).then(|| Timestamp::from_millis(started + 60_000)),
        end_reason: (!live).then_some(reason),
        bytes_to_target: 1_000,
        bytes_from_target: 100_000,
        recording: Some(format!("{}", id(3, number))),
        consent_accepted_at: None,
        node: "node-a".to_owned(),
        retention: RecordingRetention::default(),
    }
}

fn events(session: &GatewaySession) -> Vec<SessionEventEntry> {
    let at = |offset: i64| Timestamp::from_millis(session.started_at.as_millis() + offset);
    let kinds = [("exec", "uptime"), ("file_transfer", "download /var/log/syslog"), ("window_change", "120x40")];
    let mut entries: Vec<SessionEventEntry> = (0..4_i64)
        .map(|seq| {
            let (kind, summary) = kinds[usize::try_from(seq).unwrap() % kinds.len()];
            SessionEventEntry {
                seq,
                at: at(seq * 1_000),
                kind: kind.to_owned(),
                channel: Some(0),
                summary: summary.to_owned(),
                bytes: (kind == "file_transfer").then_some(4_096),
                data: format!(r#"{{"kind":"{kind}"}}"#),
            }
        })
        .collect();
    entries.push(SessionEventEntry {
        seq: 4,
        at: at(60_000),
        kind: "session_ended".to_owned(),
        channel: None,
        summary: "client_closed".to_owned(),
        bytes: None,
        data: r#"{"kind":"session_ended","reason":"client_closed"}"#.to_owned(),
    });
    entries
}

async fn fill(store: &Store, sessions: u64) -> Duration {
    let started = Instant::now();
    let mut tx = store.begin().await.unwrap();
    for number in 0..TARGETS {
        targets::insert(&mut tx, &target(number)).await.unwrap();
    }
    tx.commit().await.unwrap();
    let mut numbers = Numbers(42);
    let mut number = 0;
    while number < sessions {
        let mut tx = store.begin().await.unwrap();
        for _ in 0..BATCH.min(sessions - number) {
            let session = session(number, &mut numbers);
            gateway_sessions::insert(&mut tx, &session).await.unwrap();
            if number % 10 == 0 && session.ended_at.is_some() {
                session_events::insert_all(&mut tx, session.id, &events(&session)).await.unwrap();
            }
            number += 1;
        }
        tx.commit().await.unwrap();
        if number % 100_000 == 0 {
            eprintln!("  {number} sessions after {:.0} s", started.elapsed().as_secs_f64());
        }
    }
    started.elapsed()
}

/// Runs `query` [`RUNS`] times; the median and the slowest run, in milliseconds, and the rows of the last run.
async fn time<F, Fut>(query: F) -> (f64, f64, usize)
where
    F: Fn() -> Fut,
    Fut: Future<Output = usize>,
{
    let mut runs = Vec::with_capacity(RUNS);
    let mut rows = 0;
    for _ in 0..RUNS {
        let started = Instant::now();
        rows = query().await;
        runs.push(started.elapsed().as_secs_f64() * 1_000.0);
    }
    runs.sort_by(f64::total_cmp);
    (runs[RUNS / 2], runs[RUNS - 1], rows)
}

async fn report(store: &Store, backend: &str) {
    let day = |days: i64| Timestamp::from_millis(START_MS + days * 24 * 3_600_000);
    let page = |filter: SessionFilter| SessionFilter { limit: 100, ..filter };
    let all = SessionFilter::default;
    let queries: Vec<(&str, SessionFilter)> = vec![
        ("newest 100, no filter", page(all())),
        ("live sessions", page(SessionFilter { live_only: true, ..all() })),
        ("by user", page(SessionFilter { username: Some("user042".to_owned()), ..all() })),
        ("by target", page(SessionFilter { target: Some("host-042".to_owned()), ..all() })),
        ("by host name", page(SessionFilter { host: Some("host-042.example.com".to_owned()), ..all() })),
        ("by tag", page(SessionFilter { tag: Some("tag-07".to_owned()), ..all() })),
        ("by protocol (telnet)", page(SessionFilter { protocol: Some(Protocol::Telnet), ..all() })),
        ("by end reason (terminated)", page(SessionFilter { end_reason: Some(SessionEndReason::Terminated), ..all() })),
        ("one day", page(SessionFilter { started_from: Some(day(100)), started_to: Some(day(101)), ..all() })),
        (
            "user in one week",
            page(SessionFilter {
                username: Some("user042".to_owned()),
                started_from: Some(day(100)),
                started_to: Some(day(107)),
                ..all()
            }),
        ),
        (
            "tag and end reason in one month",
            page(SessionFilter {
                tag: Some("tag-07".to_owned()),
                end_reason: Some(SessionEndReason::GrantExpired),
                started_from: Some(day(100)),
                started_to: Some(day(130)),
                ..all()
            }),
        ),
        ("page 50 (offset 5000)", SessionFilter { limit: 100, offset: 5_000, ..all() }),
    ];
    println!("\n| {backend}: query | median ms | slowest ms | rows |\n|---|---:|---:|---:|");
    for (name, filter) in queries {
        let (median, slowest, rows) = time(|| async {
            let mut conn = store.read().await.unwrap();
            gateway_sessions::list(&mut conn, &filter).await.unwrap().len()
        })
        .await;
        println!("| {name} | {median:.2} | {slowest:.2} | {rows} |");
    }
    let one_session = GatewaySessionId::from_uuid(id(3, 420));
    let event_queries: Vec<(&str, EventFilter)> = vec![
        ("events of one session", EventFilter { session: Some(one_session), limit: 1000, ..EventFilter::default() }),
        (
            "file transfers in one day, all sessions",
            EventFilter {
                kind: Some("file_transfer".to_owned()),
                from: Some(day(100)),
                to: Some(day(101)),
                limit: 100,
                ..EventFilter::default()
            },
        ),
        ("newest 100 events", EventFilter { limit: 100, ..EventFilter::default() }),
    ];
    for (name, filter) in event_queries {
        let (median, slowest, rows) = time(|| async {
            let mut conn = store.read().await.unwrap();
            session_events::list(&mut conn, &filter).await.unwrap().len()
        })
        .await;
        println!("| {name} | {median:.2} | {slowest:.2} | {rows} |");
    }
}

async fn run(backend: &str, sessions: u64) {
    let directory = tempfile::tempdir().unwrap();
    let (store, _cluster) = match backend {
        "sqlite" => (Store::connect(&Store::sqlite_url(&directory.path().join("latch.db"))).await.unwrap(), None),
        _ => {
            let cluster =
                tokio::task::spawn_blocking(latch_testkit::postgres::TestPostgres::start).await.unwrap().unwrap();
            (Store::connect(&cluster.url()).await.unwrap(), Some(cluster))
        }
    };
    eprintln!("{backend}: generating {sessions} sessions");
    let took = fill(&store, sessions).await;
    println!(
        "\n{backend}: {sessions} sessions and {} indexed events generated in {:.0} s",
        sessions / 10 * 5,
        took.as_secs_f64()
    );
    report(&store, backend).await;
    store.close().await;
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let backends = match args.next().as_deref() {
        Some("sqlite") => vec!["sqlite"],
        Some("postgres") => vec!["postgres"],
        _ => vec!["sqlite", "postgres"],
    };
    let sessions = args.next().map_or(1_000_000, |count| count.parse().unwrap());
    for backend in backends {
        run(backend, sessions).await;
    }
}
