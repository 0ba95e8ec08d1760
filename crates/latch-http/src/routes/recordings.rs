//! Recording storage: setting its credential, and this node's upload backlog.

use crate::HttpState;
use crate::error::ApiResult;
use crate::guard::{Access, Admin, Body as JsonBody, Need, Rule};
use crate::views;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use latch_api::{
    ASCIICAST_CONTENT_TYPE, ErrorBody, RecordingFileView, RecordingFilesView, StorageCredentialRequest,
    UploadBacklogView,
};
use latch_app::SecretString;
use latch_domain::permission::Permission;

/// Holders of `recordings:read`.
#[derive(Debug)]
pub(crate) struct RecordingsRead;

impl Access for RecordingsRead {
    const RULE: Rule = Rule::Permission(Permission::RecordingsRead);
}

/// Stores the recording storage's credential (an S3 secret access key, an Azure account key) in the vault,
/// replacing the previous one; the uploader uses it from its next attempt. Audited; the credential is never
/// returned or logged.
#[utoipa::path(put, path = "/api/v1/recordings/storage-credential", tag = "recordings",
    request_body = StorageCredentialRequest,
    responses((status = 204), (status = 400, description = "no storage that takes a credential", body = ErrorBody)))]
pub(crate) async fn set_credential(
    State(state): State<HttpState>,
    need: Need<Admin>,
    JsonBody(request): JsonBody<StorageCredentialRequest>,
) -> ApiResult<StatusCode> {
    let credential = SecretString::new(request.credential);
    state.app.set_recording_storage_credential(&need.principal, &credential, &need.ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The answering node's upload backlog: recordings sealed in its spool and not yet copied to the storage, how
/// many are failing, and the last error.
#[utoipa::path(get, path = "/api/v1/recordings/backlog", tag = "recordings",
    responses((status = 200, body = UploadBacklogView)))]
pub(crate) async fn backlog(
    State(state): State<HttpState>,
    need: Need<RecordingsRead>,
) -> ApiResult<Json<UploadBacklogView>> {
    let backlog = state.app.upload_backlog(&need.principal)?;
    let view = match backlog {
        Some(backlog) => UploadBacklogView {
            configured: true,
            storage: Some(backlog.storage),
            recordings: backlog.recordings,
            bytes: backlog.bytes,
            failing: backlog.failing,
            alerted: backlog.alerted,
            last_error: backlog.last_error,
            last_upload_at: backlog.last_upload_at.map(views::time),
            updated_at: Some(views::time(backlog.updated_at)),
        },
        None => UploadBacklogView {
            configured: false,
            storage: None,
            recordings: 0,
            bytes: 0,
            failing: 0,
            alerted: 0,
            last_error: None,
            last_upload_at: None,
            updated_at: None,
        },
    };
    Ok(Json(view))
}

/// The files of a session's recording (asciicast casts, byte streams, the event log, the signed manifest), wherever
/// they are kept. Needs `recordings:read`.
#[utoipa::path(get, path = "/api/v1/sessions/{session}/recording", tag = "recordings",
    params(("session" = String, Path)),
    responses((status = 200, body = RecordingFilesView), (status = 404, body = ErrorBody)))]
pub(crate) async fn files(
    State(state): State<HttpState>,
    need: Need<RecordingsRead>,
    Path(id): Path<String>,
) -> ApiResult<Json<RecordingFilesView>> {
    let files = state.app.recording_files(&need.principal, &id).await?;
    let files = files.into_iter().map(|file| RecordingFileView { name: file.name, bytes: file.bytes }).collect();
    Ok(Json(RecordingFilesView { session: id, files }))
}

/// One file of a session's recording, as stored (to replay it, or to keep a copy that `latch recordings verify`
/// checks). Each read is audited (`recording.read`) before the bytes leave. Needs `recordings:read`.
#[utoipa::path(get, path = "/api/v1/sessions/{session}/recording/{file}", tag = "recordings",
    params(("session" = String, Path), ("file" = String, Path)),
    responses(
        (status = 200, description = "the file's bytes", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn file(
    State(state): State<HttpState>,
    need: Need<RecordingsRead>,
    Path((id, file)): Path<(String, String)>,
) -> ApiResult<Response> {
    let bytes = state.app.read_recording_file(&need.principal, &id, &file, &need.ctx).await?;
    let content_type = match file.rsplit_once('.').map(|(_, extension)| extension) {
        Some("cast") => ASCIICAST_CONTENT_TYPE,
        Some("jsonl") => "application/x-ndjson",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    };
    Ok(([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-store")], bytes).into_response())
}
