//! `latch dashboard`: sessions and failed logins per day, the busiest targets and users, and what is live now.

use std::process::ExitCode;

use latch_api::{DashboardParams, DashboardView, DayCountView, NameCountView};

use super::{OutputArgs, connection, show};

/// `latch dashboard`
#[derive(clap::Args, Debug)]
pub struct DashboardArgs {
    /// The UTC days covered, today included (1 to 90).
    #[arg(long, default_value_t = 14)]
    days: u32,
    #[command(flatten)]
    output: OutputArgs,
}

pub async fn run(args: DashboardArgs) -> anyhow::Result<ExitCode> {
    let client = connection::authenticated()?;
    let dashboard = client.dashboard(&DashboardParams { days: Some(args.days) }).await?;
    show::result(args.output.json, &dashboard, print)?;
    Ok(ExitCode::SUCCESS)
}

fn print(dashboard: &DashboardView) -> std::io::Result<()> {
    show::fields(&[
        ("live sessions", dashboard.live_sessions.to_string()),
        ("grants in force", dashboard.active_grants.to_string()),
        ("requests waiting", dashboard.pending_requests.to_string()),
    ])?;
    show::line("")?;
    let mut table = show::Table::new(&["DAY", "SESSIONS", "FAILED LOGINS"]);
    for (sessions, failed) in dashboard.sessions_per_day.iter().zip(&dashboard.failed_logins_per_day) {
        table.row(vec![sessions.day.clone(), bar(sessions, &dashboard.sessions_per_day), failed.count.to_string()]);
    }
    table.print()?;
    for (title, counts) in [("TOP TARGETS", &dashboard.top_targets), ("TOP USERS", &dashboard.top_users)] {
        show::line("")?;
        let mut table = show::Table::new(&[title, "SESSIONS"]);
        for NameCountView { name, count } in counts {
            table.row(vec![name.clone(), count.to_string()]);
        }
        table.print()?;
    }
    Ok(())
}

/// The day's count with a bar scaled to the busiest day (at most 30 characters).
fn bar(day: &DayCountView, days: &[DayCountView]) -> String {
    let most = days.iter().map(|day| day.count).max().unwrap_or(0).max(1);
    let width = usize::try_from(day.count * 30 / most).unwrap_or(0);
    format!("{:>6} {}", day.count, "#".repeat(width))
}
