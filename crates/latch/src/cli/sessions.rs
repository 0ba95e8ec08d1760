//! `latch sessions …`: connections through the gateway, live and past.

use super::{OutputArgs, connection, show};
use crate::output;
use anyhow::Context;
use latch_api::client::Client;
use latch_api::{
    AsciicastEventView, AsciicastHeaderView, LegalHoldRequest, SessionEventListView, SessionEventParams,
    SessionListParams, SessionListView, SessionView,
};
use std::io::Write;
use std::process::ExitCode;

/// The exit code after Ctrl-C stopped a watch (128 + SIGINT, as shells report it).
const EXIT_INTERRUPTED: u8 = 130;

/// `latch sessions`
#[derive(clap::Args, Debug)]
pub struct SessionsArgs {
    #[command(subcommand)]
    command: Option<SessionsCommand>,
    /// Only sessions that have not ended.
    #[arg(long)]
    live: bool,
    /// Only this Latch user's sessions.
    #[arg(long)]
    user: Option<String>,
    /// Only sessions to this target (by name).
    #[arg(long)]
    target: Option<String>,
    /// Only sessions to targets at this address (host name or IP).
    #[arg(long)]
    host: Option<String>,
    /// Only sessions to targets with this tag.
    #[arg(long)]
    tag: Option<String>,
    /// Only sessions over this protocol (ssh, telnet, rdp, …).
    #[arg(long)]
    protocol: Option<String>,
    /// Only sessions that ended this way (client_closed, grant_expired, terminated, …).
    #[arg(long)]
    end_reason: Option<String>,
    /// Only sessions started at or after this RFC 3339 time.
    #[arg(long)]
    from: Option<String>,
    /// Only sessions started before this RFC 3339 time.
    #[arg(long)]
    to: Option<String>,
    /// At most this many sessions (up to 1000).
    #[arg(long, default_value_t = 100)]
    limit: i64,
    #[arg(long, default_value_t = 0)]
    offset: i64,
    /// Print the sessions as CSV, one row per session with every field.
    #[arg(long, conflicts_with = "json")]
    csv: bool,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(clap::Subcommand, Debug)]
enum SessionsCommand {
    /// Show a session.
    Show { session: String },
    /// A finished session's events in order: commands, file transfers and operations, forwards, window changes.
    Events {
        session: String,
        #[arg(long, default_value_t = 1000)]
        limit: i64,
        #[arg(long, default_value_t = 0)]
        offset: i64,
    },
    /// End a live session now.
    Terminate { session: String },
    /// Place a legal hold on a session's recording (needs sessions:hold): it is never deleted, whatever its
    /// retention, until released. Audited.
    Hold {
        session: String,
        /// Why, such as a case or ticket reference.
        #[arg(long)]
        reason: String,
    },
    /// Release the legal hold on a session's recording (needs sessions:hold); its retention applies again, so a
    /// recording already past it is deleted at the next retention sweep. Audited.
    Release { session: String },
    /// Follow a live session's terminal output as it happens (needs sessions:read), until the session ends (exit
    /// 0) or Ctrl-C (exit 130). The watch is recorded in the audit log.
    Watch {
        session: String,
        /// Print the asciicast v2 lines as the server sends them (header, then `[seconds, code, data]`), instead of
        /// the raw terminal output.
        #[arg(long)]
        asciicast: bool,
    },
}

pub async fn run(args: SessionsArgs) -> anyhow::Result<ExitCode> {
    let client = connection::authenticated()?;
    let json = args.output.json;
    match args.command {
        Some(SessionsCommand::Show { session }) => {
            show::result(json, &client.get_session(&session).await?, print_session)?;
        }
        Some(SessionsCommand::Terminate { session }) => {
            show::result(json, &client.terminate_session(&session).await?, print_session)?;
        }
        Some(SessionsCommand::Hold { session, reason }) => {
            let held = client.hold_session(&session, &LegalHoldRequest { reason }).await?;
            show::result(json, &held, print_session)?;
        }
        Some(SessionsCommand::Release { session }) => {
            show::result(json, &client.release_session(&session).await?, print_session)?;
        }
        Some(SessionsCommand::Watch { session, asciicast }) => {
            return tokio::select! {
                followed = watch(&client, &session, asciicast) => followed.map(|()| ExitCode::SUCCESS),
                _ = tokio::signal::ctrl_c() => Ok(ExitCode::from(EXIT_INTERRUPTED)),
            };
        }
        Some(SessionsCommand::Events { session, limit, offset }) => {
            let params = SessionEventParams { limit: Some(limit), offset: Some(offset) };
            show::result(json, &client.session_events(&session, &params).await?, print_events)?;
        }
        None => {
            let params = SessionListParams {
                live: Some(args.live),
                user: args.user,
                target: args.target,
                host: args.host,
                tag: args.tag,
                protocol: args.protocol,
                end_reason: args.end_reason,
                from: args.from,
                to: args.to,
                limit: Some(args.limit),
                offset: Some(args.offset),
            };
            let sessions = client.list_sessions(&params).await?;
            if args.csv {
                write_csv(&sessions)?;
            } else {
                show::result(json, &sessions, print_sessions)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints a live session's output (or its asciicast lines) as it arrives, until the session ends.
async fn watch(client: &Client, session: &str, asciicast: bool) -> anyhow::Result<()> {
    let mut lines = client.watch_session(session).await?;
    let header = lines.next_line().await?.context("the server ended the watch before it began")?;
    if asciicast {
        write_stdout(format!("{header}\n").as_bytes())?;
    } else {
        let header: AsciicastHeaderView = serde_json::from_str(&header).context("cannot read the watch header")?;
        output::error(&format!(
            "latch: watching session {session} ({}x{}); Ctrl-C to stop",
            header.width, header.height
        ));
    }
    while let Some(line) = lines.next_line().await? {
        if asciicast {
            write_stdout(format!("{line}\n").as_bytes())?;
            continue;
        }
        let event: AsciicastEventView = serde_json::from_str(&line).context("cannot read a watch event")?;
        match event.code() {
            "o" => write_stdout(event.data().as_bytes())?,
            "m" => output::error(&format!("\r\nlatch: {}", event.data())),
            // Typed input is already echoed in the output; the size is the watcher's own terminal's business.
            _ => {}
        }
    }
    if !asciicast {
        output::error("\r\nlatch: the session has ended");
    }
    Ok(())
}

/// Writes terminal output as it is, at once.
fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(bytes).and_then(|()| stdout.flush()).context("cannot write to stdout")
}

/// `live`, or why it ended.
fn state(session: &SessionView) -> String {
    match (&session.ended_at, &session.end_reason) {
        (None, _) => "live".to_owned(),
        (Some(_), Some(reason)) => reason.clone(),
        (Some(_), None) => "ended".to_owned(),
    }
}

fn print_sessions(list: &SessionListView) -> std::io::Result<()> {
    let mut table = show::Table::new(&["ID", "USER", "ACCOUNT", "PROTOCOL", "STARTED", "STATE", "SOURCE"]);
    for session in &list.sessions {
        table.row(vec![
            session.id.clone(),
            session.username.clone(),
            format!("{}@{}", session.account_name, session.target_name),
            session.protocol.clone(),
            session.started_at.clone(),
            state(session),
            show::optional(session.source.as_deref()),
        ]);
    }
    table.print()
}

/// Every field of every session, one CSV row each, with a header row.
fn write_csv(list: &SessionListView) -> anyhow::Result<()> {
    let mut writer = csv::Writer::from_writer(std::io::stdout().lock());
    for session in &list.sessions {
        writer.serialize(session).context("cannot write a session row")?;
    }
    writer.flush().context("cannot write to stdout")
}

fn print_events(list: &SessionEventListView) -> std::io::Result<()> {
    let mut table = show::Table::new(&["SEQ", "TIME", "KIND", "SUMMARY", "BYTES"]);
    for event in &list.events {
        table.row(vec![
            event.seq.to_string(),
            event.at.clone(),
            event.kind.clone(),
            event.summary.clone(),
            event.bytes.map(|bytes| bytes.to_string()).unwrap_or_default(),
        ]);
    }
    table.print()
}

fn print_session(session: &SessionView) -> std::io::Result<()> {
    show::fields(&[
        ("session", session.id.clone()),
        ("user", session.username.clone()),
        ("target", session.target_name.clone()),
        ("account", session.account_name.clone()),
        ("protocol", session.protocol.clone()),
        ("source", show::optional(session.source.as_deref())),
        ("started", session.started_at.clone()),
        ("ended", show::optional(session.ended_at.as_deref())),
        ("state", state(session)),
        ("grant", show::optional(session.grant_id.as_deref())),
        ("policy", session.policy_id.clone()),
        ("bytes to target", session.bytes_to_target.to_string()),
        ("bytes from target", session.bytes_from_target.to_string()),
        ("recorded", show::yes_no(session.recorded)),
        ("consent accepted", show::optional(session.consent_accepted_at.as_deref())),
        ("node", session.node.clone()),
        ("retention", session.recording_retention_days.map_or_else(|| "forever".to_owned(), |d| format!("{d} days"))),
        ("retain until", show::optional(session.retain_until.as_deref())),
        ("legal hold", legal_hold(session)),
        ("recording deleted", show::optional(session.recording_deleted_at.as_deref())),
    ])
}

/// `REASON (by WHO at WHEN)`, or `-` when the recording is not on legal hold.
fn legal_hold(session: &SessionView) -> String {
    match (&session.legal_hold_reason, &session.legal_hold_by, &session.legal_hold_at) {
        (Some(reason), Some(by), Some(at)) => format!("{reason} (by {by} at {at})"),
        (Some(reason), _, _) => reason.clone(),
        _ => show::optional(None),
    }
}
