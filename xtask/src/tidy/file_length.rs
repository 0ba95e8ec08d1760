//! No source file over `MAX_LINES` lines of non-test code: everything before the first `#[cfg(test)]` counts.

use std::fs;
use std::path::Path;

use anyhow::Context;

use super::{Violation, files_with_suffix, relative};

const MAX_LINES: usize = 700;
const CHECKED_DIRS: [&str; 2] = ["crates", "xtask"];

pub fn check(root: &Path) -> anyhow::Result<Vec<Violation>> {
    let mut violations = Vec::new();
    for dir in CHECKED_DIRS {
        for file in files_with_suffix(&root.join(dir), ".rs")? {
            let source = fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let lines = non_test_lines(&source);
            if lines > MAX_LINES {
                violations.push(Violation::new(
                    relative(root, &file),
                    format!("{lines} lines of non-test code (limit {MAX_LINES}): split it by responsibility"),
                ));
            }
        }
    }
    Ok(violations)
}

fn non_test_lines(source: &str) -> usize {
    source.lines().take_while(|line| !line.trim_start().starts_with("#[cfg(test)]")).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_lines_before_the_first_test_module() {
        assert_eq!(non_test_lines("fn a() {}\nfn b() {}\n"), 2);
        assert_eq!(non_test_lines("fn a() {}\n\n    #[cfg(test)]\nmod tests {\n}\n"), 2);
        assert_eq!(non_test_lines(""), 0);
    }

    #[test]
    fn long_files_are_reported() -> anyhow::Result<()> {
        let root = std::env::temp_dir().join(format!("xtask-file-length-{}", std::process::id()));
        let source_dir = root.join("crates/latch-example/src");
        fs::create_dir_all(&source_dir)?;
        let long = "fn f() {}\n".repeat(MAX_LINES + 1);
        let long_but_tests = format!("{}#[cfg(test)]\n{long}", "fn f() {}\n".repeat(MAX_LINES));
        fs::write(source_dir.join("long.rs"), &long)?;
        fs::write(source_dir.join("ok.rs"), long_but_tests)?;
        let violations = check(&root);
        fs::remove_dir_all(&root)?;
        let violations = violations?;
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].location, "crates/latch-example/src/long.rs");
        Ok(())
    }
}
