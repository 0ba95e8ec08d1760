//! OAuth 2.0 client-credentials grant (RFC 6749 §4.4) with its own error shape (§5.2).

use crate::HttpState;
use crate::guard::Ctx;
use axum::Json;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use latch_api::{OAuthErrorBody, TokenRequest, TokenResponse};
use latch_app::{AppError, SecretString};

fn oauth_error(status: StatusCode, error: &str, description: impl Into<String>) -> Response {
    let body = OAuthErrorBody { error: error.to_owned(), error_description: description.into() };
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Basic realm=\"latch\""));
    }
    response
}

/// Client credentials from HTTP Basic (RFC 6749 §2.3.1: each part form-urlencoded).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((form_decode(id)?, form_decode(secret)?))
}

/// Percent-decodes `text`, with `+` as a space.
fn form_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut raw = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => raw.push(b' '),
            b'%' => {
                raw.push(u8::from_str_radix(text.get(i + 1..i + 3)?, 16).ok()?);
                i += 2;
            }
            other => raw.push(other),
        }
        i += 1;
    }
    String::from_utf8(raw).ok()
}

/// Issues an access token for an API account (grant_type=client_credentials).
#[utoipa::path(post, path = "/oauth/token", tag = "auth", security(()),
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = TokenResponse), (status = 400, body = OAuthErrorBody), (status = 401, body = OAuthErrorBody)))]
pub(crate) async fn token(
    State(state): State<HttpState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    form: Result<Form<TokenRequest>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(request)) = form else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "send an application/x-www-form-urlencoded body",
        );
    };
    if request.grant_type != "client_credentials" {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "only client_credentials is supported");
    }
    let credentials = match (basic_credentials(&headers), request.client_id, request.client_secret) {
        (Some(basic), None, None) => basic,
        (None, Some(id), Some(secret)) => (id, secret),
        (Some(_), _, _) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "give client credentials once, by Basic or by form",
            );
        }
        _ => {
            return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "client_id and client_secret are required");
        }
    };
    let (client_id, secret) = credentials;
    let secret = SecretString::new(secret);
    match state.app.issue_client_credentials_token(&client_id, &secret, request.scope.as_deref(), &ctx).await {
        Ok(issued) => Json(TokenResponse {
            access_token: issued.access_token.expose().clone(),
            token_type: "Bearer".to_owned(),
            expires_in: issued.expires_in_secs,
            scope: issued.scopes.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(" "),
        })
        .into_response(),
        Err(AppError::InvalidCredentials) => {
            oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "client authentication failed")
        }
        Err(AppError::Locked { .. }) => {
            oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "client locked after too many failures; try later")
        }
        Err(AppError::Invalid(err)) => oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", err.to_string()),
        Err(other) => crate::error::ApiError::from(other).into_response(),
    }
}
