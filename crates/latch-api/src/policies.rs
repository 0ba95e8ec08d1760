use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Which targets a policy covers: one by name, or every target with a tag.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PolicyTargetView {
    /// `{"name": "web-1"}`
    Name(String),
    /// `{"tag": "prod"}`
    Tag(String),
}

/// A policy as written (`POST /policies`, `PUT /policies/{policy}`): subjects, targets, accounts and the approver
/// group by name. A `PUT` replaces every field.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PolicyRequest {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Defaults to true.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// Usernames the policy applies to.
    #[serde(default)]
    pub users: Vec<String>,
    /// Group names the policy applies to (their members).
    #[serde(default)]
    pub groups: Vec<String>,
    /// `{"name": TARGET}` or `{"tag": TAG}` items.
    pub targets: Vec<PolicyTargetView>,
    /// Account usernames on those targets; null or absent means any account.
    #[serde(default)]
    pub accounts: Option<Vec<String>>,
    /// `on_request` (default: access is requested and approved for a window) or `standing` (always allowed).
    #[serde(default = "on_request")]
    pub mode: String,
    /// For `on_request`: approvals needed, 0 (approved at once) to 10; defaults to 1. Must be absent for `standing`.
    #[serde(default)]
    pub approvals_required: Option<u8>,
    /// For `on_request`: only members of this group may approve; absent means anyone with the approver role.
    #[serde(default)]
    pub approver_group: Option<String>,
    /// The longest window a request may ask for (1 minute to 31 days).
    pub max_duration_minutes: i64,
    /// When access is allowed, such as `mon-fri 08:00-18:00 +01:00`; absent means always.
    #[serde(default)]
    pub schedule: Option<String>,
    #[serde(default)]
    pub mfa_to_request: bool,
    #[serde(default)]
    pub mfa_to_connect: bool,
    /// Record what the user types, not only what the target shows.
    #[serde(default)]
    pub record_input: bool,
    /// May the user see the account's secret.
    #[serde(default)]
    pub reveal_allowed: bool,
    #[serde(default)]
    pub ticket_required: bool,
    /// A regular expression the whole ticket reference must match (needs `ticket_required`).
    #[serde(default)]
    pub ticket_pattern: Option<String>,
    /// An incident integration checking the ticket (needs `ticket_required`).
    #[serde(default)]
    pub integration: Option<String>,
    #[serde(default)]
    pub allow_local_forwarding: bool,
    #[serde(default)]
    pub allow_remote_forwarding: bool,
    #[serde(default)]
    pub allow_agent_forwarding: bool,
    /// Text the user must accept before a session starts.
    #[serde(default)]
    pub consent_banner: Option<String>,
    /// Days a session's recording is kept after the session ends (1 to 36500), then deleted unless on legal hold;
    /// absent keeps recordings forever. Sessions keep the retention they started with.
    #[serde(default)]
    pub recording_retention_days: Option<u32>,
    /// Strict recording (the default): a session whose recording cannot be written, or whose recordings spool is
    /// below its free-space reserve, is refused or ended. `false` lets it go on unrecorded, and audits the loss.
    #[serde(default = "enabled_by_default")]
    pub recording_required: bool,
}

fn enabled_by_default() -> bool {
    true
}

fn on_request() -> String {
    "on_request".to_owned()
}

/// A policy as read: the fields of [`PolicyRequest`] (normalized: sorted, without duplicates) and its id and times.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct PolicyView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub users: Vec<String>,
    pub groups: Vec<String>,
    pub targets: Vec<PolicyTargetView>,
    /// null means any account.
    pub accounts: Option<Vec<String>>,
    /// `standing` or `on_request`.
    pub mode: String,
    /// null for `standing`.
    pub approvals_required: Option<u8>,
    pub approver_group: Option<String>,
    pub max_duration_minutes: i64,
    pub schedule: Option<String>,
    pub mfa_to_request: bool,
    pub mfa_to_connect: bool,
    pub record_input: bool,
    pub reveal_allowed: bool,
    pub ticket_required: bool,
    pub ticket_pattern: Option<String>,
    pub integration: Option<String>,
    pub allow_local_forwarding: bool,
    pub allow_remote_forwarding: bool,
    pub allow_agent_forwarding: bool,
    pub consent_banner: Option<String>,
    /// null keeps recordings forever.
    pub recording_retention_days: Option<u32>,
    pub recording_required: bool,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PolicyListView {
    pub policies: Vec<PolicyView>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_body_gets_the_documented_defaults() {
        let body: PolicyRequest = serde_json::from_str(
            r#"{"name":"ops","users":["alice"],"targets":[{"name":"web-1"},{"tag":"prod"}],"max_duration_minutes":60}"#,
        )
        .unwrap();
        assert!(body.enabled);
        assert_eq!(body.mode, "on_request");
        assert_eq!(body.accounts, None);
        assert_eq!(body.approvals_required, None);
        assert_eq!(body.targets, [PolicyTargetView::Name("web-1".into()), PolicyTargetView::Tag("prod".into())]);
        let text = serde_json::to_string(&body.targets).unwrap();
        assert_eq!(text, r#"[{"name":"web-1"},{"tag":"prod"}]"#);
        assert!(
            serde_json::from_str::<PolicyRequest>(r#"{"name":"x","targets":[],"max_duration_minutes":1,"typo":1}"#)
                .is_err()
        );
        assert!(serde_json::from_str::<PolicyTargetView>(r#"{"name":"a","tag":"b"}"#).is_err());
    }
}
