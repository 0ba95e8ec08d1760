//! `latch sessions …`: connections through the gateway, live and past.

use super::{OutputArgs, connection, show};
use latch_api::{SessionListParams, SessionListView, SessionView};
use std::process::ExitCode;

/// `latch sessions`
#[derive(clap::Args, Debug)]
pub struct SessionsArgs {
    #[command(subcommand)]
    command: Option<SessionsCommand>,
    /// Only sessions that have not ended.
    #[arg(long)]
    live: bool,
    #[arg(long, default_value_t = 100)]
    limit: i64,
    #[arg(long, default_value_t = 0)]
    offset: i64,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(clap::Subcommand, Debug)]
enum SessionsCommand {
    /// Show a session.
    Show { session: String },
    /// End a live session now.
    Terminate { session: String },
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
        None => {
            let params =
                SessionListParams { live: Some(args.live), limit: Some(args.limit), offset: Some(args.offset) };
            show::result(json, &client.list_sessions(&params).await?, print_sessions)?;
        }
    }
    Ok(ExitCode::SUCCESS)
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
    ])
}
