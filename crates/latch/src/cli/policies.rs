//! `latch policies …`: who may use which accounts on which targets, and how access is given.

use super::{OutputArgs, connection, prompt, show};
use crate::UsageError;
use latch_api::{PolicyListView, PolicyRequest, PolicyTargetView, PolicyView};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `latch policies`
#[derive(clap::Args, Debug)]
pub struct PoliciesArgs {
    #[command(subcommand)]
    command: PoliciesCommand,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(clap::Subcommand, Debug)]
enum PoliciesCommand {
    /// List access policies.
    List,
    /// Show a policy (by name or id).
    Show { policy: String },
    /// Create a policy from a JSON file: the API body (`-` reads standard input). `show --json` writes one.
    Create {
        #[arg(long, short, value_name = "FILE")]
        file: PathBuf,
    },
    /// Replace every field of a policy with a JSON file (as for `create`; `id` and times in it are ignored).
    Update {
        policy: String,
        #[arg(long, short, value_name = "FILE")]
        file: PathBuf,
    },
    /// Delete a policy; grants it gave stay until they end or are revoked.
    #[command(alias = "delete")]
    Rm { policy: String },
}

pub async fn run(args: PoliciesArgs) -> anyhow::Result<ExitCode> {
    let client = connection::authenticated()?;
    let json = args.output.json;
    match args.command {
        PoliciesCommand::List => show::result(json, &client.list_policies().await?, print_policies)?,
        PoliciesCommand::Show { policy } => show::result(json, &client.get_policy(&policy).await?, print_policy)?,
        PoliciesCommand::Create { file } => {
            let created = client.create_policy(&read_policy(&file)?).await?;
            show::result(json, &created, print_policy)?;
        }
        PoliciesCommand::Update { policy, file } => {
            let updated = client.update_policy(&policy, &read_policy(&file)?).await?;
            show::result(json, &updated, print_policy)?;
        }
        PoliciesCommand::Rm { policy } => {
            client.delete_policy(&policy).await?;
            let value = serde_json::json!({ "deleted": policy });
            show::result(json, &value, |_| show::line(&format!("Deleted policy {policy}.")))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The policy body in `file`. The fields only a read shows (`id`, `created_at`, `updated_at`) are dropped, so that
/// `show --json` output can be edited and written back; any other unknown field is refused.
fn read_policy(file: &Path) -> anyhow::Result<PolicyRequest> {
    let text =
        if file == Path::new("-") { prompt::stdin_all("the policy")? } else { prompt::file(file, "the policy")? };
    let not_a_policy = |err: serde_json::Error| UsageError(format!("{} is not a policy: {err}", file.display()));
    let mut value: serde_json::Value = serde_json::from_str(&text).map_err(not_a_policy)?;
    if let Some(object) = value.as_object_mut() {
        for read_only in ["id", "created_at", "updated_at"] {
            object.remove(read_only);
        }
    }
    Ok(serde_json::from_value(value).map_err(not_a_policy)?)
}

fn print_policies(list: &PolicyListView) -> std::io::Result<()> {
    let mut table = show::Table::new(&["NAME", "ENABLED", "MODE", "APPROVALS", "SUBJECTS", "TARGETS", "MAX"]);
    for policy in &list.policies {
        table.row(vec![
            policy.name.clone(),
            show::yes_no(policy.enabled),
            policy.mode.clone(),
            policy.approvals_required.map_or_else(|| "-".to_owned(), |n| n.to_string()),
            show::list(&subjects(policy)),
            show::list(&targets(policy)),
            minutes(policy.max_duration_minutes),
        ]);
    }
    table.print()
}

fn print_policy(policy: &PolicyView) -> std::io::Result<()> {
    let flags: Vec<String> = [
        ("mfa to request", policy.mfa_to_request),
        ("mfa to connect", policy.mfa_to_connect),
        ("record input", policy.record_input),
        ("reveal allowed", policy.reveal_allowed),
        ("ticket required", policy.ticket_required),
        ("local forwarding", policy.allow_local_forwarding),
        ("remote forwarding", policy.allow_remote_forwarding),
        ("agent forwarding", policy.allow_agent_forwarding),
    ]
    .into_iter()
    .filter(|(_, on)| *on)
    .map(|(name, _)| name.to_owned())
    .collect();
    let approvals = match (policy.approvals_required, &policy.approver_group) {
        (None, _) => "-".to_owned(),
        (Some(0), _) => "none (approved at once)".to_owned(),
        (Some(n), Some(group)) => format!("{n} from group {group}"),
        (Some(n), None) => format!("{n} from any approver"),
    };
    show::fields(&[
        ("name", policy.name.clone()),
        ("id", policy.id.clone()),
        ("enabled", show::yes_no(policy.enabled)),
        ("description", show::optional(Some(&policy.description))),
        ("users", show::list(&policy.users)),
        ("groups", show::list(&policy.groups)),
        ("targets", show::list(&targets(policy))),
        ("accounts", policy.accounts.as_deref().map_or_else(|| "any".to_owned(), show::list)),
        ("mode", policy.mode.clone()),
        ("approvals", approvals),
        ("max duration", minutes(policy.max_duration_minutes)),
        ("schedule", policy.schedule.clone().unwrap_or_else(|| "always".to_owned())),
        ("ticket pattern", show::optional(policy.ticket_pattern.as_deref())),
        ("integration", show::optional(policy.integration.as_deref())),
        ("flags", show::list(&flags)),
        ("consent banner", show::optional(policy.consent_banner.as_deref())),
        (
            "recording retention",
            policy.recording_retention_days.map_or_else(|| "forever".to_owned(), |days| format!("{days} days")),
        ),
        (
            "recording",
            if policy.recording_required {
                "required (sessions end when it cannot be written)".to_owned()
            } else {
                "best effort (sessions go on unrecorded, audited)".to_owned()
            },
        ),
        ("created", policy.created_at.clone()),
        ("updated", policy.updated_at.clone()),
    ])
}

fn subjects(policy: &PolicyView) -> Vec<String> {
    let users = policy.users.iter().cloned();
    users.chain(policy.groups.iter().map(|g| format!("group:{g}"))).collect()
}

fn targets(policy: &PolicyView) -> Vec<String> {
    policy
        .targets
        .iter()
        .map(|t| match t {
            PolicyTargetView::Name(name) => name.clone(),
            PolicyTargetView::Tag(tag) => format!("tag:{tag}"),
        })
        .collect()
}

/// `90m`, `2h`, `1d`: the largest unit that divides exactly.
fn minutes(total: i64) -> String {
    match total {
        m if m > 0 && m % 1440 == 0 => format!("{}d", m / 1440),
        m if m > 0 && m % 60 == 0 => format!("{}h", m / 60),
        m => format!("{m}m"),
    }
}
