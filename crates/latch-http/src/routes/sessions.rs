use crate::HttpState;
use crate::error::ApiResult;
use crate::guard::{
    Access, Body as JsonBody, Need, Params, Rule, SessionsHold, SessionsReadOrOwn, SessionsTerminate, Signed,
};
use crate::views;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use latch_api::{
    ASCIICAST_CONTENT_TYPE, ErrorBody, LegalHoldRequest, SessionEventListView, SessionEventParams, SessionListParams,
    SessionListView, SessionView,
};
use latch_app::{LiveOutputKind, MAX_REPORT_PAGE, SessionQuery, SessionWatch, WatchEvent};
use latch_domain::permission::Permission;
use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

/// Holders of `sessions:read`: auditors, who may watch any live session.
#[derive(Debug)]
pub(crate) struct SessionsRead;

impl Access for SessionsRead {
    const RULE: Rule = Rule::Permission(Permission::SessionsRead);
}

/// Lists gateway sessions, newest first, narrowed by user, target, host, tag, protocol, end reason and start time;
/// without `sessions:read`, only the caller's own.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "sessions", params(SessionListParams),
    responses((status = 200, body = SessionListView), (status = 400, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<HttpState>,
    need: Need<SessionsReadOrOwn>,
    Params(params): Params<SessionListParams>,
) -> ApiResult<Json<SessionListView>> {
    let query = SessionQuery {
        live_only: params.live.unwrap_or(false),
        username: params.user,
        target: params.target,
        host: params.host,
        tag: params.tag,
        protocol: params.protocol,
        end_reason: params.end_reason,
        started_from: params.from.as_deref().map(|t| views::parse_time("from", t)).transpose()?,
        started_to: params.to.as_deref().map(|t| views::parse_time("to", t)).transpose()?,
        limit: params.limit.unwrap_or(100),
        offset: params.offset.unwrap_or(0),
    };
    let sessions = state.app.search_sessions(&need.principal, &query).await?;
    Ok(Json(SessionListView { sessions: sessions.iter().map(views::session).collect() }))
}

/// A finished session's events in order (commands, file transfers and operations, forwards, window changes, the
/// end): the caller's own session, or any with `sessions:read`.
#[utoipa::path(get, path = "/api/v1/sessions/{session}/events", tag = "sessions",
    params(("session" = String, Path), SessionEventParams),
    responses((status = 200, body = SessionEventListView), (status = 404, body = ErrorBody)))]
pub(crate) async fn events(
    State(state): State<HttpState>,
    need: Need<Signed>,
    Path(id): Path<String>,
    Params(params): Params<SessionEventParams>,
) -> ApiResult<Json<SessionEventListView>> {
    let limit = params.limit.unwrap_or(MAX_REPORT_PAGE);
    let events = state.app.session_events(&need.principal, &id, limit, params.offset.unwrap_or(0)).await?;
    Ok(Json(SessionEventListView { events: events.iter().map(views::session_event).collect() }))
}

/// A gateway session by id: the caller's own, or any with `sessions:read`.
#[utoipa::path(get, path = "/api/v1/sessions/{session}", tag = "sessions", params(("session" = String, Path)),
    responses((status = 200, body = SessionView), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    State(state): State<HttpState>,
    need: Need<Signed>,
    Path(id): Path<String>,
) -> ApiResult<Json<SessionView>> {
    Ok(Json(views::session(&state.app.get_session(&need.principal, &id).await?)))
}

/// Ends a live session now; answers with the session as it ended.
#[utoipa::path(post, path = "/api/v1/sessions/{session}/terminate", tag = "sessions", params(("session" = String, Path)),
    responses((status = 200, body = SessionView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn terminate(
    State(state): State<HttpState>,
    need: Need<SessionsTerminate>,
    Path(id): Path<String>,
) -> ApiResult<Json<SessionView>> {
    Ok(Json(views::session(&state.app.terminate_session(&need.principal, &id, &need.ctx).await?)))
}

/// Places a legal hold on a session's recording: it is never deleted, whatever its retention, until the hold is
/// released. Audited; a session already held, or whose recording was deleted, is a conflict.
#[utoipa::path(post, path = "/api/v1/sessions/{session}/legal-hold", tag = "sessions",
    params(("session" = String, Path)), request_body = LegalHoldRequest,
    responses((status = 200, body = SessionView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn hold(
    State(state): State<HttpState>,
    need: Need<SessionsHold>,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<LegalHoldRequest>,
) -> ApiResult<Json<SessionView>> {
    Ok(Json(views::session(&state.app.place_legal_hold(&need.principal, &id, &request.reason, &need.ctx).await?)))
}

/// Releases the legal hold on a session's recording; its retention applies again (a recording already past it is
/// deleted at the next retention sweep). Audited.
#[utoipa::path(delete, path = "/api/v1/sessions/{session}/legal-hold", tag = "sessions",
    params(("session" = String, Path)),
    responses((status = 200, body = SessionView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn release(
    State(state): State<HttpState>,
    need: Need<SessionsHold>,
    Path(id): Path<String>,
) -> ApiResult<Json<SessionView>> {
    Ok(Json(views::session(&state.app.release_legal_hold(&need.principal, &id, &need.ctx).await?)))
}

/// Follows a live session's terminals as they are used, as an asciicast v2 stream: a header line, then one line
/// per event as it happens (`[seconds, "o" | "i" | "r", data]`, times from when watching began; input only when
/// the policy records it), and a marker line (`"m"`) when the watcher fell behind and lost events. The stream ends
/// when the session ends. The watch is recorded in the audit log before anything is sent.
#[utoipa::path(get, path = "/api/v1/sessions/{session}/watch", tag = "sessions", params(("session" = String, Path)),
    responses(
        (status = 200, description = "asciicast v2, one JSON line per event", content_type = "application/x-asciicast",
            body = String),
        (status = 404, body = ErrorBody),
        (status = 409, description = "the session has ended or runs on another node", body = ErrorBody)))]
pub(crate) async fn watch(
    State(state): State<HttpState>,
    need: Need<SessionsRead>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let watch = state.app.watch_session(&need.principal, &id, &need.ctx).await?;
    let cast = AsciicastStream::new(watch);
    let lines = futures_util::stream::unfold(cast, |mut cast| async move {
        let line = cast.next_line().await?;
        Some((Ok::<_, Infallible>(line), cast))
    });
    let headers = [(header::CONTENT_TYPE, ASCIICAST_CONTENT_TYPE), (header::CACHE_CONTROL, "no-store")];
    Ok((headers, Body::from_stream(lines)).into_response())
}

/// A session watch as asciicast v2 lines, each ending in a newline (also the web UI's live view).
#[derive(Debug)]
pub(crate) struct AsciicastStream {
    watch: SessionWatch,
    header_sent: bool,
    /// Characters split across events, held back per channel and direction (input or output).
    decoders: HashMap<(u32, bool), Utf8Stream>,
}

impl AsciicastStream {
    pub(crate) fn new(watch: SessionWatch) -> AsciicastStream {
        AsciicastStream { watch, header_sent: false, decoders: HashMap::new() }
    }

    /// The next line; `None` once the session has ended.
    pub(crate) async fn next_line(&mut self) -> Option<String> {
        if !self.header_sent {
            self.header_sent = true;
            return Some(self.header());
        }
        loop {
            let (at, code, text) = match self.watch.next().await? {
                WatchEvent::Lagged { at, skipped } => (at, "m", format!("watcher lagged, {skipped} events skipped")),
                WatchEvent::Output { at, output } => {
                    let (code, text) = match output.kind {
                        LiveOutputKind::Resize { cols, rows } => ("r", format!("{cols}x{rows}")),
                        LiveOutputKind::Output => ("o", self.decode(output.channel, false, &output.data)),
                        LiveOutputKind::Input => ("i", self.decode(output.channel, true, &output.data)),
                    };
                    (at, code, text)
                }
            };
            // Empty when an event held only the start of a character.
            if !text.is_empty() {
                return Some(event_line(at, code, &text));
            }
        }
    }

    fn header(&self) -> String {
        let size = self.watch.terminal_size();
        let session = self.watch.session();
        let header = serde_json::json!({
            "version": 2,
            "width": size.cols,
            "height": size.rows,
            "timestamp": self.watch.started_at().as_unix_seconds(),
            "title": format!("{}@{}@{} (session {})", session.username, session.account_name, session.target_name,
                session.id),
        });
        format!("{header}\n")
    }

    fn decode(&mut self, channel: u32, input: bool, bytes: &[u8]) -> String {
        self.decoders.entry((channel, input)).or_default().decode(bytes)
    }
}

/// `[seconds, code, text]` and a newline; seconds rounded to microseconds.
fn event_line(at: Duration, code: &str, text: &str) -> String {
    let seconds = at.as_micros() as f64 / 1_000_000.0;
    let line = serde_json::json!([seconds, code, text]);
    format!("{line}\n")
}

/// Decodes a byte stream that arrives in arbitrary pieces as UTF-8, holding back a character split between pieces;
/// bytes that can never be valid become U+FFFD, as `String::from_utf8_lossy` does.
#[derive(Debug, Default)]
struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    fn decode(&mut self, bytes: &[u8]) -> String {
        let mut joined = std::mem::take(&mut self.pending);
        joined.extend_from_slice(bytes);
        let complete = joined.len() - incomplete_tail(&joined);
        self.pending = joined.split_off(complete);
        String::from_utf8_lossy(&joined).into_owned()
    }
}

/// How many bytes at the end of `bytes` start a character that is still missing its last bytes (0 to 3).
fn incomplete_tail(bytes: &[u8]) -> usize {
    (1..=bytes.len().min(3))
        .find(|&len| {
            let tail = &bytes[bytes.len() - len..];
            std::str::from_utf8(tail).is_err_and(|error| error.valid_up_to() == 0 && error.error_len().is_none())
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_split_between_events_are_joined() {
        let euro = "€".as_bytes();
        let mut stream = Utf8Stream::default();
        assert_eq!(stream.decode(&[b'a', euro[0]]), "a");
        assert_eq!(stream.decode(&euro[1..2]), "");
        assert_eq!(stream.decode(&[euro[2], b'b']), "€b");
        assert_eq!(stream.decode(&[0xff, b'c']), "\u{fffd}c");
        assert_eq!(stream.decode("é".as_bytes()), "é");
    }

    #[test]
    fn event_lines_are_asciicast_v2() {
        assert_eq!(
            event_line(Duration::from_micros(1_500_001), "o", "hi\r\n\"x\""),
            "[1.500001,\"o\",\"hi\\r\\n\\\"x\\\"\"]\n"
        );
        assert_eq!(event_line(Duration::ZERO, "r", "80x24"), "[0.0,\"r\",\"80x24\"]\n");
    }
}
