//! Session events as a SIEM export stream: positioned by the `session.ended` audit record committed with them,
//! read after a cursor in whole positions only, and never passed over by a reader while sessions end concurrently.

use crate::fixtures::{AccessWorld, TestMac, gateway_session, seed_access_world, t};
use latch_domain::GatewaySessionId;
use latch_domain::audit::{AccessEvent, AuditActor, AuditEvent};
use latch_domain::gateway_session::SessionEventEntry;
use latch_store::audit::{self, NewAuditEntry};
use latch_store::session_events::{self, ExportBatch};
use latch_store::{Store, gateway_sessions};
use std::collections::BTreeSet;
use std::sync::Arc;

fn entry(seq: i64, kind: &str, summary: &str) -> SessionEventEntry {
    SessionEventEntry {
        seq,
        at: t(10_000 + seq),
        kind: kind.to_owned(),
        channel: Some(0),
        summary: summary.to_owned(),
        bytes: None,
        data: format!(r#"{{"kind":"{kind}","summary":"{summary}"}}"#),
    }
}

fn entries(count: i64) -> Vec<SessionEventEntry> {
    (0..count).map(|seq| entry(seq, "exec", &format!("command {seq}"))).collect()
}

async fn read(store: &Store, after: i64, max_events: i64) -> anyhow::Result<ExportBatch> {
    let mut conn = store.read().await?;
    Ok(session_events::exported_after(&mut conn, after, max_events).await?)
}

/// (audit seq, session, position) of each event of `batch`.
fn keys(batch: &ExportBatch) -> Vec<(i64, String, i64)> {
    batch.events.iter().map(|e| (e.audit_seq, e.session_id.clone(), e.position)).collect()
}

fn of(audit_seq: i64, session: GatewaySessionId, positions: std::ops::Range<i64>) -> Vec<(i64, String, i64)> {
    positions.map(|position| (audit_seq, session.to_string(), position)).collect()
}

pub async fn check_session_events_export_in_whole_positions(store: Store) -> anyhow::Result<()> {
    let AccessWorld { alice, bob, web, root, deploy, .. } = seed_access_world(&store).await?;
    let a = gateway_session(&alice, &web, &root, None, 1_000, "node-a");
    let b = gateway_session(&bob, &web, &deploy, None, 2_000, "node-b");
    let c = gateway_session(&alice, &web, &root, None, 3_000, "node-a");
    let old = gateway_session(&bob, &web, &root, None, 500, "node-a");
    let mut tx = store.begin().await?;
    for session in [&a, &b, &c, &old] {
        gateway_sessions::insert(&mut tx, session).await?;
    }
    // Inserted out of position order, so that row ids do not follow the positions.
    assert_eq!(session_events::insert_all_exported(&mut tx, c.id, 15, &entries(4)).await?, 4);
    assert_eq!(session_events::insert_all_exported(&mut tx, a.id, 10, &entries(3)).await?, 3);
    assert_eq!(session_events::insert_all_exported(&mut tx, b.id, 12, &entries(2)).await?, 2);
    assert_eq!(session_events::insert_all(&mut tx, old.id, &entries(2)).await?, 2, "indexed before the export");
    tx.commit().await?;

    let all: Vec<_> = [of(10, a.id, 0..3), of(12, b.id, 0..2), of(15, c.id, 0..4)].concat();
    let everything = read(&store, 0, 100).await?;
    assert_eq!(keys(&everything), all, "in (audit seq, session, position) order; unstamped rows never");
    assert!(!everything.more);
    let first = &everything.events[0];
    assert_eq!(
        (first.username.as_str(), first.target_name.as_str(), first.account_name.as_str()),
        ("alice", "web-01", "root")
    );
    assert_eq!((first.node.as_str(), first.protocol.as_str(), first.kind.as_str()), ("node-a", "ssh", "exec"));
    assert_eq!((first.summary.as_str(), first.at, first.channel), ("command 0", t(10_000), Some(0)));
    assert_eq!(first.data, r#"{"kind":"exec","summary":"command 0"}"#, "the event as stored");
    assert_eq!(everything.events[3].username, "bob");

    // (after, max events) → the positions read, and whether more wait: whole positions only, at least one.
    let cases = [
        (0, 5, vec![10, 12], true),
        (0, 4, vec![10], true),
        (0, 1, vec![10], true),
        (10, 1, vec![12], true),
        (10, 6, vec![12, 15], false),
        (11, 2, vec![12], true),
        (12, 100, vec![15], false),
        (15, 100, vec![], false),
        (99, 100, vec![], false),
    ];
    for (after, max, positions, more) in cases {
        let batch = read(&store, after, max).await?;
        let expected: Vec<_> = all.iter().filter(|(seq, _, _)| positions.contains(seq)).cloned().collect();
        assert_eq!(keys(&batch), expected, "after {after}, at most {max}");
        assert_eq!(batch.more, more, "after {after}, at most {max}");
    }

    // Walking the stream as the exporter does delivers every event once, and no position across two batches.
    let (mut cursor, mut walked, mut seen_positions) = (0, Vec::new(), BTreeSet::new());
    loop {
        let batch = read(&store, cursor, 2).await?;
        let Some(last) = batch.events.last() else { break };
        let positions: BTreeSet<i64> = batch.events.iter().map(|e| e.audit_seq).collect();
        assert!(positions.iter().all(|p| seen_positions.insert(*p)), "a position split over two batches");
        cursor = last.audit_seq;
        walked.extend(keys(&batch));
    }
    assert_eq!(walked, all);

    // Indexing a session again stamps only what it adds; what was there keeps its position.
    let mut tx = store.begin().await?;
    assert_eq!(session_events::insert_all_exported(&mut tx, a.id, 20, &entries(4)).await?, 1);
    tx.commit().await?;
    assert_eq!(keys(&read(&store, 15, 100).await?), of(20, a.id, 3..4));
    assert_eq!(keys(&read(&store, 0, 100).await?)[..3], of(10, a.id, 0..3));
    let mut conn = store.read().await?;
    assert_eq!(session_events::export_head(&mut conn).await?, 20);
    assert_eq!(session_events::exportable_after(&mut conn, 10).await?, 7);
    assert_eq!(session_events::exportable_after(&mut conn, 20).await?, 0);
    Ok(())
}

/// Sessions end concurrently (each transaction appends `session.ended` and indexes the events under its seq) while
/// a reader follows the stream from its cursor: it sees every event exactly once, never a later position first.
pub async fn check_session_events_stream_skips_nothing_while_sessions_end(store: Store) -> anyhow::Result<()> {
    const WRITERS: usize = 4;
    const EACH: usize = 10;
    const EVENTS: i64 = 3;
    let world = seed_access_world(&store).await?;
    let mut sessions = Vec::new();
    let mut tx = store.begin().await?;
    for i in 0..WRITERS * EACH {
        let session = gateway_session(&world.alice, &world.web, &world.root, None, 1_000 + i64::try_from(i)?, "n");
        gateway_sessions::insert(&mut tx, &session).await?;
        sessions.push(session.id);
    }
    tx.commit().await?;
    let mac = Arc::new(TestMac::default());
    let mut writers = Vec::new();
    for chunk in sessions.chunks(EACH) {
        let (store, mac, chunk) = (store.clone(), Arc::clone(&mac), chunk.to_vec());
        writers.push(tokio::spawn(async move {
            for session_id in chunk {
                let event =
                    AuditEvent::Access(AccessEvent::SessionEnded { session_id, reason: "client_closed".into() });
                let mut tx = store.begin().await?;
                let entry = NewAuditEntry { at: t(5_000), actor: &AuditActor::System, source: None, event: &event };
                let seq = audit::append(&mut tx, mac.as_ref(), entry).await?;
                session_events::insert_all_exported(&mut tx, session_id, seq, &entries(EVENTS)).await?;
                tx.commit().await?;
            }
            anyhow::Ok(())
        }));
    }
    let total = WRITERS * EACH * usize::try_from(EVENTS)?;
    let (mut cursor, mut delivered, mut reads) = (0, Vec::new(), 0);
    while delivered.len() < total {
        reads += 1;
        anyhow::ensure!(reads < 100_000, "the reader made no progress past {cursor}");
        let batch = read(&store, cursor, 5).await?;
        if let Some(last) = batch.events.last() {
            cursor = last.audit_seq;
            delivered.extend(keys(&batch));
        }
        tokio::task::yield_now().await;
    }
    for handle in writers {
        handle.await??;
    }
    assert!(read(&store, cursor, 100).await?.events.is_empty(), "nothing left behind the cursor");
    let unique: BTreeSet<_> = delivered.iter().cloned().collect();
    assert_eq!(unique.len(), delivered.len(), "an event delivered twice");
    let delivered_sessions: BTreeSet<String> = delivered.iter().map(|(_, session, _)| session.clone()).collect();
    assert_eq!(delivered_sessions, sessions.iter().map(ToString::to_string).collect::<BTreeSet<_>>());
    let seqs: Vec<i64> = delivered.iter().map(|(seq, _, _)| *seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] <= w[1]), "positions out of order: {seqs:?}");
    Ok(())
}
