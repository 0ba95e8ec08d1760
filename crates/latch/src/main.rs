//! The `latch` binary: `latch serve`, `latch init` and the client subcommands.
//!
//! This crate only wires: it turns the command line, the config file and the environment into a
//! validated [`config::Config`], builds the application, starts the front ends and the named
//! background tasks, and shuts them down. It holds no business logic.

mod cli;
mod config;
mod host_key;
mod incidents;
mod init;
mod output;
mod recorded_events;
mod recording_files;
mod recording_path;
mod recording_retention;
mod recording_upload;
mod serve;
mod siem;
mod tasks;
mod tls;
mod webhooks;

use clap::{Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

/// Latch: privileged access management.
#[derive(Parser, Debug)]
#[command(name = "latch", version, about, propagate_version = true)]
struct Cli {
    /// How log lines on stderr look.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Which log lines to show, as in RUST_LOG: `info`, `debug`, `latch=debug,sqlx=warn`, …
    /// (default: `info` for `serve` and `init`, `warn` for client commands).
    #[arg(long, global = true, env = "RUST_LOG", value_name = "FILTER")]
    log_level: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server. On an empty data directory, initialize it first and print the admin's
    /// one-time password and where the unseal key was written.
    Serve(serve::ServeArgs),
    /// Initialize a new vault for production: choose how it is unsealed (passphrase, Shamir
    /// shares or a key file at a place you pick). Refuses when already initialized.
    Init(init::InitArgs),
    #[command(flatten)]
    Client(cli::ClientCommand),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// A problem the operator fixes in the command line, the environment or the config file.
/// `latch` exits with [`EXIT_USAGE`] on it.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A runtime failure.
pub const EXIT_FAILURE: u8 = 1;
/// A usage or configuration error (clap uses 2 too).
pub const EXIT_USAGE: u8 = 2;
/// The vault is sealed or not initialized (client commands that need it).
pub const EXIT_SEALED: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Two rustls crypto providers can end up linked in (rcgen and reqwest pull their own); rustls
    // refuses to guess, so name one before any TLS is used. It fails only when one is installed.
    let _already_installed = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let default_level = match cli.command {
        Command::Serve(_) | Command::Init(_) => "info",
        Command::Client(_) => "warn",
    };
    if let Err(err) = init_logging(cli.log_format, cli.log_level.as_deref().unwrap_or(default_level)) {
        output::error(&format!("error: {err}"));
        return ExitCode::from(EXIT_USAGE);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            output::error(&format!("error: cannot start the async runtime: {err}"));
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let log_format = cli.log_format;
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(err) => report_failure(&err, log_format),
    }
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve(args) => serve::run(args).await,
        Command::Init(args) => init::run(args).await,
        Command::Client(command) => cli::run(command).await,
    }
}

fn init_logging(format: LogFormat, filter: &str) -> Result<(), UsageError> {
    let filter = EnvFilter::try_new(filter).map_err(|err| UsageError(format!("--log-level {filter:?}: {err}")))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    installed.map_err(|err| UsageError(format!("cannot set up logging: {err}")))
}

fn report_failure(err: &anyhow::Error, format: LogFormat) -> ExitCode {
    let usage = err.chain().any(|cause| cause.is::<UsageError>());
    let code = if usage { EXIT_USAGE } else { EXIT_FAILURE };
    match format {
        LogFormat::Text => output::error(&format!("error: {err:#}")),
        LogFormat::Json => tracing::error!(error = format!("{err:#}"), exit_code = code, "latch stopped"),
    }
    ExitCode::from(code)
}
