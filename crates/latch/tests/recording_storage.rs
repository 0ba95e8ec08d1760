//! Recordings copied to real object storage by a real `latch serve`: S3 (`s3s-fs`, which checks signatures) and
//! Azure Blob (Azurite), with sessions through the gateway by the real OpenSSH client to a throwaway sshd.
//!
//! - An S3 outage in the middle of a session, then a wrong credential: the recording waits in the spool, the
//!   uploads fail, the alert (`recording.upload_failing`) is audited and the backlog says so; once the storage and
//!   the credential are right the recording arrives whole: `latch recordings verify` accepts the copy in the
//!   bucket, and the output replayed from it has the SHA-256 of what the client received.
//! - `kill -9` of Latch in the middle of a session: after the restart the session is closed, its recording is
//!   sealed, uploaded and verifies, with everything the client had received a second before the kill.
//! - Azure Blob: a recording is uploaded, read back through the storage API and verified.
//! - A full spool (a real 24 MiB tmpfs of the server's own, reserve 8 MiB): a session whose policy requires its
//!   recording is ended when the spool falls below the reserve, and the next one is refused; a session whose policy
//!   does not goes on unrecorded, audited. What was recorded before the loss is sealed and verifies.

#![expect(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers fail the test by panicking")]

#[path = "cli/harness.rs"]
#[expect(dead_code, reason = "the harness serves several test binaries; this one uses part of it")]
mod harness;

use harness::{Cli, Server};
use latch_recording::{AzureBackend, RecordingStorage, StorageBackend, StorageSecret, StreamKind, read_byte_stream};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "storage-tests-pass-12345";
const PREFIX: &str = "node-a";

#[test]
fn an_s3_outage_and_a_wrong_credential_delay_a_recording_but_lose_nothing() {
    let Some(sshd) = latch_testkit::sshd::start_or_skip(&[]).unwrap() else { return };
    let Some(mut s3) = latch_testkit::s3::start_or_skip().unwrap() else { return };
    let server = Server::start_with_config(&s3_config(&s3));
    let admin = server.admin();
    set_credential(&admin, s3.secret_access_key());
    let keys = tempfile::tempdir().unwrap();
    let alice_key = setup(&server, &admin, &sshd, keys.path());

    // The storage goes away while the session runs; the session itself is not disturbed.
    let mut client = ssh_spawn(&server, &alice_key, "echo first-half; sleep 3; head -c 200000 /dev/urandom; echo done");
    wait_for_output(&mut client, b"first-half\n");
    s3.stop();
    let received = finish(client);
    assert!(received.starts_with(b"first-half\n") && received.ends_with(b"done\n"), "{} bytes", received.len());
    let id = wait_for_ended_session(&admin);

    // Failing: retried twice at the interval, then the alert; the backlog shows it; the spool keeps the recording.
    let alert = wait_for_audit(&admin, "recording.upload_failing", &id, Duration::from_secs(30));
    assert_eq!(alert["details"]["storage"], "s3", "{alert}");
    assert_eq!(alert["details"]["attempts"], 3, "{alert}");
    let backlog = admin.run(&["recordings", "backlog", "--json"]).success().json();
    assert_eq!((backlog["configured"].as_bool(), backlog["recordings"].as_u64()), (Some(true), Some(1)), "{backlog}");
    assert!(backlog["failing"].as_u64() == Some(1) && backlog["alerted"].as_u64() == Some(1), "{backlog}");
    assert!(backlog["last_error"].is_string(), "{backlog}");
    let spool = server.data_dir().join("recordings").join(&id);
    assert!(spool.join("manifest.json.sig").is_file(), "sealed and kept in the spool");
    // Meanwhile it can be fetched (from the spool) and verified.
    let fetched = tempfile::tempdir().unwrap();
    admin.run(&["recordings", "fetch", &id, "--to", fetched.path().to_str().unwrap()]).success();
    verify_copy(&admin, &server, fetched.path(), &id);

    // The storage is back but the credential is wrong: s3s-fs refuses every request, nothing is stored.
    s3.restart().unwrap();
    set_credential(&admin, "not-the-secret-key-0123456789");
    std::thread::sleep(Duration::from_secs(4));
    assert!(audit_about(&admin, "recording.stored", &id).is_empty(), "a refused upload is not a stored recording");
    assert!(spool.is_dir());

    // The right credential: the recording arrives, the spool copy goes.
    set_credential(&admin, s3.secret_access_key());
    let stored = std::panic::catch_unwind(|| wait_for_audit(&admin, "recording.stored", &id, Duration::from_secs(60)))
        .unwrap_or_else(|_| panic!("not stored; the server said:\n{}\ns3s-fs:\n{}", server.logs(), s3.log()));
    assert!(stored["details"]["attempts"].as_i64().unwrap() >= 4, "{stored}");
    wait_until(|| !spool.exists(), "the spool copy is deleted after the upload");
    let copy = s3.data_dir().join(s3.bucket()).join(PREFIX);
    verify_copy(&admin, &server, &copy, &id);
    assert_eq!(sha256(&replayed_output(&copy.join(&id))), sha256(&received), "the stored recording replays exactly");
    // Fetched again, now from the storage; every file read is audited.
    let fetched = tempfile::tempdir().unwrap();
    admin.run(&["recordings", "fetch", &id, "--to", fetched.path().to_str().unwrap()]).success();
    verify_copy(&admin, &server, fetched.path(), &id);
    assert_eq!(sha256(&replayed_output(&fetched.path().join(&id))), sha256(&received));
    let reads = audit_kind(&admin, "recording.read");
    assert_eq!(reads.len(), 2 * std::fs::read_dir(fetched.path().join(&id)).unwrap().count(), "{reads:?}");
    let backlog = admin.run(&["recordings", "backlog", "--json"]).success().json();
    assert_eq!((backlog["recordings"].as_u64(), backlog["failing"].as_u64()), (Some(0), Some(0)), "{backlog}");
    assert!(backlog["last_upload_at"].is_string(), "{backlog}");

    // The credential is never in the audit log or the server's output.
    let set = audit_kind(&admin, "recording.storage_credential_set");
    assert_eq!(set.len(), 3, "{set:?}");
    assert!(!serde_json::to_string(&set).unwrap().contains(s3.secret_access_key()));
    assert!(!server.logs().contains(s3.secret_access_key()), "the credential leaked into the logs");
}

#[test]
fn a_recording_interrupted_by_kill_9_is_sealed_and_uploaded_after_the_restart() {
    let Some(sshd) = latch_testkit::sshd::start_or_skip(&[]).unwrap() else { return };
    let Some(s3) = latch_testkit::s3::start_or_skip().unwrap() else { return };
    let mut server = Server::start_with_config(&s3_config(&s3));
    let admin = server.admin();
    set_credential(&admin, s3.secret_access_key());
    let keys = tempfile::tempdir().unwrap();
    let alice_key = setup(&server, &admin, &sshd, keys.path());

    let mut client = ssh_spawn(&server, &alice_key, "seq 1 20000; echo before-the-kill; sleep 60");
    wait_for_output(&mut client, b"before-the-kill\n");
    // Writers hand their buffers to the operating system at least every second.
    std::thread::sleep(Duration::from_millis(2500));
    server.stop(); // SIGKILL
    let received = finish(client);
    assert!(received.ends_with(b"before-the-kill\n"), "{}", String::from_utf8_lossy(&received));

    server.restart();
    let id = wait_for_ended_session(&admin);
    let session = admin.run(&["sessions", "show", &id, "--json"]).success().json();
    assert_eq!(session["end_reason"], "abandoned", "{session}");
    wait_for_audit(&admin, "recording.stored", &id, Duration::from_secs(60));
    let copy = s3.data_dir().join(s3.bucket()).join(PREFIX);
    verify_copy(&admin, &server, &copy, &id);
    assert_eq!(
        sha256(&replayed_output(&copy.join(&id))),
        sha256(&received),
        "everything the client received before the kill is in the recording"
    );
}

#[test]
fn recordings_are_uploaded_to_azure_blob_and_read_back() {
    let Some(sshd) = latch_testkit::sshd::start_or_skip(&[]).unwrap() else { return };
    let Some(azurite) = latch_testkit::azurite::start_or_skip().unwrap() else { return };
    let config = format!(
        "[recordings.storage]\nkind = \"azure\"\naccount = \"{}\"\ncontainer = \"{}\"\nendpoint = \"{}\"\n\
         allow_http = true\nprefix = \"{PREFIX}\"\nupload_retry_interval_ms = 500\n",
        azurite.account(),
        azurite.container(),
        azurite.endpoint()
    );
    let server = Server::start_with_config(&config);
    let admin = server.admin();
    set_credential(&admin, azurite.account_key());
    let keys = tempfile::tempdir().unwrap();
    let alice_key = setup(&server, &admin, &sshd, keys.path());

    let client = ssh_spawn(&server, &alice_key, "head -c 100000 /dev/urandom; echo azure-done");
    let received = finish(client);
    assert!(received.ends_with(b"azure-done\n"));
    let id = wait_for_ended_session(&admin);
    let stored = wait_for_audit(&admin, "recording.stored", &id, Duration::from_secs(60));
    assert_eq!(stored["details"]["storage"], "azure", "{stored}");

    // The dashboard counts the session (and the table shows it to people); a plain user may not see it.
    let dashboard = admin.run(&["dashboard", "--days", "3", "--json"]).success().json();
    assert_eq!(dashboard["sessions_per_day"].as_array().map(Vec::len), Some(3), "{dashboard}");
    assert_eq!(dashboard["sessions_per_day"][2]["count"], 1, "{dashboard}");
    assert_eq!(dashboard["top_targets"][0]["name"], "db01", "{dashboard}");
    assert_eq!(dashboard["top_users"][0]["name"], "alice", "{dashboard}");
    let table = admin.run(&["dashboard"]).success().stdout;
    assert!(table.contains("TOP TARGETS") && table.lines().any(|l| l.starts_with("db01")), "{table}");
    let alice = server.client();
    alice.login_with_stdin("alice", &format!("{PASSWORD}\n")).success();
    alice.run(&["dashboard"]).code(5);

    // Read back through the Blob API into a directory, then verified offline like any copy.
    let backend = StorageBackend::Azure(AzureBackend {
        account: azurite.account().to_owned(),
        container: azurite.container().to_owned(),
        endpoint: Some(azurite.endpoint()),
        allow_http: true,
    });
    let secret = StorageSecret::new(azurite.account_key().to_owned());
    let storage = RecordingStorage::open(&backend, PREFIX, Some(&secret)).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let copy = tempfile::tempdir().unwrap();
    let directory = copy.path().join(&id);
    std::fs::create_dir(&directory).unwrap();
    let files = runtime.block_on(storage.list(&id)).unwrap();
    assert!(files.iter().any(|file| file.name == "manifest.json.sig"), "{files:?}");
    for file in &files {
        let bytes = runtime.block_on(storage.read(&id, &file.name, 64 << 20)).unwrap();
        std::fs::write(directory.join(&file.name), bytes).unwrap();
    }
    verify_copy(&admin, &server, copy.path(), &id);
    assert_eq!(sha256(&replayed_output(&directory)), sha256(&received));
}

#[test]
fn a_full_spool_ends_or_refuses_sessions_that_need_their_recording_and_lets_the_others_go_on() {
    const BIG: usize = 30 << 20;
    let Some(sshd) = latch_testkit::sshd::start_or_skip(&[]).unwrap() else { return };
    let Some(disk) = latch_testkit::small_disk::small_disk_or_skip(24).unwrap() else { return };
    let config = format!("[recordings]\ndir = \"{}\"\nmin_free_mb = 8\n", disk.dir().display());
    let server = Server::start_launched(&config, &disk.launcher());
    let admin = server.admin();
    let keys = tempfile::tempdir().unwrap();
    let alice_key = setup(&server, &admin, &sshd, keys.path());
    // db02: the same host under a policy that does not require the recording.
    admin.add_ssh_target("db02", sshd.port(), &sshd.user().name, &sshd.user().password);
    let lenient = json!({ "name": "db-lenient", "users": ["alice"], "targets": [{"name": "db02"}],
        "mode": "standing", "max_duration_minutes": 60, "recording_required": false });
    admin.create_policy(&lenient, keys.path());
    let shown = admin.run(&["policies", "show", "db-lenient"]).success().stdout;
    assert!(shown.contains("best effort"), "{shown}");

    // Strict: the output fills the spool; the session is ended at the reserve, well before the end of it.
    let big = format!("head -c {BIG} /dev/zero");
    let received = finish(ssh_spawn_to(&server, &alice_key, "db01", &big));
    assert!(received.len() < BIG, "the session was not ended: {} bytes", received.len());
    let first = wait_for_sessions(&admin, 1)[0].clone();
    let first_id = first["id"].as_str().unwrap().to_owned();
    assert_eq!(first["end_reason"], "recording_failed", "{first}");
    // What was recorded is sealed: it verifies, and replays a prefix of what the client got.
    let fetched = tempfile::tempdir().unwrap();
    admin.run(&["recordings", "fetch", &first_id, "--to", fetched.path().to_str().unwrap()]).success();
    verify_copy(&admin, &server, fetched.path(), &first_id);
    let replayed = replayed_output(&fetched.path().join(&first_id));
    assert!(replayed.len() > (8 << 20) && received.starts_with(&replayed), "replayed {} bytes", replayed.len());

    // Strict again: the spool is below its reserve, so the session is refused before it reaches the target.
    let refused = ssh_spawn_to(&server, &alice_key, "db01", "echo never");
    let output = refused.wait_with_output().unwrap();
    assert!(!output.status.success() && output.stdout.is_empty(), "{output:?}");
    assert_eq!(admin.run(&["sessions", "--json"]).success().json()["sessions"].as_array().unwrap().len(), 1);

    // Best effort: the session starts unrecorded, and the loss is audited.
    let received = finish(ssh_spawn_to(&server, &alice_key, "db02", "echo unrecorded-ok"));
    assert_eq!(received, b"unrecorded-ok\n");
    let second = wait_for_sessions(&admin, 2)[0].clone();
    assert_eq!((second["target_name"].as_str(), second["recorded"].as_bool()), (Some("db02"), Some(false)));
    let lost = recording_lost(&admin, second["id"].as_str().unwrap());
    assert!(lost["details"]["cause"].as_str().unwrap().contains("below its reserve"), "{lost}");

    // Room again (the first recording removed inside the server's disk); best effort loses the recording half-way
    // and the person gets every byte.
    std::fs::remove_dir_all(disk.path_seen_by(server.pid(), &first_id)).unwrap();
    let received = finish(ssh_spawn_to(&server, &alice_key, "db02", &big));
    assert_eq!(received.len(), BIG, "the session went on to the end");
    let third = wait_for_sessions(&admin, 3)[0].clone();
    let third_id = third["id"].as_str().unwrap().to_owned();
    assert_eq!((third["end_reason"].as_str(), third["recorded"].as_bool()), (Some("client_closed"), Some(true)));
    recording_lost(&admin, &third_id);
    let fetched = tempfile::tempdir().unwrap();
    admin.run(&["recordings", "fetch", &third_id, "--to", fetched.path().to_str().unwrap()]).success();
    verify_copy(&admin, &server, fetched.path(), &third_id);
    let replayed = replayed_output(&fetched.path().join(&third_id));
    assert!(replayed.len() > (8 << 20) && replayed.len() < BIG, "replayed {} bytes", replayed.len());
}

/// The `session.recording_lost` record of `session`.
fn recording_lost(admin: &Cli, session: &str) -> serde_json::Value {
    let records = audit_kind(admin, "session.recording_lost");
    let found = records.iter().find(|record| record["details"]["session_id"] == session);
    found.cloned().unwrap_or_else(|| panic!("no session.recording_lost for {session}: {records:?}"))
}

/// The sessions, newest first, once there are `count` and all have ended (bounded by 20 s).
fn wait_for_sessions(admin: &Cli, count: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let sessions = admin.run(&["sessions", "--json"]).success().json();
        let list = sessions["sessions"].as_array().cloned().unwrap_or_default();
        if list.len() == count && list.iter().all(|session| session["ended_at"].is_string()) {
            return list;
        }
        assert!(Instant::now() < deadline, "not {count} ended sessions: {sessions}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn s3_config(s3: &latch_testkit::s3::S3Server) -> String {
    format!(
        "[recordings.storage]\nkind = \"s3\"\nbucket = \"{}\"\nregion = \"{}\"\nendpoint = \"{}\"\n\
         access_key_id = \"{}\"\nallow_http = true\nprefix = \"{PREFIX}\"\nupload_retries = 2\n\
         upload_retry_interval_ms = 500\nupload_max_backoff_seconds = 2\n",
        s3.bucket(),
        s3.region(),
        s3.endpoint(),
        s3.access_key_id()
    )
}

fn set_credential(admin: &Cli, credential: &str) {
    admin.run_with_stdin(&["recordings", "storage-credential", "--stdin"], &format!("{credential}\n")).success();
}

/// Target db01 (the throwaway sshd) with its account, alice with an SSH key and standing access; alice's key.
fn setup(server: &Server, admin: &Cli, sshd: &latch_testkit::sshd::TestSshd, dir: &Path) -> PathBuf {
    admin
        .run_with_stdin(&["users", "create", "alice", "--role", "user", "--password-stdin"], &format!("{PASSWORD}\n"))
        .success();
    let key = admin.add_user_key("alice", dir);
    admin.add_ssh_target("db01", sshd.port(), &sshd.user().name, &sshd.user().password);
    let policy = json!({ "name": "db", "users": ["alice"], "targets": [{"name": "db01"}], "mode": "standing",
        "max_duration_minutes": 60 });
    admin.create_policy(&policy, dir);
    let _ = server;
    key
}

/// The real `ssh` through the gateway to db01 running `command` without a terminal; stdout is piped.
fn ssh_spawn(server: &Server, key: &Path, command: &str) -> Child {
    ssh_spawn_to(server, key, "db01", command)
}

fn ssh_spawn_to(server: &Server, key: &Path, target: &str, command: &str) -> Child {
    Command::new("ssh")
        .args(["-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"])
        .args(["-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR"])
        .arg("-i")
        .arg(key)
        .args(["-p", &server.ssh_port().to_string(), &format!("alice@{target}@127.0.0.1"), command])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("running ssh")
}

/// Reads the client's stdout until it ends with `wanted`; what was read is kept for [`finish`].
fn wait_for_output(client: &mut Child, wanted: &[u8]) {
    let stdout = client.stdout.as_mut().unwrap();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut byte = [0u8; 1];
    while !seen.ends_with(wanted) {
        assert!(Instant::now() < deadline, "no {:?} from the session", String::from_utf8_lossy(wanted));
        if stdout.read(&mut byte).unwrap() == 0 {
            panic!("the session ended before {:?}", String::from_utf8_lossy(wanted));
        }
        seen.push(byte[0]);
    }
    PENDING.with(|pending| pending.borrow_mut().extend_from_slice(&seen));
}

thread_local! {
    static PENDING: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Everything the client received, once it exits.
fn finish(mut client: Child) -> Vec<u8> {
    let mut received = PENDING.with(|pending| std::mem::take(&mut *pending.borrow_mut()));
    client.stdout.take().unwrap().read_to_end(&mut received).unwrap();
    client.wait().unwrap();
    received
}

/// The session's id, once the gateway recorded its end (bounded by 20 s).
fn wait_for_ended_session(admin: &Cli) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let sessions = admin.run(&["sessions", "--json"]).success().json();
        let session = &sessions["sessions"][0];
        if session["ended_at"].is_string() {
            return session["id"].as_str().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "the session did not end: {sessions}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn audit_kind(admin: &Cli, kind: &str) -> Vec<serde_json::Value> {
    let page = admin.run(&["audit", "list", "--kind", kind, "--json"]).success().json();
    page["records"].as_array().cloned().unwrap_or_default()
}

fn audit_about(admin: &Cli, kind: &str, recording: &str) -> Vec<serde_json::Value> {
    audit_kind(admin, kind).into_iter().filter(|record| record["details"]["recording"] == recording).collect()
}

fn wait_for_audit(admin: &Cli, kind: &str, recording: &str, limit: Duration) -> serde_json::Value {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(record) = audit_about(admin, kind, recording).into_iter().next() {
            return record;
        }
        assert!(Instant::now() < deadline, "no {kind} for {recording} within {limit:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn wait_until(done: impl Fn() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `latch recordings verify` on the stored copy, with only the node's public key; and one flipped byte named.
fn verify_copy(admin: &Cli, server: &Server, dir: &Path, id: &str) {
    let public_key = server.data_dir().join("recording_signing_ed25519_key.pub");
    let args = |dir: &Path| {
        vec![
            "recordings".to_owned(),
            "verify".to_owned(),
            id.to_owned(),
            "--dir".to_owned(),
            dir.display().to_string(),
            "--public-key".to_owned(),
            public_key.display().to_string(),
        ]
    };
    let run = |dir: &Path| {
        let args = args(dir);
        admin.run(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    run(dir).success();
    let tampered = tempfile::tempdir().unwrap();
    let copy = tampered.path().join(id);
    std::fs::create_dir(&copy).unwrap();
    for entry in std::fs::read_dir(dir.join(id)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
    }
    let stream = stream_file(&copy);
    let mut bytes = std::fs::read(&stream).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x01;
    std::fs::write(&stream, bytes).unwrap();
    let refused = run(tampered.path()).code(8);
    let name = stream.file_name().unwrap().to_str().unwrap();
    assert!(refused.stdout.contains(name), "{}", refused.all());
}

/// The output of the session's one command channel, as the stored byte stream replays it.
fn replayed_output(directory: &Path) -> Vec<u8> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let stream = runtime.block_on(read_byte_stream(&stream_file(directory), 256 << 20)).unwrap();
    stream.bytes(StreamKind::Output)
}

/// The one byte stream (`channel-N.stream`) of a recording directory.
fn stream_file(directory: &Path) -> PathBuf {
    let streams: Vec<PathBuf> = std::fs::read_dir(directory)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "stream"))
        .collect();
    assert_eq!(streams.len(), 1, "{streams:?}");
    streams[0].clone()
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|byte| format!("{byte:02x}")).collect()
}
