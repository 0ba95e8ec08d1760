//! Printing results: aligned tables and `field: value` lists for people, or the server's JSON.

use crate::output;
use anyhow::Context;
use serde::Serialize;

/// Prints `value` as JSON when `json`, else with `human`.
pub fn result<T: Serialize>(
    json: bool,
    value: &T,
    human: impl FnOnce(&T) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    if json {
        return print_json(value);
    }
    human(value).context("cannot write to stdout")
}

/// Prints `value` as pretty JSON.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let value = serde_json::to_value(value).context("cannot turn the answer into JSON")?;
    output::json(&value).context("cannot write to stdout")
}

/// Prints one line.
pub fn line(text: &str) -> std::io::Result<()> {
    output::line(text)
}

/// A table with aligned columns; the last column is not padded.
#[derive(Debug)]
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&'static str]) -> Table {
        Table { headers: headers.to_vec(), rows: Vec::new() }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn print(&self) -> std::io::Result<()> {
        for text in self.lines() {
            output::line(&text)?;
        }
        Ok(())
    }

    fn lines(&self) -> Vec<String> {
        let header: Vec<String> = self.headers.iter().map(|h| (*h).to_owned()).collect();
        let all: Vec<&Vec<String>> = std::iter::once(&header).chain(&self.rows).collect();
        let mut widths = vec![0; self.headers.len()];
        for row in &all {
            for (width, cell) in widths.iter_mut().zip(row.iter()) {
                *width = (*width).max(cell.chars().count());
            }
        }
        all.iter().map(|row| format_row(row, &widths)).collect()
    }
}

fn format_row(cells: &[String], widths: &[usize]) -> String {
    let last = cells.len().min(widths.len()).saturating_sub(1);
    let mut text = String::new();
    for (index, (cell, width)) in cells.iter().zip(widths).enumerate() {
        if index == last {
            text.push_str(cell);
        } else {
            let padding = width.saturating_sub(cell.chars().count());
            text.push_str(cell);
            text.push_str(&" ".repeat(padding + 2));
        }
    }
    text.trim_end().to_owned()
}

/// Prints `name: value` lines with the values aligned.
pub fn fields(pairs: &[(&str, String)]) -> std::io::Result<()> {
    let width = pairs.iter().map(|(name, _)| name.chars().count()).max().unwrap_or(0);
    for (name, value) in pairs {
        let padding = " ".repeat(width - name.chars().count());
        output::line(&format!("{name}:{padding} {value}"))?;
    }
    Ok(())
}

/// A list for a cell: `a, b`, or `-` when empty.
pub fn list(items: &[String]) -> String {
    if items.is_empty() { "-".to_owned() } else { items.join(", ") }
}

/// An optional value for a cell, `-` when absent or empty.
pub fn optional(value: Option<&str>) -> String {
    value.filter(|v| !v.is_empty()).unwrap_or("-").to_owned()
}

pub fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_aligned_by_characters() {
        let mut table = Table::new(&["NAME", "ROLES", "NOTE"]);
        table.row(vec!["élodie".to_owned(), "admin".to_owned(), "x".to_owned()]);
        table.row(vec!["bo".to_owned(), "auditor, user".to_owned(), String::new()]);
        assert_eq!(table.lines(), ["NAME    ROLES          NOTE", "élodie  admin          x", "bo      auditor, user"]);
    }

    #[test]
    fn cells_helpers() {
        assert_eq!(list(&[]), "-");
        assert_eq!(list(&["a".to_owned(), "b".to_owned()]), "a, b");
        assert_eq!(optional(Some("")), "-");
        assert_eq!(optional(None), "-");
        assert_eq!(optional(Some("x")), "x");
    }
}
