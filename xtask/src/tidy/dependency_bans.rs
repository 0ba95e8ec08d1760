//! External dependencies some crates must not have, so that the layering in ARCHITECTURE.md holds.

use super::Violation;
use super::manifest::CrateManifest;

/// The only crate that may talk SQL.
const SQL_CRATE: &str = "latch-store";

struct Ban {
    crate_name: &'static str,
    /// Matched as the whole name or as a prefix followed by `-` or `_` (`tokio` also bans `tokio-util`).
    banned: &'static [&'static str],
    why: &'static str,
}

/// Normal and build dependencies only: dev-dependencies never reach the crate's users.
const BANS: &[Ban] = &[
    Ban {
        crate_name: "latch-domain",
        banned: &["serde", "sqlx", "tokio", "async-std", "smol", "futures", "async-trait", "async-executor"],
        why: "the domain model does no IO, no async and knows no serialization or SQL",
    },
    Ban {
        crate_name: "latch-http",
        banned: &["russh"],
        why: "front ends do not depend on other front ends' protocols",
    },
    Ban {
        crate_name: "latch-app",
        banned: &["axum", "hyper", "russh"],
        why: "the application layer knows no HTTP or SSH library",
    },
];

pub fn check(crates: &[CrateManifest]) -> Vec<Violation> {
    let mut violations = Vec::new();
    for member in crates {
        if member.name != SQL_CRATE {
            for dependency in member.dependencies.iter().filter(|dependency| matches_ban(&dependency.name, "sqlx")) {
                violations.push(Violation::new(
                    member.manifest_path(),
                    format!(
                        "only `{SQL_CRATE}` may depend on `{}` (found in {})",
                        dependency.name,
                        dependency.kind.section()
                    ),
                ));
            }
        }
        for ban in BANS.iter().filter(|ban| ban.crate_name == member.name) {
            for dependency in member.non_dev_dependencies() {
                if let Some(banned) = ban.banned.iter().find(|banned| matches_ban(&dependency.name, banned)) {
                    violations.push(Violation::new(
                        member.manifest_path(),
                        format!(
                            "`{}` must not depend on `{}` (banned: {banned}; {})",
                            member.name, dependency.name, ban.why
                        ),
                    ));
                }
            }
        }
    }
    violations
}

fn matches_ban(name: &str, banned: &str) -> bool {
    match name.strip_prefix(banned) {
        Some(rest) => rest.is_empty() || rest.starts_with('-') || rest.starts_with('_'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use super::*;
    use crate::tidy::manifest::parse_manifest;

    fn manifest(name: &str, sections: &str) -> anyhow::Result<CrateManifest> {
        let text = format!("[package]\nname = \"{name}\"\n\n{sections}\n");
        parse_manifest(&text, PathBuf::from(format!("crates/{name}")), &BTreeMap::new())
    }

    #[test]
    fn prefix_matching() {
        assert!(matches_ban("tokio", "tokio"));
        assert!(matches_ban("tokio-util", "tokio"));
        assert!(matches_ban("serde_json", "serde"));
        assert!(!matches_ban("tokious", "tokio"));
        assert!(!matches_ban("hyperlocal2", "hyper"));
    }

    #[test]
    fn allowed_dependencies_pass() -> anyhow::Result<()> {
        let crates = vec![
            manifest(
                "latch-domain",
                "[dependencies]\nuuid = \"1\"\nthiserror = \"2\"\n[dev-dependencies]\ntokio = \"1\"",
            )?,
            manifest("latch-store", "[dependencies]\nsqlx = \"0.9\"\nserde = \"1\"")?,
            manifest("latch-http", "[dependencies]\naxum = \"0.8\"\nhyper = \"1\"")?,
        ];
        assert_eq!(check(&crates), vec![]);
        Ok(())
    }

    #[test]
    fn banned_dependencies_are_reported() -> anyhow::Result<()> {
        let crates = vec![
            manifest("latch-domain", "[dependencies]\nserde_json = \"1\"\ntokio.workspace = true")?,
            manifest("latch-app", "[dependencies]\naxum-extra = \"0.12\"\n[dev-dependencies]\nsqlx = \"0.9\"")?,
            manifest("latch-http", "[dependencies]\nrussh = \"0.65\"")?,
        ];
        let messages: Vec<String> = check(&crates).iter().map(ToString::to_string).collect();
        assert_eq!(messages.len(), 5, "{messages:#?}");
        let expected = [
            "crates/latch-domain/Cargo.toml: `latch-domain` must not depend on `serde_json`",
            "crates/latch-domain/Cargo.toml: `latch-domain` must not depend on `tokio`",
            "crates/latch-app/Cargo.toml: only `latch-store` may depend on `sqlx` (found in [dev-dependencies])",
            "crates/latch-app/Cargo.toml: `latch-app` must not depend on `axum-extra`",
            "crates/latch-http/Cargo.toml: `latch-http` must not depend on `russh`",
        ];
        for wanted in expected {
            assert!(messages.iter().any(|message| message.starts_with(wanted)), "missing {wanted:?} in {messages:#?}");
        }
        Ok(())
    }
}
