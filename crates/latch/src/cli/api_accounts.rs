//! `latch api-accounts …`: OAuth clients for scripts, and getting their access tokens.

use super::{OutputArgs, connection, prompt, show};
use crate::UsageError;
use anyhow::Context;
use latch_api::{
    ApiAccountListView, ApiAccountSecretView, ApiAccountView, CreateApiAccountRequest, TokenRequest, TokenResponse,
    UpdateApiAccountRequest,
};
use std::process::ExitCode;

/// `latch api-accounts`
#[derive(clap::Args, Debug)]
pub struct ApiAccountsArgs {
    #[command(subcommand)]
    command: ApiAccountsCommand,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(clap::Subcommand, Debug)]
enum ApiAccountsCommand {
    /// List API accounts.
    List,
    /// Show an API account (by name or id).
    Show { api_account: String },
    /// Create an API account; its client secret is shown once.
    Create(CreateArgs),
    /// Change an API account's scopes, allowed sources, token lifetime or description.
    Update(UpdateArgs),
    /// Issue a new client secret (shown once); the old one and its tokens stop working.
    RotateSecret { api_account: String },
    /// Revoke an API account: its tokens stop working at once.
    Revoke { api_account: String },
    /// Get an access token with the client-credentials grant and print it (for scripts:
    /// `LATCH_TOKEN=$(latch api-accounts token …)`).
    Token(TokenArgs),
}

#[derive(clap::Args, Debug)]
struct CreateArgs {
    name: String,
    /// A scope, such as inventory:read, inventory:write, audit:read, users:read or admin (repeat
    /// for several).
    #[arg(long = "scope", value_name = "SCOPE", required = true)]
    scopes: Vec<String>,
    /// A CIDR range tokens may be used from (repeat for several; default: anywhere).
    #[arg(long = "allowed-source", value_name = "CIDR")]
    allowed_sources: Vec<String>,
    /// How long access tokens live, in seconds.
    #[arg(long, value_name = "SECS")]
    token_ttl: Option<i64>,
    #[arg(long, value_name = "TEXT", default_value = "")]
    description: String,
}

#[derive(clap::Args, Debug)]
struct UpdateArgs {
    api_account: String,
    /// Replace the scopes with these (repeat for several).
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// Replace the allowed sources with these (repeat for several).
    #[arg(long = "allowed-source", value_name = "CIDR", conflicts_with = "any_source")]
    allowed_sources: Vec<String>,
    /// Allow tokens from anywhere.
    #[arg(long)]
    any_source: bool,
    #[arg(long, value_name = "SECS")]
    token_ttl: Option<i64>,
    #[arg(long, value_name = "TEXT")]
    description: Option<String>,
}

#[derive(clap::Args, Debug)]
struct TokenArgs {
    /// The API account's name or id.
    #[arg(long, value_name = "ID")]
    client_id: String,
    /// Read the client secret from the first line of standard input (else it is asked for).
    #[arg(long)]
    client_secret_stdin: bool,
    /// Ask for fewer scopes than the account has (repeat for several).
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
}

pub async fn run(args: ApiAccountsArgs) -> anyhow::Result<ExitCode> {
    let json = args.output.json;
    // `token` authenticates with the client secret, so the session is looked up only when needed.
    let client = connection::authenticated;
    match args.command {
        ApiAccountsCommand::Token(token_args) => token(token_args, json).await?,
        ApiAccountsCommand::List => show::result(json, &client()?.list_api_accounts().await?, print_list)?,
        ApiAccountsCommand::Show { api_account } => {
            show::result(json, &client()?.get_api_account(&api_account).await?, print_api_account)?;
        }
        ApiAccountsCommand::Create(create) => {
            let created = client()?.create_api_account(&create_request(create)).await.context("cannot create it")?;
            show::result(json, &created, print_with_secret)?;
        }
        ApiAccountsCommand::Update(update) => {
            let updated = client()?.update_api_account(&update.api_account, &update_request(&update)).await?;
            show::result(json, &updated, print_api_account)?;
        }
        ApiAccountsCommand::RotateSecret { api_account } => {
            show::result(json, &client()?.rotate_api_account_secret(&api_account).await?, print_with_secret)?;
        }
        ApiAccountsCommand::Revoke { api_account } => {
            show::result(json, &client()?.revoke_api_account(&api_account).await?, print_api_account)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn create_request(args: CreateArgs) -> CreateApiAccountRequest {
    CreateApiAccountRequest {
        name: args.name,
        description: args.description,
        scopes: args.scopes,
        allowed_sources: args.allowed_sources,
        token_ttl_secs: args.token_ttl,
    }
}

fn update_request(args: &UpdateArgs) -> UpdateApiAccountRequest {
    let allowed_sources =
        if args.any_source { Some(Vec::new()) } else { Some(args.allowed_sources.clone()).filter(|s| !s.is_empty()) };
    UpdateApiAccountRequest {
        description: args.description.clone(),
        scopes: Some(args.scopes.clone()).filter(|s| !s.is_empty()),
        allowed_sources,
        token_ttl_secs: args.token_ttl,
    }
}

/// Prints only the access token (or, with `--json`, the whole token response).
async fn token(args: TokenArgs, json: bool) -> anyhow::Result<()> {
    let settings = connection::settings()?;
    let server = settings.server.clone().ok_or_else(|| {
        UsageError("which server? set LATCH_SERVER or run `latch login --server URL` first".to_owned())
    })?;
    let client = connection::client(&server, &settings.trust)?;
    let secret = if args.client_secret_stdin {
        prompt::stdin_line("the client secret")?
    } else {
        prompt::secret("Client secret: ", "--client-secret-stdin")?
    };
    let request = TokenRequest {
        grant_type: "client_credentials".to_owned(),
        client_id: Some(args.client_id),
        client_secret: Some(secret.trim().to_owned()),
        scope: Some(args.scopes.join(" ")).filter(|s| !s.is_empty()),
    };
    let response = client.oauth_token(&request).await.context("cannot get a token")?;
    show::result(json, &response, |response: &TokenResponse| show::line(&response.access_token))
}

fn print_list(list: &ApiAccountListView) -> std::io::Result<()> {
    let mut table = show::Table::new(&["NAME", "SCOPES", "SOURCES", "TOKEN TTL", "STATE", "DESCRIPTION"]);
    for account in &list.api_accounts {
        table.row(vec![
            account.name.clone(),
            show::list(&account.scopes),
            sources_text(account),
            format!("{}s", account.token_ttl_secs),
            state_text(account),
            account.description.clone(),
        ]);
    }
    table.print()
}

fn account_fields(account: &ApiAccountView) -> Vec<(&'static str, String)> {
    vec![
        ("name", account.name.clone()),
        ("id", account.id.clone()),
        ("scopes", show::list(&account.scopes)),
        ("allowed sources", sources_text(account)),
        ("token ttl", format!("{}s", account.token_ttl_secs)),
        ("state", state_text(account)),
        ("description", show::optional(Some(&account.description))),
        ("created", account.created_at.clone()),
        ("secret rotated", account.secret_rotated_at.clone()),
    ]
}

fn print_api_account(account: &ApiAccountView) -> std::io::Result<()> {
    show::fields(&account_fields(account))
}

fn print_with_secret(view: &ApiAccountSecretView) -> std::io::Result<()> {
    let mut fields = account_fields(&view.api_account);
    fields.push(("client secret", format!("{}   (shown once: store it now)", view.client_secret)));
    show::fields(&fields)
}

fn sources_text(account: &ApiAccountView) -> String {
    if account.allowed_sources.is_empty() { "any".to_owned() } else { account.allowed_sources.join(", ") }
}

fn state_text(account: &ApiAccountView) -> String {
    match (&account.locked_until, account.revoked) {
        (_, true) => "revoked".to_owned(),
        (Some(until), false) => format!("locked until {until}"),
        (None, false) => "active".to_owned(),
    }
}
