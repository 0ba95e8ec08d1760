//! The web UI: server-rendered pages (askama templates in `templates/`) with htmx, served at `/` next to the API,
//! and their static files at `/assets/{version}/…`. The pages call the same use cases as the API.
//!
//! Architecture Invariant: no inline script or style anywhere; every page carries the strict CSP of
//! [`PAGE_POLICY`]. Every state-changing page request passes [`csrf::protect`] first.

mod access;
mod assets;
mod audit;
mod auth;
mod checkouts;
mod csrf;
mod dashboard;
mod format;
mod pages;
mod session;
mod sessions;
mod users;

pub use session::PendingLogins;

use crate::HttpState;
use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::routing::{get, post};
use tower_http::set_header::SetResponseHeaderLayer;

/// The Content-Security-Policy of every page.
pub const PAGE_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

/// Every page route as (method, path), for the route-access test.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/login"),
    ("post", "/login"),
    ("post", "/login/totp"),
    ("post", "/logout"),
    ("get", "/password"),
    ("post", "/password"),
    ("get", "/totp"),
    ("post", "/totp/start"),
    ("post", "/totp/confirm"),
    ("get", "/"),
    ("get", "/requests/new"),
    ("get", "/requests/tasks"),
    ("get", "/requests"),
    ("post", "/requests"),
    ("post", "/requests/{id}/cancel"),
    ("get", "/approvals"),
    ("post", "/approvals/{id}"),
    ("get", "/checkouts/new"),
    ("get", "/checkouts"),
    ("post", "/checkouts"),
    ("post", "/checkouts/{id}/reveal"),
    ("post", "/checkouts/{id}/checkin"),
    ("get", "/sessions"),
    ("get", "/sessions/{id}"),
    ("get", "/sessions/{id}/live"),
    ("post", "/sessions/{id}/terminate"),
    ("get", "/sessions/{id}/files/{file}"),
    ("get", "/dashboard"),
    ("get", "/audit"),
    ("get", "/audit/export.csv"),
    ("get", "/admin/users"),
    ("post", "/admin/users"),
    ("post", "/admin/users/{id}/{action}"),
    ("get", "/assets/{version}/{name}"),
];

/// The page shown while the vault is sealed (the sealed gate answers before any page route runs, so it carries
/// the page headers itself).
pub(crate) fn sealed_page() -> axum::response::Response {
    use axum::response::IntoResponse;
    let error = pages::PageError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "Latch is sealed",
        "The vault is sealed, so nobody can sign in. An operator unseals it with `latch unseal`.",
    );
    with_page_headers(error.into_response())
}

/// The page for a path that is neither a page nor part of the API.
pub(crate) fn not_found_page() -> axum::response::Response {
    let error =
        pages::PageError::new(axum::http::StatusCode::NOT_FOUND, "Page not found", "There is no page at this address.");
    with_page_headers(axum::response::IntoResponse::into_response(error))
}

fn with_page_headers(mut response: axum::response::Response) -> axum::response::Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_POLICY));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// The pages and assets, with the CSRF check and the page security headers.
pub(crate) fn router() -> Router<HttpState> {
    let headers: [(HeaderName, &'static str); 4] = [
        (header::CONTENT_SECURITY_POLICY, PAGE_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    let mut router = Router::new()
        .route("/login", get(auth::show_login).post(auth::submit_login))
        .route("/login/totp", post(auth::submit_totp))
        .route("/logout", post(auth::logout))
        .route("/password", get(auth::show_password).post(auth::change_password))
        .route("/totp", get(auth::show_totp))
        .route("/totp/start", post(auth::start_totp))
        .route("/totp/confirm", post(auth::confirm_totp))
        .route("/", get(access::my_access))
        .route("/requests/new", get(access::new_request))
        .route("/requests/tasks", get(access::incident_tasks))
        .route("/requests", get(access::my_requests).post(access::create_request))
        .route("/requests/{id}/cancel", post(access::cancel_request))
        .route("/approvals", get(access::approvals))
        .route("/approvals/{id}", post(access::decide))
        .route("/checkouts/new", get(checkouts::new_checkout))
        .route("/checkouts", get(checkouts::list).post(checkouts::create))
        .route("/checkouts/{id}/reveal", post(checkouts::reveal))
        .route("/checkouts/{id}/checkin", post(checkouts::check_in))
        .route("/sessions", get(sessions::list))
        .route("/sessions/{id}", get(sessions::show))
        .route("/sessions/{id}/live", get(sessions::live))
        .route("/sessions/{id}/terminate", post(sessions::terminate))
        .route("/sessions/{id}/files/{file}", get(sessions::file))
        .route("/dashboard", get(dashboard::show))
        .route("/audit", get(audit::list))
        .route("/audit/export.csv", get(audit::export))
        .route("/admin/users", get(users::list).post(users::create))
        .route("/admin/users/{id}/{action}", post(users::act))
        .route("/assets/{version}/{name}", get(assets::serve))
        .layer(axum::middleware::from_fn(csrf::protect));
    // A page may carry a stricter or wider policy of its own (the replay page allows WebAssembly for its player).
    for (name, value) in headers {
        let value = HeaderValue::from_static(value);
        router = if name == header::CONTENT_SECURITY_POLICY {
            router.layer(SetResponseHeaderLayer::if_not_present(name, value))
        } else {
            router.layer(SetResponseHeaderLayer::overriding(name, value))
        };
    }
    router
}

#[cfg(test)]
mod tests {
    use crate::{HttpOptions, router};
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use tower::ServiceExt;

    async fn get(service: &axum::Router, path: &str) -> axum::response::Response {
        let request = Request::builder().uri(path).header("host", "latch.test").body(Body::empty()).expect("request");
        service.clone().oneshot(request).await.expect("response")
    }

    async fn body_text(response: axum::response::Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), 4 * 1024 * 1024).await.expect("body");
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }

    #[tokio::test]
    async fn pages_carry_the_security_headers_and_no_inline_script_or_style() {
        let t = latch_testkit::app::TestApp::sqlite().await.expect("app");
        let service = router(t.app.clone(), HttpOptions::default());
        let response = get(&service, "/login").await;
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers().clone();
        assert_eq!(headers[header::CONTENT_SECURITY_POLICY], super::PAGE_POLICY);
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        let html = body_text(response).await;
        assert!(!html.contains("<script>") && !html.contains("style=") && !html.contains("<style"), "{html}");
        assert!(!html.contains("onclick=") && !html.contains("onsubmit="), "no inline handlers");

        // Every asset the page names is served, cached for a year; another version is not.
        let mut urls: Vec<String> =
            html.split(['"', '\'']).filter(|part| part.starts_with("/assets/")).map(str::to_owned).collect();
        urls.sort();
        urls.dedup();
        assert_eq!(urls.len(), 3, "{urls:?}");
        for url in &urls {
            let asset = get(&service, url).await;
            assert_eq!(asset.status(), StatusCode::OK, "{url}");
            assert_eq!(asset.headers()[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
            assert!(!body_text(asset).await.is_empty());
        }
        let stale = urls[0].replacen("/assets/", "/assets/0", 1);
        assert_eq!(get(&service, &stale).await.status(), StatusCode::NOT_FOUND);

        // Unknown addresses: a page for browsers, the JSON error under the API.
        let page = get(&service, "/no-such-page").await;
        assert_eq!(page.status(), StatusCode::NOT_FOUND);
        assert_eq!(page.headers()[header::CONTENT_SECURITY_POLICY], super::PAGE_POLICY);
        assert!(body_text(page).await.contains("Page not found"));
        let api = get(&service, "/api/v1/no-such-route").await;
        assert_eq!(api.status(), StatusCode::NOT_FOUND);
        assert!(body_text(api).await.contains("\"not_found\""));
    }

    #[tokio::test]
    async fn a_sealed_vault_shows_pages_an_explanation() {
        let t = latch_testkit::app::TestApp::sqlite().await.expect("app");
        let service = router(t.app.clone(), HttpOptions::default());
        let admin = t.admin().await.expect("admin");
        t.app.seal(&admin, &latch_app::RequestContext::default()).await.expect("seal");
        let response = get(&service, "/login").await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::CONTENT_SECURITY_POLICY], super::PAGE_POLICY);
        assert!(response.headers()[header::CONTENT_TYPE].to_str().expect("type").starts_with("text/html"));
        let html = body_text(response).await;
        assert!(html.contains("Latch is sealed"), "{html}");
        let css = html.split('"').find(|part| part.ends_with("/latch.css")).expect("stylesheet").to_owned();
        assert_eq!(get(&service, &css).await.status(), StatusCode::OK);
        let api = get(&service, "/api/v1/users").await;
        assert_eq!(api.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(api.headers()[header::CONTENT_TYPE].to_str().expect("type").starts_with("application/json"));
    }

    #[tokio::test]
    async fn pages_without_a_session_send_the_browser_to_sign_in() {
        let t = latch_testkit::app::TestApp::sqlite().await.expect("app");
        let service = router(t.app.clone(), HttpOptions::default());
        let response = get(&service, "/approvals").await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(response.headers()[header::LOCATION], "/login");
        assert!(!body_text(get(&service, "/login").await).await.contains("session has ended"));

        // A session that is no longer valid (expired, signed out elsewhere): the cookie is removed, and the
        // sign-in page says why.
        let request = Request::builder()
            .uri("/requests")
            .header("cookie", "__Host-latch_session=lts_expired-or-unknown")
            .body(Body::empty())
            .expect("request");
        let response = service.clone().oneshot(request).await.expect("response");
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(response.headers()[header::LOCATION], "/login?ended=1");
        assert!(response.headers()[header::SET_COOKIE].to_str().expect("cookie").contains("Max-Age=0"));
        assert!(body_text(get(&service, "/login?ended=1").await).await.contains("session has ended"));
        let request = Request::builder()
            .uri("/")
            .header("hx-request", "true")
            .header("cookie", "__Host-latch_session=lts_not-a-session")
            .body(Body::empty())
            .expect("request");
        let response = service.clone().oneshot(request).await.expect("response");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()["hx-redirect"], "/login");
        let cleared = response.headers()[header::SET_COOKIE].to_str().expect("cookie");
        assert!(cleared.starts_with("__Host-latch_session=;") && cleared.contains("Max-Age=0"), "{cleared}");
    }
}
