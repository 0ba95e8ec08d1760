//! Layers around every route: sealed gate, body limit, security headers, request tracing.

use crate::HttpState;
use crate::error::ApiError;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;

pub(crate) fn wrap(router: Router<HttpState>, state: HttpState) -> Router {
    let limit = state.options.max_body_bytes;
    let headers: [(HeaderName, &'static str); 6] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
        (header::CONTENT_SECURITY_POLICY, "default-src 'none'; frame-ancestors 'none'"),
        (header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"),
    ];
    let mut router = router
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), sealed_gate))
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(tower_http::trace::TraceLayer::new_for_http());
    for (name, value) in headers {
        router = router.layer(SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value)));
    }
    router.with_state(state)
}

/// While sealed, only the status and unseal routes (and the API document and the pages' static files) answer;
/// pages get an HTML explanation, the API its JSON error.
async fn sealed_gate(State(state): State<HttpState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let open_while_sealed =
        path.starts_with("/api/v1/sys/") || path == "/api/openapi.json" || path.starts_with("/assets/");
    if state.app.is_sealed() && !open_while_sealed {
        if !path.starts_with("/api/") && !path.starts_with("/oauth/") {
            return crate::web::sealed_page();
        }
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "sealed",
            "the vault is sealed; unseal it with `latch unseal`",
        )
        .into_response();
    }
    next.run(request).await
}

/// Unknown API paths get the API's JSON error; anything else is a page a browser asked for.
async fn not_found(uri: axum::http::Uri) -> Response {
    let path = uri.path();
    if path.starts_with("/api/") || path.starts_with("/oauth/") {
        return ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route").into_response();
    }
    crate::web::not_found_page()
}
