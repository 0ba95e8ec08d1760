//! Latch's HTTP front end: the JSON API under `/api/v1`, OAuth at `/oauth/token`, the
//! OpenAPI document at `/api/openapi.json`, and the web UI's pages at `/` ([`web`]).
//!
//! Architecture Invariant: this is the only place that picks HTTP status codes ([`error`]);
//! every route's first extractor is a [`guard::Need`] naming who may call it, and the
//! application layer checks again. No SQL here.

pub mod error;
pub mod guard;
mod middleware;
mod routes;
mod views;
pub mod web;

use axum::Router;
use latch_app::App;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

/// Settings of the HTTP front end.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Mark cookies `Secure` (true whenever served over TLS).
    pub secure_cookies: bool,
    /// The largest request body accepted.
    pub max_body_bytes: usize,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self { secure_cookies: true, max_body_bytes: 1024 * 1024 }
    }
}

/// What every handler gets.
#[derive(Debug, Clone)]
pub struct HttpState {
    pub app: App,
    pub options: HttpOptions,
    /// Web sign-ins waiting for their TOTP code.
    pub pending_logins: web::PendingLogins,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Latch API", description = "Privileged access management: vault, identities, inventory, audit."),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some("A session token from /api/v1/auth/login or an access token from /oauth/token"));
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme.build()));
    }
}

/// The router with its OpenAPI document, before the document route and middleware are added.
pub fn api_router() -> (Router<HttpState>, utoipa::openapi::OpenApi) {
    let router = OpenApiRouter::with_openapi(ApiDoc::openapi());
    routes::register(router).split_for_parts()
}

/// The OpenAPI 3.1 document generated from the routes.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_router().1
}

/// The complete HTTP service.
pub fn router(app: App, options: HttpOptions) -> Router {
    let (api, doc) = api_router();
    let doc = std::sync::Arc::new(doc);
    let state = HttpState { app, options, pending_logins: web::PendingLogins::default() };
    middleware::wrap(routes::with_openapi_document(api, doc).merge(web::router()), state)
}
