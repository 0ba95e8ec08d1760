//! CSRF defence for every state-changing request to the pages: the request must come from a page of this origin
//! (`Sec-Fetch-Site` and `Origin`, when the browser sends them) and carry the session's CSRF token, in the
//! `x-csrf-token` header (htmx, set by latch.js) or the `csrf` form field (plain forms). Checked here, once, in
//! front of every page route, so no handler can forget it. Signing in has no session yet: it gets the origin
//! check only.

use super::pages::PageError;
use super::session::{CSRF_HEADER, csrf_matches, session_token};
use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The largest form the check reads to find the token.
const MAX_FORM_BYTES: usize = 64 * 1024;
/// Routes that open a session and so cannot carry a token yet.
const SIGN_IN_ROUTES: [&str; 2] = ["/login", "/login/totp"];

#[derive(Debug, serde::Deserialize)]
struct TokenField {
    #[serde(rename = "csrf")]
    token: Option<String>,
}

/// The middleware.
pub(crate) async fn protect(request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    if !same_origin(request.headers(), request.uri().authority().map(|a| a.as_str())) {
        let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        tracing::warn!(
            path = request.uri().path(),
            origin = header("origin"),
            host = header("host"),
            authority = ?request.uri().authority(),
            sec_fetch_site = header("sec-fetch-site"),
            "refused a cross-origin page request"
        );
        return refuse("this request did not come from a Latch page");
    }
    if SIGN_IN_ROUTES.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let Some(session) = session_token(request.headers()) else {
        return refuse("sign in first");
    };
    if let Some(presented) = request.headers().get(CSRF_HEADER).and_then(|value| value.to_str().ok()) {
        if csrf_matches(&session, presented) {
            return next.run(request).await;
        }
        return refuse("the page's security token is missing or wrong; reload the page and try again");
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return refuse("the form is too large");
    };
    if !form_token_matches(&parts.headers, &session, &bytes).await {
        return refuse("the page's security token is missing or wrong; reload the page and try again");
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

async fn form_token_matches(headers: &HeaderMap, session: &str, bytes: &axum::body::Bytes) -> bool {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return false;
    }
    let probe = Request::builder()
        .method(Method::POST)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(bytes.clone()));
    let Ok(probe) = probe else { return false };
    match axum::Form::<TokenField>::from_request(probe, &()).await {
        Ok(axum::Form(TokenField { token: Some(token) })) => csrf_matches(session, &token),
        _ => false,
    }
}

/// `Sec-Fetch-Site`, which every current browser sends, must say same-origin. Without it (older browsers, other
/// clients), `Origin` must name this host when present. Under `Referrer-Policy: no-referrer` browsers send
/// `Origin: null` even for same-origin form posts, so `Sec-Fetch-Site` decides whenever it is there.
fn same_origin(headers: &HeaderMap, authority: Option<&str>) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return site.as_bytes() == b"same-origin";
    }
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let host = headers.get(header::HOST).and_then(|value| value.to_str().ok()).or(authority);
    let origin_host = origin.to_str().ok().and_then(|text| text.split_once("://")).map(|(_, rest)| rest);
    matches!((origin_host, host), (Some(origin), Some(host)) if origin.eq_ignore_ascii_case(host))
}

fn refuse(message: &str) -> Response {
    PageError::new(StatusCode::FORBIDDEN, "Request refused", message).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn origin_rules() {
        let check = |pairs: &[(&'static str, &'static str)], want: bool| {
            assert_eq!(same_origin(&headers(pairs), None), want, "{pairs:?}");
        };
        check(&[("host", "latch.example:8443")], true);
        check(&[("host", "latch.example:8443"), ("origin", "https://latch.example:8443")], true);
        check(&[("host", "latch.example:8443"), ("origin", "https://evil.example")], false);
        check(&[("host", "latch.example:8443"), ("origin", "null")], false);
        check(&[("host", "latch.example"), ("sec-fetch-site", "same-origin")], true);
        check(&[("host", "latch.example"), ("sec-fetch-site", "same-origin"), ("origin", "null")], true);
        check(&[("host", "latch.example"), ("sec-fetch-site", "none")], false);
        check(&[("host", "latch.example"), ("sec-fetch-site", "same-site")], false);
        check(&[("host", "latch.example"), ("sec-fetch-site", "cross-site")], false);
        assert!(same_origin(&headers(&[("origin", "https://a.example")]), Some("a.example")));
    }

    #[test]
    fn tokens_are_per_session_and_compared_whole() {
        let token = super::super::session::csrf_token("lts_one");
        assert!(csrf_matches("lts_one", &token));
        assert!(!csrf_matches("lts_two", &token));
        assert!(!csrf_matches("lts_one", &token[..token.len() - 1]));
        assert!(!csrf_matches("lts_one", ""));
    }
}
