//! Reading the workspace's Cargo.toml files: each member's package name and dependencies by kind.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use toml::{Table, Value};

use super::{Violation, relative};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DependencyKind {
    Normal,
    Build,
    Dev,
}

impl DependencyKind {
    pub fn section(self) -> &'static str {
        match self {
            DependencyKind::Normal => "[dependencies]",
            DependencyKind::Build => "[build-dependencies]",
            DependencyKind::Dev => "[dev-dependencies]",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// The package name (after `package = "..."` renames), not the key it is listed under.
    pub name: String,
    pub kind: DependencyKind,
}

#[derive(Debug, Clone)]
pub struct CrateManifest {
    pub name: String,
    /// The crate's directory relative to the workspace root, e.g. `crates/latch-app`.
    pub dir: PathBuf,
    pub dependencies: Vec<Dependency>,
}

impl CrateManifest {
    /// Normal and build dependencies: what ends up in (or builds) the crate itself.
    pub fn non_dev_dependencies(&self) -> impl Iterator<Item = &Dependency> {
        self.dependencies.iter().filter(|dependency| dependency.kind != DependencyKind::Dev)
    }

    pub fn manifest_path(&self) -> String {
        self.dir.join("Cargo.toml").display().to_string()
    }
}

/// Every workspace member's manifest, plus violations found on the way (a folder not named like its crate).
pub fn load_workspace(root: &Path) -> anyhow::Result<(Vec<CrateManifest>, Vec<Violation>)> {
    let root_text = read(&root.join("Cargo.toml"))?;
    let root_manifest: Table = root_text.parse().context("parsing the root Cargo.toml")?;
    let renames = workspace_renames(&root_manifest);

    let mut crates = Vec::new();
    let mut violations = Vec::new();
    for dir in member_dirs(root, &root_manifest)? {
        let manifest_path = dir.join("Cargo.toml");
        let text = read(&manifest_path)?;
        let relative_dir = PathBuf::from(relative(root, &dir));
        let manifest = parse_manifest(&text, relative_dir, &renames)
            .with_context(|| format!("parsing {}", manifest_path.display()))?;
        let folder = dir.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        if folder != manifest.name {
            violations.push(Violation::new(
                manifest.manifest_path(),
                format!("crate `{}` lives in folder `{folder}`: folder name must equal crate name", manifest.name),
            ));
        }
        crates.push(manifest);
    }
    Ok((crates, violations))
}

/// Parses one member's Cargo.toml. `renames` maps `[workspace.dependencies]` keys to package names where they differ.
pub fn parse_manifest(text: &str, dir: PathBuf, renames: &BTreeMap<String, String>) -> anyhow::Result<CrateManifest> {
    let table: Table = text.parse()?;
    let Some(name) = table.get("package").and_then(|package| package.get("name")).and_then(Value::as_str) else {
        bail!("no [package] name");
    };
    let mut dependencies = Vec::new();
    collect_dependency_sections(&table, renames, &mut dependencies);
    if let Some(targets) = table.get("target").and_then(Value::as_table) {
        for target in targets.values().filter_map(Value::as_table) {
            collect_dependency_sections(target, renames, &mut dependencies);
        }
    }
    Ok(CrateManifest { name: name.to_owned(), dir, dependencies })
}

fn collect_dependency_sections(table: &Table, renames: &BTreeMap<String, String>, into: &mut Vec<Dependency>) {
    const SECTIONS: [(&str, DependencyKind); 5] = [
        ("dependencies", DependencyKind::Normal),
        ("build-dependencies", DependencyKind::Build),
        ("build_dependencies", DependencyKind::Build),
        ("dev-dependencies", DependencyKind::Dev),
        ("dev_dependencies", DependencyKind::Dev),
    ];
    for (section, kind) in SECTIONS {
        let Some(entries) = table.get(section).and_then(Value::as_table) else {
            continue;
        };
        for (key, spec) in entries {
            into.push(Dependency { name: package_name(key, spec, renames), kind });
        }
    }
}

fn package_name(key: &str, spec: &Value, renames: &BTreeMap<String, String>) -> String {
    if let Some(package) = spec.get("package").and_then(Value::as_str) {
        return package.to_owned();
    }
    let inherited = spec.get("workspace").and_then(Value::as_bool) == Some(true);
    match renames.get(key) {
        Some(package) if inherited => package.clone(),
        _ => key.to_owned(),
    }
}

fn workspace_renames(root_manifest: &Table) -> BTreeMap<String, String> {
    let entries =
        root_manifest.get("workspace").and_then(|workspace| workspace.get("dependencies")).and_then(Value::as_table);
    entries
        .into_iter()
        .flatten()
        .filter_map(|(key, spec)| Some((key.clone(), spec.get("package")?.as_str()?.to_owned())))
        .collect()
}

/// Directories named by `workspace.members`: plain paths, or `dir/*` for every subfolder with a Cargo.toml.
fn member_dirs(root: &Path, root_manifest: &Table) -> anyhow::Result<Vec<PathBuf>> {
    let members = root_manifest
        .get("workspace")
        .and_then(|workspace| workspace.get("members"))
        .and_then(Value::as_array)
        .context("the root Cargo.toml has no workspace.members")?;
    let mut dirs = Vec::new();
    for member in members {
        let Some(member) = member.as_str() else {
            bail!("workspace.members holds a non-string: {member}");
        };
        if let Some(parent) = member.strip_suffix("/*") {
            for entry in fs::read_dir(root.join(parent)).with_context(|| format!("listing {parent}"))? {
                let path = entry?.path();
                if path.join("Cargo.toml").is_file() {
                    dirs.push(path);
                }
            }
        } else if member.contains('*') {
            bail!("workspace member pattern {member:?} is not understood by tidy (only `dir/*` is)");
        } else {
            dirs.push(root.join(member));
        }
    }
    dirs.sort();
    Ok(dirs)
}

fn read(path: &Path) -> anyhow::Result<String> {
    fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_by_kind_with_renames_and_targets() -> anyhow::Result<()> {
        let text = r#"
            [package]
            name = "latch-example"

            [dependencies]
            latch-domain.workspace = true
            store = { workspace = true }
            plain = "1"
            renamed = { version = "1", package = "real-name" }

            [dev-dependencies]
            latch-testkit.workspace = true

            [build-dependencies]
            cc = "1"

            [target.'cfg(unix)'.dependencies]
            nix = "0.29"
        "#;
        let renames = BTreeMap::from([("store".to_owned(), "latch-store".to_owned())]);
        let manifest = parse_manifest(text, PathBuf::from("crates/latch-example"), &renames)?;
        assert_eq!(manifest.name, "latch-example");
        let mut listed: Vec<(&str, DependencyKind)> =
            manifest.dependencies.iter().map(|dependency| (dependency.name.as_str(), dependency.kind)).collect();
        listed.sort_by_key(|(name, _)| *name);
        assert_eq!(
            listed,
            vec![
                ("cc", DependencyKind::Build),
                ("latch-domain", DependencyKind::Normal),
                ("latch-store", DependencyKind::Normal),
                ("latch-testkit", DependencyKind::Dev),
                ("nix", DependencyKind::Normal),
                ("plain", DependencyKind::Normal),
                ("real-name", DependencyKind::Normal),
            ]
        );
        Ok(())
    }

    #[test]
    fn a_manifest_without_package_name_is_an_error() {
        let parsed = parse_manifest("[dependencies]\nfoo = \"1\"\n", PathBuf::from("x"), &BTreeMap::new());
        assert!(parsed.is_err());
    }
}
