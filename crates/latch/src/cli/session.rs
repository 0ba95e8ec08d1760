//! `latch login`, `logout`, `whoami`, `passwd` and `totp enroll`: the caller's own session.

use super::connection::{self, ServerArgs};
use super::settings::{self, SettingsFile, TrustSetting};
use super::{OutputArgs, prompt, show};
use crate::UsageError;
use anyhow::Context;
use latch_api::client::{self, Client};
use latch_api::{ChangePasswordRequest, LoginRequest, LoginResponse, MeView, TotpConfirmRequest};
use std::process::ExitCode;

const STAGE_PASSWORD_CHANGE: &str = "password_change_required";
const STAGE_TOTP_ENROLLMENT: &str = "totp_enrollment_required";

/// `latch login`
#[derive(clap::Args, Debug)]
pub struct LoginArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Your username (asked for when not given).
    #[arg(long, value_name = "NAME")]
    username: Option<String>,
    /// Read the password from the first line of standard input; when it must be changed, the new
    /// one from the second line.
    #[arg(long)]
    password_stdin: bool,
    /// The current code of your authenticator app, when you have enrolled one.
    #[arg(long, value_name = "CODE")]
    totp_code: Option<String>,
    #[command(flatten)]
    output: OutputArgs,
}

/// `latch passwd`
#[derive(clap::Args, Debug)]
pub struct PasswdArgs {
    /// Read the current password from the first line of standard input and the new one from the
    /// second, instead of asking.
    #[arg(long)]
    password_stdin: bool,
    #[command(flatten)]
    output: OutputArgs,
}

/// `latch totp`
#[derive(clap::Args, Debug)]
pub struct TotpArgs {
    #[command(subcommand)]
    command: TotpCommand,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(clap::Subcommand, Debug)]
enum TotpCommand {
    /// Enrol an authenticator app: shows its otpauth:// URI, then asks for (or reads from standard
    /// input) a first code to confirm.
    Enroll,
}

pub async fn login(args: LoginArgs) -> anyhow::Result<ExitCode> {
    let path = settings::file_path()?;
    let mut file = settings::load_file(&path)?;
    let server = chosen_server(&args.server, &file)?;
    let trust = chosen_trust(&args.server, &server, &file).await?;
    let client = connection::client(&server, &trust)?;
    let username = match &args.username {
        Some(name) => name.clone(),
        None => prompt::line("Username: ", "the username")?.trim().to_owned(),
    };
    let password = if args.password_stdin {
        prompt::stdin_line("the password (first line of standard input)")?
    } else {
        prompt::secret(&format!("Password for {username}: "), "--password-stdin")?
    };
    let response = log_in(&client, &username, &password, args.totp_code.clone()).await?;
    let client = client.with_token(response.token.clone());
    if let Err(err) = finish_login_stages(&client, &response, &password, args.password_stdin).await {
        let _ignored = client.logout().await;
        return Err(err);
    }
    file.server = Some(server.clone());
    file.token = Some(response.token.clone());
    file.set_trust(&trust);
    settings::save_file(&path, &file)?;
    let me = client.me().await.context("logged in, but cannot read who you are")?;
    show::result(args.output.json, &me, |me| {
        show::line(&format!("Logged in to {server} as {} ({}).", me.user.username, show::list(&me.effective_roles)))
    })?;
    Ok(ExitCode::SUCCESS)
}

fn chosen_server(args: &ServerArgs, file: &SettingsFile) -> anyhow::Result<String> {
    let from_env = settings::process_env(settings::ENV_SERVER).filter(|s| !s.is_empty());
    args.server
        .clone()
        .or(from_env)
        .or_else(|| file.server.clone())
        .ok_or_else(|| UsageError(format!("which server? pass --server URL (or set {})", settings::ENV_SERVER)).into())
}

/// The command line's trust, else the environment's, else what was saved for this server; else
/// the system's roots if they accept the server, else the fingerprint the person confirms.
async fn chosen_trust(args: &ServerArgs, server: &str, file: &SettingsFile) -> anyhow::Result<TrustSetting> {
    if let Some(trust) = args.trust()? {
        return Ok(trust);
    }
    if let Some(trust) = settings::env_trust(&settings::process_env)? {
        return Ok(trust);
    }
    let saved_for_this_server = file.server.as_deref().is_some_and(|saved| settings::same_url(saved, server));
    if saved_for_this_server && file.trust()? != TrustSetting::System {
        return file.trust().map_err(Into::into);
    }
    if server.trim().starts_with("http://") || system_roots_accept(server).await? {
        return Ok(TrustSetting::System);
    }
    trust_on_first_use(server).await
}

async fn system_roots_accept(server: &str) -> anyhow::Result<bool> {
    let client = connection::client(server, &TrustSetting::System)?;
    Ok(!matches!(client.status().await, Err(client::ClientError::Transport(_))))
}

async fn trust_on_first_use(server: &str) -> anyhow::Result<TrustSetting> {
    let fingerprint = client::fetch_server_fingerprint(server).await?;
    prompt::ask(&format!(
        "The certificate of {server} is not trusted by this system.\n\
         Its SHA-256 fingerprint is\n  {}\n  {fingerprint}\n\
         Compare it with the one `latch serve` printed, or ask the server's administrator.\n",
        fingerprint.colon_hex()
    ))?;
    let instead = format!("pass --fingerprint {fingerprint} (after checking it) or --ca-cert FILE");
    if !prompt::confirm("Trust this server?", &instead)? {
        return Err(UsageError("the server is not trusted; nothing was saved".to_owned()).into());
    }
    Ok(TrustSetting::Fingerprint(fingerprint))
}

/// Logs in; when the server asks for a TOTP code, uses `--totp-code` or asks for one.
async fn log_in(
    client: &Client,
    username: &str,
    password: &str,
    totp_code: Option<String>,
) -> anyhow::Result<LoginResponse> {
    let code_given = totp_code.is_some();
    let mut request = LoginRequest { username: username.to_owned(), password: password.to_owned(), totp_code };
    match client.login(&request).await {
        Err(err) if err.code() == Some("totp_required") && !code_given => {
            if !prompt::stdin_is_terminal() {
                return Err(anyhow::Error::new(err).context("cannot log in (pass --totp-code CODE)"));
            }
            request.totp_code = Some(prompt::line("Code from your authenticator app: ", "the code")?.trim().to_owned());
            client.login(&request).await.context("cannot log in")
        }
        result => result.context("cannot log in"),
    }
}

/// Changes a one-time password and enrols TOTP when the server requires it before anything else.
async fn finish_login_stages(
    client: &Client,
    response: &LoginResponse,
    current_password: &str,
    password_stdin: bool,
) -> anyhow::Result<()> {
    let mut stage = response.stage.clone();
    if stage == STAGE_PASSWORD_CHANGE {
        prompt::ask("This password must be changed now.\n")?;
        let new_password = if password_stdin {
            prompt::stdin_line("the new password (second line of standard input)")?
        } else {
            prompt::new_secret_twice("New password (12 characters or more): ", "--password-stdin")?
        };
        let request = ChangePasswordRequest {
            current_password: current_password.to_owned(),
            new_password: new_password.to_string(),
        };
        client.change_password(&request).await.context("cannot change the password")?;
        stage = client.me().await.context("cannot read the login stage")?.stage;
    }
    if stage == STAGE_TOTP_ENROLLMENT {
        prompt::ask("A second factor is required: enrol an authenticator app now.\n")?;
        enroll_totp(client).await?;
    }
    Ok(())
}

/// Shows the otpauth:// URI (on stdout, alone on its line) and confirms with a first code.
async fn enroll_totp(client: &Client) -> anyhow::Result<()> {
    let enrollment = client.totp_enroll().await.context("cannot start TOTP enrolment")?;
    prompt::ask("Add this to your authenticator app (or scan the QR code in the web interface):\n")?;
    show::line(&enrollment.otpauth_uri).context("cannot write to stdout")?;
    let code = prompt::line("Code shown by the app: ", "the confirmation code")?;
    let request = TotpConfirmRequest { code: code.trim().to_owned() };
    client.totp_confirm(&request).await.context("cannot confirm the TOTP enrolment")?;
    prompt::ask("The authenticator app is enrolled: logins now need its code.\n")
}

pub async fn logout(output: OutputArgs) -> anyhow::Result<ExitCode> {
    let path = settings::file_path()?;
    let mut file = settings::load_file(&path)?;
    let client = connection::authenticated()?;
    match client.logout().await {
        Err(err) if err.code() != Some("unauthenticated") => {
            return Err(anyhow::Error::new(err).context("cannot log out"));
        }
        _ => {}
    }
    let used = settings::resolve(&file, &settings::process_env)?.token;
    if file.token.is_some() && file.token == used {
        file.token = None;
        settings::save_file(&path, &file)?;
    }
    show::result(output.json, &serde_json::json!({ "logged_out": true }), |_| show::line("Logged out."))?;
    Ok(ExitCode::SUCCESS)
}

pub async fn whoami(output: OutputArgs) -> anyhow::Result<ExitCode> {
    let me = connection::authenticated()?.me().await?;
    show::result(output.json, &me, print_me)?;
    Ok(ExitCode::SUCCESS)
}

fn print_me(me: &MeView) -> std::io::Result<()> {
    let user = &me.user;
    show::fields(&[
        ("username", user.username.clone()),
        ("display name", show::optional(Some(&user.display_name))),
        ("email", show::optional(user.email.as_deref())),
        ("roles", show::list(&me.effective_roles)),
        ("login stage", me.stage.clone()),
        ("totp", super::users::totp_text(user)),
        ("last login", show::optional(user.last_login_at.as_deref())),
    ])
}

pub async fn passwd(args: PasswdArgs) -> anyhow::Result<ExitCode> {
    let client = connection::authenticated()?;
    let (current, new) = if args.password_stdin {
        (
            prompt::stdin_line("the current password (first line of standard input)")?,
            prompt::stdin_line("the new password (second line of standard input)")?,
        )
    } else {
        (
            prompt::secret("Current password: ", "--password-stdin")?,
            prompt::new_secret_twice("New password (12 characters or more): ", "--password-stdin")?,
        )
    };
    let request = ChangePasswordRequest { current_password: current.to_string(), new_password: new.to_string() };
    client.change_password(&request).await.context("cannot change the password")?;
    show::result(args.output.json, &serde_json::json!({ "password_changed": true }), |_| {
        show::line("Password changed.")
    })?;
    Ok(ExitCode::SUCCESS)
}

pub async fn totp(args: TotpArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        TotpCommand::Enroll => {
            enroll_totp(&connection::authenticated()?).await?;
            show::result(args.output.json, &serde_json::json!({ "totp_enrolled": true }), |_| Ok(()))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
