use axum::{Extension, Json};
use std::sync::Arc;

/// The OpenAPI 3.1 document of this API.
#[utoipa::path(get, path = "/api/openapi.json", tag = "meta", security(()), responses((status = 200, description = "OpenAPI document")))]
pub(crate) async fn document(
    Extension(doc): Extension<Arc<utoipa::openapi::OpenApi>>,
) -> Json<utoipa::openapi::OpenApi> {
    Json((*doc).clone())
}
