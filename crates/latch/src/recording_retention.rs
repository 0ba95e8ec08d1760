//! Deleting recordings on this node's disk, for the app's retention sweep.

use std::future::Future;
use std::io::ErrorKind;
use std::path::PathBuf;
use std::pin::Pin;

use latch_app::RecordingDeleter;

use crate::recording_path::session_directory;
use crate::recording_upload::SharedStorage;

/// Deletes session recording directories under the recordings directory (the spool), and the stored copies when
/// recordings are copied to a storage.
#[derive(Debug)]
pub struct RecordingDirectories {
    pub dir: PathBuf,
    /// The recording storage, when one is configured: `Some` even before the uploader could open it.
    pub storage: Option<SharedStorage>,
}

impl RecordingDeleter for RecordingDirectories {
    fn delete<'a>(&'a self, recording: &'a str) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            if let Some(shared) = &self.storage {
                let storage = shared.get().ok_or("the recording storage is not open yet (is its credential set?)")?;
                storage.delete(recording).await.map_err(|error| format!("cannot delete the stored copy: {error}"))?;
            }
            self.remove(recording).await
        })
    }
}

impl RecordingDirectories {
    /// Removes `<dir>/<recording>` and everything in it. A recording path from the store is a session id, one
    /// plain directory name: anything else (empty, `.`, `..`, an absolute path, several components) is refused, so
    /// nothing outside the recordings directory (or the directory itself) is ever deleted; so is a symbolic link or
    /// a file where the directory should be. A directory that is already gone is fine.
    async fn remove(&self, recording: &str) -> Result<(), String> {
        let Some(path) = session_directory(&self.dir, recording) else {
            return Err(format!(
                "refusing to delete {recording:?}: not one directory name in the recordings directory"
            ));
        };
        let metadata = match tokio::fs::symlink_metadata(&path).await {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(format!("cannot inspect {}: {error}", path.display())),
        };
        if !metadata.is_dir() {
            return Err(format!("refusing to delete {}: not a directory", path.display()));
        }
        match tokio::fs::remove_dir_all(&path).await {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(()),
            Err(error) => Err(format!("cannot delete {}: {error}", path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use latch_app::domain::TimeSpan;
    use latch_app::domain::gateway_session::{GatewaySession, SessionEndReason, SessionEventEntry};
    use latch_app::domain::names::TargetName;
    use latch_app::domain::permission::Role;
    use latch_app::domain::policy::{AccessMode, AccountSelector, ForwardingRules, PolicyRules, TargetSelector};
    use latch_app::domain::target::Protocol;
    use latch_app::{
        App, AuditQuery, AuditRecord, NewAccount, NewTarget, PolicyDraft, Principal, RequestContext, SecretString,
        SessionStart, SessionTraffic,
    };
    use latch_testkit::app::{ADMIN_PASSWORD, TestApp, USER_PASSWORD, login};
    use std::path::Path;
    use std::sync::Arc;

    #[tokio::test]
    async fn only_one_directory_name_inside_the_recordings_directory_is_deleted() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("recordings");
        let outside = root.path().join("outside");
        for path in [dir.join("session-a"), dir.join("session-b").join("nested"), outside.clone()] {
            std::fs::create_dir_all(&path).unwrap();
            std::fs::write(path.join("events.jsonl"), "{}\n").unwrap();
        }
        std::fs::write(dir.join("a-file"), "not a recording").unwrap();
        std::os::unix::fs::symlink(&outside, dir.join("a-link")).unwrap();
        let deleter = RecordingDirectories { storage: None, dir: dir.clone() };

        assert_eq!(deleter.remove("session-a").await, Ok(()));
        assert!(!dir.join("session-a").exists());
        assert_eq!(deleter.remove("session-b").await, Ok(()), "with everything in it");
        assert!(!dir.join("session-b").exists());
        assert_eq!(deleter.remove("session-a").await, Ok(()), "already gone is deleted");
        for refused in ["", ".", "..", "../outside", "/tmp", "session-b/nested", "a-file", "a-link"] {
            assert!(deleter.remove(refused).await.is_err(), "{refused:?} must be refused");
        }
        assert!(outside.join("events.jsonl").exists() && dir.join("a-file").exists() && dir.exists());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_sweep_deletes_due_recordings_and_never_held_ones_sqlite() {
        sweep_deletes_due_recordings_and_never_held_ones(TestApp::sqlite().await.unwrap()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_sweep_deletes_due_recordings_and_never_held_ones_postgres() {
        match TestApp::postgres("retention_sweep").await.unwrap() {
            Some(t) => sweep_deletes_due_recordings_and_never_held_ones(t).await,
            None => eprintln!("skipped: PostgreSQL is not available"),
        }
    }

    /// Four sessions kept for a day, ended together: `plain`, `held` (held once already due), `released` (held,
    /// then released) and `stuck` (a file where its directory should be, so its deletion fails until fixed).
    async fn sweep_deletes_due_recordings_and_never_held_ones(t: TestApp) {
        let recordings = tempfile::tempdir().unwrap();
        let dir = recordings.path().to_path_buf();
        t.app.install_recording_deleter(Arc::new(RecordingDirectories { storage: None, dir: dir.clone() }));
        setup(&t).await;
        let mut ids = Vec::new();
        for _ in 0..4 {
            ids.push(recorded_session(&t.app, &dir).await);
        }
        let [plain, held, released, stuck] = [&ids[0], &ids[1], &ids[2], &ids[3]];
        std::fs::remove_dir_all(dir.join(stuck)).unwrap();
        std::fs::write(dir.join(stuck), "a file where the recording's directory should be").unwrap();
        let auditor = || signed_in(&t, "auditor1", USER_PASSWORD);
        t.app.place_legal_hold(&auditor().await, released, "case 17", &ctx()).await.unwrap();

        t.clock.advance(TimeSpan::from_millis(TimeSpan::from_hours(24).as_millis() - 1));
        assert_eq!(sweep(&t).await, (0, 0), "nothing is due a millisecond early");
        t.clock.advance(TimeSpan::from_millis(1));
        // Held once its retention ran out, before a sweep deleted it: kept.
        t.app.place_legal_hold(&auditor().await, held, "case 18", &ctx()).await.unwrap();
        let swept_at = t.app.now();
        assert_eq!(sweep(&t).await, (1, 1), "plain deleted, stuck failed");
        assert!(!dir.join(plain).exists());
        assert_eq!(session(&t, plain).await.retention.deleted_at, Some(swept_at));
        let receipts = deletions(&t, plain).await;
        assert_eq!(receipts.len(), 1, "{receipts:?}");
        assert_eq!(receipts[0].actor_kind, "system");
        let events = t.app.session_events(&admin(&t).await, plain, 100, 0).await.unwrap();
        assert_eq!(events.len(), 1, "the session's indexed events stay for reports");
        for kept in [held, released] {
            assert!(dir.join(kept).join("events.jsonl").exists(), "{kept} is on legal hold");
            assert_eq!(session(&t, kept).await.retention.deleted_at, None);
            assert!(deletions(&t, kept).await.is_empty());
        }
        assert!(dir.join(stuck).is_file(), "a failed deletion leaves everything as it was");
        assert_eq!(session(&t, stuck).await.retention.deleted_at, None, "never marked deleted");
        assert!(deletions(&t, stuck).await.is_empty(), "nor audited");

        // The next sweep tries the failed one again; a release makes a recording past its retention due.
        assert_eq!(sweep(&t).await, (0, 1));
        t.app.release_legal_hold(&auditor().await, released, &ctx()).await.unwrap();
        std::fs::remove_file(dir.join(stuck)).unwrap();
        std::fs::create_dir(dir.join(stuck)).unwrap();
        t.clock.advance(TimeSpan::from_hours(24 * 400));
        assert_eq!(sweep(&t).await, (2, 0));
        for gone in [released, stuck] {
            assert!(!dir.join(gone).exists(), "{gone}");
            assert!(session(&t, gone).await.retention.deleted_at.is_some());
            assert_eq!(deletions(&t, gone).await.len(), 1);
        }
        assert!(dir.join(held).join("events.jsonl").exists(), "still held, more than a year later");
        assert_eq!(sweep(&t).await, (0, 0), "each recording is deleted once");
    }

    fn ctx() -> RequestContext {
        RequestContext::default()
    }

    /// Logs in afresh: the manual clock moves past login timeouts.
    async fn signed_in(t: &TestApp, name: &str, password: &str) -> Principal {
        let token = login(&t.app, name, password).await.unwrap();
        t.app.authenticate(&token, &ctx()).await.unwrap()
    }

    async fn admin(t: &TestApp) -> Principal {
        signed_in(t, "admin", ADMIN_PASSWORD).await
    }

    /// alice, auditor1, db01 with `root`, and a standing policy for alice keeping recordings for a day.
    async fn setup(t: &TestApp) {
        t.user_with_roles("alice", &[Role::User]).await.unwrap();
        t.user_with_roles("auditor1", &[Role::Auditor]).await.unwrap();
        let admin = admin(t).await;
        let target = NewTarget { name: "db01".into(), address: "10.0.0.7".into(), ..NewTarget::default() };
        t.app.create_target(&admin, target, &ctx()).await.unwrap();
        let account = NewAccount {
            username: "root".into(),
            secret_kind: "password".into(),
            secret: Some(SecretString::new("an account password 1".to_owned())),
            api_enabled: false,
            rotate_after_use: false,
            exclusive_checkout: true,
            description: String::new(),
        };
        t.app.create_account(&admin, "db01", account, &ctx()).await.unwrap();
        let rules = PolicyRules {
            mode: AccessMode::Standing,
            max_duration: TimeSpan::from_hours(1),
            schedule: None,
            mfa_to_request: false,
            mfa_to_connect: false,
            record_input: false,
            reveal_allowed: false,
            ticket_required: false,
            ticket_pattern: None,
            integration: None,
            forwarding: ForwardingRules::default(),
            consent_banner: None,
            recording_retention_days: Some(1),
            recording_required: true,
        };
        let policy = PolicyDraft {
            name: "db-standing".into(),
            description: String::new(),
            enabled: true,
            users: vec!["alice".into()],
            groups: Vec::new(),
            targets: vec![TargetSelector::Name(TargetName::parse("db01").unwrap())],
            accounts: AccountSelector::Any,
            rules,
        };
        t.app.create_policy(&admin, policy, &ctx()).await.unwrap();
    }

    /// A session of alice's recorded (an event log in its directory) and ended with one indexed event, as the
    /// gateway runs it; returns its id.
    async fn recorded_session(app: &App, dir: &Path) -> String {
        let password = SecretString::new(USER_PASSWORD.to_owned());
        let alice = app.gateway_login_with_password("alice", &password, None, &ctx()).await.unwrap();
        let grant = app.authorize_connection(&alice, "db01", Some("root"), Protocol::Ssh, &ctx()).await.unwrap();
        let id = grant.session_id().to_string();
        std::fs::create_dir(dir.join(&id)).unwrap();
        std::fs::write(dir.join(&id).join("events.jsonl"), "{}\n").unwrap();
        let start = SessionStart { recording: Some(id.clone()), consent_accepted_at: None };
        let live = app.start_gateway_session(&grant, start, &ctx()).await.unwrap();
        let event = SessionEventEntry {
            seq: 0,
            at: app.now(),
            kind: "session_ended".to_owned(),
            channel: None,
            summary: "client_closed".to_owned(),
            bytes: None,
            data: "{}".to_owned(),
        };
        let traffic = SessionTraffic::default();
        app.end_gateway_session(live, SessionEndReason::ClientClosed, traffic, vec![event]).await.unwrap();
        id
    }

    /// (deleted, failed)
    async fn sweep(t: &TestApp) -> (usize, usize) {
        let sweep = t.app.sweep_recordings().await.unwrap();
        (sweep.deleted, sweep.failed)
    }

    async fn session(t: &TestApp, id: &str) -> GatewaySession {
        t.app.get_session(&admin(t).await, id).await.unwrap()
    }

    /// The `session.recording_deleted` records of session `id`.
    async fn deletions(t: &TestApp, id: &str) -> Vec<AuditRecord> {
        let query =
            AuditQuery { kind: Some("session.recording_deleted".to_owned()), limit: 1000, ..AuditQuery::default() };
        let page = t.app.list_audit(&admin(t).await, query).await.unwrap();
        page.records.into_iter().filter(|record| record.details.contains(id)).collect()
    }
}
