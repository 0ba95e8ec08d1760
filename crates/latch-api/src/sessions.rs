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
    /// Days the recording is kept after the session ends, from the policy it started under; null keeps it forever.
    pub recording_retention_days: Option<u32>,
    /// When the recording becomes due for deletion (its end plus the retention days); null while the session is
    /// live or when the recording is kept forever.
    pub retain_until: Option<String>,
    /// Why the recording is on legal hold (never deleted until released); null when it is not.
    pub legal_hold_reason: Option<String>,
    /// Who placed the legal hold.
    pub legal_hold_by: Option<String>,
    /// When the legal hold was placed.
    pub legal_hold_at: Option<String>,
    /// When the recording was deleted after its retention; the session and its events stay.
    pub recording_deleted_at: Option<String>,
}

/// A legal hold on a session's recording.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LegalHoldRequest {
    /// Why, such as a case or ticket reference; 1 to 1000 characters.
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionListView {
    pub sessions: Vec<SessionView>,
}

/// Which sessions to list, newest first. Without `sessions:read`, only the caller's own. Every filter given
/// narrows the list.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SessionListParams {
    /// Only sessions that have not ended.
    pub live: Option<bool>,
    /// The Latch user's name.
    pub user: Option<String>,
    /// The target's name.
    pub target: Option<String>,
    /// The target's address (host name or IP).
    pub host: Option<String>,
    /// A tag of the target.
    pub tag: Option<String>,
    /// `ssh`, `telnet`, `rdp`, …
    pub protocol: Option<String>,
    /// Such as `client_closed`, `grant_expired`, `terminated`.
    pub end_reason: Option<String>,
    /// RFC 3339: sessions started at or after this time.
    pub from: Option<String>,
    /// RFC 3339: sessions started before this time.
    pub to: Option<String>,
    /// At most 1000.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// One event of a session: a command, a file transfer or operation, a forward, a window change, the end.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct SessionEventView {
    /// Increases with every event indexed, over all sessions.
    pub id: i64,
    pub session_id: String,
    /// The event's position in its session, from 0.
    pub seq: i64,
    pub at: String,
    /// `exec`, `subsystem_started`, `file_transfer`, `file_operation`, `forward_opened`, `agent_channel_opened`,
    /// `forward_closed`, `window_change` or `session_ended`.
    pub kind: String,
    pub channel: Option<i64>,
    /// One line: the command, the file and direction, the forwarded host, the size, the end reason.
    pub summary: String,
    /// The bytes a file transfer moved.
    pub bytes: Option<i64>,
    /// The whole event as the session's event log holds it.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SessionEventListView {
    pub events: Vec<SessionEventView>,
}

/// A page of a session's events, in order. A live session's events are listed once it has ended.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SessionEventParams {
    /// At most 1000.
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
