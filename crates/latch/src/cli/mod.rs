//! Client subcommands: talk to a running Latch server over its HTTP API with
//! [`latch_api::client::Client`].
//!
//! One file per area; each command is a small function that reads its arguments, calls one or a
//! few routes and prints the answer as a table (or, with `--json`, the answer's JSON). Server
//! errors end the command with `error: MESSAGE` on stderr and an exit code chosen in [`exit`].
//! Secrets (passwords, account secrets, client secrets) are read from a prompt, standard input
//! or a file, never from an argument, and never printed except when the server shows them once.

mod access;
mod accounts;
mod api_accounts;
mod audit;
mod break_glass;
mod checkouts;
mod connection;
mod dashboard;
mod exit;
mod groups;
mod integrations;
mod policies;
mod progress;
mod prompt;
mod recordings;
mod session;
mod sessions;
mod settings;
mod show;
mod ssh_config;
mod ssh_keys;
mod targets;
mod users;
mod vault;

use crate::output;
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub enum ClientCommand {
    /// Log in to a server and remember it and the session token (in $LATCH_CONFIG_DIR/cli.toml).
    Login(session::LoginArgs),
    /// End the saved session and forget its token.
    Logout(OutputArgs),
    /// Show who the saved session belongs to.
    Whoami(OutputArgs),
    /// Change your password.
    Passwd(session::PasswdArgs),
    /// Your second factor (TOTP authenticator app).
    Totp(session::TotpArgs),
    /// Show whether the vault is initialized and unsealed (exit code 3 when not).
    Status(vault::StatusArgs),
    /// Unseal the vault with the key file, the passphrase or one Shamir share.
    Unseal(vault::UnsealArgs),
    /// Seal the vault or rotate its root key (admin).
    Vault(vault::VaultArgs),
    /// Manage local users (admin).
    Users(users::UsersArgs),
    /// Manage groups, which give their members roles (admin).
    Groups(groups::GroupsArgs),
    /// Manage the SSH public keys you (or, as admin, other users) log in to the SSH gateway with.
    SshKeys(ssh_keys::SshKeysArgs),
    /// Print an ssh_config block so that plain `ssh ACCOUNT@TARGET` goes through the SSH gateway.
    SshConfig(ssh_config::SshConfigArgs),
    /// Relay one SSH connection to the gateway with a route hint (run by ssh as ProxyCommand).
    #[command(hide = true)]
    SshProxy(ssh_config::SshProxyArgs),
    /// Manage targets (the hosts Latch gives access to) and export or import the inventory.
    Targets(targets::TargetsArgs),
    /// Manage accounts on targets and their secrets.
    Accounts(accounts::AccountsArgs),
    /// Manage API accounts (OAuth clients for scripts) and get access tokens.
    ApiAccounts(api_accounts::ApiAccountsArgs),
    /// Read, export and verify the tamper-evident audit log.
    Audit(audit::AuditArgs),
    /// Manage access policies: who may use which accounts on which targets, and how access is given.
    Policies(policies::PoliciesArgs),
    /// Request time-bound access to an account on a target.
    Request(access::RequestArgs),
    /// List your access requests (or, as approver, those to decide); show or cancel one.
    Requests(access::RequestsArgs),
    /// Approve a pending access request.
    Approve(access::DecideArgs),
    /// Deny a pending access request.
    Deny(access::DecideArgs),
    /// List your grants (time-bound access given); show or revoke one.
    Grants(access::GrantsArgs),
    /// List gateway sessions; show, watch live or terminate one.
    Sessions(sessions::SessionsArgs),
    /// Verify session recordings offline; set the recording storage's credential; see the upload backlog.
    Recordings(recordings::RecordingsArgs),
    /// Sessions and failed logins per day, the busiest targets and users, and what is live now.
    Dashboard(dashboard::DashboardArgs),
    /// Check out an account's credential and print its secret once (only the secret goes to stdout).
    Checkout(checkouts::CheckoutArgs),
    /// Check a checked-out credential in before its release period ends.
    Checkin(checkouts::CheckinArgs),
    /// List your check-outs (or, with --all, everyone's); show one or reveal its secret.
    Checkouts(checkouts::CheckoutsArgs),
    /// Switch emergency access to targets on or off (members of the break-glass group), or list it.
    BreakGlass(break_glass::BreakGlassArgs),
    /// List the tasks open for an incident ticket, to pick one for `latch request --task`.
    Incidents(integrations::IncidentsArgs),
    /// Test an incident integration end to end without granting anything (admin).
    Integrations(integrations::IntegrationsArgs),
}

/// How results are printed.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct OutputArgs {
    /// Print the server's JSON answer instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

pub async fn run(command: ClientCommand) -> anyhow::Result<ExitCode> {
    match dispatch(command).await {
        Ok(code) => Ok(code),
        Err(err) => match exit::code_for(&err) {
            Some(code) => {
                output::error(&format!("error: {err:#}"));
                if let Some(hint) = exit::hint_for(&err) {
                    output::error(&format!("hint: {hint}"));
                }
                Ok(ExitCode::from(code))
            }
            None => Err(err),
        },
    }
}

async fn dispatch(command: ClientCommand) -> anyhow::Result<ExitCode> {
    match command {
        ClientCommand::Login(args) => session::login(args).await,
        ClientCommand::SshConfig(args) => ssh_config::ssh_config(args).await,
        ClientCommand::SshProxy(args) => ssh_config::ssh_proxy(args).await,
        ClientCommand::Logout(out) => session::logout(out).await,
        ClientCommand::Whoami(out) => session::whoami(out).await,
        ClientCommand::Passwd(args) => session::passwd(args).await,
        ClientCommand::Totp(args) => session::totp(args).await,
        ClientCommand::Status(args) => vault::status(args).await,
        ClientCommand::Unseal(args) => vault::unseal(args).await,
        ClientCommand::Vault(args) => vault::run(args).await,
        ClientCommand::Users(args) => users::run(args).await,
        ClientCommand::Groups(args) => groups::run(args).await,
        ClientCommand::SshKeys(args) => ssh_keys::run(args).await,
        ClientCommand::Targets(args) => targets::run(args).await,
        ClientCommand::Accounts(args) => accounts::run(args).await,
        ClientCommand::ApiAccounts(args) => api_accounts::run(args).await,
        ClientCommand::Audit(args) => audit::run(args).await,
        ClientCommand::Policies(args) => policies::run(args).await,
        ClientCommand::Request(args) => access::request(args).await,
        ClientCommand::Requests(args) => access::requests(args).await,
        ClientCommand::Approve(args) => access::approve(args).await,
        ClientCommand::Deny(args) => access::deny(args).await,
        ClientCommand::Grants(args) => access::grants(args).await,
        ClientCommand::Sessions(args) => sessions::run(args).await,
        ClientCommand::Recordings(args) => recordings::run(args).await,
        ClientCommand::Dashboard(args) => dashboard::run(args).await,
        ClientCommand::Checkout(args) => checkouts::checkout(args).await,
        ClientCommand::Checkin(args) => checkouts::checkin(args).await,
        ClientCommand::Checkouts(args) => checkouts::checkouts(args).await,
        ClientCommand::BreakGlass(args) => break_glass::run(args).await,
        ClientCommand::Incidents(args) => integrations::incidents(args).await,
        ClientCommand::Integrations(args) => integrations::integrations(args).await,
    }
}
