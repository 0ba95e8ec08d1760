//! `latch ssh-keys …`

use super::{OutputArgs, connection, show};
use anyhow::Context;
use latch_api::{AddSshKeyRequest, SshKeyListView, SshKeyView};
use std::path::PathBuf;
use std::process::ExitCode;

/// `latch ssh-keys`
#[derive(clap::Args, Debug)]
pub struct SshKeysArgs {
    #[command(subcommand)]
    command: SshKeysCommand,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(clap::Subcommand, Debug)]
enum SshKeysCommand {
    /// Register a public key (a .pub file) for logging in to the SSH gateway.
    Add {
        /// The public key file, such as ~/.ssh/id_ed25519.pub.
        file: PathBuf,
        /// A name for the key (at most 100 characters); the key's comment by default.
        #[arg(long, value_name = "NAME", default_value = "")]
        name: String,
        /// Register it to this user instead of yourself (admin).
        #[arg(long, value_name = "USER")]
        user: Option<String>,
    },
    /// List your keys, or another user's.
    List {
        /// List this user's keys instead of yours (users:read).
        #[arg(long, value_name = "USER")]
        user: Option<String>,
    },
    /// Remove a key by its id.
    Rm {
        id: String,
        /// Remove it from this user instead of yourself (admin).
        #[arg(long, value_name = "USER")]
        user: Option<String>,
    },
}

pub async fn run(args: SshKeysArgs) -> anyhow::Result<ExitCode> {
    let client = connection::authenticated()?;
    let json = args.output.json;
    match args.command {
        SshKeysCommand::Add { file, name, user } => {
            let public_key = read_key_line(&file)?;
            let key = client.add_ssh_key(user.as_deref(), &AddSshKeyRequest { public_key, name }).await?;
            show::result(json, &key, print_key)?;
        }
        SshKeysCommand::List { user } => show::result(json, &client.list_ssh_keys(user.as_deref()).await?, print_keys)?,
        SshKeysCommand::Rm { id, user } => {
            client.remove_ssh_key(user.as_deref(), &id).await?;
            let value = serde_json::json!({ "deleted": id });
            show::result(json, &value, |_| show::line(&format!("Removed ssh key {id}.")))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The first line of a .pub file that is neither blank nor a comment.
fn read_key_line(file: &std::path::Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    text.lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .with_context(|| format!("{} holds no public key", file.display()))
}

fn print_keys(list: &SshKeyListView) -> std::io::Result<()> {
    let mut table = show::Table::new(&["ID", "NAME", "ALGORITHM", "FINGERPRINT", "ADDED", "LAST USED"]);
    for key in &list.keys {
        table.row(vec![
            key.id.clone(),
            key.name.clone(),
            key.algorithm.clone(),
            key.fingerprint.clone(),
            key.created_at.clone(),
            show::optional(key.last_used_at.as_deref()),
        ]);
    }
    table.print()
}

fn print_key(key: &SshKeyView) -> std::io::Result<()> {
    show::fields(&[
        ("id", key.id.clone()),
        ("name", key.name.clone()),
        ("algorithm", key.algorithm.clone()),
        ("fingerprint", key.fingerprint.clone()),
        ("added", key.created_at.clone()),
    ])
}
