//! The recording storage credential in the vault and the uploader's audit records, on a real store (SQLite, and
//! PostgreSQL when available).

#![expect(clippy::expect_used, reason = "test helpers fail the test by panicking")]

#[path = "access/fixture.rs"]
#[macro_use]
#[expect(dead_code, reason = "the fixture serves the access tests too; this suite uses part of it")]
mod fixture;

use fixture::{admin, audit, ctx, int_field, person, text_field};
use latch_app::domain::permission::Role;
use latch_app::{AppError, SecretString, StoredRecording};
use latch_testkit::app::TestApp;

on_both!(
    the_storage_credential_is_kept_in_the_vault_and_replaced_by_admins_only,
    uploads_and_failing_uploads_are_audited,
);

fn secret(text: &str) -> SecretString {
    SecretString::from(text.to_owned())
}

async fn the_storage_credential_is_kept_in_the_vault_and_replaced_by_admins_only(t: TestApp) {
    assert!(t.app.recording_storage_credential().await.expect("read").is_none(), "nothing is set at first");
    let admin = admin(&t).await;
    let refused = t.app.set_recording_storage_credential(&admin, &secret("first-key-0123"), &ctx()).await;
    assert!(matches!(refused, Err(AppError::BadRequest(_))), "no storage is configured: {refused:?}");
    t.app.install_recording_storage("s3");
    t.app.set_recording_storage_credential(&admin, &secret("first-key-0123"), &ctx()).await.expect("set");
    let stored = t.app.recording_storage_credential().await.expect("read").expect("set");
    assert_eq!(stored.expose().as_slice(), b"first-key-0123");

    t.app.set_recording_storage_credential(&admin, &secret("second-key-4567\n"), &ctx()).await.expect("set");
    let stored = t.app.recording_storage_credential().await.expect("read").expect("set");
    assert_eq!(stored.expose().as_slice(), b"second-key-4567", "replaced, surrounding whitespace trimmed");

    let records = audit(&t, "recording.storage_credential_set").await;
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|r| !r.details.contains("key-")), "the credential is never in the audit log");
    assert_eq!(text_field(&records[0].details, "storage"), "s3");

    let auditor = person(&t, "ann", &[Role::Auditor]).await;
    let refused = t.app.set_recording_storage_credential(&auditor, &secret("third-key"), &ctx()).await;
    assert!(matches!(refused, Err(AppError::Forbidden)), "{refused:?}");
    for bad in ["", "   ", "with\u{7}bell"] {
        let refused = t.app.set_recording_storage_credential(&admin, &secret(bad), &ctx()).await;
        assert!(matches!(refused, Err(AppError::BadRequest(_))), "{bad:?}: {refused:?}");
    }
    let stored = t.app.recording_storage_credential().await.expect("read").expect("set");
    assert_eq!(stored.expose().as_slice(), b"second-key-4567", "refused changes leave the credential as it was");
}

async fn uploads_and_failing_uploads_are_audited(t: TestApp) {
    let stored = StoredRecording {
        recording: "rec-1".to_owned(),
        storage: "s3".to_owned(),
        files: 4,
        bytes: 12_345,
        attempts: 3,
    };
    t.app.record_recording_stored(stored).await.expect("audit");
    t.app.record_recording_upload_failing("rec-2", "azure", 6, "connection refused").await.expect("audit");

    let stored = audit(&t, "recording.stored").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(text_field(&stored[0].details, "recording"), "rec-1");
    assert_eq!(int_field(&stored[0].details, "bytes"), 12_345);
    assert_eq!(int_field(&stored[0].details, "attempts"), 3);
    assert_eq!(stored[0].actor_kind, "system");
    let failing = audit(&t, "recording.upload_failing").await;
    assert_eq!(failing.len(), 1);
    assert_eq!(text_field(&failing[0].details, "error"), "connection refused");
    assert_eq!(int_field(&failing[0].details, "attempts"), 6);
}
