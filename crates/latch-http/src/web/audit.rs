//! The audit log in the browser: records filtered by actor, kind and day, page by page, and a CSV export of what
//! the filters select. Both need `audit:read` (the `list_audit` use case checks it); an export is itself audited
//! (`audit.exported`) before its file is sent.

use super::format;
use super::pages::{Layout, PageError, Section, form_message, render};
use super::session::WebUser;
use crate::HttpState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latch_app::AuditQuery;
use latch_domain::TimeSpan;

/// Records per page.
const PAGE_SIZE: i64 = 100;
/// The most records one CSV export holds; narrower filters export more in several files.
const MAX_EXPORT: usize = 100_000;
/// The longest details text shown in the table (the export has them whole).
const MAX_DETAILS_SHOWN: usize = 300;

#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct AuditFilters {
    #[serde(default)]
    actor: String,
    /// A kind such as `session.ended`, or a prefix ending in `.` such as `session.`.
    #[serde(default)]
    kind: String,
    /// `YYYY-MM-DD` (UTC), the first day.
    #[serde(default)]
    from: String,
    /// `YYYY-MM-DD` (UTC), the last day.
    #[serde(default)]
    to: String,
    /// Show records after this sequence number (the next page).
    #[serde(default)]
    after: Option<i64>,
}

impl AuditFilters {
    fn to_query(&self, limit: i64) -> Result<AuditQuery, String> {
        let text = |value: &str| Some(value.trim().to_owned()).filter(|v| !v.is_empty());
        Ok(AuditQuery {
            from: format::day_start("from", &self.from)?,
            to: format::day_start("to", &self.to)?.map(|day| day.plus(TimeSpan::from_hours(24))),
            actor: text(&self.actor),
            kind: text(&self.kind),
            after_seq: self.after,
            limit,
        })
    }

    /// The query string of these filters (without the page), for the next page and the export.
    fn query_string(&self) -> String {
        [("actor", &self.actor), ("kind", &self.kind), ("from", &self.from), ("to", &self.to)]
            .iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| format!("{name}={}", super::access::encode(value)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

#[derive(Debug)]
struct AuditRow {
    seq: i64,
    at: String,
    at_machine: String,
    actor: String,
    kind: String,
    source: String,
    details: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditLogPage {
    layout: Layout,
    filters: AuditFilters,
    rows: Vec<AuditRow>,
    next: Option<String>,
    export: String,
    error: Option<String>,
}

/// `GET /audit`: the audit records the filters select, oldest first, a page at a time.
pub(crate) async fn list(
    State(state): State<HttpState>,
    user: WebUser,
    Query(filters): Query<AuditFilters>,
) -> Result<Response, PageError> {
    let layout = Layout::signed_in(&user, "Audit log", Section::Audit);
    let query = filters.query_string();
    let export = if query.is_empty() { "/audit/export.csv".to_owned() } else { format!("/audit/export.csv?{query}") };
    let (page, error) = match filters.to_query(PAGE_SIZE) {
        Ok(audit_query) => (Some(state.app.list_audit(&user.principal, audit_query).await?), None),
        Err(message) => (None, Some(message)),
    };
    let rows = page.as_ref().map(|page| page.records.iter().map(row).collect()).unwrap_or_default();
    let next = page.and_then(|page| page.next_after_seq).map(|seq| {
        if query.is_empty() { format!("/audit?after={seq}") } else { format!("/audit?{query}&after={seq}") }
    });
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    Ok(render(status, &AuditLogPage { layout, filters, rows, next, export, error }))
}

fn row(record: &latch_app::AuditRecord) -> AuditRow {
    let mut details: String = record.details.chars().take(MAX_DETAILS_SHOWN).collect();
    if record.details.chars().count() > MAX_DETAILS_SHOWN {
        details.push('…');
    }
    AuditRow {
        seq: record.seq,
        at: format::minute(record.at),
        at_machine: format::machine(record.at),
        actor: if record.actor_kind == record.actor_name {
            record.actor_name.clone()
        } else {
            format!("{} {}", record.actor_kind, record.actor_name)
        },
        kind: record.kind.clone(),
        source: record.source.clone().unwrap_or_default(),
        details,
    }
}

/// `GET /audit/export.csv`: every record the filters select (at most [`MAX_EXPORT`]) as CSV, with the same
/// columns as `latch audit export --format csv`. The export is audited before the file is sent.
pub(crate) async fn export(
    State(state): State<HttpState>,
    user: WebUser,
    Query(filters): Query<AuditFilters>,
) -> Result<Response, PageError> {
    let bad = |message: String| PageError::new(StatusCode::BAD_REQUEST, "Cannot export", message);
    let mut query = filters.to_query(1000).map_err(bad)?;
    let mut records = Vec::new();
    loop {
        let page = state.app.list_audit(&user.principal, query.clone()).await?;
        records.extend(page.records);
        if records.len() > MAX_EXPORT {
            return Err(bad(format!("more than {MAX_EXPORT} records match; narrow the filters (days, kind, actor)")));
        }
        match page.next_after_seq {
            Some(seq) => query.after_seq = Some(seq),
            None => break,
        }
    }
    let count = i64::try_from(records.len()).unwrap_or(i64::MAX);
    state.app.record_audit_export(&user.principal, count, "csv", &user.ctx).await.map_err(|err| {
        let (status, message) = form_message(err);
        PageError::new(status, "Cannot export", message)
    })?;
    let mut csv = String::from("seq,at,actor_kind,actor_id,actor_name,source,kind,details,link\r\n");
    for record in &records {
        let fields = [
            record.seq.to_string(),
            crate::views::time(record.at),
            record.actor_kind.clone(),
            record.actor_id.clone().unwrap_or_default(),
            record.actor_name.clone(),
            record.source.clone().unwrap_or_default(),
            record.kind.clone(),
            record.details.clone(),
            record.link.clone(),
        ];
        let line: Vec<String> = fields.iter().map(|field| csv_field(field)).collect();
        csv.push_str(&line.join(","));
        csv.push_str("\r\n");
    }
    let mut response = csv.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    let name = format!("attachment; filename=\"latch-audit-{}.csv\"", state.app.now().as_millis());
    if let Ok(value) = HeaderValue::from_str(&name) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. A field a spreadsheet would run
/// as a formula (starting with `=`, `+`, `-`, `@`, tab or carriage return) is prefixed with `'`.
fn csv_field(value: &str) -> String {
    let neutral =
        if value.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{value}") } else { value.to_owned() };
    if neutral.contains([',', '"', '\n', '\r']) { format!("\"{}\"", neutral.replace('"', "\"\"")) } else { neutral }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_neutralised() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field(r#"{"a":1,"b":"x"}"#), r#""{""a"":1,""b"":""x""}""#);
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-1"), "'-1");
    }

    #[test]
    fn filters_select_whole_days() {
        let filters = AuditFilters {
            actor: "alice".to_owned(),
            kind: "session.".to_owned(),
            from: "2026-11-02".to_owned(),
            to: "2026-11-03".to_owned(),
            after: Some(7),
        };
        let query = filters.to_query(10).unwrap();
        assert_eq!(query.to.unwrap().since(query.from.unwrap()).as_millis(), 2 * 86_400_000);
        assert_eq!((query.after_seq, query.limit), (Some(7), 10));
        assert_eq!(filters.query_string(), "actor=alice&kind=session.&from=2026-11-02&to=2026-11-03");
        let bad = AuditFilters { to: "31/01/2026".to_owned(), ..AuditFilters::default() };
        assert!(bad.to_query(10).unwrap_err().starts_with("to"));
    }
}
