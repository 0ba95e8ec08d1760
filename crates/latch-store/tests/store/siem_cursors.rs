//! SIEM export cursors: created at 0, moved only forward over delivered positions, one winner per race; and the
//! audit stream they follow shows its records without gaps while they are being appended.

use crate::fixtures::{TestMac, fresh, t};
use latch_domain::UserId;
use latch_domain::audit::{AuditActor, AuditEvent};
use latch_store::Store;
use latch_store::audit::{self, AuditFilter, NewAuditEntry};
use latch_store::siem_cursors::{self, SiemCursor};
use std::sync::Arc;

async fn cursor(store: &Store, sink: &str, stream: &str) -> anyhow::Result<SiemCursor> {
    let mut tx = store.begin().await?;
    let cursor = siem_cursors::get_or_create(&mut tx, sink, stream).await?;
    tx.commit().await?;
    Ok(cursor)
}

async fn advance(store: &Store, sink: &str, from: i64, to: i64, at: i64) -> anyhow::Result<bool> {
    let mut tx = store.begin().await?;
    let moved = siem_cursors::advance(&mut tx, sink, "audit", from, to, t(at)).await?;
    tx.commit().await?;
    Ok(moved)
}

pub async fn check_siem_cursors(store: Store) -> anyhow::Result<()> {
    let fresh_cursor = cursor(&store, "splunk", "audit").await?;
    assert_eq!(fresh_cursor.delivered_seq, 0);
    assert_eq!(fresh_cursor.delivered_at, None);
    assert_eq!(cursor(&store, "splunk", "audit").await?, fresh_cursor, "asking again creates nothing new");

    // (from, to, moves, position after): forward over delivered positions only.
    let steps = [
        (0, 5, true, 5),
        (0, 3, false, 5),  // backwards
        (5, 5, false, 5),  // nowhere
        (7, 9, false, 5),  // 6 and 7 were never delivered
        (3, 8, true, 8),   // 4..5 were delivered by whoever moved it to 5, 6..8 now
        (8, 20, true, 20), // the usual step
    ];
    for (i, (from, to, moves, after)) in steps.into_iter().enumerate() {
        let at = 1_000 + i64::try_from(i)?;
        assert_eq!(advance(&store, "splunk", from, to, at).await?, moves, "step {i}: {from} -> {to}");
        let now = cursor(&store, "splunk", "audit").await?;
        assert_eq!(now.delivered_seq, after, "step {i}");
        if moves {
            assert_eq!(now.delivered_at, Some(t(at)), "step {i}");
        }
    }

    assert!(!advance(&store, "unknown", 0, 1, 1).await?, "a cursor that was never created does not appear");
    let other_stream = cursor(&store, "splunk", "session_events").await?;
    assert_eq!(other_stream.delivered_seq, 0, "streams are independent");
    let mut conn = store.read().await?;
    let all = siem_cursors::list(&mut conn).await?;
    let keys: Vec<(&str, &str, i64)> =
        all.iter().map(|c| (c.sink.as_str(), c.stream.as_str(), c.delivered_seq)).collect();
    assert_eq!(keys, [("splunk", "audit", 20), ("splunk", "session_events", 0)]);
    assert_eq!(siem_cursors::find(&mut conn, "nobody", "audit").await?, None);
    Ok(())
}

/// Nodes that delivered the same batch race to record it: one wins; nodes that delivered up to different positions
/// leave the cursor at the furthest, never behind it.
pub async fn check_siem_cursor_races(store: Store) -> anyhow::Result<()> {
    cursor(&store, "same", "audit").await?;
    cursor(&store, "spread", "audit").await?;
    let mut same = Vec::new();
    let mut spread = Vec::new();
    for node in 0..8_i64 {
        let store_same = store.clone();
        same.push(tokio::spawn(async move { advance(&store_same, "same", 0, 10, node).await }));
        let store_spread = store.clone();
        let to = (node * 5) % 8 + 1; // 1..=8 in a scrambled order
        spread.push(tokio::spawn(async move { advance(&store_spread, "spread", 0, to, node).await }));
    }
    let mut winners = 0;
    for handle in same {
        winners += i32::from(handle.await??);
    }
    assert_eq!(winners, 1, "exactly one node records the same batch");
    for handle in spread {
        handle.await??;
    }
    assert_eq!(cursor(&store, "same", "audit").await?.delivered_seq, 10);
    assert_eq!(cursor(&store, "spread", "audit").await?.delivered_seq, 8, "the furthest delivery is kept");
    Ok(())
}

/// What the exporter relies on: a reader following `seq > cursor` never sees a later record before an earlier one,
/// even while several writers append (on PostgreSQL the head row lock orders their commits).
pub async fn check_audit_stream_shows_no_gaps_while_appending(store: Store) -> anyhow::Result<()> {
    const WRITERS: i64 = 4;
    const EACH: i64 = 25;
    let mac = Arc::new(TestMac::default());
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let (store, mac) = (store.clone(), Arc::clone(&mac));
        writers.push(tokio::spawn(async move {
            let actor = AuditActor::User { id: fresh(UserId::from_uuid), username: format!("writer{writer}") };
            for i in 0..EACH {
                let event = AuditEvent::VaultUnsealFailed { attempts: writer * 100 + i };
                let mut tx = store.begin().await?;
                let entry = NewAuditEntry { at: t(1_000 + i), actor: &actor, source: None, event: &event };
                audit::append(&mut tx, mac.as_ref(), entry).await?;
                tx.commit().await?;
            }
            anyhow::Ok(())
        }));
    }
    let mut delivered = 0;
    let mut reads = 0;
    while delivered < WRITERS * EACH {
        reads += 1;
        anyhow::ensure!(reads < 100_000, "the reader made no progress past {delivered}");
        let mut conn = store.read().await?;
        let batch =
            audit::list(&mut conn, &AuditFilter { after_seq: Some(delivered), limit: 7, ..AuditFilter::default() })
                .await?;
        drop(conn);
        for record in &batch {
            assert_eq!(record.seq, delivered + 1, "the reader saw {} right after {delivered}", record.seq);
            delivered = record.seq;
        }
        tokio::task::yield_now().await;
    }
    for handle in writers {
        handle.await??;
    }
    Ok(())
}
