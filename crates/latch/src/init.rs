//! `latch init`: initializing a vault for production with the unseal method the operator picks,
//! and the pieces `latch serve` shares with it: initializing with a key file on first start and
//! creating files and directories only the service account can read.

use crate::config::{self, Config, ConfigArgs};
use crate::{UsageError, output};
use anyhow::Context;
use latch_app::domain::names::Username;
use latch_app::{App, AppError, InitMode, InitOutcome, SecretString, SystemClock};
use latch_store::Store;
use std::fs::File;
use std::io::{BufRead, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// `latch init`
#[derive(clap::Args, Debug)]
#[command(group(
    clap::ArgGroup::new("unseal_method")
        .required(true)
        .args(["key_file", "passphrase_file", "passphrase_stdin", "passphrase_prompt", "shares"])
))]
pub struct InitArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Write a random unseal key to this new file (mode 0600).
    #[arg(long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,
    /// Read the unseal passphrase (at least 12 characters) from the first line of this file.
    #[arg(long, value_name = "PATH")]
    pub passphrase_file: Option<PathBuf>,
    /// Read the unseal passphrase from the first line of standard input.
    #[arg(long)]
    pub passphrase_stdin: bool,
    /// Ask for the unseal passphrase on the terminal, twice.
    #[arg(long)]
    pub passphrase_prompt: bool,
    /// Split a random unseal key into N Shamir shares (at most 16), printed once.
    #[arg(long, value_name = "N", requires = "threshold", value_parser = clap::value_parser!(u8).range(1..=16))]
    pub shares: Option<u8>,
    /// How many of the shares unseal the vault.
    #[arg(long, value_name = "K", requires = "shares", value_parser = clap::value_parser!(u8).range(1..=16))]
    pub threshold: Option<u8>,
    /// The first administrator's username.
    #[arg(long, value_name = "NAME", default_value = "admin")]
    pub admin: String,
}

/// The unseal method chosen on the command line, with the secret already read.
enum Method {
    KeyFile(PathBuf),
    Passphrase(SecretString),
    Shamir { threshold: u8, shares: u8 },
}

pub async fn run(args: InitArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(&args.config, &config::process_env)?;
    let admin = Username::parse(&args.admin).map_err(|err| UsageError(format!("--admin: {err}")))?;
    create_private_dir(&config.data_dir)?;
    let store = connect_store(&config).await?;
    let result = initialize(&store, &config, &args, &admin).await;
    store.close().await;
    let (outcome, key_file) = result?;
    print_init_outcome(&outcome, key_file.as_deref(), &config).context("cannot print the one-time password")?;
    Ok(ExitCode::SUCCESS)
}

async fn initialize(
    store: &Store,
    config: &Config,
    args: &InitArgs,
    admin: &Username,
) -> anyhow::Result<(InitOutcome, Option<PathBuf>)> {
    let app = App::new(store.clone(), Arc::new(SystemClock), config.app.clone());
    if app.is_initialized().await? {
        return Err(UsageError(format!(
            "the vault in {} is already initialized; `latch init` only sets up a new one",
            config.database_url.redacted()
        ))
        .into());
    }
    let outcome = match chosen_method(args)? {
        Method::KeyFile(path) => {
            let path = std::path::absolute(&path).with_context(|| format!("bad path {}", path.display()))?;
            let outcome = initialize_with_key_file(&app, &path, admin).await?;
            return Ok((outcome, Some(path)));
        }
        Method::Passphrase(passphrase) => app.initialize(InitMode::Passphrase(passphrase), admin).await,
        Method::Shamir { threshold, shares } => app.initialize(InitMode::Shamir { threshold, shares }, admin).await,
    };
    Ok((outcome.map_err(refusal_as_usage_error)?, None))
}

/// Initializes `app` with a new random key written to `key_file`, which must not exist yet.
///
/// The file is created before the vault, so that a file already there or a directory that
/// cannot be written stops us before anything changes.
pub async fn initialize_with_key_file(app: &App, key_file: &Path, admin: &Username) -> anyhow::Result<InitOutcome> {
    let file = NewPrivateFile::create(key_file)
        .with_context(|| format!("cannot create the unseal key file {}", key_file.display()))?;
    let outcome = match app.initialize(InitMode::KeyFile, admin).await {
        Ok(outcome) => outcome,
        Err(err) => {
            file.abandon();
            return Err(refusal_as_usage_error(err));
        }
    };
    let text = outcome.key_file_text.as_ref().context("initializing did not produce a key file")?;
    file.write_and_sync(text.expose().as_bytes()).with_context(|| {
        format!(
            "the vault was initialized but its unseal key could not be written to {}; nothing can be \
             stored in it yet, so delete the database and start again",
            key_file.display()
        )
    })?;
    Ok(outcome)
}

/// Turns the application's refusals (bad passphrase, bad share counts, already initialized) into
/// usage errors; everything else stays a runtime failure.
fn refusal_as_usage_error(err: AppError) -> anyhow::Error {
    match err {
        AppError::BadRequest(_) | AppError::AlreadyInitialized | AppError::Invalid(_) => {
            UsageError(err.to_string()).into()
        }
        other => anyhow::Error::new(other).context("cannot initialize the vault"),
    }
}

fn chosen_method(args: &InitArgs) -> anyhow::Result<Method> {
    if let Some(path) = &args.key_file {
        return Ok(Method::KeyFile(path.clone()));
    }
    if let (Some(shares), Some(threshold)) = (args.shares, args.threshold) {
        return Ok(Method::Shamir { threshold, shares });
    }
    if let Some(path) = &args.passphrase_file {
        return Ok(Method::Passphrase(read_passphrase_file(path)?));
    }
    if args.passphrase_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("cannot read the passphrase from standard input")?;
        return Ok(Method::Passphrase(first_line(line, "standard input")?));
    }
    Ok(Method::Passphrase(prompt_new_passphrase()?))
}

/// Reads a passphrase from the first line of `path`; a trailing newline is not part of it.
pub fn read_passphrase_file(path: &Path) -> anyhow::Result<SecretString> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| UsageError(format!("cannot read the passphrase file {}: {err}", path.display())))?;
    Ok(first_line(text, &path.display().to_string())?)
}

fn first_line(mut text: String, from: &str) -> Result<SecretString, UsageError> {
    let end = text.find(['\n', '\r']).unwrap_or(text.len());
    text.truncate(end);
    let passphrase = SecretString::new(text);
    if passphrase.expose().is_empty() {
        return Err(UsageError(format!("the passphrase from {from} is empty")));
    }
    Ok(passphrase)
}

fn prompt_new_passphrase() -> anyhow::Result<SecretString> {
    let first = SecretString::new(rpassword::prompt_password("New unseal passphrase (12 characters or more): ")?);
    let second = SecretString::new(rpassword::prompt_password("The same passphrase again: ")?);
    if first.expose() != second.expose() {
        return Err(UsageError("the two passphrases differ".to_owned()).into());
    }
    if first.expose().is_empty() {
        return Err(UsageError("the passphrase is empty".to_owned()).into());
    }
    Ok(first)
}

fn print_init_outcome(outcome: &InitOutcome, key_file: Option<&Path>, config: &Config) -> std::io::Result<()> {
    output::line("Latch is initialized.")?;
    output::line("")?;
    output::line(&format!("  Admin username:     {}", outcome.admin_username))?;
    output::line(&format!("  One-time password:  {}", outcome.admin_one_time_password.expose()))?;
    output::line("                      (it must be changed at the first login)")?;
    output::line("")?;
    if let Some(path) = key_file {
        output::line(&format!("  Unseal key written to: {}", path.display()))?;
        output::line("  Back it up and keep it off this host: with it and the database, every stored")?;
        output::line("  credential can be read.")?;
        if path != config.unseal.key_file.path() {
            output::line(&format!(
                "  `latch serve` reads it only when told: set unseal.key_file or {}.",
                config::ENV_UNSEAL_KEY_FILE
            ))?;
        }
    } else if outcome.shares.is_empty() {
        output::line("  Unseal with the passphrase: `latch serve` reads it from unseal.passphrase_file,")?;
        output::line(&format!(
            "  {} or {}; otherwise it starts sealed.",
            config::ENV_UNSEAL_PASSPHRASE_FILE,
            config::ENV_UNSEAL_PASSPHRASE
        ))?;
    } else {
        print_shares(&outcome.shares)?;
    }
    Ok(())
}

fn print_shares(shares: &[SecretString]) -> std::io::Result<()> {
    output::line("  Unseal shares (shown once, stored nowhere; give each to a different person):")?;
    for (index, share) in shares.iter().enumerate() {
        output::line(&format!("    share {}: {}", index + 1, share.expose()))?;
    }
    output::line("")?;
    output::line("  `latch serve` starts sealed; unseal it with `latch unseal`, one share per holder.")
}

/// Connects to the database of `config` and applies pending migrations.
pub async fn connect_store(config: &Config) -> anyhow::Result<Store> {
    create_sqlite_file_privately(config.database_url.expose())?;
    Store::connect(config.database_url.expose())
        .await
        .with_context(|| format!("cannot open the database {}", config.database_url.redacted()))
}

/// Creates a new SQLite database file with mode 0600 before SQLite does (SQLite gives its
/// journal files the database file's mode, so they stay private too).
fn create_sqlite_file_privately(url: &str) -> anyhow::Result<()> {
    let Some(rest) = url.strip_prefix("sqlite://") else { return Ok(()) };
    let path = Path::new(rest.split('?').next().unwrap_or_default());
    if path.as_os_str().is_empty() || path.exists() {
        return Ok(());
    }
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(err).with_context(|| format!("cannot create the database file {}", path.display())),
    }
}

/// Creates `dir` and any missing parents, the new ones with mode 0700; warns when an existing
/// directory can be read by others.
pub fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create the directory {}", dir.display()))?;
    let mode =
        std::fs::metadata(dir).with_context(|| format!("cannot inspect {}", dir.display()))?.permissions().mode();
    if mode & 0o077 != 0 {
        let mode = format!("{:o}", mode & 0o777);
        tracing::warn!(dir = %dir.display(), mode, "directory is accessible to other users; chmod 700 it");
    }
    Ok(())
}

/// Writes `bytes` to a new file at `path` (mode 0600), which must not exist yet.
pub fn write_new_private_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    NewPrivateFile::create(path)?.write_and_sync(bytes)
}

/// A new, empty file that only its owner can read, waiting for its content.
#[derive(Debug)]
pub struct NewPrivateFile {
    file: File,
    path: PathBuf,
}

impl NewPrivateFile {
    /// Creates the file (and its directory, 0700); fails if it exists, never overwriting.
    pub fn create(path: &Path) -> anyhow::Result<NewPrivateFile> {
        if let Some(parent) = path.parent() {
            create_private_dir(parent)?;
        }
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(NewPrivateFile { file, path: path.to_owned() })
    }

    /// Writes the content and makes it durable: the file, then the directory entry.
    pub fn write_and_sync(mut self, bytes: &[u8]) -> anyhow::Result<()> {
        self.file.write_all(bytes).with_context(|| format!("cannot write {}", self.path.display()))?;
        self.file.sync_all().with_context(|| format!("cannot sync {}", self.path.display()))?;
        if let Some(parent) = self.path.parent() {
            File::open(parent)
                .and_then(|dir| dir.sync_all())
                .with_context(|| format!("cannot sync the directory {}", parent.display()))?;
        }
        Ok(())
    }

    /// Removes the still-empty file after the step it was for failed.
    pub fn abandon(self) {
        drop(self.file);
        if let Err(err) = std::fs::remove_file(&self.path) {
            tracing::warn!(path = %self.path.display(), %err, "cannot remove an unused empty file");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_files_are_new_and_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/secret");
        write_new_private_file(&path, b"s3cret").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"s3cret");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(dir.path().join("sub")).unwrap().permissions().mode() & 0o777, 0o700);
        assert!(write_new_private_file(&path, b"other").is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"s3cret");
    }

    #[test]
    fn passphrase_is_the_first_line() {
        assert_eq!(first_line("correct horse battery\n".to_owned(), "x").unwrap().expose(), "correct horse battery");
        assert_eq!(first_line("a b\r\nrest".to_owned(), "x").unwrap().expose(), "a b");
        assert_eq!(first_line(" spaced \n".to_owned(), "x").unwrap().expose(), " spaced ");
        assert!(first_line("\n".to_owned(), "x").is_err());
    }
}
