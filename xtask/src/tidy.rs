//! `cargo xtask tidy`: structural checks that the compiler does not make.
//!
//! - crate dependency directions (`crate_edges`), and dependencies some crates must not have (`dependency_bans`);
//! - SQL text only in `latch-store` (`sql_text`);
//! - no source file over 700 lines of non-test code (`file_length`).
//!
//! Every check returns a list of violations; tidy prints them all and fails if there is any.

mod crate_edges;
mod dependency_bans;
mod file_length;
mod manifest;
mod sql_text;

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// One broken rule, with where it was found (a manifest or `file:line`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub location: String,
    pub message: String,
}

impl Violation {
    pub fn new(location: impl Into<String>, message: impl Into<String>) -> Violation {
        Violation { location: location.into(), message: message.into() }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

pub fn run(root: &Path) -> anyhow::Result<()> {
    let (crates, mut violations) = manifest::load_workspace(root)?;
    violations.extend(crate_edges::check(&crates));
    violations.extend(dependency_bans::check(&crates));
    violations.extend(sql_text::check(root, &crates)?);
    violations.extend(file_length::check(root)?);

    violations.sort_by(|left, right| left.location.cmp(&right.location));
    if violations.is_empty() {
        eprintln!("tidy: ok ({} crates checked)", crates.len());
        return Ok(());
    }
    eprintln!("tidy: {} violation(s):", violations.len());
    for violation in &violations {
        eprintln!("  {violation}");
    }
    bail!("tidy found {} violation(s)", violations.len())
}

/// Files under `dir` (recursively) whose name ends with `suffix`, sorted; skips build output, dependencies and
/// hidden directories.
fn files_with_suffix(dir: &Path, suffix: &str) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = match fs::read_dir(&current) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error).with_context(|| format!("reading {}", current.display())),
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                if !(name.starts_with('.') || name == "target" || name == "node_modules") {
                    pending.push(path);
                }
            } else if name.ends_with(suffix) {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// `path` relative to the workspace root, for messages.
fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}
