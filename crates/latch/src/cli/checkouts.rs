//! Credential check-outs: `latch checkout`, `latch checkin` and `latch checkouts …`.
//!
//! A revealed secret is the only thing written to stdout (so `latch checkout db-1 --reason … | tool` works); what
//! was checked out and until when goes to stderr.

use super::access::parse_duration_minutes;
use super::{OutputArgs, connection, show};
use crate::output;
use latch_api::client::Client;
use latch_api::{CheckoutListParams, CheckoutListView, CheckoutView, CreateCheckoutRequest, RevealedSecretView};
use std::process::ExitCode;

/// `latch checkout TARGET`
#[derive(clap::Args, Debug)]
pub struct CheckoutArgs {
    /// The target's name or id.
    target: String,
    /// The account's username on the target; may be left out when exactly one account there may be checked out.
    #[arg(long, value_name = "NAME")]
    account: Option<String>,
    /// Why you need the secret.
    #[arg(long, value_name = "TEXT")]
    reason: String,
    /// The release period, such as 30m or 2h (default 30m); the policy may shorten it.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_minutes)]
    duration: Option<i64>,
    /// Only check out; reveal later with `latch checkouts reveal ID`.
    #[arg(long)]
    no_reveal: bool,
    #[command(flatten)]
    output: OutputArgs,
}

/// `latch checkin ID`
#[derive(clap::Args, Debug)]
pub struct CheckinArgs {
    /// The check-out's id.
    checkout: String,
    #[command(flatten)]
    output: OutputArgs,
}

/// `latch checkouts`
#[derive(clap::Args, Debug)]
pub struct CheckoutsArgs {
    #[command(subcommand)]
    command: Option<CheckoutsCommand>,
    /// Everyone's check-outs (approvers, session readers and auditors), not only yours.
    #[arg(long)]
    all: bool,
    /// Only check-outs still held.
    #[arg(long)]
    open: bool,
    #[arg(long, default_value_t = 100)]
    limit: i64,
    #[arg(long, default_value_t = 0)]
    offset: i64,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(clap::Subcommand, Debug)]
enum CheckoutsCommand {
    /// Show a check-out.
    Show { checkout: String },
    /// Print the secret of your open check-out (once per check-out).
    Reveal { checkout: String },
}

pub async fn checkout(args: CheckoutArgs) -> anyhow::Result<ExitCode> {
    let client = connection::authenticated()?;
    let request = CreateCheckoutRequest {
        target: args.target.clone(),
        account: args.account.clone(),
        duration_minutes: args.duration,
        reason: args.reason,
    };
    let checkout = client.check_out(&request).await?;
    if args.no_reveal {
        show::result(args.output.json, &checkout, print_checkout)?;
        return Ok(ExitCode::SUCCESS);
    }
    let account = args.account.unwrap_or_else(|| format!("account {}", checkout.account_id));
    output::error(&format!(
        "Checked out {account} on {} until {} (check-out {}); check it in with `latch checkin {}`.",
        args.target, checkout.release_until, checkout.id, checkout.id
    ));
    reveal(&client, &checkout.id, args.output.json).await?;
    Ok(ExitCode::SUCCESS)
}

pub async fn checkin(args: CheckinArgs) -> anyhow::Result<ExitCode> {
    let client = connection::authenticated()?;
    let checkout = client.check_in(&args.checkout).await?;
    show::result(args.output.json, &checkout, |c| show::line(&format!("Checked in {}.", c.id)))?;
    Ok(ExitCode::SUCCESS)
}

pub async fn checkouts(args: CheckoutsArgs) -> anyhow::Result<ExitCode> {
    let client = connection::authenticated()?;
    let json = args.output.json;
    match args.command {
        Some(CheckoutsCommand::Show { checkout }) => {
            show::result(json, &client.get_checkout(&checkout).await?, print_checkout)?;
        }
        Some(CheckoutsCommand::Reveal { checkout }) => reveal(&client, &checkout, json).await?,
        None => {
            let params = CheckoutListParams {
                scope: Some(if args.all { "all" } else { "mine" }.to_owned()),
                open: Some(args.open),
                limit: Some(args.limit),
                offset: Some(args.offset),
            };
            show::result(json, &client.list_checkouts(&params).await?, print_checkouts)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the secret, and nothing else, on stdout (or `{checkout_id, secret}` with `--json`).
async fn reveal(client: &Client, checkout: &str, json: bool) -> anyhow::Result<()> {
    let revealed: RevealedSecretView = client.reveal_checkout(checkout).await?;
    show::result(json, &revealed, |r| show::line(r.secret.trim_end_matches('\n')))
}

fn print_checkouts(list: &CheckoutListView) -> std::io::Result<()> {
    let mut table = show::Table::new(&["ID", "STATE", "ACCOUNT", "UNTIL", "REVEALED", "HOLDER", "REASON"]);
    for checkout in &list.checkouts {
        table.row(vec![
            checkout.id.clone(),
            checkout.state.clone(),
            checkout.account_id.clone(),
            checkout.release_until.clone(),
            show::yes_no(checkout.revealed_at.is_some()),
            holder(checkout),
            checkout.reason.clone(),
        ]);
    }
    table.print()
}

fn print_checkout(checkout: &CheckoutView) -> std::io::Result<()> {
    show::fields(&[
        ("check-out", checkout.id.clone()),
        ("state", checkout.state.clone()),
        ("holder", holder(checkout)),
        ("target", checkout.target_id.clone()),
        ("account", checkout.account_id.clone()),
        ("exclusive", show::yes_no(checkout.exclusive)),
        ("reason", checkout.reason.clone()),
        ("checked out", checkout.checked_out_at.clone()),
        ("release until", checkout.release_until.clone()),
        ("revealed", show::optional(checkout.revealed_at.as_deref())),
        ("checked in", show::optional(checkout.checked_in_at.as_deref())),
        ("check-in reason", show::optional(checkout.check_in_reason.as_deref())),
        ("grant", show::optional(checkout.grant_id.as_deref())),
        ("policy", show::optional(checkout.policy_id.as_deref())),
    ])
}

fn holder(checkout: &CheckoutView) -> String {
    match (&checkout.user_id, &checkout.api_account_id) {
        (Some(user), _) => format!("user {user}"),
        (None, Some(api)) => format!("api account {api}"),
        (None, None) => "-".to_owned(),
    }
}
