//! Session reporting: session lists narrowed by user, target, host, tag, protocol, end reason and time, and the
//! event index of finished sessions.

use latch_domain::GatewaySessionId;
use latch_domain::gateway_session::{SessionEndReason, SessionEventEntry};
use latch_domain::target::Protocol;
use latch_store::gateway_sessions::{self, SessionFilter};
use latch_store::session_events::{self, EventFilter};
use latch_store::{Store, targets};

use crate::fixtures::{AccessWorld, fresh, gateway_session, seed_access_world, t, target};

async fn listed(store: &Store, filter: SessionFilter) -> anyhow::Result<Vec<GatewaySessionId>> {
    let mut conn = store.read().await?;
    let filter = SessionFilter { limit: 100, ..filter };
    Ok(gateway_sessions::list(&mut conn, &filter).await?.into_iter().map(|s| s.id).collect())
}

pub async fn check_session_report_filters(store: Store) -> anyhow::Result<()> {
    let AccessWorld { alice, bob, web, root, .. } = seed_access_world(&store).await?;
    let db = target("db-01", "db01.example.com", &[Protocol::Ssh, Protocol::Telnet], &["prod", "pci"], "")?;
    let db_root = crate::fixtures::account(db.id, "root")?;
    let mut tx = store.begin().await?;
    targets::insert(&mut tx, &db).await?;
    latch_store::accounts::insert(&mut tx, &db_root, None).await?;
    let on_web = gateway_session(&alice, &web, &root, None, 1_000, "node-a");
    let mut on_db_by_telnet = gateway_session(&alice, &db, &db_root, None, 2_000, "node-a");
    on_db_by_telnet.protocol = Protocol::Telnet;
    on_db_by_telnet.ended_at = Some(t(2_500));
    on_db_by_telnet.end_reason = Some(SessionEndReason::Terminated);
    let mut bobs_on_db = gateway_session(&bob, &db, &db_root, None, 3_000, "node-b");
    bobs_on_db.ended_at = Some(t(3_500));
    bobs_on_db.end_reason = Some(SessionEndReason::ClientClosed);
    for session in [&on_web, &on_db_by_telnet, &bobs_on_db] {
        gateway_sessions::insert(&mut tx, session).await?;
    }
    tx.commit().await?;

    let all = || SessionFilter::default();
    assert_eq!(listed(&store, all()).await?, [bobs_on_db.id, on_db_by_telnet.id, on_web.id]);
    let by_name = SessionFilter { username: Some("alice".to_owned()), ..all() };
    assert_eq!(listed(&store, by_name).await?, [on_db_by_telnet.id, on_web.id]);
    let by_target = SessionFilter { target: Some("db-01".to_owned()), ..all() };
    assert_eq!(listed(&store, by_target).await?, [bobs_on_db.id, on_db_by_telnet.id]);
    let by_host = SessionFilter { host: Some("web01.example.com".to_owned()), ..all() };
    assert_eq!(listed(&store, by_host).await?, [on_web.id]);
    let by_tag = SessionFilter { tag: Some("pci".to_owned()), ..all() };
    assert_eq!(listed(&store, by_tag).await?, [bobs_on_db.id, on_db_by_telnet.id]);
    let shared_tag = SessionFilter { tag: Some("prod".to_owned()), ..all() };
    assert_eq!(listed(&store, shared_tag).await?.len(), 3, "a tag both targets carry");
    let by_protocol = SessionFilter { protocol: Some(Protocol::Telnet), ..all() };
    assert_eq!(listed(&store, by_protocol).await?, [on_db_by_telnet.id]);
    let by_reason = SessionFilter { end_reason: Some(SessionEndReason::Terminated), ..all() };
    assert_eq!(listed(&store, by_reason).await?, [on_db_by_telnet.id]);
    let window = SessionFilter { started_from: Some(t(2_000)), started_to: Some(t(3_000)), ..all() };
    assert_eq!(listed(&store, window).await?, [on_db_by_telnet.id], "from is inclusive, to exclusive");
    let combined = SessionFilter { tag: Some("prod".to_owned()), username: Some("bob".to_owned()), ..all() };
    assert_eq!(listed(&store, combined).await?, [bobs_on_db.id]);
    let nobody = SessionFilter { username: Some("mallory' OR '1'='1".to_owned()), ..all() };
    assert_eq!(listed(&store, nobody).await?, [], "values are bound, never spliced");
    Ok(())
}

fn entry(seq: i64, at: i64, kind: &str, summary: &str, bytes: Option<i64>) -> SessionEventEntry {
    SessionEventEntry {
        seq,
        at: t(at),
        kind: kind.to_owned(),
        channel: Some(0),
        summary: summary.to_owned(),
        bytes,
        data: format!(r#"{{"kind":"{kind}"}}"#),
    }
}

pub async fn check_session_events(store: Store) -> anyhow::Result<()> {
    let AccessWorld { alice, web, root, .. } = seed_access_world(&store).await?;
    let first = gateway_session(&alice, &web, &root, None, 1_000, "node-a");
    let second = gateway_session(&alice, &web, &root, None, 5_000, "node-a");
    let first_events = vec![
        entry(0, 1_100, "exec", "tar czf - /etc", None),
        entry(1, 1_200, "file_transfer", "/etc/passwd", Some(1_234)),
        entry(2, 1_900, "session_ended", "client_closed", None),
    ];
    let mut tx = store.begin().await?;
    gateway_sessions::insert(&mut tx, &first).await?;
    gateway_sessions::insert(&mut tx, &second).await?;
    assert_eq!(session_events::insert_all(&mut tx, first.id, &first_events).await?, 3);
    assert_eq!(session_events::insert_all(&mut tx, second.id, &[entry(0, 5_100, "exec", "id", None)]).await?, 1);
    tx.commit().await?;

    // Indexing the same log again after a crash adds only what was missing.
    let mut again = first_events.clone();
    again.push(entry(3, 1_950, "window_change", "120x40", None));
    let mut tx = store.begin().await?;
    assert_eq!(session_events::insert_all(&mut tx, first.id, &again).await?, 1);
    tx.commit().await?;

    let mut conn = store.read().await?;
    let of_first = EventFilter { session: Some(first.id), limit: 100, ..EventFilter::default() };
    let listed = session_events::list(&mut conn, &of_first).await?;
    let entries: Vec<SessionEventEntry> = listed.iter().map(|event| event.entry.clone()).collect();
    assert_eq!(entries, again, "one session's events in log order, stored as given");
    assert!(listed.iter().all(|event| event.session_id == first.id));
    assert!(listed.windows(2).all(|pair| pair[0].id < pair[1].id), "ids increase with indexing");

    let transfers = EventFilter { kind: Some("file_transfer".to_owned()), limit: 100, ..EventFilter::default() };
    let found = session_events::list(&mut conn, &transfers).await?;
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].entry.summary.as_str(), found[0].entry.bytes), ("/etc/passwd", Some(1_234)));
    let newest = EventFilter { from: Some(t(1_200)), to: Some(t(5_100)), limit: 100, ..EventFilter::default() };
    let seqs: Vec<(GatewaySessionId, i64)> = session_events::list(&mut conn, &newest)
        .await?
        .iter()
        .map(|event| (event.session_id, event.entry.seq))
        .collect();
    assert_eq!(seqs, [(first.id, 3), (first.id, 2), (first.id, 1)], "over all sessions: newest first");
    let paged = EventFilter { limit: 2, offset: 1, ..of_first.clone() };
    let seqs: Vec<i64> = session_events::list(&mut conn, &paged).await?.iter().map(|event| event.entry.seq).collect();
    assert_eq!(seqs, [1, 2]);
    let unknown = EventFilter { session: Some(fresh(GatewaySessionId::from_uuid)), ..of_first };
    assert_eq!(session_events::list(&mut conn, &unknown).await?, []);
    Ok(())
}
