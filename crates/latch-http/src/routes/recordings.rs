//! Recording storage: setting its credential, and this node's upload backlog.

use crate::HttpState;
use crate::error::ApiResult;
use crate::guard::{Access, Admin, Body as JsonBody, Need, Rule};
use crate::views;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use latch_api::{ErrorBody, StorageCredentialRequest, UploadBacklogView};
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
