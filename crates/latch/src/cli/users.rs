//! `latch users …`

use super::{OutputArgs, connection, prompt, show};
use anyhow::Context;
use latch_api::client::Client;
use latch_api::{CreateUserRequest, CreateUserResponse, PasswordResetView, UpdateUserRequest, UserListView, UserView};
use std::process::ExitCode;

/// `latch users`
#[derive(clap::Args, Debug)]
pub struct UsersArgs {
    #[command(subcommand)]
    command: UsersCommand,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(clap::Subcommand, Debug)]
enum UsersCommand {
    /// List users.
    List {
        #[arg(long, default_value_t = 200)]
        limit: i64,
        #[arg(long, default_value_t = 0)]
        offset: i64,
    },
    /// Show a user (by username or id).
    Show { user: String },
    /// Create a local user; without --password-stdin the server makes a one-time password,
    /// shown once, which the user must change at first login.
    Create(CreateArgs),
    /// Change a user's display name, email, roles or TOTP requirement.
    Update(UpdateArgs),
    /// Disable a user: their sessions end at once.
    Disable { user: String },
    /// Enable a disabled user.
    Enable { user: String },
    /// Clear a user's failed logins and lock.
    Unlock { user: String },
    /// Give a user a new one-time password (shown once); their sessions end.
    ResetPassword { user: String },
    /// Remove a user's TOTP enrolment.
    ResetTotp { user: String },
    /// Delete a user.
    Rm { user: String },
}

#[derive(clap::Args, Debug)]
struct CreateArgs {
    username: String,
    #[arg(long, value_name = "TEXT")]
    display_name: Option<String>,
    #[arg(long, value_name = "ADDRESS")]
    email: Option<String>,
    /// A role: admin, auditor, approver or user (repeat for several).
    #[arg(long = "role", value_name = "ROLE")]
    roles: Vec<String>,
    /// Require a second factor: the user enrols an authenticator app at first login.
    #[arg(long)]
    totp_required: bool,
    /// Read the user's password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
}

#[derive(clap::Args, Debug)]
struct UpdateArgs {
    user: String,
    #[arg(long, value_name = "TEXT")]
    display_name: Option<String>,
    /// A new email address; an empty one clears it.
    #[arg(long, value_name = "ADDRESS")]
    email: Option<String>,
    /// Replace the user's direct roles with these (repeat for several).
    #[arg(long = "role", value_name = "ROLE", conflicts_with = "clear_roles")]
    roles: Vec<String>,
    /// Remove every direct role.
    #[arg(long)]
    clear_roles: bool,
    #[arg(long, value_name = "true|false")]
    totp_required: Option<bool>,
}

pub async fn run(args: UsersArgs) -> anyhow::Result<ExitCode> {
    let client = connection::authenticated()?;
    let json = args.output.json;
    match args.command {
        UsersCommand::List { limit, offset } => {
            let users = client.list_users(Some(limit), Some(offset)).await?;
            show::result(json, &users, print_users)?;
        }
        UsersCommand::Show { user } => show::result(json, &client.get_user(&user).await?, print_user)?,
        UsersCommand::Create(create) => create_user(&client, create, json).await?,
        UsersCommand::Update(update) => {
            let user = client.update_user(&update.user, &update_request(&update)).await?;
            show::result(json, &user, print_user)?;
        }
        UsersCommand::Disable { user } => show::result(json, &client.disable_user(&user).await?, print_user)?,
        UsersCommand::Enable { user } => show::result(json, &client.enable_user(&user).await?, print_user)?,
        UsersCommand::Unlock { user } => show::result(json, &client.unlock_user(&user).await?, print_user)?,
        UsersCommand::ResetPassword { user } => {
            let reset = client.reset_user_password(&user).await?;
            show::result(json, &reset, |reset| print_reset(&user, reset))?;
        }
        UsersCommand::ResetTotp { user } => show::result(json, &client.reset_user_totp(&user).await?, print_user)?,
        UsersCommand::Rm { user } => {
            client.delete_user(&user).await?;
            show::result(json, &serde_json::json!({ "deleted": user }), |_| show::line(&format!("Deleted {user}.")))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn create_user(client: &Client, args: CreateArgs, json: bool) -> anyhow::Result<()> {
    let password = if args.password_stdin { Some(prompt::stdin_line("the password")?.to_string()) } else { None };
    let request = CreateUserRequest {
        username: args.username,
        display_name: args.display_name.unwrap_or_default(),
        email: args.email,
        roles: args.roles,
        totp_required: args.totp_required,
        password,
    };
    let created = client.create_user(&request).await.context("cannot create the user")?;
    show::result(json, &created, print_created)
}

fn update_request(args: &UpdateArgs) -> UpdateUserRequest {
    let roles = match (args.clear_roles, args.roles.is_empty()) {
        (true, _) => Some(Vec::new()),
        (false, true) => None,
        (false, false) => Some(args.roles.clone()),
    };
    UpdateUserRequest {
        display_name: args.display_name.clone(),
        email: args.email.clone(),
        roles,
        totp_required: args.totp_required,
    }
}

fn print_users(list: &UserListView) -> std::io::Result<()> {
    let mut table = show::Table::new(&["USERNAME", "DISPLAY NAME", "ROLES", "STATE", "TOTP", "LAST LOGIN"]);
    for user in &list.users {
        table.row(vec![
            user.username.clone(),
            show::optional(Some(&user.display_name)),
            show::list(&user.roles),
            state_text(user),
            totp_text(user),
            show::optional(user.last_login_at.as_deref()),
        ]);
    }
    table.print()
}

fn print_user(user: &UserView) -> std::io::Result<()> {
    show::fields(&[
        ("username", user.username.clone()),
        ("id", user.id.clone()),
        ("display name", show::optional(Some(&user.display_name))),
        ("email", show::optional(user.email.as_deref())),
        ("roles", show::list(&user.roles)),
        ("state", state_text(user)),
        ("failed logins", user.failed_logins.to_string()),
        ("totp", totp_text(user)),
        ("must change password", show::yes_no(user.must_change_password)),
        ("created", user.created_at.clone()),
        ("last login", show::optional(user.last_login_at.as_deref())),
    ])
}

fn print_created(created: &CreateUserResponse) -> std::io::Result<()> {
    print_user(&created.user)?;
    if let Some(password) = &created.one_time_password {
        show::line("")?;
        show::line(&format!("One-time password (shown once; it must be changed at first login): {password}"))?;
    }
    Ok(())
}

fn print_reset(user: &str, reset: &PasswordResetView) -> std::io::Result<()> {
    show::line(&format!(
        "One-time password for {user} (shown once; it must be changed at next login): {}",
        reset.one_time_password
    ))
}

/// `active`, `disabled` or `locked until …`.
pub fn state_text(user: &UserView) -> String {
    match (&user.locked_until, user.disabled) {
        (_, true) => "disabled".to_owned(),
        (Some(until), false) => format!("locked until {until}"),
        (None, false) => "active".to_owned(),
    }
}

/// `enrolled`, `required, not enrolled`, `required` or `-`.
pub fn totp_text(user: &UserView) -> String {
    match (user.totp_enrolled, user.totp_required) {
        (true, _) => "enrolled".to_owned(),
        (false, true) => "required, not enrolled".to_owned(),
        (false, false) => "-".to_owned(),
    }
}
