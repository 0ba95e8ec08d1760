//! Incident integrations: `latch incidents tasks` (the tasks open for a ticket, to pick one for `latch request
//! --task`) and `latch integrations test` (admins: check an integration end to end without granting anything).

use super::access::parse_duration_minutes;
use super::{OutputArgs, connection, show};
use latch_api::{
    IncidentTaskListView, IncidentTaskView, IncidentTasksParams, IntegrationTestRequest, IntegrationTestView,
};
use std::process::ExitCode;

/// `latch incidents`
#[derive(clap::Args, Debug)]
pub struct IncidentsArgs {
    #[command(subcommand)]
    command: IncidentsCommand,
}

#[derive(clap::Subcommand, Debug)]
enum IncidentsCommand {
    /// List the tasks open for a ticket in the incident system of a policy you may request TARGET under.
    Tasks {
        /// The target's name or id.
        target: String,
        /// The incident integration the policy names.
        #[arg(long, value_name = "NAME")]
        integration: String,
        #[arg(long, value_name = "REF")]
        ticket: String,
        /// The account's username on the target.
        #[arg(long, value_name = "NAME")]
        account: Option<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
}

/// `latch integrations`
#[derive(clap::Args, Debug)]
pub struct IntegrationsArgs {
    #[command(subcommand)]
    command: IntegrationsCommand,
}

#[derive(clap::Subcommand, Debug)]
enum IntegrationsCommand {
    /// Run the whole lookup and validation of a request as USER would make it, and show what would happen;
    /// nothing is requested or granted (admin). Exits 1 when the request would be refused.
    Test {
        /// The integration's name.
        integration: String,
        /// The user to test as (username or id).
        #[arg(long, value_name = "USER")]
        user: String,
        /// The target's name or id.
        #[arg(long, value_name = "TARGET")]
        target: String,
        #[arg(long, value_name = "REF")]
        ticket: String,
        /// The task to validate; without one, the open tasks are listed.
        #[arg(long, value_name = "ID")]
        task: Option<String>,
        #[arg(long, value_name = "NAME")]
        account: Option<String>,
        /// The window to ask for, such as 90m or 2h (default 1h).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration_minutes)]
        duration: Option<i64>,
        #[command(flatten)]
        output: OutputArgs,
    },
}

pub async fn incidents(args: IncidentsArgs) -> anyhow::Result<ExitCode> {
    let client = connection::authenticated()?;
    match args.command {
        IncidentsCommand::Tasks { target, integration, ticket, account, output } => {
            let params = IncidentTasksParams { target, account, ticket };
            show::result(output.json, &client.incident_tasks(&integration, &params).await?, print_tasks)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn integrations(args: IntegrationsArgs) -> anyhow::Result<ExitCode> {
    let client = connection::authenticated()?;
    match args.command {
        IntegrationsCommand::Test { integration, user, target, ticket, task, account, duration, output } => {
            let request = IntegrationTestRequest { user, target, account, ticket, task, duration_minutes: duration };
            let report = client.test_integration(&integration, &request).await?;
            show::result(output.json, &report, print_report)?;
            let refused = report.verdict == "refused";
            Ok(if refused { ExitCode::FAILURE } else { ExitCode::SUCCESS })
        }
    }
}

fn task_table(tasks: &[IncidentTaskView]) -> std::io::Result<()> {
    let mut table = show::Table::new(&["TASK", "EXPIRES", "TITLE"]);
    for task in tasks {
        table.row(vec![task.id.clone(), task.expires_at.clone(), task.title.clone()]);
    }
    table.print()
}

fn print_tasks(list: &IncidentTaskListView) -> std::io::Result<()> {
    if list.tasks.is_empty() {
        return show::line(&format!("No tasks are open for {}.", list.ticket));
    }
    task_table(&list.tasks)
}

fn print_report(report: &IntegrationTestView) -> std::io::Result<()> {
    let window = match (&report.starts_at, &report.ends_at) {
        (Some(start), Some(end)) if report.capped => format!("{start} to {end} (capped at the task's expiry)"),
        (Some(start), Some(end)) => format!("{start} to {end}"),
        _ => "-".to_owned(),
    };
    let verdict = match (report.verdict.as_str(), &report.message) {
        ("refused", Some(message)) => format!("refused: {message}"),
        ("would_wait_for_approval", _) => {
            format!("would wait for {} approval(s)", report.approvals_required.unwrap_or_default())
        }
        ("would_grant", _) => "would be granted at once".to_owned(),
        (other, _) => other.to_owned(),
    };
    show::fields(&[
        ("integration", report.integration.clone()),
        ("user", report.user.clone()),
        ("policy", show::optional(report.policy.as_deref())),
        ("account", show::optional(report.account.as_deref())),
        ("task", show::optional(report.task.as_deref())),
        ("window", window),
        ("verdict", verdict),
    ])?;
    match &report.tasks {
        Some(tasks) if !tasks.is_empty() => {
            show::line("")?;
            task_table(tasks)
        }
        Some(_) => show::line("The integration lists no open tasks for this ticket."),
        None => show::line("The integration was not asked (or did not answer)."),
    }
}
