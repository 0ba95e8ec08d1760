//! Which workspace crate may depend on which (normal and build dependencies; dev-dependencies are free).
//!
//! A new edge between workspace crates is a design decision: it is made here, in `ALLOWED_EDGES`, on purpose.

use super::Violation;
use super::manifest::CrateManifest;

#[derive(Debug, Clone, Copy)]
enum Allowed {
    Only(&'static [&'static str]),
    Any,
}

const FRONT_END: Allowed = Allowed::Only(&["latch-domain", "latch-app", "latch-vault", "latch-recording"]);

/// Every workspace crate, and the workspace crates it may depend on. A crate missing here fails tidy.
const ALLOWED_EDGES: &[(&str, Allowed)] = &[
    ("latch-domain", Allowed::Only(&[])),
    ("latch-vault", Allowed::Only(&["latch-domain"])),
    ("latch-store", Allowed::Only(&["latch-domain"])),
    ("latch-app", Allowed::Only(&["latch-domain", "latch-vault", "latch-store"])),
    ("latch-api", Allowed::Only(&[])),
    ("latch-http", Allowed::Only(&["latch-domain", "latch-app", "latch-api", "latch-vault"])),
    ("latch-recording", Allowed::Only(&["latch-domain"])),
    ("latch-ssh", FRONT_END),
    ("latch-telnet", FRONT_END),
    ("latch-rdp", FRONT_END),
    ("latch", Allowed::Any),
    ("latch-testkit", Allowed::Any),
    ("xtask", Allowed::Only(&[])),
];

/// Workspace crates that may only appear under `[dev-dependencies]`.
const DEV_ONLY: &[&str] = &["latch-testkit"];

pub fn check(crates: &[CrateManifest]) -> Vec<Violation> {
    let workspace_crate = |name: &str| crates.iter().any(|member| member.name == name);
    let mut violations = Vec::new();
    for member in crates {
        let Some(allowed) = allowed_edges(&member.name) else {
            violations.push(Violation::new(
                member.manifest_path(),
                format!(
                    "unknown workspace crate `{}`: add it, with the crates it may depend on, to ALLOWED_EDGES in \
                     xtask/src/tidy/crate_edges.rs",
                    member.name
                ),
            ));
            continue;
        };
        for dependency in member.non_dev_dependencies().filter(|dependency| workspace_crate(&dependency.name)) {
            let target = dependency.name.as_str();
            if DEV_ONLY.contains(&target) {
                violations.push(Violation::new(
                    member.manifest_path(),
                    format!(
                        "`{target}` may only be listed under [dev-dependencies], not under {}",
                        dependency.kind.section()
                    ),
                ));
            } else if let Allowed::Only(targets) = allowed
                && !targets.contains(&target)
            {
                violations.push(Violation::new(
                    member.manifest_path(),
                    format!("`{}` must not depend on `{target}` (allowed: {})", member.name, describe(targets)),
                ));
            }
        }
    }
    violations
}

fn allowed_edges(name: &str) -> Option<Allowed> {
    ALLOWED_EDGES.iter().find(|(crate_name, _)| *crate_name == name).map(|(_, allowed)| *allowed)
}

fn describe(targets: &[&str]) -> String {
    if targets.is_empty() { String::from("no workspace crates") } else { targets.join(", ") }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use super::*;
    use crate::tidy::manifest::parse_manifest;

    fn manifest(name: &str, dependencies: &str, dev_dependencies: &str) -> anyhow::Result<CrateManifest> {
        let text = format!(
            "[package]\nname = \"{name}\"\n\n[dependencies]\n{dependencies}\n\n[dev-dependencies]\n{dev_dependencies}\n"
        );
        parse_manifest(&text, PathBuf::from(format!("crates/{name}")), &BTreeMap::new())
    }

    fn good_workspace() -> anyhow::Result<Vec<CrateManifest>> {
        Ok(vec![
            manifest("latch-domain", "uuid = \"1\"", "")?,
            manifest("latch-vault", "latch-domain.workspace = true", "")?,
            manifest("latch-store", "latch-domain.workspace = true\nsqlx = \"0.9\"", "")?,
            manifest(
                "latch-app",
                "latch-domain.workspace = true\nlatch-vault.workspace = true\nlatch-store.workspace = true",
                "latch-testkit.workspace = true",
            )?,
            manifest("latch-api", "serde = \"1\"", "")?,
            manifest(
                "latch-http",
                "latch-domain.workspace = true\nlatch-app.workspace = true\nlatch-api.workspace = true",
                "latch-testkit.workspace = true\nlatch-store.workspace = true",
            )?,
            manifest("latch-testkit", "latch-store.workspace = true\nlatch-app.workspace = true", "")?,
            manifest("latch", "latch-http.workspace = true\nlatch-store.workspace = true", "")?,
        ])
    }

    #[test]
    fn the_intended_shape_passes() -> anyhow::Result<()> {
        assert_eq!(check(&good_workspace()?), vec![]);
        Ok(())
    }

    #[test]
    fn a_front_end_depending_on_the_store_is_reported() -> anyhow::Result<()> {
        let mut crates = good_workspace()?;
        crates.push(manifest(
            "latch-ssh",
            "latch-app.workspace = true\nlatch-store = { path = \"../latch-store\" }",
            "",
        )?);
        let violations = check(&crates);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].location, "crates/latch-ssh/Cargo.toml");
        assert!(violations[0].message.contains("`latch-ssh` must not depend on `latch-store`"), "{violations:?}");
        Ok(())
    }

    #[test]
    fn the_domain_depending_on_anything_in_the_workspace_is_reported() -> anyhow::Result<()> {
        let mut crates = good_workspace()?;
        crates[0] = manifest("latch-domain", "latch-vault.workspace = true", "")?;
        let violations = check(&crates);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0].message.contains("allowed: no workspace crates"), "{violations:?}");
        Ok(())
    }

    #[test]
    fn testkit_outside_dev_dependencies_is_reported_even_for_the_binary() -> anyhow::Result<()> {
        let mut crates = good_workspace()?;
        crates[7] = manifest("latch", "latch-http.workspace = true\nlatch-testkit.workspace = true", "")?;
        let violations = check(&crates);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0].message.contains("only be listed under [dev-dependencies]"), "{violations:?}");
        Ok(())
    }

    #[test]
    fn an_unknown_workspace_crate_is_reported() -> anyhow::Result<()> {
        let mut crates = good_workspace()?;
        crates.push(manifest("latch-common", "", "")?);
        let violations = check(&crates);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0].message.contains("unknown workspace crate `latch-common`"), "{violations:?}");
        Ok(())
    }

    #[test]
    fn external_crates_are_not_edges() -> anyhow::Result<()> {
        let crates = vec![manifest("latch-domain", "regex = \"1\"\nlatch-something-external = \"1\"", "")?];
        assert_eq!(check(&crates), vec![]);
        Ok(())
    }
}
