//! Just-in-time access: `latch request`, `latch requests …`, `latch approve`, `latch deny` and `latch grants …`.

use super::{OutputArgs, connection, show};
use latch_api::client::Client;
use latch_api::{
    AccessRequestListView, AccessRequestView, CreateAccessRequest, DecisionRequest, GrantListParams, GrantListView,
    GrantView, RequestListParams, RequestOutcomeView, RevokeGrantRequest,
};
use std::process::ExitCode;

/// `latch request TARGET`
#[derive(clap::Args, Debug)]
pub struct RequestArgs {
    /// The target's name or id.
    target: String,
    /// The account's username on the target; may be left out when exactly one account there may be requested.
    #[arg(long, value_name = "NAME")]
    account: Option<String>,
    /// Why you need access.
    #[arg(long, value_name = "TEXT")]
    reason: String,
    /// How long, such as 90m, 2h or 1d (default 1h).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_minutes, conflicts_with = "until")]
    duration: Option<i64>,
    /// When access ends, as RFC 3339 (2026-01-31T18:00:00Z).
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// When access starts, as RFC 3339 (default now).
    #[arg(long, value_name = "TIME")]
    start: Option<String>,
    /// A ticket or incident reference.
    #[arg(long, value_name = "REF")]
    ticket: Option<String>,
    /// The incident task you work on (see `latch incidents tasks`); for other policies, what you will do.
    #[arg(long, value_name = "TEXT")]
    task: Option<String>,
    #[command(flatten)]
    output: OutputArgs,
}

/// `latch requests`
#[derive(clap::Args, Debug)]
pub struct RequestsArgs {
    #[command(subcommand)]
    command: Option<RequestsCommand>,
    /// List the pending requests you may decide.
    #[arg(long, conflicts_with = "all")]
    to_decide: bool,
    /// List everyone's requests (approvers).
    #[arg(long)]
    all: bool,
    /// Only requests in this state: pending, approved, denied, cancelled or expired.
    #[arg(long, value_name = "STATUS")]
    status: Option<String>,
    #[arg(long, default_value_t = 100)]
    limit: i64,
    #[arg(long, default_value_t = 0)]
    offset: i64,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(clap::Subcommand, Debug)]
enum RequestsCommand {
    /// Show a request.
    Show { request: String },
    /// Cancel your own pending request.
    Cancel { request: String },
}

/// `latch approve ID` and `latch deny ID`
#[derive(clap::Args, Debug)]
pub struct DecideArgs {
    /// The request's id.
    request: String,
    #[arg(long, value_name = "TEXT")]
    comment: Option<String>,
    #[command(flatten)]
    output: OutputArgs,
}

/// `latch grants`
#[derive(clap::Args, Debug)]
pub struct GrantsArgs {
    #[command(subcommand)]
    command: Option<GrantsCommand>,
    /// Everyone's grants (approvers and session readers), not only yours.
    #[arg(long)]
    all: bool,
    /// Only grants that have not ended or been revoked.
    #[arg(long)]
    current: bool,
    #[arg(long, default_value_t = 100)]
    limit: i64,
    #[arg(long, default_value_t = 0)]
    offset: i64,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(clap::Subcommand, Debug)]
enum GrantsCommand {
    /// Show a grant.
    Show { grant: String },
    /// Revoke a grant now; its sessions end.
    Revoke {
        grant: String,
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
}

const DEFAULT_MINUTES: i64 = 60;

pub async fn request(args: RequestArgs) -> anyhow::Result<ExitCode> {
    let client = connection::authenticated()?;
    let duration_minutes = match (&args.until, args.duration) {
        (Some(_), _) => None,
        (None, duration) => Some(duration.unwrap_or(DEFAULT_MINUTES)),
    };
    let request = CreateAccessRequest {
        target: args.target.clone(),
        account: args.account.clone(),
        starts_at: args.start,
        ends_at: args.until,
        duration_minutes,
        reason: args.reason,
        ticket: args.ticket,
        task: args.task,
    };
    let outcome = client.request_access(&request).await?;
    show::result(args.output.json, &outcome, |outcome| print_outcome(outcome, &args.target, args.account.as_deref()))?;
    Ok(ExitCode::SUCCESS)
}

pub async fn requests(args: RequestsArgs) -> anyhow::Result<ExitCode> {
    let client = connection::authenticated()?;
    let json = args.output.json;
    match args.command {
        Some(RequestsCommand::Show { request }) => {
            show::result(json, &client.get_request(&request).await?, print_request)?;
        }
        Some(RequestsCommand::Cancel { request }) => {
            let cancelled = client.cancel_request(&request).await?;
            show::result(json, &cancelled, |r| show::line(&format!("Cancelled request {}.", r.id)))?;
        }
        None => {
            let scope = if args.to_decide {
                "to_decide"
            } else if args.all {
                "all"
            } else {
                "mine"
            };
            let params = RequestListParams {
                scope: Some(scope.to_owned()),
                status: args.status,
                limit: Some(args.limit),
                offset: Some(args.offset),
            };
            show::result(json, &client.list_requests(&params).await?, print_requests)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn approve(args: DecideArgs) -> anyhow::Result<ExitCode> {
    let client = connection::authenticated()?;
    let outcome = client.approve_request(&args.request, &DecisionRequest { comment: args.comment }).await?;
    show::result(args.output.json, &outcome, print_decision)?;
    Ok(ExitCode::SUCCESS)
}

pub async fn deny(args: DecideArgs) -> anyhow::Result<ExitCode> {
    let client = connection::authenticated()?;
    let outcome = client.deny_request(&args.request, &DecisionRequest { comment: args.comment }).await?;
    show::result(args.output.json, &outcome, print_decision)?;
    Ok(ExitCode::SUCCESS)
}

pub async fn grants(args: GrantsArgs) -> anyhow::Result<ExitCode> {
    let client = connection::authenticated()?;
    let json = args.output.json;
    match args.command {
        Some(GrantsCommand::Show { grant }) => show::result(json, &client.get_grant(&grant).await?, print_grant)?,
        Some(GrantsCommand::Revoke { grant, reason }) => {
            let revoked = client.revoke_grant(&grant, &RevokeGrantRequest { reason }).await?;
            show::result(json, &revoked, |g| show::line(&format!("Revoked grant {}.", g.id)))?;
        }
        None => list_grants(&client, &args, json).await?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn list_grants(client: &Client, args: &GrantsArgs, json: bool) -> anyhow::Result<()> {
    let params = GrantListParams {
        scope: Some(if args.all { "all" } else { "mine" }.to_owned()),
        current: Some(args.current),
        limit: Some(args.limit),
        offset: Some(args.offset),
    };
    show::result(json, &client.list_grants(&params).await?, print_grants)
}

/// Minutes in `90m`, `2h`, `1d` or `1h30m`.
pub(super) fn parse_duration_minutes(text: &str) -> Result<i64, String> {
    let invalid = || format!("{text:?} is not a duration such as 90m, 2h, 1d or 1h30m");
    let mut total: i64 = 0;
    let mut number = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'm' => 1,
            'h' => 60,
            'd' => 1440,
            _ => return Err(invalid()),
        };
        let value: i64 = number.parse().map_err(|_| invalid())?;
        total = value.checked_mul(unit).and_then(|m| total.checked_add(m)).ok_or_else(invalid)?;
        number.clear();
    }
    if !number.is_empty() || total <= 0 {
        return Err(invalid());
    }
    Ok(total)
}

fn approvals(request: &AccessRequestView) -> String {
    format!("{} of {}", request.approvals.len(), request.approvals_required)
}

fn print_outcome(outcome: &RequestOutcomeView, target: &str, account: Option<&str>) -> std::io::Result<()> {
    let request = &outcome.request;
    let mut fields = vec![
        ("request", request.id.clone()),
        ("status", request.status.clone()),
        ("target", target.to_owned()),
        ("account", account.map_or_else(|| request.account_id.clone(), str::to_owned)),
        ("window", format!("{} to {}", request.starts_at, request.ends_at)),
    ];
    match &outcome.grant {
        Some(grant) => {
            fields.push(("grant", grant.id.clone()));
            fields.push(("access", format!("{} to {}", grant.starts_at, grant.ends_at)));
        }
        None => {
            fields.push(("approvals", approvals(request)));
            fields.push(("decide by", request.decide_by.clone()));
        }
    }
    show::fields(&fields)
}

fn print_decision(outcome: &RequestOutcomeView) -> std::io::Result<()> {
    let request = &outcome.request;
    match (&outcome.grant, request.status.as_str()) {
        (Some(grant), _) => show::line(&format!(
            "Approved request {}: grant {} from {} to {}.",
            request.id, grant.id, grant.starts_at, grant.ends_at
        )),
        (None, "denied") => show::line(&format!("Denied request {}.", request.id)),
        (None, _) => show::line(&format!("Recorded your approval of request {} ({}).", request.id, approvals(request))),
    }
}

fn print_requests(list: &AccessRequestListView) -> std::io::Result<()> {
    let mut table = show::Table::new(&["ID", "STATUS", "APPROVALS", "FROM", "UNTIL", "REQUESTER", "REASON"]);
    for request in &list.requests {
        table.row(vec![
            request.id.clone(),
            request.status.clone(),
            approvals(request),
            request.starts_at.clone(),
            request.ends_at.clone(),
            request.requester_id.clone(),
            request.reason.clone(),
        ]);
    }
    table.print()
}

fn print_request(request: &AccessRequestView) -> std::io::Result<()> {
    let approvers: Vec<String> = request.approvals.iter().map(|a| a.approver_id.clone()).collect();
    show::fields(&[
        ("request", request.id.clone()),
        ("status", request.status.clone()),
        ("requester", request.requester_id.clone()),
        ("target", request.target_id.clone()),
        ("account", request.account_id.clone()),
        ("policy", request.policy_id.clone()),
        ("window", format!("{} to {}", request.starts_at, request.ends_at)),
        ("reason", request.reason.clone()),
        ("ticket", show::optional(request.ticket.as_deref())),
        ("task", show::optional(request.task.as_deref())),
        ("approvals", approvals(request)),
        ("approved by", show::list(&approvers)),
        ("approver group", show::optional(request.approver_group_id.as_deref())),
        ("decided by", show::optional(request.decided_by.as_deref())),
        ("comment", show::optional(request.decision_comment.as_deref())),
        ("decided", show::optional(request.decided_at.as_deref())),
        ("decide by", request.decide_by.clone()),
        ("grant", show::optional(request.grant_id.as_deref())),
        ("created", request.created_at.clone()),
    ])
}

fn print_grants(list: &GrantListView) -> std::io::Result<()> {
    let mut table = show::Table::new(&["ID", "STATE", "FROM", "UNTIL", "TARGET", "ACCOUNT"]);
    for grant in &list.grants {
        table.row(vec![
            grant.id.clone(),
            grant.state.clone(),
            grant.starts_at.clone(),
            grant.ends_at.clone(),
            grant.target_id.clone(),
            grant.account_id.clone(),
        ]);
    }
    table.print()
}

fn print_grant(grant: &GrantView) -> std::io::Result<()> {
    show::fields(&[
        ("grant", grant.id.clone()),
        ("state", grant.state.clone()),
        ("user", grant.user_id.clone()),
        ("target", grant.target_id.clone()),
        ("account", grant.account_id.clone()),
        ("window", format!("{} to {}", grant.starts_at, grant.ends_at)),
        ("origin", grant.origin.clone()),
        ("request", show::optional(grant.request_id.as_deref())),
        ("policy", show::optional(grant.policy_id.as_deref())),
        ("revoked", show::optional(grant.revoked_at.as_deref())),
        ("revoked by", show::optional(grant.revoked_by.as_deref())),
        ("revoke reason", show::optional(grant.revoke_reason.as_deref())),
        ("sessions ended", show::optional(grant.enforced_at.as_deref())),
        ("created", grant.created_at.clone()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        for (text, minutes) in [("90m", 90), ("2h", 120), ("1d", 1440), ("1h30m", 90), (" 15m ", 15)] {
            assert_eq!(parse_duration_minutes(text), Ok(minutes), "{text}");
        }
        for bad in ["", "90", "0m", "h", "2x", "-1h", "1.5h", "99999999999999999999d"] {
            assert!(parse_duration_minutes(bad).is_err(), "{bad}");
        }
    }
}
