//! `latch status`, `latch unseal` and `latch vault seal|rotate-root-key`.

use super::connection::{self, ServerArgs};
use super::{OutputArgs, progress, prompt, show};
use crate::{EXIT_SEALED, UsageError};
use anyhow::Context;
use latch_api::{RotationView, UnsealRequest, VaultStatusView};
use std::path::PathBuf;
use std::process::ExitCode;

/// `latch status`
#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    output: OutputArgs,
}

/// `latch unseal`
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("unseal_with").args(["key_file", "passphrase_stdin", "share_stdin"])))]
pub struct UnsealArgs {
    /// The unseal key file (`latch serve` writes DATA_DIR/unseal.key on first start).
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// Read the passphrase from the first line of standard input.
    #[arg(long)]
    passphrase_stdin: bool,
    /// Read one Shamir share from the first line of standard input.
    #[arg(long)]
    share_stdin: bool,
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    output: OutputArgs,
}

/// `latch vault`
#[derive(clap::Args, Debug)]
pub struct VaultArgs {
    #[command(subcommand)]
    command: VaultCommand,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(clap::Subcommand, Debug)]
enum VaultCommand {
    /// Seal the vault at once: everything but status and unseal refuses until it is unsealed.
    Seal,
    /// Generate a new root key and re-wrap every stored secret's key under it.
    RotateRootKey,
}

pub async fn status(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let status = connection::anonymous(&args.server)?.status().await?;
    show::result(args.output.json, &status, print_status)?;
    Ok(exit_for(&status))
}

pub async fn unseal(args: UnsealArgs) -> anyhow::Result<ExitCode> {
    let client = connection::anonymous(&args.server)?;
    let request = unseal_request(&args, &client).await?;
    let status = client.unseal(&request).await.context("cannot unseal")?;
    show::result(args.output.json, &status, print_status)?;
    Ok(exit_for(&status))
}

async fn unseal_request(args: &UnsealArgs, client: &latch_api::client::Client) -> anyhow::Result<UnsealRequest> {
    if let Some(path) = &args.key_file {
        let text = prompt::file(path, "the unseal key")?;
        return Ok(UnsealRequest { key_file: Some(text.to_string()), ..UnsealRequest::default() });
    }
    if args.passphrase_stdin {
        let passphrase = prompt::stdin_line("the passphrase")?;
        return Ok(UnsealRequest { passphrase: Some(passphrase.to_string()), ..UnsealRequest::default() });
    }
    if args.share_stdin {
        let share = prompt::stdin_line("the share")?;
        return Ok(UnsealRequest { share: Some(share.trim().to_owned()), ..UnsealRequest::default() });
    }
    let status = client.status().await?;
    match status.mode.as_deref() {
        Some("passphrase") => {
            let passphrase = prompt::secret("Unseal passphrase: ", "--passphrase-stdin")?;
            Ok(UnsealRequest { passphrase: Some(passphrase.to_string()), ..UnsealRequest::default() })
        }
        Some("shamir") => {
            let share = prompt::secret("Unseal share: ", "--share-stdin")?;
            Ok(UnsealRequest { share: Some(share.trim().to_owned()), ..UnsealRequest::default() })
        }
        _ => Err(UsageError("this vault is unsealed with a key file: pass --key-file FILE".to_owned()).into()),
    }
}

pub async fn run(args: VaultArgs) -> anyhow::Result<ExitCode> {
    let client = connection::authenticated()?;
    match args.command {
        VaultCommand::Seal => {
            let status = client.seal().await.context("cannot seal")?;
            show::result(args.output.json, &status, print_status)?;
        }
        VaultCommand::RotateRootKey => {
            let spinner = progress::waiting("rotating the root key and re-wrapping every secret");
            let report = client.rotate_root_key().await;
            spinner.finish_and_clear();
            let report = report.context("cannot rotate the root key")?;
            show::result(args.output.json, &report, print_rotation)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// 0 when unsealed, 3 when sealed or not initialized.
fn exit_for(status: &VaultStatusView) -> ExitCode {
    if status.initialized && !status.sealed { ExitCode::SUCCESS } else { ExitCode::from(EXIT_SEALED) }
}

fn print_status(status: &VaultStatusView) -> std::io::Result<()> {
    let state = match (status.initialized, status.sealed) {
        (false, _) => "not initialized",
        (true, true) => "sealed",
        (true, false) => "unsealed",
    };
    let mut fields = vec![
        ("vault", state.to_owned()),
        ("unseal method", show::optional(status.mode.as_deref())),
        ("server version", status.version.clone()),
    ];
    if let (true, Some(threshold)) = (status.sealed, status.shares_threshold) {
        fields.push(("shares received", format!("{} of {threshold}", status.shares_received)));
    }
    show::fields(&fields)
}

fn print_rotation(report: &RotationView) -> std::io::Result<()> {
    show::fields(&[
        ("new root key", report.new_root_key_id.clone()),
        ("secrets re-wrapped", report.rewrapped.to_string()),
        ("root keys retired", report.retired_root_keys.to_string()),
    ])
}
