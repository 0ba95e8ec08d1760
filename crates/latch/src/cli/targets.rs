//! `latch targets …`: the hosts Latch gives access to, and the inventory as a JSON document.

use super::{OutputArgs, accounts, connection, progress, prompt, show};
use crate::UsageError;
use anyhow::Context;
use latch_api::client::Client;
use latch_api::{
    CreateTargetRequest, ImportReportView, InventoryDocumentView, PinHostKeyRequest, TargetDetailsView,
    TargetSearchParams, TargetSearchView, TargetView, UpdateTargetRequest,
};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `latch targets`
#[derive(clap::Args, Debug)]
pub struct TargetsArgs {
    #[command(subcommand)]
    command: TargetsCommand,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(clap::Subcommand, Debug)]
enum TargetsCommand {
    /// Add a target.
    Add(AddArgs),
    /// List targets.
    List(PageArgs),
    /// Search targets by text (in name, address or description), tag and protocol.
    Search {
        /// Text to look for, case-insensitive.
        text: Option<String>,
        #[arg(long, value_name = "TAG")]
        tag: Option<String>,
        #[arg(long, value_name = "PROTOCOL")]
        protocol: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show a target (by name or id) with its accounts.
    Show { target: String },
    /// Change a target.
    Update(UpdateArgs),
    /// Delete a target with its accounts and their secrets.
    Rm { target: String },
    /// Connect to the target from the Latch server, show the SSH host key it presents, and pin it once you
    /// confirm (trust on first use: compare the fingerprint with one obtained out of band).
    FetchHostKey {
        target: String,
        /// Pin without asking (only when the fingerprint was checked another way).
        #[arg(long)]
        yes: bool,
    },
    /// Write the whole inventory (without secrets) as a JSON document.
    Export {
        /// Write to this file instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Create or update targets and accounts from a JSON document (as `export` writes; `-` reads
    /// standard input). Nothing is deleted; all or nothing.
    Import { file: PathBuf },
}

#[derive(clap::Args, Debug)]
struct PageArgs {
    #[arg(long, default_value_t = 100)]
    limit: i64,
    #[arg(long, default_value_t = 0)]
    offset: i64,
}

#[derive(clap::Args, Debug)]
struct AddArgs {
    name: String,
    /// Host name or IP address.
    #[arg(long, value_name = "HOST")]
    address: String,
    /// Defaults to the first protocol's standard port.
    #[arg(long)]
    port: Option<u16>,
    /// ssh, telnet, rdp or postgres (repeat for several; default ssh).
    #[arg(long = "protocol", value_name = "PROTOCOL")]
    protocols: Vec<String>,
    /// A tag (repeat for several).
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    #[arg(long, value_name = "TEXT", default_value = "")]
    description: String,
    /// The expected host key: `SHA256:…` (SSH) or `sha256/<hex>` (TLS certificate).
    #[arg(long, value_name = "PIN")]
    host_key_pin: Option<String>,
}

#[derive(clap::Args, Debug)]
struct UpdateArgs {
    target: String,
    #[arg(long, value_name = "HOST")]
    address: Option<String>,
    #[arg(long)]
    port: Option<u16>,
    /// Replace the protocols with these (repeat for several).
    #[arg(long = "protocol", value_name = "PROTOCOL")]
    protocols: Vec<String>,
    /// Replace the tags with these (repeat for several).
    #[arg(long = "tag", value_name = "TAG", conflicts_with = "clear_tags")]
    tags: Vec<String>,
    /// Remove every tag.
    #[arg(long)]
    clear_tags: bool,
    #[arg(long, value_name = "TEXT")]
    description: Option<String>,
    #[arg(long, value_name = "PIN", conflicts_with = "remove_host_key_pin")]
    host_key_pin: Option<String>,
    /// Forget the pinned host key.
    #[arg(long)]
    remove_host_key_pin: bool,
}

pub async fn run(args: TargetsArgs) -> anyhow::Result<ExitCode> {
    let client = connection::authenticated()?;
    let json = args.output.json;
    match args.command {
        TargetsCommand::Add(add) => {
            let target = client.create_target(&create_request(add)).await.context("cannot add the target")?;
            show::result(json, &target, print_target)?;
        }
        TargetsCommand::List(page) => search(&client, TargetSearchParams::default(), page, json).await?,
        TargetsCommand::Search { text, tag, protocol, page } => {
            let params = TargetSearchParams { q: text, tag, protocol, ..TargetSearchParams::default() };
            search(&client, params, page, json).await?;
        }
        TargetsCommand::Show { target } => show::result(json, &client.get_target(&target).await?, print_details)?,
        TargetsCommand::Update(update) => {
            let target = client.update_target(&update.target, &update_request(&update)).await?;
            show::result(json, &target, print_target)?;
        }
        TargetsCommand::Rm { target } => {
            client.delete_target(&target).await?;
            show::result(json, &serde_json::json!({ "deleted": target }), |_| {
                show::line(&format!("Deleted {target} with its accounts."))
            })?;
        }
        TargetsCommand::FetchHostKey { target, yes } => fetch_host_key(&client, &target, yes, json).await?,
        TargetsCommand::Export { output } => export(&client, output.as_deref()).await?,
        TargetsCommand::Import { file } => import(&client, &file, json).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Shows the presented key and pins exactly that fingerprint after confirmation, so what is pinned is what the
/// administrator saw.
async fn fetch_host_key(client: &Client, target: &str, yes: bool, json: bool) -> anyhow::Result<()> {
    let presented = client.fetch_host_key(target).await.context("cannot fetch the host key")?;
    if !json {
        show::line(&format!(
            "{target} presents this {} host key:\n  {}\n  {}",
            presented.algorithm, presented.fingerprint, presented.openssh
        ))?;
    }
    let question = format!("Pin {} for {target}?", presented.fingerprint);
    if !yes && !prompt::confirm(&question, "pass --yes after checking the fingerprint")? {
        return Err(UsageError("not pinned".to_owned()).into());
    }
    let request = PinHostKeyRequest { fingerprint: presented.fingerprint.clone() };
    let pinned = client.pin_host_key(target, &request).await.context("cannot pin the host key")?;
    show::result(json, &pinned, |t| show::line(&format!("Pinned {} for {}.", presented.fingerprint, t.name)))
}

fn create_request(args: AddArgs) -> CreateTargetRequest {
    CreateTargetRequest {
        name: args.name,
        address: args.address,
        port: args.port,
        protocols: args.protocols,
        tags: args.tags,
        description: args.description,
        host_key_pin: args.host_key_pin,
    }
}

fn update_request(args: &UpdateArgs) -> UpdateTargetRequest {
    let tags = if args.clear_tags { Some(Vec::new()) } else { Some(args.tags.clone()).filter(|t| !t.is_empty()) };
    let host_key_pin = if args.remove_host_key_pin { Some(String::new()) } else { args.host_key_pin.clone() };
    UpdateTargetRequest {
        address: args.address.clone(),
        port: args.port,
        protocols: Some(args.protocols.clone()).filter(|p| !p.is_empty()),
        tags,
        description: args.description.clone(),
        host_key_pin,
    }
}

async fn search(client: &Client, mut params: TargetSearchParams, page: PageArgs, json: bool) -> anyhow::Result<()> {
    params.limit = Some(page.limit);
    params.offset = Some(page.offset);
    let found = client.search_targets(&params).await?;
    show::result(json, &found, print_targets)
}

/// Writes the inventory document to `output` (through a temporary file renamed at the end) or stdout.
async fn export(client: &Client, output: Option<&Path>) -> anyhow::Result<()> {
    let spinner = progress::waiting("exporting the inventory");
    let document = client.export_inventory().await;
    spinner.finish_and_clear();
    let document = document.context("cannot export the inventory")?;
    let mut text = serde_json::to_string_pretty(&document).context("cannot write the document as JSON")?;
    text.push('\n');
    match output {
        Some(path) => {
            write_file_atomically(path, text.as_bytes())?;
            prompt::ask(&format!("Exported {} targets to {}.\n", document.targets.len(), path.display()))
        }
        None => show::line(text.trim_end()).context("cannot write to stdout"),
    }
}

async fn import(client: &Client, file: &Path, json: bool) -> anyhow::Result<()> {
    let text = if file == Path::new("-") {
        prompt::stdin_all("the inventory document")?
    } else {
        prompt::file(file, "the inventory document")?
    };
    let document: InventoryDocumentView = serde_json::from_str(&text)
        .map_err(|err| UsageError(format!("{} is not an inventory document: {err}", file.display())))?;
    let spinner = progress::waiting(&format!("importing {} targets", document.targets.len()));
    let report = client.import_inventory(&document).await;
    spinner.finish_and_clear();
    let report = report.context("cannot import the inventory")?;
    show::result(json, &report, print_import)
}

/// Writes `bytes` to `path` by way of a temporary file in the same directory, so that a failed
/// export never leaves half a document behind.
pub fn write_file_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let name = path.file_name().with_context(|| format!("{} is not a file name", path.display()))?;
    let mut temporary_name = std::ffi::OsString::from(".");
    temporary_name.push(name);
    temporary_name.push(format!(".{}.partial", std::process::id()));
    let temporary = path.with_file_name(temporary_name);
    let written = std::fs::File::create(&temporary)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()))
        .and_then(|()| std::fs::rename(&temporary, path));
    if let Err(err) = written {
        let _ignored = std::fs::remove_file(&temporary);
        return Err(err).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}

fn print_targets(found: &TargetSearchView) -> std::io::Result<()> {
    let mut table = show::Table::new(&["NAME", "ADDRESS", "PORT", "PROTOCOLS", "TAGS", "DESCRIPTION"]);
    for target in &found.targets {
        table.row(vec![
            target.name.clone(),
            target.address.clone(),
            target.port.to_string(),
            show::list(&target.protocols),
            show::list(&target.tags),
            target.description.clone(),
        ]);
    }
    table.print()?;
    let shown = i64::try_from(found.targets.len()).unwrap_or(i64::MAX);
    if shown < found.total {
        show::line(&format!("({shown} of {} shown; use --limit and --offset for more)", found.total))?;
    }
    Ok(())
}

fn target_fields(target: &TargetView) -> Vec<(&'static str, String)> {
    vec![
        ("name", target.name.clone()),
        ("id", target.id.clone()),
        ("address", target.address.clone()),
        ("port", target.port.to_string()),
        ("protocols", show::list(&target.protocols)),
        ("tags", show::list(&target.tags)),
        ("description", show::optional(Some(&target.description))),
        ("host key pin", show::optional(target.host_key_pin.as_deref())),
        ("created", target.created_at.clone()),
        ("updated", target.updated_at.clone()),
    ]
}

fn print_target(target: &TargetView) -> std::io::Result<()> {
    show::fields(&target_fields(target))
}

fn print_details(details: &TargetDetailsView) -> std::io::Result<()> {
    print_target(&details.target)?;
    show::line("")?;
    accounts::print_accounts(&details.accounts)
}

fn print_import(report: &ImportReportView) -> std::io::Result<()> {
    show::fields(&[
        ("targets created", report.targets_created.to_string()),
        ("targets updated", report.targets_updated.to_string()),
        ("accounts created", report.accounts_created.to_string()),
        ("accounts updated", report.accounts_updated.to_string()),
    ])
}
