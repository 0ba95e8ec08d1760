use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct AuditRecordView {
    pub seq: i64,
    pub at: String,
    /// `user`, `api_account`, `system` or `anonymous`.
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub actor_name: String,
    pub source: Option<String>,
    /// The event type, such as `auth.login_failed`.
    pub kind: String,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// This record's link in the tamper-evident chain (hex).
    pub link: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditPageView {
    pub records: Vec<AuditRecordView>,
    /// Pass as `after_seq` to get the next page; absent on the last page.
    pub next_after_seq: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQueryParams {
    /// RFC 3339 start (inclusive).
    pub from: Option<String>,
    /// RFC 3339 end (exclusive).
    pub to: Option<String>,
    /// Actor name.
    pub actor: Option<String>,
    /// An event type, or a prefix ending in `.` such as `auth.`.
    pub kind: Option<String>,
    pub after_seq: Option<i64>,
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditVerifyParams {
    /// Verify records after this sequence number (0 = from the start).
    pub after_seq: Option<i64>,
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditVerifyView {
    pub checked: i64,
    pub last_seq: i64,
    pub head_seq: i64,
    pub reached_end: bool,
    pub ok: bool,
    pub problems: Vec<AuditProblemView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct AuditProblemView {
    /// `altered`, `gap`, `head_mismatch` or `missing_start`.
    pub kind: String,
    pub seq: i64,
    pub message: String,
}

/// Reports a finished export, so that it is itself audited.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditExportReport {
    pub events: i64,
    /// `jsonl` or `csv`.
    pub format: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditExportRecorded {
    /// The sequence number is not returned: the record is in the log like any other.
    pub recorded: bool,
}
