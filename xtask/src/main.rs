//! Project automation, run as `cargo xtask <task>` (the alias lives in `.cargo/config.toml`).

mod tidy;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  tidy    check crate dependency directions, where SQL may live, and file lengths";

fn main() -> ExitCode {
    match run_task(std::env::args().nth(1).as_deref()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // Not returned from main: that would print a backtrace whenever RUST_BACKTRACE is set.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_task(task: Option<&str>) -> anyhow::Result<()> {
    match task {
        Some("tidy") => tidy::run(&workspace_root()?),
        None | Some("help" | "--help" | "-h") => {
            eprintln!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown task {other:?}\n\n{USAGE}"),
    }
}

/// xtask lives directly under the workspace root. `cargo run` sets CARGO_MANIFEST_DIR at run time too; that one wins
/// over the compile-time value, which a target directory shared between two checkouts can make stale.
fn workspace_root() -> anyhow::Result<PathBuf> {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir.parent().map(Path::to_path_buf).context("xtask's manifest directory has no parent")
}
