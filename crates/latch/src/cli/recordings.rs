//! `latch recordings verify`: checks session recordings offline, with only the node's public recording key.
//! `latch recordings storage-credential` stores the recording storage's credential in the vault; `latch recordings
//! backlog` shows what the answering node has not uploaded yet.
//!
//! For each session directory: the manifest's SSH signature (namespace `recording-manifest@latch`) against the
//! public key, the manifest naming this session, and every file chunk by chunk against the manifest. No server,
//! login or database is needed: an auditor can run it on a copy of the recordings.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use latch_recording::{MANIFEST_FILE, MANIFEST_NAMESPACE, MANIFEST_SIGNATURE_FILE, RecordingManifest, check_files};
use russh::keys::ssh_key::{PublicKey, SshSig};
use serde::Serialize;

use super::exit::EXIT_PROBLEMS_FOUND;
use super::{OutputArgs, connection, prompt, show};
use crate::UsageError;
use crate::config::RECORDING_SIGNING_KEY;
use crate::host_key::public_key_path;
use crate::recording_path::session_directory;
use latch_api::{StorageCredentialRequest, UploadBacklogView};

/// `latch recordings`
#[derive(clap::Args, Debug)]
pub struct RecordingsArgs {
    #[command(subcommand)]
    command: RecordingsCommand,
}

#[derive(clap::Subcommand, Debug)]
enum RecordingsCommand {
    /// Verify recordings offline: the signed manifest, and every file chunk by chunk (exit 8 on any problem).
    Verify(VerifyArgs),
    /// Store the recording storage's credential (S3 secret access key, Azure account key) in the vault (admin).
    /// Asked for on a terminal, or read from standard input with --stdin.
    StorageCredential {
        /// Read the credential from standard input (one line) instead of asking.
        #[arg(long)]
        stdin: bool,
    },
    /// Copy a session's recording from the server (spool or storage) into DIR/SESSION, to replay or verify it.
    Fetch {
        session: String,
        /// Where to put the SESSION directory (it must not exist yet).
        #[arg(long, default_value = ".")]
        to: PathBuf,
    },
    /// The answering node's upload backlog: recordings not yet copied to the storage, failing uploads.
    Backlog {
        #[command(flatten)]
        output: OutputArgs,
    },
}

#[derive(clap::Args, Debug)]
struct VerifyArgs {
    /// The sessions to verify (their ids).
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    sessions: Vec<String>,
    /// Verify every session in the recordings directory.
    #[arg(long)]
    all: bool,
    /// The server's data directory, for the defaults of --dir and --public-key.
    #[arg(long, env = "LATCH_DATA_DIR", default_value = "./latch-data")]
    data_dir: PathBuf,
    /// The recordings directory [default: DATA_DIR/recordings].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The recording signing key's public half, as OpenSSH writes it
    /// [default: DATA_DIR/recording_signing_ed25519_key.pub].
    #[arg(long)]
    public_key: Option<PathBuf>,
    #[command(flatten)]
    output: OutputArgs,
}

/// One session's verdict.
#[derive(Debug, Serialize)]
struct Verdict {
    session: String,
    /// `user@target` as the manifest says, when it could be read.
    who: Option<String>,
    end_reason: Option<String>,
    files: usize,
    problems: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Report {
    verified: usize,
    with_problems: usize,
    sessions: Vec<Verdict>,
}

pub async fn run(args: RecordingsArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        RecordingsCommand::Verify(args) => verify(args).await,
        RecordingsCommand::StorageCredential { stdin } => {
            let credential = if stdin {
                prompt::without_final_newline(prompt::stdin_line("the credential")?)
            } else {
                prompt::secret("The recording storage's credential: ", "--stdin")?
            };
            let client = connection::authenticated()?;
            let request = StorageCredentialRequest { credential: credential.to_string() };
            client.set_storage_credential(&request).await?;
            show::line("stored in the vault; the uploader uses it from its next attempt")?;
            Ok(ExitCode::SUCCESS)
        }
        RecordingsCommand::Fetch { session, to } => fetch(&session, &to).await,
        RecordingsCommand::Backlog { output } => {
            let client = connection::authenticated()?;
            show::result(output.json, &client.upload_backlog().await?, print_backlog)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn fetch(session: &str, to: &Path) -> anyhow::Result<ExitCode> {
    let client = connection::authenticated()?;
    let listing = client.recording_files(session).await?;
    let directory = session_directory(to, &listing.session)
        .ok_or_else(|| UsageError(format!("{session:?} is not a session id")))?;
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    std::fs::create_dir(&directory)
        .with_context(|| format!("cannot create {} (it must not exist)", directory.display()))?;
    for file in &listing.files {
        let path = session_directory(&directory, &file.name)
            .ok_or_else(|| anyhow::anyhow!("the server named a file {:?}", file.name))?;
        let bytes = client.recording_file(session, &file.name).await?;
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    show::line(&format!("{} files in {}", listing.files.len(), directory.display()))?;
    Ok(ExitCode::SUCCESS)
}

fn print_backlog(backlog: &UploadBacklogView) -> std::io::Result<()> {
    if !backlog.configured {
        return show::line("no recording storage is configured: recordings stay in the recordings directory");
    }
    show::fields(&[
        ("storage", show::optional(backlog.storage.as_deref())),
        ("waiting", backlog.recordings.to_string()),
        ("bytes", backlog.bytes.to_string()),
        ("failing", backlog.failing.to_string()),
        ("alerted", backlog.alerted.to_string()),
        ("last error", show::optional(backlog.last_error.as_deref())),
        ("last upload", show::optional(backlog.last_upload_at.as_deref())),
        ("updated", show::optional(backlog.updated_at.as_deref())),
    ])
}

async fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let dir = args.dir.clone().unwrap_or_else(|| args.data_dir.join("recordings"));
    let key_path =
        args.public_key.clone().unwrap_or_else(|| public_key_path(&args.data_dir.join(RECORDING_SIGNING_KEY)));
    let text = std::fs::read_to_string(&key_path)
        .with_context(|| format!("cannot read the public recording key {}", key_path.display()))?;
    let key = PublicKey::from_openssh(text.trim())
        .with_context(|| format!("{} is not an OpenSSH public key", key_path.display()))?;
    let sessions = if args.all { session_directories(&dir)? } else { args.sessions.clone() };
    let mut verdicts = Vec::with_capacity(sessions.len());
    for session in sessions {
        verdicts.push(verify_session(&dir, &session, &key).await);
    }
    let with_problems = verdicts.iter().filter(|verdict| !verdict.problems.is_empty()).count();
    let report = Report { verified: verdicts.len(), with_problems, sessions: verdicts };
    show::result(args.output.json, &report, print_report)?;
    Ok(if with_problems == 0 { ExitCode::SUCCESS } else { ExitCode::from(EXIT_PROBLEMS_FOUND) })
}

/// Every session directory under `dir`, sorted.
fn session_directories(dir: &Path) -> anyhow::Result<Vec<String>> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    let mut sessions: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_dir()))
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    sessions.sort();
    Ok(sessions)
}

async fn verify_session(dir: &Path, session: &str, key: &PublicKey) -> Verdict {
    let mut verdict = Verdict { session: session.to_owned(), who: None, end_reason: None, files: 0, problems: vec![] };
    let Some(directory) = session_directory(dir, session) else {
        verdict.problems.push("not a session id".to_owned());
        return verdict;
    };
    if !directory.is_dir() {
        verdict.problems.push(format!("no recording directory {}", directory.display()));
        return verdict;
    }
    let Ok(bytes) = std::fs::read(directory.join(MANIFEST_FILE)) else {
        verdict.problems.push("no manifest: the session is live, or was not sealed".to_owned());
        return verdict;
    };
    match std::fs::read_to_string(directory.join(MANIFEST_SIGNATURE_FILE)) {
        Ok(pem) => match SshSig::from_pem(pem.as_bytes()) {
            Ok(signature) => {
                if key.verify(MANIFEST_NAMESPACE, &bytes, &signature).is_err() {
                    verdict.problems.push("the manifest's signature does not match it or this key".to_owned());
                }
            }
            Err(_) => verdict.problems.push("the manifest's signature cannot be read".to_owned()),
        },
        Err(_) => verdict.problems.push("the manifest is not signed".to_owned()),
    }
    let Some(manifest) = RecordingManifest::parse(&bytes) else {
        verdict.problems.push("the manifest cannot be read".to_owned());
        return verdict;
    };
    if manifest.session.id != session {
        verdict.problems.push(format!("the manifest is that of session {}", manifest.session.id));
    }
    verdict.who =
        Some(format!("{}@{} as {}", manifest.session.user, manifest.session.target, manifest.session.account));
    verdict.end_reason = Some(manifest.session.end_reason.clone());
    verdict.files = manifest.files.len();
    verdict.problems.extend(check_files(&directory, &manifest).await.iter().map(ToString::to_string));
    verdict
}

fn print_report(report: &Report) -> std::io::Result<()> {
    for verdict in &report.sessions {
        let who = verdict.who.as_deref().unwrap_or("?");
        if verdict.problems.is_empty() {
            show::line(&format!("ok       {} ({who}, {} files)", verdict.session, verdict.files))?;
        } else {
            show::line(&format!("PROBLEM  {} ({who})", verdict.session))?;
            for problem in &verdict.problems {
                show::line(&format!("         {problem}"))?;
            }
        }
    }
    show::line(&format!("{} verified, {} with problems", report.verified, report.with_problems))
}
