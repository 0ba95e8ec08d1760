//! Auditors watching a live session: what a live shell prints reaches the watcher as it happens, typed input only
//! when the policy records it, the watch is audited, and only holders of sessions:read may watch.

use std::process::Stdio;
use std::time::Duration;

use latch_app::{AppError, LiveOutputKind, RequestContext, SessionWatch, WatchEvent};
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin};

use super::harness::{Gateway, PersonKey, alice_on_db01_with, standing_rules, stderr_text};

/// A live `ssh -tt` shell of alice on db01, once its session is live; returns the client, its stdin and the id.
async fn live_shell(gateway: &Gateway, key: &PersonKey) -> (Child, ChildStdin, String) {
    let mut ssh = gateway.ssh(key, &gateway.login("alice", "db01"), &["-tt"]);
    ssh.stdin(Stdio::piped());
    let mut client = ssh.spawn().unwrap();
    let stdin = client.stdin.take().unwrap();
    gateway.wait_for_live_sessions(1).await;
    let session_id = gateway.test_app.app.live_sessions().keys()[0].session_id.to_string();
    (client, stdin, session_id)
}

/// What the watch shows until `needle` appears in the output (bounded by `limit`): (output, input) as text.
async fn watch_until(watch: &mut SessionWatch, needle: &str, limit: Duration) -> (String, String) {
    let mut output = String::new();
    let mut input = String::new();
    let seen = tokio::time::timeout(limit, async {
        while !output.contains(needle) {
            match watch.next().await {
                Some(WatchEvent::Output { output: event, .. }) => {
                    let text = String::from_utf8_lossy(&event.data);
                    match event.kind {
                        LiveOutputKind::Output => output.push_str(&text),
                        LiveOutputKind::Input => input.push_str(&text),
                        LiveOutputKind::Resize { .. } => {}
                    }
                }
                Some(WatchEvent::Lagged { skipped, .. }) => panic!("the watcher lagged by {skipped} events"),
                None => panic!("the watch ended before {needle:?} was shown; output so far: {output:?}"),
            }
        }
    })
    .await;
    assert!(seen.is_ok(), "{needle:?} was not shown within {limit:?}; output so far: {output:?}");
    (output, input)
}

/// Ends the shell and checks it ran.
async fn exit_shell(client: Child, mut stdin: ChildStdin) {
    stdin.write_all(b"exit\n").await.unwrap();
    let output = tokio::time::timeout(Duration::from_secs(30), client.wait_with_output())
        .await
        .expect("the shell ended")
        .unwrap();
    drop(stdin);
    assert!(String::from_utf8_lossy(&output.stdout).contains("watch-42"), "{}", stderr_text(&output));
}

#[tokio::test]
async fn an_auditor_sees_a_live_shell_as_it_happens_until_the_session_ends() {
    let Some((gateway, key, alice)) = alice_on_db01_with(standing_rules()).await else { return };
    let auditor = gateway.auditor("auditor1").await;
    let app = &gateway.test_app.app;
    let ctx = RequestContext::default();
    let (client, mut stdin, session_id) = live_shell(&gateway, &key).await;

    let refused = app.watch_session(&alice, &session_id, &ctx).await;
    assert!(matches!(refused, Err(AppError::Forbidden)), "{refused:?}");
    assert!(gateway.audit("session.watched").await.is_empty());

    let mut watch = app.watch_session(&auditor, &session_id, &ctx).await.unwrap();
    assert_eq!(watch.session().id.to_string(), session_id);
    let watched = gateway.audit("session.watched").await;
    assert_eq!(watched.len(), 1);
    assert_eq!(watched[0].actor_name, "auditor1");
    assert!(watched[0].details.contains(&session_id), "{}", watched[0].details);

    stdin.write_all(b"echo watch-$((6*7))\n").await.unwrap();
    let (_, input) = watch_until(&mut watch, "watch-42", Duration::from_secs(10)).await;
    assert_eq!(input, "", "typed input is shown only when the policy records it");

    exit_shell(client, stdin).await;
    let ended = tokio::time::timeout(Duration::from_secs(10), async { while watch.next().await.is_some() {} }).await;
    assert!(ended.is_ok(), "the watch did not end with the session");
    gateway.wait_for_sessions_to_end().await;
    let after = app.watch_session(&auditor, &session_id, &ctx).await;
    assert!(matches!(after, Err(AppError::StateConflict(_))), "{after:?}");
    assert!(matches!(app.watch_session(&auditor, "not-a-session", &ctx).await, Err(AppError::NotFound(_))));
    gateway.stop().await;
}

#[tokio::test]
async fn typed_input_is_shown_when_the_policy_records_it() {
    let mut rules = standing_rules();
    rules.record_input = true;
    let Some((gateway, key, _)) = alice_on_db01_with(rules).await else { return };
    let auditor = gateway.auditor("auditor1").await;
    let (client, mut stdin, session_id) = live_shell(&gateway, &key).await;
    let mut watch =
        gateway.test_app.app.watch_session(&auditor, &session_id, &RequestContext::default()).await.unwrap();

    stdin.write_all(b"echo watch-$((6*7))\n").await.unwrap();
    let (_, input) = watch_until(&mut watch, "watch-42", Duration::from_secs(10)).await;
    assert!(input.contains("echo watch-$((6*7))"), "{input:?}");

    exit_shell(client, stdin).await;
    gateway.stop().await;
}
