//! Recording retention: when a session's recording becomes due (its end plus the retention it started with), which
//! recordings the sweep finds (due, unheld, undeleted, this node's, with a recording), paging through them, and the
//! conditional updates of legal holds and deletion.

use anyhow::Context;
use latch_domain::gateway_session::{GatewaySession, LegalHold, RETENTION_DAY, RecordingRetention, SessionEndReason};
use latch_domain::{GatewaySessionId, Timestamp};
use latch_store::Store;
use latch_store::gateway_sessions::{self, DueRecording, SessionEnd};

use crate::fixtures::{AccessWorld, gateway_session, seed_access_world, t};

/// The recording of a session kept for `days` (None: forever), started at `started_ms` on `node`.
fn recorded(world: &AccessWorld, days: Option<u32>, started_ms: i64, node: &str) -> GatewaySession {
    let mut session = gateway_session(&world.alice, &world.web, &world.root, None, started_ms, node);
    session.recording = Some(session.id.to_string());
    session.retention = RecordingRetention::keeping_for(days);
    session
}

fn ended_at(ms: i64) -> SessionEnd {
    SessionEnd { at: t(ms), reason: SessionEndReason::ClientClosed, bytes_to_target: 1, bytes_from_target: 2 }
}

async fn due(store: &Store, node: &str, now: Timestamp) -> anyhow::Result<Vec<GatewaySessionId>> {
    let mut conn = store.read().await?;
    let due = gateway_sessions::recordings_due(&mut conn, node, now, None, 100).await?;
    Ok(due.into_iter().map(|d| d.session_id).collect())
}

async fn stored(store: &Store, id: GatewaySessionId) -> anyhow::Result<GatewaySession> {
    let mut conn = store.read().await?;
    gateway_sessions::find(&mut conn, id).await?.context("session")
}

fn hold(reason: &str, at_ms: i64) -> LegalHold {
    LegalHold { reason: reason.to_owned(), placed_by: "auditor1".to_owned(), placed_at: t(at_ms) }
}

pub async fn check_recordings_due(store: Store) -> anyhow::Result<()> {
    let world = seed_access_world(&store).await?;
    let plain = recorded(&world, Some(1), 1_000, "node-a");
    let held = recorded(&world, Some(1), 1_100, "node-a");
    let deleted = recorded(&world, Some(1), 1_200, "node-a");
    let longer = recorded(&world, Some(30), 1_300, "node-a");
    let forever = recorded(&world, None, 1_400, "node-a");
    let live = recorded(&world, Some(1), 1_500, "node-a");
    let elsewhere = recorded(&world, Some(1), 1_600, "node-b");
    let unrecorded = GatewaySession { recording: None, ..recorded(&world, Some(1), 1_700, "node-a") };
    let abandoned = recorded(&world, Some(2), 1_800, "node-a");
    let all = [&plain, &held, &deleted, &longer, &forever, &live, &elsewhere, &unrecorded, &abandoned];
    let mut tx = store.begin().await?;
    for session in all {
        gateway_sessions::insert(&mut tx, session).await?;
    }
    for session in [&plain, &held, &deleted, &longer, &forever, &elsewhere, &unrecorded] {
        assert!(gateway_sessions::end(&mut tx, session.id, &ended_at(2_000)).await?);
    }
    let closed = gateway_sessions::end_abandoned(&mut tx, "node-a", t(3_000)).await?;
    assert_eq!(closed.len(), 2, "the live one and the abandoned one");
    tx.commit().await?;

    // Due the retention's days after the end: the session's end, or the restart that found it abandoned.
    let day_after_end = RecordingRetention::due_at(t(2_000), 1);
    assert_eq!(day_after_end, t(2_000 + RETENTION_DAY.as_millis()));
    assert_eq!(stored(&store, plain.id).await?.retention.retain_until, Some(day_after_end));
    assert_eq!(stored(&store, longer.id).await?.retention.retain_until, Some(RecordingRetention::due_at(t(2_000), 30)));
    assert_eq!(stored(&store, forever.id).await?.retention.retain_until, None, "kept forever");
    let abandoned_due = RecordingRetention::due_at(t(3_000), 2);
    assert_eq!(stored(&store, abandoned.id).await?.retention.retain_until, Some(abandoned_due));
    assert_eq!(stored(&store, live.id).await?.retention.retain_until, Some(RecordingRetention::due_at(t(3_000), 1)));

    let mut tx = store.begin().await?;
    assert!(gateway_sessions::place_legal_hold(&mut tx, held.id, &hold("case 17", 2_500)).await?);
    assert!(!gateway_sessions::mark_recording_deleted(&mut tx, deleted.id, t(2_000)).await?, "not due yet");
    assert!(gateway_sessions::mark_recording_deleted(&mut tx, deleted.id, day_after_end).await?);
    assert!(!gateway_sessions::mark_recording_deleted(&mut tx, deleted.id, day_after_end).await?, "once");
    assert!(!gateway_sessions::mark_recording_deleted(&mut tx, held.id, abandoned_due).await?, "held");
    tx.commit().await?;

    assert_eq!(due(&store, "node-a", day_after_end.minus(latch_domain::TimeSpan::from_millis(1))).await?, []);
    assert_eq!(due(&store, "node-a", day_after_end).await?, [plain.id], "due is inclusive");
    assert_eq!(due(&store, "node-b", day_after_end).await?, [elsewhere.id], "each node sweeps its own");
    let live_due = RecordingRetention::due_at(t(3_000), 1);
    assert_eq!(due(&store, "node-a", abandoned_due).await?, [plain.id, live.id, abandoned.id], "oldest due first");
    assert_eq!(due(&store, "node-a", live_due).await?, [plain.id, live.id]);

    let deleted_row = stored(&store, deleted.id).await?;
    assert_eq!(deleted_row.retention.deleted_at, Some(day_after_end));
    assert_eq!(deleted_row.retention.retain_until, Some(day_after_end), "the row and its retention stay");
    assert_eq!(stored(&store, held.id).await?.retention.legal_hold, Some(hold("case 17", 2_500)));
    Ok(())
}

pub async fn check_recordings_due_in_pages(store: Store) -> anyhow::Result<()> {
    let world = seed_access_world(&store).await?;
    let sessions: Vec<GatewaySession> = (0..5).map(|n| recorded(&world, Some(1), 1_000 + n, "node-a")).collect();
    let mut tx = store.begin().await?;
    for (n, session) in sessions.iter().enumerate() {
        gateway_sessions::insert(&mut tx, session).await?;
        // Two pairs end at the same time, so the page boundary falls between sessions of one `retain_until`.
        let end_ms = 2_000 + i64::try_from(n / 2)?;
        assert!(gateway_sessions::end(&mut tx, session.id, &ended_at(end_ms)).await?);
    }
    tx.commit().await?;
    let now = RecordingRetention::due_at(t(3_000), 1);
    let mut expected: Vec<(Timestamp, GatewaySessionId)> = Vec::new();
    for session in &sessions {
        expected.push((stored(&store, session.id).await?.retention.retain_until.context("due")?, session.id));
    }
    expected.sort_by_key(|(until, id)| (*until, id.to_string()));

    let mut conn = store.read().await?;
    let mut seen = Vec::new();
    let mut after: Option<DueRecording> = None;
    loop {
        let page = gateway_sessions::recordings_due(&mut conn, "node-a", now, after.as_ref(), 2).await?;
        assert!(page.len() <= 2);
        seen.extend(page.iter().map(|d| (d.retain_until, d.session_id)));
        if page.len() < 2 {
            break;
        }
        after = page.into_iter().last();
    }
    assert_eq!(seen, expected, "every due recording once, in order");
    Ok(())
}

pub async fn check_legal_holds(store: Store) -> anyhow::Result<()> {
    let world = seed_access_world(&store).await?;
    let session = recorded(&world, Some(1), 1_000, "node-a");
    let unknown = recorded(&world, Some(1), 1_000, "node-a");
    let mut tx = store.begin().await?;
    gateway_sessions::insert(&mut tx, &session).await?;
    // A live session may be held too: it is kept from the moment it ends.
    assert!(gateway_sessions::place_legal_hold(&mut tx, session.id, &hold("case 17", 1_500)).await?);
    assert!(!gateway_sessions::place_legal_hold(&mut tx, session.id, &hold("case 18", 1_600)).await?, "held");
    assert!(!gateway_sessions::place_legal_hold(&mut tx, unknown.id, &hold("case 18", 1_600)).await?, "unknown");
    assert!(gateway_sessions::end(&mut tx, session.id, &ended_at(2_000)).await?);
    tx.commit().await?;
    let kept = stored(&store, session.id).await?;
    assert_eq!(kept.retention.legal_hold, Some(hold("case 17", 1_500)), "the first hold stays");
    let due_at = kept.retention.retain_until.context("due")?;
    assert_eq!(due(&store, "node-a", due_at).await?, [], "held, so never due");

    let mut tx = store.begin().await?;
    assert!(!gateway_sessions::release_legal_hold(&mut tx, session.id, t(1_600)).await?, "not that hold");
    assert!(gateway_sessions::release_legal_hold(&mut tx, session.id, t(1_500)).await?);
    assert!(!gateway_sessions::release_legal_hold(&mut tx, session.id, t(1_500)).await?, "released once");
    tx.commit().await?;
    assert_eq!(stored(&store, session.id).await?.retention.legal_hold, None);
    assert_eq!(due(&store, "node-a", due_at).await?, [session.id], "released: due again");

    let mut tx = store.begin().await?;
    assert!(gateway_sessions::mark_recording_deleted(&mut tx, session.id, due_at).await?);
    assert!(!gateway_sessions::place_legal_hold(&mut tx, session.id, &hold("too late", 9_000)).await?, "deleted");
    tx.commit().await?;
    assert_eq!(stored(&store, session.id).await?.retention.legal_hold, None);
    assert_eq!(due(&store, "node-a", due_at).await?, []);
    Ok(())
}
