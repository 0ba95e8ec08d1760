//! Sessions as people see them in the browser: the list with filters, one session with its events and the replay
//! of its recording (asciinema-player), terminating a live one, and the recording files the player reads. Each
//! page calls the same use cases as the API (`search_sessions`, `get_session`, `session_events`,
//! `recording_files`, `read_recording_file`, `terminate_session`), which check who may see what.

use super::pages::{Layout, PageError, Section, form_message, render};
use super::session::WebUser;
use super::{assets, format};
use crate::HttpState;
use crate::routes::sessions::AsciicastStream;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use latch_app::{AppError, MAX_REPORT_PAGE, SessionQuery};
use latch_domain::gateway_session::GatewaySession;
use latch_domain::permission::Permission;
use latch_domain::target::Protocol;
use latch_domain::{TimeSpan, Timestamp};

/// Sessions per page of the list.
const PAGE_SIZE: i64 = 50;
/// The Content-Security-Policy of the session page: the page policy, and WebAssembly for the player's terminal
/// emulator (compiling WebAssembly only; `eval` stays forbidden).
pub(crate) const REPLAY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'self'; object-src 'none'";

/// The list's filters, as the form sends them; empty fields are no filter.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct SessionFilters {
    #[serde(default)]
    user: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    protocol: String,
    /// `live`, `ended` or empty.
    #[serde(default)]
    status: String,
    /// `YYYY-MM-DD` (UTC), the first day.
    #[serde(default)]
    from: String,
    /// `YYYY-MM-DD` (UTC), the last day.
    #[serde(default)]
    to: String,
    #[serde(default)]
    page: u32,
}

impl SessionFilters {
    fn to_query(&self) -> Result<SessionQuery, String> {
        let text = |value: &str| Some(value.trim().to_owned()).filter(|v| !v.is_empty());
        let protocol = match self.protocol.trim() {
            "" => None,
            name => Some(Protocol::parse(name).map_err(|err| format!("protocol: {err}"))?.as_str().to_owned()),
        };
        let live_only = match self.status.as_str() {
            "" | "ended" => false,
            "live" => true,
            other => return Err(format!("status: {other:?} is neither live nor ended")),
        };
        let started_from = format::day_start("from", &self.from)?;
        let started_to = format::day_start("to", &self.to)?.map(|day| day.plus(TimeSpan::from_hours(24)));
        Ok(SessionQuery {
            live_only,
            username: text(&self.user),
            target: text(&self.target),
            protocol,
            started_from,
            started_to,
            // One more than a page, to know whether there is a next one.
            limit: PAGE_SIZE + 1,
            offset: i64::from(self.page) * PAGE_SIZE,
            ..SessionQuery::default()
        })
    }

    /// The address of page `page` with the same filters.
    fn page_link(&self, page: u32) -> String {
        let pairs = [
            ("user", self.user.as_str()),
            ("target", self.target.as_str()),
            ("protocol", self.protocol.as_str()),
            ("status", self.status.as_str()),
            ("from", self.from.as_str()),
            ("to", self.to.as_str()),
        ];
        let mut link = String::from("/sessions?");
        for (name, value) in pairs.iter().filter(|(_, value)| !value.is_empty()) {
            link.push_str(&format!("{name}={}&", super::access::encode(value)));
        }
        link.push_str(&format!("page={page}"));
        link
    }
}

#[derive(Debug)]
struct SessionRow {
    id: String,
    user: String,
    target: String,
    account: String,
    protocol: &'static str,
    started: String,
    started_machine: String,
    live: bool,
    length: String,
    end_reason: String,
    recorded: bool,
}

impl SessionRow {
    fn new(session: &GatewaySession, now: Timestamp) -> SessionRow {
        SessionRow {
            id: session.id.to_string(),
            user: session.username.clone(),
            target: session.target_name.clone(),
            account: session.account_name.clone(),
            protocol: session.protocol.as_str(),
            started: format::minute(session.started_at),
            started_machine: format::machine(session.started_at),
            live: session.ended_at.is_none(),
            length: format::span(session.started_at, session.ended_at.unwrap_or(now)),
            end_reason: session.end_reason.map(|reason| reason.as_str().replace('_', " ")).unwrap_or_default(),
            recorded: session.recording.is_some() && session.retention.deleted_at.is_none(),
        }
    }
}

#[derive(Template)]
#[template(path = "sessions.html")]
struct SessionsPage {
    layout: Layout,
    filters: SessionFilters,
    protocols: [&'static str; 4],
    sessions: Vec<SessionRow>,
    /// Everyone's sessions (`sessions:read`), or only the user's own.
    everyone: bool,
    previous: Option<String>,
    next: Option<String>,
    error: Option<String>,
}

/// `GET /sessions`: live and past sessions, newest first, filtered by user, target, protocol, status and day.
pub(crate) async fn list(
    State(state): State<HttpState>,
    user: WebUser,
    Query(filters): Query<SessionFilters>,
) -> Result<Response, PageError> {
    let layout = Layout::signed_in(&user, "Sessions", Section::Sessions);
    let everyone = user.principal.has(Permission::SessionsRead);
    let protocols = Protocol::ALL.map(|p| p.as_str());
    let (mut sessions, error) = match filters.to_query() {
        Ok(query) => match state.app.search_sessions(&user.principal, &query).await {
            Ok(found) => (found, None),
            Err(err @ (AppError::Invalid(_) | AppError::BadRequest(_))) => (Vec::new(), Some(form_message(err).1)),
            Err(err) => return Err(err.into()),
        },
        Err(message) => (Vec::new(), Some(message)),
    };
    let more = i64::try_from(sessions.len()).unwrap_or(i64::MAX) > PAGE_SIZE;
    sessions.truncate(usize::try_from(PAGE_SIZE).unwrap_or(50));
    let now = state.app.now();
    let sessions = sessions.iter().map(|session| SessionRow::new(session, now)).collect();
    let previous = filters.page.checked_sub(1).map(|page| filters.page_link(page));
    let next = more.then(|| filters.page_link(filters.page.saturating_add(1)));
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let page = SessionsPage { layout, filters, protocols, sessions, everyone, previous, next, error };
    Ok(render(status, &page))
}

#[derive(Debug)]
struct EventRow {
    /// Seconds since the session started, as shown.
    offset: String,
    at_ms: i64,
    channel: String,
    kind: String,
    summary: String,
}

#[derive(Debug)]
struct FileRow {
    name: String,
    size: String,
    /// A terminal recording the player replays.
    cast: bool,
    /// The channel number of a `channel-N.*` file.
    channel: String,
}

#[derive(Template)]
#[template(path = "session.html")]
struct SessionPage {
    layout: Layout,
    session: SessionRow,
    source: String,
    node: String,
    ended: String,
    bytes: String,
    can_terminate: bool,
    can_replay: bool,
    /// Live, and the user may watch it.
    can_watch: bool,
    recording_note: Option<String>,
    files: Vec<FileRow>,
    events: Vec<EventRow>,
    terminated: bool,
    player_css: String,
    player_js: String,
}

#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct SessionShown {
    #[serde(default)]
    terminated: bool,
}

/// `GET /sessions/{id}`: one session, its events, its recording's files and the player for its terminals; a live
/// one can be terminated by whoever may.
pub(crate) async fn show(
    State(state): State<HttpState>,
    user: WebUser,
    Path(id): Path<String>,
    Query(shown): Query<SessionShown>,
) -> Result<Response, PageError> {
    let app = &state.app;
    let session = app.get_session(&user.principal, &id).await?;
    let now = app.now();
    let row = SessionRow::new(&session, now);
    let events = app.session_events(&user.principal, &id, MAX_REPORT_PAGE, 0).await?;
    let events = events
        .iter()
        .map(|event| {
            let entry = &event.entry;
            let offset = entry.at.since(session.started_at).as_millis().max(0);
            EventRow {
                offset: format!("{}.{:01}", offset / 1000, (offset % 1000) / 100),
                at_ms: entry.at.as_millis(),
                channel: entry.channel.map(|channel| channel.to_string()).unwrap_or_default(),
                kind: entry.kind.replace('_', " "),
                summary: entry.summary.clone(),
            }
        })
        .collect();
    let can_replay = user.principal.has(Permission::RecordingsRead);
    let (files, recording_note) = match (&session.recording, session.retention.deleted_at) {
        (None, _) => (Vec::new(), Some("This session was not recorded.".to_owned())),
        (Some(_), Some(deleted)) => {
            (Vec::new(), Some(format!("The recording was deleted on {} (retention).", format::minute(deleted))))
        }
        (Some(_), None) if !can_replay => {
            (Vec::new(), Some("Replaying recordings needs the recordings:read permission.".to_owned()))
        }
        (Some(_), None) if row.live => {
            (Vec::new(), Some("The recording can be replayed once the session has ended.".to_owned()))
        }
        (Some(_), None) => match app.recording_files(&user.principal, &id).await {
            Ok(files) => (files.iter().map(file_row).collect(), None),
            Err(AppError::NotFound(_)) => (Vec::new(), Some("The recording's files cannot be found.".to_owned())),
            Err(err) => return Err(err.into()),
        },
    };
    let layout = Layout::signed_in(&user, format!("Session on {}", session.target_name), Section::Sessions);
    let page = SessionPage {
        layout,
        source: session.source.clone().unwrap_or_else(|| "-".to_owned()),
        node: session.node.clone(),
        ended: session.ended_at.map(format::minute).unwrap_or_default(),
        bytes: format!(
            "{} sent · {} received",
            human_bytes(session.bytes_to_target),
            human_bytes(session.bytes_from_target)
        ),
        can_terminate: row.live && user.principal.has(Permission::SessionsTerminate),
        can_watch: row.live && user.principal.has(Permission::SessionsRead),
        can_replay,
        recording_note,
        files,
        events,
        session: row,
        terminated: shown.terminated,
        player_css: assets::url("asciinema-player.css"),
        player_js: assets::url("asciinema-player.min.js"),
    };
    let mut response = render(StatusCode::OK, &page);
    response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(REPLAY_POLICY));
    Ok(response)
}

fn file_row(file: &latch_app::RecordingFile) -> FileRow {
    let channel = file
        .name
        .strip_prefix("channel-")
        .and_then(|rest| rest.split('.').next())
        .filter(|number| number.chars().all(|c| c.is_ascii_digit()))
        .unwrap_or_default()
        .to_owned();
    FileRow {
        name: file.name.clone(),
        size: human_bytes(i64::try_from(file.bytes).unwrap_or(i64::MAX)),
        cast: file.name.ends_with(".cast"),
        channel,
    }
}

fn human_bytes(bytes: i64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `GET /sessions/{id}/live`: a live session's terminals as they happen, for the player on the session page, as
/// server-sent events: the asciicast v2 header, then one event per line, then `done` when the session ends.
/// Needs `sessions:read`; the watch is audited before anything is sent.
pub(crate) async fn live(
    State(state): State<HttpState>,
    user: WebUser,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let watch = state.app.watch_session(&user.principal, &id, &user.ctx).await?;
    let cast = AsciicastStream::new(watch);
    let events = futures_util::stream::unfold(Some(cast), |cast| async move {
        let mut cast = cast?;
        let event = match cast.next_line().await {
            Some(line) => (format!("data: {}\n\n", line.trim_end()), Some(cast)),
            None => ("event: done\ndata: ended\n\n".to_owned(), None),
        };
        Some((Ok::<_, std::convert::Infallible>(event.0), event.1))
    });
    let headers = [
        (header::CONTENT_TYPE, "text/event-stream"),
        (header::CACHE_CONTROL, "no-store"),
        (HeaderName::from_static("x-accel-buffering"), "no"),
    ];
    Ok((headers, axum::body::Body::from_stream(events)).into_response())
}

/// `POST /sessions/{id}/terminate`: ends a live session now (`sessions:terminate`), then shows it.
pub(crate) async fn terminate(
    State(state): State<HttpState>,
    user: WebUser,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let session = state.app.terminate_session(&user.principal, &id, &user.ctx).await?;
    Ok(Redirect::to(&format!("/sessions/{}?terminated=true", session.id)).into_response())
}

/// `GET /sessions/{id}/files/{file}`: one file of the session's recording for the player or a download
/// (`recordings:read`; every read is audited before the bytes leave).
pub(crate) async fn file(
    State(state): State<HttpState>,
    user: WebUser,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let bytes = state.app.read_recording_file(&user.principal, &id, &file, &user.ctx).await?;
    let content_type = if file.ends_with(".cast") {
        latch_api::ASCIICAST_CONTENT_TYPE
    } else if file.ends_with(".json") || file.ends_with(".jsonl") {
        "application/json"
    } else {
        "application/octet-stream"
    };
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if !file.ends_with(".cast") {
        let disposition = format!("attachment; filename=\"{id}-{}\"", file.replace(['"', '\\'], ""));
        if let Ok(value) = HeaderValue::from_str(&disposition) {
            headers.insert(header::CONTENT_DISPOSITION, value);
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_become_a_query_and_bad_ones_say_why() {
        let filters = SessionFilters {
            user: " alice ".to_owned(),
            protocol: "ssh".to_owned(),
            status: "live".to_owned(),
            from: "2026-11-01".to_owned(),
            to: "2026-11-01".to_owned(),
            page: 2,
            ..SessionFilters::default()
        };
        let query = filters.to_query().unwrap();
        assert_eq!(query.username.as_deref(), Some("alice"));
        assert!(query.live_only);
        let from = query.started_from.unwrap();
        assert_eq!(query.started_to.unwrap().since(from).as_millis(), 86_400_000, "the last day is included");
        assert_eq!((query.limit, query.offset), (PAGE_SIZE + 1, 2 * PAGE_SIZE));
        assert_eq!(
            filters.page_link(3),
            "/sessions?user=%20alice%20&protocol=ssh&status=live&from=2026-11-01&to=2026-11-01&page=3"
        );

        let bad = SessionFilters { from: "yesterday".to_owned(), ..SessionFilters::default() };
        assert!(bad.to_query().unwrap_err().contains("from"));
        let bad = SessionFilters { status: "maybe".to_owned(), ..SessionFilters::default() };
        assert!(bad.to_query().is_err());
        let bad = SessionFilters { protocol: "gopher".to_owned(), ..SessionFilters::default() };
        assert!(bad.to_query().unwrap_err().starts_with("protocol"));
    }

    #[test]
    fn sizes_read_like_sizes() {
        assert_eq!(human_bytes(12), "12 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(30 << 20), "30.0 MiB");
    }
}
