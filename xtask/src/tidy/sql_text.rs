//! SQL lives in `latch-store` only: no SQL statements in other crates' string literals, and no `.sql` files there.
//!
//! String literals are found with a small lexer that knows comments, char literals, lifetimes and raw strings, so
//! that doc comments may talk about `UPDATE … SET` freely. Keywords are matched in uppercase only.

use std::fs;
use std::path::Path;

use anyhow::Context;

use super::manifest::CrateManifest;
use super::{Violation, files_with_suffix, relative};

const SQL_CRATE: &str = "latch-store";

pub fn check(root: &Path, crates: &[CrateManifest]) -> anyhow::Result<Vec<Violation>> {
    let mut violations = Vec::new();
    let product_crates = crates.iter().filter(|member| member.dir.starts_with("crates"));
    for member in product_crates.filter(|member| member.name != SQL_CRATE) {
        let dir = root.join(&member.dir);
        for file in files_with_suffix(&dir.join("src"), ".rs")? {
            let source = fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            for literal in string_literals(&source) {
                let Some(pattern) = sql_pattern(&literal.text) else {
                    continue;
                };
                violations.push(Violation::new(
                    format!("{}:{}", relative(root, &file), literal.line),
                    format!("SQL text ({pattern}) outside {SQL_CRATE}: {:?}", snippet(&literal.text)),
                ));
            }
        }
        for file in files_with_suffix(&dir, ".sql")? {
            violations.push(Violation::new(
                relative(root, &file),
                format!("SQL file outside {SQL_CRATE}: migrations belong in {SQL_CRATE}/migrations"),
            ));
        }
    }
    Ok(violations)
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct StringLiteral {
    /// 1-based line of the opening quote.
    line: usize,
    /// The text between the quotes, escapes left as written.
    text: String,
}

/// The name of the SQL pattern `text` matches, if any; whitespace runs count as one space.
fn sql_pattern(text: &str) -> Option<&'static str> {
    const PLAIN: [&str; 6] =
        ["INSERT INTO", "DELETE FROM", "CREATE TABLE", "CREATE INDEX", "ALTER TABLE", "DROP TABLE"];
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let then = |first: &str, second: &str| text.find(first).is_some_and(|at| text[at..].contains(second));
    if then("SELECT ", " FROM ") {
        return Some("SELECT … FROM");
    }
    if then("UPDATE ", " SET ") {
        return Some("UPDATE … SET");
    }
    PLAIN.into_iter().find(|pattern| text.contains(pattern))
}

fn snippet(text: &str) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// Every string literal in Rust source (plain, byte, C and raw), outside comments.
fn string_literals(source: &str) -> Vec<StringLiteral> {
    let mut lexer = Lexer { chars: source.chars().collect(), at: 0, line: 1, found: Vec::new() };
    lexer.run();
    lexer.found
}

struct Lexer {
    chars: Vec<char>,
    at: usize,
    line: usize,
    found: Vec<StringLiteral>,
}

impl Lexer {
    fn run(&mut self) {
        while let Some(current) = self.peek(0) {
            match current {
                '/' if self.peek(1) == Some('/') => self.line_comment(),
                '/' if self.peek(1) == Some('*') => self.block_comment(),
                '"' => self.quoted_string(),
                '\'' => self.char_or_lifetime(),
                c if c == '_' || c.is_alphabetic() => self.word(),
                _ => self.advance(),
            }
        }
    }

    fn peek(&self, offset: usize) -> Option<char> {
        self.chars.get(self.at + offset).copied()
    }

    fn advance(&mut self) {
        if self.peek(0) == Some('\n') {
            self.line += 1;
        }
        self.at += 1;
    }

    fn line_comment(&mut self) {
        while self.peek(0).is_some_and(|c| c != '\n') {
            self.advance();
        }
    }

    /// Block comments nest in Rust.
    fn block_comment(&mut self) {
        let mut depth = 0usize;
        while self.peek(0).is_some() {
            if self.peek(0) == Some('/') && self.peek(1) == Some('*') {
                depth += 1;
                self.at += 2;
            } else if self.peek(0) == Some('*') && self.peek(1) == Some('/') {
                depth -= 1;
                self.at += 2;
                if depth == 0 {
                    return;
                }
            } else {
                self.advance();
            }
        }
    }

    /// `"…"` with backslash escapes; the lexer stands on the opening quote.
    fn quoted_string(&mut self) {
        let line = self.line;
        self.at += 1;
        let mut text = String::new();
        while let Some(c) = self.peek(0) {
            if c == '"' {
                self.at += 1;
                break;
            }
            if c == '\\' {
                text.push(c);
                self.advance();
                if let Some(escaped) = self.peek(0) {
                    text.push(escaped);
                    self.advance();
                }
                continue;
            }
            text.push(c);
            self.advance();
        }
        self.found.push(StringLiteral { line, text });
    }

    /// `r"…"`, `r#"…"#` and so on; the lexer stands on the first `#` or the quote.
    fn raw_string(&mut self) {
        let line = self.line;
        let mut hashes = 0;
        while self.peek(0) == Some('#') {
            hashes += 1;
            self.at += 1;
        }
        if self.peek(0) != Some('"') {
            return; // `r#ident`, a raw identifier
        }
        self.at += 1;
        let mut text = String::new();
        while let Some(c) = self.peek(0) {
            if c == '"' && (1..=hashes).all(|offset| self.peek(offset) == Some('#')) {
                self.at += 1 + hashes;
                break;
            }
            text.push(c);
            self.advance();
        }
        self.found.push(StringLiteral { line, text });
    }

    /// `'x'`, `'\n'`, `'\u{1F600}'` or a lifetime/label such as `'a`.
    fn char_or_lifetime(&mut self) {
        if self.peek(1) == Some('\\') {
            self.at += 3;
            while self.peek(0).is_some_and(|c| c != '\'') {
                self.advance();
            }
            self.at += 1;
        } else if self.peek(2) == Some('\'') {
            self.at += 3;
        } else {
            self.at += 1;
        }
    }

    /// An identifier or keyword; `r`, `br` and `cr` directly before `"` or `#` start a raw string, and `b`/`c`
    /// before `"` a byte or C string (read as a plain one).
    fn word(&mut self) {
        let start = self.at;
        while self.peek(0).is_some_and(|c| c == '_' || c.is_alphanumeric()) {
            self.at += 1;
        }
        let word: String = self.chars[start..self.at].iter().collect();
        let next = self.peek(0);
        if matches!(word.as_str(), "r" | "br" | "cr") && matches!(next, Some('"' | '#')) {
            self.raw_string();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(source: &str) -> Vec<(usize, String)> {
        string_literals(source).into_iter().map(|literal| (literal.line, literal.text)).collect()
    }

    #[test]
    fn finds_plain_raw_and_byte_strings_with_their_lines() {
        let source = concat!(
            "let a = \"one\";\n",
            "let b = r#\"two \"quoted\"\"#;\n",
            "let c = b\"three\";\n",
            "let d = \"multi\nline\";\n",
            "let e = br\"five\";\n",
        );
        let expected = vec![
            (1, "one".to_owned()),
            (2, "two \"quoted\"".to_owned()),
            (3, "three".to_owned()),
            (4, "multi\nline".to_owned()),
            (6, "five".to_owned()),
        ];
        assert_eq!(texts(source), expected);
    }

    #[test]
    fn skips_comments_chars_and_lifetimes() {
        let source = concat!(
            "// \"not a string\"\n",
            "/* outer /* \"nested\" */ still comment */\n",
            "fn f<'a>(x: &'a str) -> char { let q = '\"'; let e = '\\''; \"real\" }\n",
            "let raw_ident = r#type;\n",
            "let escaped = \"say \\\"hi\\\"\";\n",
        );
        let expected = vec![(3, "real".to_owned()), (5, "say \\\"hi\\\"".to_owned())];
        assert_eq!(texts(source), expected);
    }

    #[test]
    fn recognizes_sql_statements_only() {
        assert_eq!(sql_pattern("SELECT id, name\n    FROM users WHERE id = $1"), Some("SELECT … FROM"));
        assert_eq!(sql_pattern("UPDATE access_requests SET status = 'approved'"), Some("UPDATE … SET"));
        assert_eq!(sql_pattern("INSERT INTO audit_events (id) VALUES (?)"), Some("INSERT INTO"));
        assert_eq!(sql_pattern("DELETE FROM grants"), Some("DELETE FROM"));
        assert_eq!(sql_pattern("CREATE TABLE users (id TEXT)"), Some("CREATE TABLE"));
        assert_eq!(sql_pattern("select id from users"), None);
        assert_eq!(sql_pattern("SELECT a target from the list"), None);
        assert_eq!(sql_pattern("press SET to UPDATE "), None);
        assert_eq!(sql_pattern("FROM here SELECT there"), None);
    }
}
