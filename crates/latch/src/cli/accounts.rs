//! `latch accounts …`: accounts on targets. A secret comes from standard input, a file or a
//! prompt, never from an argument (arguments are visible to every user in `ps`), and is never
//! shown again.

use super::{OutputArgs, connection, prompt, show};
use crate::UsageError;
use anyhow::Context;
use latch_api::{AccountView, CreateAccountRequest, UpdateAccountRequest};
use std::path::PathBuf;
use std::process::ExitCode;

const KIND_PASSWORD: &str = "password";

/// `latch accounts`
#[derive(clap::Args, Debug)]
pub struct AccountsArgs {
    #[command(subcommand)]
    command: AccountsCommand,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(clap::Subcommand, Debug)]
enum AccountsCommand {
    /// Add an account to a target, with its secret (stored encrypted).
    Add(AddArgs),
    /// List a target's accounts.
    List { target: String },
    /// Show an account (by id).
    Show { id: String },
    /// Change an account's flags, description or secret.
    Update(UpdateArgs),
    /// Delete an account and its secret.
    Rm { id: String },
}

/// Where a secret comes from.
#[derive(clap::Args, Debug)]
#[group(multiple = false)]
struct SecretSource {
    /// Read the secret from standard input (all of it; for a password, one final newline is dropped).
    #[arg(long)]
    secret_stdin: bool,
    /// Read the secret from a file (for a password, one final newline is dropped).
    #[arg(long, value_name = "FILE")]
    secret_file: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct AddArgs {
    /// The target's name or id.
    target: String,
    /// The account's username on the target.
    username: String,
    /// `password` or `ssh_private_key`.
    #[arg(long, value_name = "KIND", default_value = KIND_PASSWORD, value_parser = ["password", "ssh_private_key"])]
    kind: String,
    /// Scripts may check this account's credential out through the API.
    #[arg(long)]
    api_enabled: bool,
    /// Rotate the secret after each use.
    #[arg(long)]
    rotate_after_use: bool,
    /// Let several people hold check-outs of this account at once (check-outs are exclusive by default).
    #[arg(long)]
    shared_checkout: bool,
    #[arg(long, value_name = "TEXT", default_value = "")]
    description: String,
    #[command(flatten)]
    secret: SecretSource,
    /// Add the account without a secret (without this, a password is asked for when no source is given).
    #[arg(long, conflicts_with_all = ["secret_stdin", "secret_file"])]
    no_secret: bool,
}

#[derive(clap::Args, Debug)]
struct UpdateArgs {
    id: String,
    #[arg(long, value_name = "true|false")]
    api_enabled: Option<bool>,
    #[arg(long, value_name = "true|false")]
    rotate_after_use: Option<bool>,
    /// Whether several people may hold check-outs at once (`false`: one holder at a time).
    #[arg(long, value_name = "true|false")]
    shared_checkout: Option<bool>,
    #[arg(long, value_name = "TEXT")]
    description: Option<String>,
    #[command(flatten)]
    secret: SecretSource,
    /// Ask for a new password on the terminal.
    #[arg(long, conflicts_with_all = ["secret_stdin", "secret_file"])]
    secret_prompt: bool,
}

pub async fn run(args: AccountsArgs) -> anyhow::Result<ExitCode> {
    let client = connection::authenticated()?;
    let json = args.output.json;
    match args.command {
        AccountsCommand::Add(add) => {
            let target = add.target.clone();
            let account =
                client.create_account(&target, &create_request(add)?).await.context("cannot add the account")?;
            show::result(json, &account, print_account)?;
        }
        AccountsCommand::List { target } => {
            let details = client.get_target(&target).await?;
            show::result(json, &details.accounts, |accounts| print_accounts(accounts))?;
        }
        AccountsCommand::Show { id } => show::result(json, &client.get_account(&id).await?, print_account)?,
        AccountsCommand::Update(update) => {
            let request = update_request(&update)?;
            let account = client.update_account(&update.id, &request).await.context("cannot update the account")?;
            show::result(json, &account, print_account)?;
        }
        AccountsCommand::Rm { id } => {
            client.delete_account(&id).await?;
            show::result(json, &serde_json::json!({ "deleted": id }), |_| {
                show::line(&format!("Deleted account {id}."))
            })?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn create_request(args: AddArgs) -> anyhow::Result<CreateAccountRequest> {
    let secret = match (args.no_secret, read_secret(&args.secret, &args.kind)?) {
        (true, _) => None,
        (false, Some(secret)) => Some(secret),
        (false, None) if args.kind == KIND_PASSWORD => Some(ask_password()?),
        (false, None) => {
            return Err(UsageError(
                "give the private key with --secret-file FILE or --secret-stdin (or pass --no-secret)".to_owned(),
            )
            .into());
        }
    };
    Ok(CreateAccountRequest {
        username: args.username,
        secret_kind: args.kind,
        secret: secret.map(|s| s.to_string()),
        api_enabled: args.api_enabled,
        rotate_after_use: args.rotate_after_use,
        exclusive_checkout: Some(!args.shared_checkout),
        description: args.description,
    })
}

fn update_request(args: &UpdateArgs) -> anyhow::Result<UpdateAccountRequest> {
    let secret = if args.secret_prompt {
        Some(ask_password()?)
    } else {
        // The account's kind is unknown here: only a password loses its final newline.
        read_secret(&args.secret, KIND_PASSWORD)?
    };
    Ok(UpdateAccountRequest {
        api_enabled: args.api_enabled,
        rotate_after_use: args.rotate_after_use,
        exclusive_checkout: args.shared_checkout.map(|shared| !shared),
        description: args.description.clone(),
        secret: secret.map(|s| s.to_string()),
    })
}

/// The secret from `--secret-stdin` or `--secret-file`, if either is given.
fn read_secret(source: &SecretSource, kind: &str) -> anyhow::Result<Option<prompt::SecretText>> {
    let text = match (&source.secret_file, source.secret_stdin) {
        (Some(path), _) => prompt::file(path, "the secret")?,
        (None, true) => prompt::stdin_all("the secret")?,
        (None, false) => return Ok(None),
    };
    let text = if kind == KIND_PASSWORD { prompt::without_final_newline(text) } else { text };
    if text.is_empty() {
        return Err(UsageError("the secret is empty".to_owned()).into());
    }
    Ok(Some(text))
}

fn ask_password() -> anyhow::Result<prompt::SecretText> {
    prompt::new_secret_twice("The account's password: ", "--secret-stdin or --secret-file FILE")
}

pub fn print_accounts(accounts: &[AccountView]) -> std::io::Result<()> {
    let mut table =
        show::Table::new(&["ID", "USERNAME", "KIND", "SECRET", "API", "ROTATE", "CHECK-OUT", "DESCRIPTION"]);
    for account in accounts {
        table.row(vec![
            account.id.clone(),
            account.username.clone(),
            account.secret_kind.clone(),
            if account.has_secret { "stored" } else { "none" }.to_owned(),
            show::yes_no(account.api_enabled),
            show::yes_no(account.rotate_after_use),
            checkout_mode(account).to_owned(),
            account.description.clone(),
        ]);
    }
    table.print()
}

fn print_account(account: &AccountView) -> std::io::Result<()> {
    show::fields(&[
        ("id", account.id.clone()),
        ("target id", account.target_id.clone()),
        ("username", account.username.clone()),
        ("kind", account.secret_kind.clone()),
        ("secret", if account.has_secret { "stored (never shown)" } else { "none" }.to_owned()),
        ("secret updated", show::optional(account.secret_updated_at.as_deref())),
        ("api enabled", show::yes_no(account.api_enabled)),
        ("rotate after use", show::yes_no(account.rotate_after_use)),
        ("check-out", checkout_mode(account).to_owned()),
        ("description", show::optional(Some(&account.description))),
        ("created", account.created_at.clone()),
    ])
}

fn checkout_mode(account: &AccountView) -> &'static str {
    if account.exclusive_checkout { "exclusive" } else { "shared" }
}
