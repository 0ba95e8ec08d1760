use crate::HttpState;
use crate::error::ApiResult;
use crate::guard::{AuditRead, Need, Params};
use crate::views;
use axum::Json;
use axum::extract::State;
use latch_api::{
    AuditExportRecorded, AuditExportReport, AuditPageView, AuditProblemView, AuditQueryParams, AuditRecordView,
    AuditVerifyParams, AuditVerifyView,
};
use latch_app::{AuditProblem, AuditQuery};

/// Audit records in order, filtered by time, actor and type; page with `after_seq`.
#[utoipa::path(get, path = "/api/v1/audit/events", tag = "audit", params(AuditQueryParams), responses((status = 200, body = AuditPageView)))]
pub(crate) async fn events(
    State(state): State<HttpState>,
    need: Need<AuditRead>,
    Params(params): Params<AuditQueryParams>,
) -> ApiResult<Json<AuditPageView>> {
    let query = AuditQuery {
        from: params.from.as_deref().map(|t| views::parse_time("from", t)).transpose()?,
        to: params.to.as_deref().map(|t| views::parse_time("to", t)).transpose()?,
        actor: params.actor.filter(|a| !a.is_empty()),
        kind: params.kind.filter(|k| !k.is_empty()),
        after_seq: params.after_seq,
        limit: params.limit.unwrap_or(500),
    };
    let page = state.app.list_audit(&need.principal, query).await?;
    let records = page
        .records
        .into_iter()
        .map(|r| AuditRecordView {
            seq: r.seq,
            at: views::time(r.at),
            actor_kind: r.actor_kind,
            actor_id: r.actor_id,
            actor_name: r.actor_name,
            source: r.source,
            kind: r.kind,
            details: serde_json::from_str(&r.details).unwrap_or(serde_json::Value::String(r.details)),
            link: r.link,
        })
        .collect();
    Ok(Json(AuditPageView { records, next_after_seq: page.next_after_seq }))
}

/// Verifies the tamper-evident chain over records after `after_seq` (and the head at the end).
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit", params(AuditVerifyParams), responses((status = 200, body = AuditVerifyView)))]
pub(crate) async fn verify(
    State(state): State<HttpState>,
    need: Need<AuditRead>,
    Params(params): Params<AuditVerifyParams>,
) -> ApiResult<Json<AuditVerifyView>> {
    let report = state
        .app
        .verify_audit(&need.principal, params.after_seq.unwrap_or(0), params.limit.unwrap_or(5000), &need.ctx)
        .await?;
    let problems: Vec<AuditProblemView> = report.problems.iter().map(problem).collect();
    Ok(Json(AuditVerifyView {
        checked: report.checked,
        last_seq: report.last_seq,
        head_seq: report.head_seq,
        reached_end: report.reached_end,
        ok: problems.is_empty(),
        problems,
    }))
}

fn problem(p: &AuditProblem) -> AuditProblemView {
    let (kind, seq, message) = match p {
        AuditProblem::Altered { seq } => ("altered", *seq, format!("record {seq} was changed or moved")),
        AuditProblem::Gap { after, next } => {
            ("gap", *after + 1, format!("records {} to {} are missing", after + 1, next - 1))
        }
        AuditProblem::HeadMismatch { head_seq, last_seq } => (
            "head_mismatch",
            *last_seq,
            format!(
                "the log ends at record {last_seq} but its head says {head_seq}: records were removed from the end or the head was edited"
            ),
        ),
        AuditProblem::MissingStart { seq } => ("missing_start", *seq, format!("record {seq} to start from is missing")),
    };
    AuditProblemView { kind: kind.to_owned(), seq, message }
}

/// Records that the caller exported audit records (the CLI calls this when an export completes).
#[utoipa::path(post, path = "/api/v1/audit/exports", tag = "audit", request_body = AuditExportReport,
    responses((status = 200, body = AuditExportRecorded)))]
pub(crate) async fn record_export(
    State(state): State<HttpState>,
    need: Need<AuditRead>,
    crate::guard::Body(report): crate::guard::Body<AuditExportReport>,
) -> ApiResult<Json<AuditExportRecorded>> {
    state.app.record_audit_export(&need.principal, report.events, &report.format, &need.ctx).await?;
    Ok(Json(AuditExportRecorded { recorded: true }))
}
