//! Installs the web UI's browser-side libraries from npm with the lockfile (`npm ci` in `web-assets/`) when they
//! are missing, and copies the files the pages use into `OUT_DIR`, where `src/web/assets.rs` embeds them.
//! Nothing from npm is ever committed: `web-assets/node_modules/` is ignored.

use std::env;
use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::Command;

/// (file under node_modules, name the pages use).
const LIBRARIES: [(&str, &str); 3] = [
    ("htmx.org/dist/htmx.min.js", "htmx.min.js"),
    ("asciinema-player/dist/bundle/asciinema-player.min.js", "asciinema-player.min.js"),
    ("asciinema-player/dist/bundle/asciinema-player.css", "asciinema-player.css"),
];

fn main() -> Result<(), Box<dyn Error>> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let assets = manifest_dir.join("web-assets");
    let modules = assets.join("node_modules");
    println!("cargo::rerun-if-changed={}", assets.join("package.json").display());
    println!("cargo::rerun-if-changed={}", assets.join("package-lock.json").display());
    if LIBRARIES.iter().any(|(file, _)| !modules.join(file).is_file()) {
        npm_ci(&assets)?;
    }
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    for (file, name) in LIBRARIES {
        let source = modules.join(file);
        println!("cargo::rerun-if-changed={}", source.display());
        std::fs::copy(&source, out_dir.join(name)).map_err(|err| format!("copying {}: {err}", source.display()))?;
    }
    Ok(())
}

fn npm_ci(dir: &Path) -> Result<(), Box<dyn Error>> {
    let status = Command::new("npm")
        .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .status()
        .map_err(|err| format!("running `npm ci` in {} (is Node.js installed?): {err}", dir.display()))?;
    if !status.success() {
        return Err(format!("`npm ci` in {} failed with {status}", dir.display()).into());
    }
    Ok(())
}
