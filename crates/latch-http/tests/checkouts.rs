//! Check-outs over the router: the secret is answered once, never cached, and a second reveal is a conflict.

#![expect(clippy::expect_used, reason = "test helpers fail the test by panicking")]

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use latch_http::{HttpOptions, router};
use latch_testkit::app::TestApp;
use serde_json::{Value, json};
use tower::ServiceExt;

const SECRET: &str = "http-checkout-secret-42";

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

async fn call(service: &axum::Router, method: &str, path: &str, token: &str, body: Option<Value>) -> Answer {
    let builder = Request::builder().method(method).uri(path).header("authorization", format!("Bearer {token}"));
    let request = match body {
        Some(body) => builder.header("content-type", "application/json").body(Body::from(body.to_string())),
        None => builder.body(Body::empty()),
    };
    let response = service.clone().oneshot(request.expect("request")).await.expect("response");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
    let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("json") };
    Answer { status, headers, body }
}

#[tokio::test]
async fn the_secret_is_revealed_once_and_never_cached() {
    let t = TestApp::sqlite().await.expect("app");
    let service = router(t.app.clone(), HttpOptions { secure_cookies: false, max_body_bytes: 64 * 1024 });
    let admin = t.admin_token.clone();
    let created =
        call(&service, "POST", "/api/v1/targets", &admin, Some(json!({"name": "db-1", "address": "10.0.0.5"})));
    assert_eq!(created.await.status, StatusCode::CREATED);
    let account = json!({"username": "postgres", "secret": SECRET, "exclusive_checkout": false});
    let added = call(&service, "POST", "/api/v1/targets/db-1/accounts", &admin, Some(account)).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    assert_eq!(added.body["exclusive_checkout"], false);
    let policy = json!({
        "name": "db-reveal", "users": ["admin"], "targets": [{"name": "db-1"}], "mode": "standing",
        "max_duration_minutes": 60, "reveal_allowed": true
    });
    assert_eq!(call(&service, "POST", "/api/v1/policies", &admin, Some(policy)).await.status, StatusCode::CREATED);

    let request = json!({"target": "db-1", "account": "postgres", "duration_minutes": 15, "reason": "vacuum"});
    let checkout = call(&service, "POST", "/api/v1/checkouts", &admin, Some(request)).await;
    assert_eq!(checkout.status, StatusCode::CREATED, "{}", checkout.body);
    assert_eq!((checkout.body["state"].as_str(), checkout.body["exclusive"].as_bool()), (Some("open"), Some(false)));
    assert!(!checkout.body.to_string().contains(SECRET));
    let id = checkout.body["id"].as_str().expect("id").to_owned();

    let revealed = call(&service, "POST", &format!("/api/v1/checkouts/{id}/reveal"), &admin, None).await;
    assert_eq!(revealed.status, StatusCode::OK);
    assert_eq!(revealed.body["secret"], SECRET);
    assert_eq!(revealed.headers.get(header::CACHE_CONTROL).and_then(|v| v.to_str().ok()), Some("no-store"));
    assert_eq!(revealed.headers.get(header::PRAGMA).and_then(|v| v.to_str().ok()), Some("no-cache"));
    let again = call(&service, "POST", &format!("/api/v1/checkouts/{id}/reveal"), &admin, None).await;
    assert_eq!((again.status, again.body["error"].as_str()), (StatusCode::CONFLICT, Some("conflict")));
    assert!(!again.body.to_string().contains(SECRET));

    let shown = call(&service, "GET", &format!("/api/v1/checkouts/{id}"), &admin, None).await;
    assert!(shown.body["revealed_at"].is_string(), "{}", shown.body);
    let back = call(&service, "POST", &format!("/api/v1/checkouts/{id}/checkin"), &admin, None).await;
    assert_eq!(
        (back.body["state"].as_str(), back.body["check_in_reason"].as_str()),
        (Some("checked_in"), Some("returned"))
    );
    let open = call(&service, "GET", "/api/v1/checkouts?scope=mine&open=true", &admin, None).await;
    assert_eq!(open.body["checkouts"], json!([]));
    let rotations = call(&service, "GET", "/api/v1/rotations?state=pending", &admin, None).await;
    assert_eq!((rotations.status, &rotations.body["rotations"]), (StatusCode::OK, &json!([])));
}
