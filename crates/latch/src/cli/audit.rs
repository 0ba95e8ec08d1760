//! `latch audit list|export|verify`: reading the audit log, exporting it page by page, and
//! verifying its tamper-evident chain chunk by chunk.

use super::exit::EXIT_PROBLEMS_FOUND;
use super::{OutputArgs, connection, progress, prompt, show};
use anyhow::Context;
use latch_api::client::Client;
use latch_api::{
    AuditExportReport, AuditPageView, AuditProblemView, AuditQueryParams, AuditRecordView, AuditVerifyParams,
};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Records per request when exporting.
const EXPORT_PAGE: i64 = 1000;
/// Longest details text in the `list` table.
const DETAILS_WIDTH: usize = 100;

/// `latch audit`
#[derive(clap::Args, Debug)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(clap::Subcommand, Debug)]
enum AuditCommand {
    /// Show audit records, oldest first.
    List {
        #[command(flatten)]
        filters: Filters,
        /// Start after this sequence number.
        #[arg(long, value_name = "SEQ")]
        after_seq: Option<i64>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Export every matching record, one per line (JSON Lines) or row (CSV).
    Export {
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// Write to this file instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        filters: Filters,
    },
    /// Verify the whole chain; prints each problem and exits with 8 when there are any.
    Verify {
        /// Records per request.
        #[arg(long, default_value_t = 1000, value_name = "N")]
        chunk: i64,
    },
}

#[derive(clap::Args, Debug, Clone)]
struct Filters {
    /// From this time (RFC 3339, inclusive).
    #[arg(long, value_name = "RFC3339")]
    from: Option<String>,
    /// Until this time (RFC 3339, exclusive).
    #[arg(long, value_name = "RFC3339")]
    to: Option<String>,
    /// Only records by this actor (user or API account name).
    #[arg(long, value_name = "NAME")]
    actor: Option<String>,
    /// Only this event type, or a prefix ending in `.` such as `auth.`.
    #[arg(long, value_name = "KIND")]
    kind: Option<String>,
}

impl Filters {
    fn query(self, after_seq: Option<i64>, limit: i64) -> AuditQueryParams {
        AuditQueryParams {
            from: self.from,
            to: self.to,
            actor: self.actor,
            kind: self.kind,
            after_seq,
            limit: Some(limit),
        }
    }
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum ExportFormat {
    Jsonl,
    Csv,
}

impl ExportFormat {
    fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Jsonl => "jsonl",
            ExportFormat::Csv => "csv",
        }
    }
}

pub async fn run(args: AuditArgs) -> anyhow::Result<ExitCode> {
    let client = connection::authenticated()?;
    let json = args.output.json;
    match args.command {
        AuditCommand::List { filters, after_seq, limit } => {
            let page = client.audit_events(&filters.query(after_seq, limit)).await?;
            show::result(json, &page, print_page)?;
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Export { format, output, filters } => {
            export(&client, format, output.as_deref(), filters).await?;
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify { chunk } => verify(&client, chunk, json).await,
    }
}

async fn export(client: &Client, format: ExportFormat, output: Option<&Path>, filters: Filters) -> anyhow::Result<()> {
    let mut writer = RecordWriter::new(format, Sink::open(output)?);
    let spinner = progress::spinner("exporting audit records");
    let mut params = filters.query(None, EXPORT_PAGE);
    let mut exported = 0_u64;
    loop {
        let page = client.audit_events(&params).await.context("cannot read the audit log")?;
        for record in &page.records {
            writer.write(record)?;
        }
        exported += page.records.len() as u64;
        spinner.set_position(exported);
        match page.next_after_seq {
            Some(next) => params.after_seq = Some(next),
            None => break,
        }
    }
    writer.finish()?;
    spinner.finish_and_clear();
    let report =
        AuditExportReport { events: i64::try_from(exported).unwrap_or(i64::MAX), format: format.as_str().to_owned() };
    client
        .audit_record_export(&report)
        .await
        .context("the export was written but could not be recorded in the audit log")?;
    prompt::ask(&format!("Exported {exported} audit records.\n"))
}

/// Where exported records go: a file written under a temporary name and renamed when complete,
/// or stdout.
enum Sink {
    File { temporary: PathBuf, path: PathBuf, file: std::io::BufWriter<std::fs::File> },
    Stdout(std::io::BufWriter<std::io::Stdout>),
}

impl Sink {
    fn open(output: Option<&Path>) -> anyhow::Result<Sink> {
        let Some(path) = output else { return Ok(Sink::Stdout(std::io::BufWriter::new(std::io::stdout()))) };
        let mut name = std::ffi::OsString::from(".");
        name.push(path.file_name().with_context(|| format!("{} is not a file name", path.display()))?);
        name.push(format!(".{}.partial", std::process::id()));
        let temporary = path.with_file_name(name);
        let file = std::fs::File::create(&temporary).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Sink::File { temporary, path: path.to_owned(), file: std::io::BufWriter::new(file) })
    }

    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Sink::File { file, .. } => file,
            Sink::Stdout(stdout) => stdout,
        }
    }

    /// Flushes; a file is synced and renamed to its final name.
    fn finish(&mut self) -> anyhow::Result<()> {
        match self {
            Sink::Stdout(stdout) => stdout.flush().context("cannot write to stdout"),
            Sink::File { temporary, path, file } => {
                let written = file.flush().and_then(|()| file.get_ref().sync_all());
                written
                    .and_then(|()| std::fs::rename(&*temporary, &*path))
                    .with_context(|| format!("cannot write {}", path.display()))
            }
        }
    }
}

/// Removes an unfinished file (after a successful rename there is nothing left to remove).
impl Drop for Sink {
    fn drop(&mut self) {
        if let Sink::File { temporary, .. } = self {
            let _ignored = std::fs::remove_file(temporary);
        }
    }
}

/// One audit record per JSON line or CSV row.
enum RecordWriter {
    Jsonl(Sink),
    Csv(Box<csv::Writer<Sink>>),
}

/// A CSV row: the record with its details as compact JSON text.
#[derive(Serialize)]
struct CsvRow<'a> {
    seq: i64,
    at: &'a str,
    actor_kind: &'a str,
    actor_id: Option<&'a str>,
    actor_name: &'a str,
    source: Option<&'a str>,
    kind: &'a str,
    details: String,
    link: &'a str,
}

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.writer().write(bytes)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.writer().flush()
    }
}

impl RecordWriter {
    fn new(format: ExportFormat, sink: Sink) -> RecordWriter {
        match format {
            ExportFormat::Jsonl => RecordWriter::Jsonl(sink),
            ExportFormat::Csv => RecordWriter::Csv(Box::new(csv::Writer::from_writer(sink))),
        }
    }

    fn write(&mut self, record: &AuditRecordView) -> anyhow::Result<()> {
        match self {
            RecordWriter::Jsonl(sink) => {
                serde_json::to_writer(&mut *sink, record).context("cannot write a record")?;
                sink.write_all(b"\n").context("cannot write a record")
            }
            RecordWriter::Csv(writer) => writer.serialize(csv_row(record)).context("cannot write a record"),
        }
    }

    fn finish(self) -> anyhow::Result<()> {
        let mut sink = match self {
            RecordWriter::Jsonl(sink) => sink,
            RecordWriter::Csv(writer) => writer.into_inner().map_err(|err| err.into_error()).context("cannot write")?,
        };
        sink.finish()
    }
}

fn csv_row(record: &AuditRecordView) -> CsvRow<'_> {
    CsvRow {
        seq: record.seq,
        at: &record.at,
        actor_kind: &record.actor_kind,
        actor_id: record.actor_id.as_deref(),
        actor_name: &record.actor_name,
        source: record.source.as_deref(),
        kind: &record.kind,
        details: record.details.to_string(),
        link: &record.link,
    }
}

/// The outcome of verifying the whole chain.
#[derive(Debug, Serialize)]
struct VerifySummary {
    checked: i64,
    head_seq: i64,
    ok: bool,
    problems: Vec<AuditProblemView>,
}

async fn verify(client: &Client, chunk: i64, json: bool) -> anyhow::Result<ExitCode> {
    let bar = progress::bar(0, "verifying the audit chain");
    let mut summary = VerifySummary { checked: 0, head_seq: 0, ok: true, problems: Vec::new() };
    let mut after_seq = 0;
    loop {
        let params = AuditVerifyParams { after_seq: Some(after_seq), limit: Some(chunk) };
        let report = client.audit_verify(&params).await.context("cannot verify the audit log")?;
        bar.set_length(u64::try_from(report.head_seq).unwrap_or(0));
        bar.set_position(u64::try_from(report.last_seq).unwrap_or(0));
        summary.checked += report.checked;
        summary.head_seq = report.head_seq;
        for problem in report.problems {
            if !json {
                bar.suspend(|| show::line(&problem_text(&problem))).context("cannot write to stdout")?;
            }
            summary.problems.push(problem);
        }
        if report.reached_end {
            break;
        }
        anyhow::ensure!(
            report.last_seq > after_seq,
            "the server's verification made no progress after record {after_seq}"
        );
        after_seq = report.last_seq;
    }
    bar.finish_and_clear();
    summary.ok = summary.problems.is_empty();
    show::result(json, &summary, print_summary)?;
    Ok(if summary.ok { ExitCode::SUCCESS } else { ExitCode::from(EXIT_PROBLEMS_FOUND) })
}

fn problem_text(problem: &AuditProblemView) -> String {
    format!("problem: {} at record {}: {}", problem.kind, problem.seq, problem.message)
}

fn print_summary(summary: &VerifySummary) -> std::io::Result<()> {
    if summary.ok {
        show::line(&format!(
            "The audit chain is intact: {} records checked up to record {}.",
            summary.checked, summary.head_seq
        ))
    } else {
        show::line(&format!(
            "The audit chain is NOT intact: {} problem(s) in {} records checked up to record {}.",
            summary.problems.len(),
            summary.checked,
            summary.head_seq
        ))
    }
}

fn print_page(page: &AuditPageView) -> std::io::Result<()> {
    let mut table = show::Table::new(&["SEQ", "AT", "ACTOR", "SOURCE", "KIND", "DETAILS"]);
    for record in &page.records {
        table.row(vec![
            record.seq.to_string(),
            record.at.clone(),
            format!("{} ({})", record.actor_name, record.actor_kind),
            show::optional(record.source.as_deref()),
            record.kind.clone(),
            shortened(&record.details.to_string(), DETAILS_WIDTH),
        ]);
    }
    table.print()?;
    if let Some(next) = page.next_after_seq {
        show::line(&format!("(more: --after-seq {next})"))?;
    }
    Ok(())
}

fn shortened(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(width.saturating_sub(1)).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: i64, details: serde_json::Value) -> AuditRecordView {
        AuditRecordView {
            seq,
            at: "2025-01-02T03:04:05Z".to_owned(),
            actor_kind: "user".to_owned(),
            actor_id: Some("u1".to_owned()),
            actor_name: "admin".to_owned(),
            source: None,
            kind: "user.created".to_owned(),
            details,
            link: "ab".to_owned(),
        }
    }

    fn export_to_file(format: ExportFormat, records: &[AuditRecordView]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let mut writer = RecordWriter::new(format, Sink::open(Some(&path)).unwrap());
        for r in records {
            writer.write(r).unwrap();
        }
        writer.finish().unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "only the finished file is left");
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn jsonl_has_one_record_per_line() {
        let records = [record(1, serde_json::json!({"a": 1})), record(2, serde_json::json!({"b": "x\ny"}))];
        let text = export_to_file(ExportFormat::Jsonl, &records);
        let parsed: Vec<AuditRecordView> = text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
        assert_eq!(parsed, records);
    }

    #[test]
    fn csv_has_a_header_and_one_row_per_record() {
        let records = [record(1, serde_json::json!({"a": "x,y"})), record(2, serde_json::json!({}))];
        let text = export_to_file(ExportFormat::Csv, &records);
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(
            reader.headers().unwrap().iter().collect::<Vec<_>>(),
            ["seq", "at", "actor_kind", "actor_id", "actor_name", "source", "kind", "details", "link"]
        );
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(&rows[0][7], r#"{"a":"x,y"}"#);
        assert_eq!(&rows[1][0], "2");
    }

    #[test]
    fn long_details_are_shortened() {
        assert_eq!(shortened("abc", 3), "abc");
        assert_eq!(shortened("abcd", 3), "ab…");
    }
}
