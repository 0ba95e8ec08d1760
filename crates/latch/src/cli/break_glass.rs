//! `latch break-glass on|off|list`: emergency access to named targets for the members of the configured
//! break-glass group. While it is on they connect through the gateway without a request or an approval; every such
//! session records input, and switching on, every use and switching off are audited and sent to the webhooks.

use super::access::parse_duration_minutes;
use super::{OutputArgs, connection, show};
use latch_api::{ActivateBreakGlassRequest, BreakGlassListParams, BreakGlassListView, BreakGlassView};
use std::process::ExitCode;

/// `latch break-glass`
#[derive(clap::Args, Debug)]
pub struct BreakGlassArgs {
    #[command(subcommand)]
    command: BreakGlassCommand,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(clap::Subcommand, Debug)]
enum BreakGlassCommand {
    /// Switch emergency access on for targets (members of the break-glass group).
    On {
        /// A target's name; repeat for several.
        #[arg(long = "target", value_name = "NAME", required = true)]
        targets: Vec<String>,
        /// Why: recorded and sent to the notification webhooks.
        #[arg(long, value_name = "TEXT")]
        reason: String,
        /// How long it stays on, such as 30m or 2h (default and most: the server's break-glass maximum).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration_minutes)]
        duration: Option<i64>,
    },
    /// Switch a break-glass off now; the sessions under it end.
    Off {
        /// The break-glass's id.
        id: String,
    },
    /// List break-glass, newest first.
    List {
        /// Only those still on.
        #[arg(long)]
        active: bool,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[arg(long, default_value_t = 0)]
        offset: i64,
    },
}

pub async fn run(args: BreakGlassArgs) -> anyhow::Result<ExitCode> {
    let client = connection::authenticated()?;
    let json = args.output.json;
    match args.command {
        BreakGlassCommand::On { targets, reason, duration } => {
            let request = ActivateBreakGlassRequest { targets, reason, duration_minutes: duration };
            show::result(json, &client.activate_break_glass(&request).await?, print_break_glass)?;
        }
        BreakGlassCommand::Off { id } => {
            let ended = client.end_break_glass(&id).await?;
            show::result(json, &ended, |g| show::line(&format!("Switched off break-glass {}.", g.id)))?;
        }
        BreakGlassCommand::List { active, limit, offset } => {
            let params = BreakGlassListParams { active: Some(active), limit: Some(limit), offset: Some(offset) };
            show::result(json, &client.list_break_glass(&params).await?, print_list)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_list(list: &BreakGlassListView) -> std::io::Result<()> {
    let mut table = show::Table::new(&["ID", "STATE", "TARGETS", "UNTIL", "ACTIVATED BY", "REASON"]);
    for glass in &list.break_glass {
        table.row(vec![
            glass.id.clone(),
            glass.state.clone(),
            glass.targets.join(","),
            glass.ended_at.clone().unwrap_or_else(|| glass.ends_at.clone()),
            glass.activated_by.clone(),
            glass.reason.clone(),
        ]);
    }
    table.print()
}

fn print_break_glass(glass: &BreakGlassView) -> std::io::Result<()> {
    show::fields(&[
        ("break-glass", glass.id.clone()),
        ("state", glass.state.clone()),
        ("targets", show::list(&glass.targets)),
        ("reason", glass.reason.clone()),
        ("activated by", glass.activated_by.clone()),
        ("activated", glass.activated_at.clone()),
        ("ends", glass.ends_at.clone()),
        ("ended", show::optional(glass.ended_at.as_deref())),
        ("ended by", show::optional(glass.ended_by.as_deref())),
    ])
}
