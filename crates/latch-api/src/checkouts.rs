use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A check-out of an account's credential (`POST /checkouts`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCheckoutRequest {
    /// Target name or id.
    pub target: String,
    /// The account's username on the target; may be left out when exactly one account there may be checked out.
    pub account: Option<String>,
    /// The release period; capped by the policy's longest window (an hour for API accounts) and the grant's end.
    /// Defaults to 30 minutes.
    pub duration_minutes: Option<i64>,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct CheckoutView {
    pub id: String,
    pub target_id: String,
    pub account_id: String,
    /// The user holding it, or null for an API account.
    pub user_id: Option<String>,
    /// The API account holding it, or null for a user.
    pub api_account_id: Option<String>,
    pub grant_id: Option<String>,
    pub policy_id: Option<String>,
    pub exclusive: bool,
    pub reason: String,
    pub checked_out_at: String,
    pub release_until: String,
    /// At the time of the answer: `open`, `overdue` (past its release period, about to be checked in) or
    /// `checked_in`.
    pub state: String,
    pub revealed_at: Option<String>,
    pub checked_in_at: Option<String>,
    /// `returned`, `forced`, `expired`, `grant_revoked` or `grant_expired`.
    pub check_in_reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CheckoutListView {
    pub checkouts: Vec<CheckoutView>,
}

/// Which check-outs to list, newest first.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CheckoutListParams {
    /// `mine` (default for holders) or `all` (approvers, session readers and auditors).
    pub scope: Option<String>,
    /// Only check-outs still held.
    pub open: Option<bool>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// A checked-out secret, shown once (`POST /checkouts/{id}/reveal`).
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct RevealedSecretView {
    pub checkout_id: String,
    pub secret: String,
}

crate::redact::redacted_debug!(RevealedSecretView { checkout_id } hides { secret });

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct QueuedRotationView {
    pub id: String,
    pub account_id: String,
    pub checkout_id: Option<String>,
    pub queued_at: String,
    /// `pending`, `in_progress`, `done` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QueuedRotationListView {
    pub rotations: Vec<QueuedRotationView>,
}

/// Which queued rotations to list, oldest first.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueuedRotationListParams {
    /// `pending`, `in_progress`, `done` or `failed`.
    pub state: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}
