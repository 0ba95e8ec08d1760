//! The audit log: appending, listing, chunked verification, tampering and concurrent appends.

use crate::fixtures::{TestMac, fresh, t};
use latch_domain::audit::{AuditActor, AuditEvent, ChainMac, LoginMethod};
use latch_domain::{ApiAccountId, GroupId, UserId};
use latch_store::Store;
use latch_store::audit::{self, AuditFilter, AuditProblem, AuditRecord, NewAuditEntry};
use std::sync::Arc;

async fn append(
    store: &Store,
    mac: &dyn ChainMac,
    at: i64,
    actor: &AuditActor,
    event: AuditEvent,
) -> anyhow::Result<i64> {
    let mut tx = store.begin().await?;
    let seq = audit::append(&mut tx, mac, NewAuditEntry { at: t(at), actor, source: None, event: &event }).await?;
    tx.commit().await?;
    Ok(seq)
}

/// Verifies the whole log in chunks of `chunk` and returns every problem found.
async fn verify_all(store: &Store, mac: &dyn ChainMac, chunk: i64) -> anyhow::Result<Vec<AuditProblem>> {
    let mut conn = store.read().await?;
    let mut problems = Vec::new();
    let mut after = 0;
    loop {
        let result = audit::verify_chunk(&mut conn, mac, after, chunk).await?;
        problems.extend(result.problems);
        if result.reached_end {
            return Ok(problems);
        }
        anyhow::ensure!(result.last_seq > after, "verification made no progress after {after}");
        after = result.last_seq;
    }
}

async fn list(store: &Store, filter: AuditFilter) -> anyhow::Result<Vec<i64>> {
    let mut conn = store.read().await?;
    Ok(audit::list(&mut conn, &AuditFilter { limit: filter.limit.max(100), ..filter })
        .await?
        .iter()
        .map(|r| r.seq)
        .collect())
}

fn alice() -> AuditActor {
    AuditActor::User { id: fresh(UserId::from_uuid), username: "alice".to_owned() }
}

/// Appends five plain events.
async fn seed_five(store: &Store, mac: &dyn ChainMac) -> anyhow::Result<()> {
    let actor = alice();
    for i in 1..=5 {
        append(store, mac, i * 1_000, &actor, AuditEvent::VaultUnsealFailed { attempts: i }).await?;
    }
    Ok(())
}

pub async fn check_audit_list_filters(store: Store) -> anyhow::Result<()> {
    let mac = TestMac::default();
    let alice = alice();
    let bob = AuditActor::User { id: fresh(UserId::from_uuid), username: "bob".to_owned() };
    let robot = AuditActor::ApiAccount { id: fresh(ApiAccountId::from_uuid), name: "robot".to_owned() };
    let someone = fresh(UserId::from_uuid);
    let events = [
        (1_000, AuditActor::System, AuditEvent::VaultInitialized { mode: "shamir".to_owned() }),
        (
            2_000,
            alice.clone(),
            AuditEvent::UserCreated { user_id: someone, username: "carol".to_owned(), roles: vec!["user".to_owned()] },
        ),
        (3_000, alice.clone(), AuditEvent::UserUpdated { user_id: someone, changes: vec!["email".to_owned()] }),
        (
            4_000,
            bob.clone(),
            AuditEvent::LoginSucceeded { method: LoginMethod::Password, session_kind: "web".to_owned() },
        ),
        (5_000, bob.clone(), AuditEvent::UserCreated { user_id: someone, username: "dave".to_owned(), roles: vec![] }),
        (
            6_000,
            robot.clone(),
            AuditEvent::ApiTokenIssued {
                api_account_id: fresh(ApiAccountId::from_uuid),
                scopes: vec![],
                expires_at: t(9),
            },
        ),
        (
            7_000,
            alice.clone(),
            AuditEvent::GroupCreated { group_id: fresh(GroupId::from_uuid), name: "ops".to_owned(), roles: vec![] },
        ),
    ];
    for (expected_seq, (at, actor, event)) in (1..).zip(events.iter().cloned()) {
        assert_eq!(append(&store, &mac, at, &actor, event).await?, expected_seq);
    }
    let failed = AuditEvent::LoginFailed {
        username: "mallory".to_owned(),
        method: LoginMethod::Totp,
        reason: "bad code".to_owned(),
    };
    let mut tx = store.begin().await?;
    let entry =
        NewAuditEntry { at: t(8_000), actor: &AuditActor::Anonymous, source: Some("203.0.113.5"), event: &failed };
    assert_eq!(audit::append(&mut tx, &mac, entry).await?, 8);
    tx.commit().await?;

    let all = |filter: AuditFilter| list(&store, filter);
    assert_eq!(all(AuditFilter::default()).await?, (1..=8).collect::<Vec<_>>());
    assert_eq!(
        all(AuditFilter { from: Some(t(3_000)), to: Some(t(6_000)), ..AuditFilter::default() }).await?,
        [3, 4, 5]
    );
    assert_eq!(all(AuditFilter { from: Some(t(7_000)), ..AuditFilter::default() }).await?, [7, 8]);
    assert_eq!(all(AuditFilter { to: Some(t(2_000)), ..AuditFilter::default() }).await?, [1]);
    assert_eq!(all(AuditFilter { actor: Some("alice".to_owned()), ..AuditFilter::default() }).await?, [2, 3, 7]);
    assert_eq!(all(AuditFilter { kind: Some("user.created".to_owned()), ..AuditFilter::default() }).await?, [2, 5]);
    assert_eq!(all(AuditFilter { kind: Some("user.".to_owned()), ..AuditFilter::default() }).await?, [2, 3, 5]);
    assert_eq!(all(AuditFilter { kind: Some("user".to_owned()), ..AuditFilter::default() }).await?, Vec::<i64>::new());
    assert_eq!(all(AuditFilter { kind: Some("auth.".to_owned()), ..AuditFilter::default() }).await?, [4, 8]);
    assert_eq!(all(AuditFilter { kind: Some("api_account.".to_owned()), ..AuditFilter::default() }).await?, [6]);
    // Prefixes match exactly, on both backends: no case folding, no LIKE wildcards.
    for prefix in ["USER.", "u%.", "_ser.", "api%."] {
        let filter = AuditFilter { kind: Some(prefix.to_owned()), ..AuditFilter::default() };
        assert_eq!(all(filter).await?, Vec::<i64>::new(), "{prefix}");
    }
    let bobs_user_events =
        AuditFilter { actor: Some("bob".to_owned()), kind: Some("user.".to_owned()), ..AuditFilter::default() };
    assert_eq!(all(bobs_user_events).await?, [5]);

    let mut conn = store.read().await?;
    let page = audit::list(&mut conn, &AuditFilter { after_seq: Some(3), limit: 2, ..AuditFilter::default() }).await?;
    assert_eq!(page.iter().map(|r| r.seq).collect::<Vec<_>>(), [4, 5]);
    let last = audit::list(&mut conn, &AuditFilter { after_seq: Some(7), limit: 10, ..AuditFilter::default() }).await?;
    let [record]: [AuditRecord; 1] = last.try_into().map_err(|v| anyhow::anyhow!("expected one record, got {v:?}"))?;
    assert_eq!(
        (record.actor_kind.as_str(), record.actor_id.as_deref(), record.actor_name.as_str()),
        ("anonymous", None, "anonymous")
    );
    assert_eq!(
        (record.source.as_deref(), record.kind.as_str(), record.at),
        (Some("203.0.113.5"), "auth.login_failed", t(8_000))
    );
    assert_eq!(record.details, audit::details_json(&failed));
    let first = audit::list(&mut conn, &AuditFilter { limit: 1, ..AuditFilter::default() }).await?;
    assert_eq!(first.first().map(|r| r.details.as_str()), Some(r#"{"mode":"shamir"}"#));
    let second =
        audit::list(&mut conn, &AuditFilter { after_seq: Some(1), limit: 1, ..AuditFilter::default() }).await?;
    assert_eq!(second.first().and_then(|r| r.actor_id.clone()), alice.id());
    assert_eq!(audit::head_seq(&mut conn).await?, 8);
    Ok(())
}

pub async fn check_audit_verify_in_chunks(store: Store) -> anyhow::Result<()> {
    let mac = TestMac::default();
    let mut conn = store.read().await?;
    let empty = audit::verify_chunk(&mut conn, &mac, 0, 10).await?;
    assert!(empty.reached_end && empty.problems.is_empty() && empty.checked == 0, "{empty:?}");
    drop(conn);

    let actor = alice();
    for i in 1..=7 {
        append(&store, &mac, i * 10, &actor, AuditEvent::UserEnabled { user_id: fresh(UserId::from_uuid) }).await?;
    }
    let mut conn = store.read().await?;
    let first = audit::verify_chunk(&mut conn, &mac, 0, 3).await?;
    assert_eq!((first.checked, first.last_seq, first.reached_end), (3, 3, false));
    let second = audit::verify_chunk(&mut conn, &mac, 3, 3).await?;
    assert_eq!((second.checked, second.last_seq, second.reached_end), (3, 6, false));
    let third = audit::verify_chunk(&mut conn, &mac, 6, 3).await?;
    assert_eq!((third.checked, third.last_seq, third.reached_end), (1, 7, true));
    assert!(first.problems.is_empty() && second.problems.is_empty() && third.problems.is_empty());
    // A chunk that ends exactly at the last record checks the head in the next (empty) chunk.
    let exact = audit::verify_chunk(&mut conn, &mac, 0, 7).await?;
    assert_eq!((exact.checked, exact.reached_end), (7, false));
    let tail = audit::verify_chunk(&mut conn, &mac, 7, 7).await?;
    assert!(tail.reached_end && tail.problems.is_empty() && tail.checked == 0, "{tail:?}");
    let missing = audit::verify_chunk(&mut conn, &mac, 100, 7).await?;
    assert_eq!(missing.problems, [AuditProblem::MissingStart { seq: 100 }]);
    drop(conn);

    for chunk in [1, 2, 3, 7, 50] {
        assert_eq!(verify_all(&store, &mac, chunk).await?, [], "chunk {chunk}");
    }
    let wrong_key = TestMac { key: [0x11; 32] };
    let problems = verify_all(&store, &wrong_key, 4).await?;
    assert_eq!(problems.len(), 8, "every record and the head: {problems:?}");
    Ok(())
}

pub async fn check_audit_tamper_details(store: Store) -> anyhow::Result<()> {
    let mac = TestMac::default();
    seed_five(&store, &mac).await?;
    let changed =
        store.execute_raw_for_tests(r#"UPDATE audit_events SET details = '{"attempts":99}' WHERE seq = 3"#).await?;
    assert_eq!(changed, 1);
    for chunk in [2, 3, 10] {
        assert_eq!(verify_all(&store, &mac, chunk).await?, [AuditProblem::Altered { seq: 3 }], "chunk {chunk}");
    }
    Ok(())
}

pub async fn check_audit_tamper_gap(store: Store) -> anyhow::Result<()> {
    let mac = TestMac::default();
    seed_five(&store, &mac).await?;
    assert_eq!(store.execute_raw_for_tests("DELETE FROM audit_events WHERE seq = 3").await?, 1);
    // Record 4 was linked to record 3, so it no longer fits after record 2 either.
    let expected = [AuditProblem::Gap { after: 2, next: 4 }, AuditProblem::Altered { seq: 4 }];
    for chunk in [2, 10] {
        assert_eq!(verify_all(&store, &mac, chunk).await?, expected, "chunk {chunk}");
    }
    Ok(())
}

pub async fn check_audit_tamper_last_row(store: Store) -> anyhow::Result<()> {
    let mac = TestMac::default();
    seed_five(&store, &mac).await?;
    assert_eq!(store.execute_raw_for_tests("DELETE FROM audit_events WHERE seq = 5").await?, 1);
    assert_eq!(verify_all(&store, &mac, 2).await?, [AuditProblem::HeadMismatch { head_seq: 5, last_seq: 4 }]);
    // Rewinding the head's sequence number without its MAC key does not help.
    assert_eq!(store.execute_raw_for_tests("UPDATE audit_head SET seq = 4 WHERE id = 1").await?, 1);
    assert_eq!(verify_all(&store, &mac, 10).await?, [AuditProblem::HeadMismatch { head_seq: 4, last_seq: 4 }]);
    Ok(())
}

pub async fn check_audit_tamper_swapped_seq(store: Store) -> anyhow::Result<()> {
    let mac = TestMac::default();
    seed_five(&store, &mac).await?;
    // Swap through a free number: PostgreSQL checks the primary key row by row.
    for sql in [
        "UPDATE audit_events SET seq = 1000 WHERE seq = 2",
        "UPDATE audit_events SET seq = 2 WHERE seq = 3",
        "UPDATE audit_events SET seq = 3 WHERE seq = 1000",
    ] {
        assert_eq!(store.execute_raw_for_tests(sql).await?, 1, "{sql}");
    }
    // Both moved records no longer match their position, and record 4 no longer follows record 3.
    let expected =
        [AuditProblem::Altered { seq: 2 }, AuditProblem::Altered { seq: 3 }, AuditProblem::Altered { seq: 4 }];
    for chunk in [1, 3, 10] {
        assert_eq!(verify_all(&store, &mac, chunk).await?, expected, "chunk {chunk}");
    }
    Ok(())
}

pub async fn check_audit_concurrent_appends(store: Store) -> anyhow::Result<()> {
    const TASKS: i64 = 8;
    const EACH: i64 = 25;
    let mac = Arc::new(TestMac::default());
    let mut handles = Vec::new();
    for task in 0..TASKS {
        let (store, mac) = (store.clone(), Arc::clone(&mac));
        handles.push(tokio::spawn(async move {
            let actor = AuditActor::User { id: fresh(UserId::from_uuid), username: format!("worker{task}") };
            let mut seqs = Vec::new();
            for i in 0..EACH {
                let event = AuditEvent::VaultUnsealFailed { attempts: task * 100 + i };
                seqs.push(append(&store, mac.as_ref(), 1_000 + i, &actor, event).await?);
            }
            anyhow::Ok(seqs)
        }));
    }
    let mut seqs = Vec::new();
    for handle in handles {
        let task_seqs = handle.await??;
        assert!(task_seqs.is_sorted(), "one task's appends are ordered: {task_seqs:?}");
        seqs.extend(task_seqs);
    }
    seqs.sort_unstable();
    let expected: Vec<i64> = (1..=TASKS * EACH).collect();
    assert_eq!(seqs, expected);
    assert_eq!(list(&store, AuditFilter { limit: 1_000, ..AuditFilter::default() }).await?, expected);
    let mut conn = store.read().await?;
    assert_eq!(audit::head_seq(&mut conn).await?, TASKS * EACH);
    drop(conn);
    assert_eq!(verify_all(&store, mac.as_ref(), 64).await?, []);
    Ok(())
}
