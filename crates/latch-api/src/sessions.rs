use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// One person's connection to one target account through the gateway.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct SessionView {
    pub id: String,
    pub user_id: String,
    pub username: String,
    pub target_id: String,
    pub target_name: String,
    pub account_id: String,
    pub account_name: String,
    /// The grant that allowed it; null under a standing policy.
    pub grant_id: Option<String>,
    pub policy_id: String,
    pub protocol: String,
    /// The client's address.
    pub source: Option<String>,
    pub started_at: String,
    /// null while the session is live.
    pub ended_at: Option<String>,
    /// Such as `client_closed`, `grant_expired`, `terminated`.
    pub end_reason: Option<String>,
    pub bytes_to_target: i64,
    pub bytes_from_target: i64,
    /// Whether the session was recorded.
    pub recorded: bool,
    pub consent_accepted_at: Option<String>,
    /// The Latch node the session runs (or ran) on.
    pub node: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionListView {
    pub sessions: Vec<SessionView>,
}

/// Which sessions to list, newest first. Without `sessions:read`, only the caller's own.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SessionListParams {
    /// Only sessions that have not ended.
    pub live: Option<bool>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// The media type of a live session watch (`GET /api/v1/sessions/{session}/watch`): asciicast v2, one JSON value
/// per line.
pub const ASCIICAST_CONTENT_TYPE: &str = "application/x-asciicast";

/// The first line of an asciicast v2 stream.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AsciicastHeaderView {
    pub version: u32,
    pub width: u32,
    pub height: u32,
    /// Unix seconds when the stream (watching, for a live session) began.
    pub timestamp: Option<i64>,
    pub title: Option<String>,
}

/// Every later line of an asciicast v2 stream: `[seconds, code, data]`, where code is `o` (output), `i` (input),
/// `r` (resize, data `COLSxROWS`) or `m` (marker).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AsciicastEventView(pub f64, pub String, pub String);

impl AsciicastEventView {
    pub fn seconds(&self) -> f64 {
        self.0
    }
    pub fn code(&self) -> &str {
        &self.1
    }
    pub fn data(&self) -> &str {
        &self.2
    }
}
