//! The browser's session: the app's session token in the `__Host-latch_session` cookie, the CSRF token derived
//! from it, and the extractors that turn a request into a signed-in user or send the browser to sign in.

use super::pages::PageError;
use crate::HttpState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latch_app::{AppError, Principal, RequestContext, SecretString};
use latch_domain::auth_session::AuthSessionStage;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The session cookie: `__Host-` makes browsers insist on Secure, Path=/ and no Domain.
pub(crate) const COOKIE: &str = "__Host-latch_session";
/// The header htmx requests carry the CSRF token in (set by latch.js from a `<meta>` tag); forms carry it in the
/// field `csrf`.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";
/// How long the TOTP step of a sign-in may wait after the password was accepted.
const PENDING_LOGIN_LIFETIME: Duration = Duration::from_secs(300);
/// Sign-ins waiting for their TOTP code at most at once (each needed a right password).
const MAX_PENDING_LOGINS: usize = 10_000;

/// The session token from the request's cookie.
pub(crate) fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|value| !value.is_empty())
}

/// The CSRF token of a session: a hash of the session token under its own label, so it is unguessable without the
/// HttpOnly cookie, differs per session and needs no storage.
pub(crate) fn csrf_token(session_token: &str) -> String {
    let mut input = b"latch web csrf token\0".to_vec();
    input.extend_from_slice(session_token.as_bytes());
    URL_SAFE_NO_PAD.encode(latch_vault::sha256(&input))
}

/// Whether `presented` is the CSRF token of `session_token`, compared in constant time.
pub(crate) fn csrf_matches(session_token: &str, presented: &str) -> bool {
    latch_vault::constant_time_eq(csrf_token(session_token).as_bytes(), presented.as_bytes())
}

/// `Set-Cookie` for a new session. No Max-Age: the server's idle and absolute timeouts end it.
pub(crate) fn session_cookie(token: &SecretString) -> Result<HeaderValue, PageError> {
    HeaderValue::from_str(&format!("{COOKIE}={}; Path=/; Secure; HttpOnly; SameSite=Strict", token.expose()))
        .map_err(|_| PageError::from(AppError::Internal("session token is not a header value".to_owned())))
}

/// `Set-Cookie` that removes the session cookie.
pub(crate) fn cleared_cookie() -> HeaderValue {
    HeaderValue::from_static("__Host-latch_session=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0")
}

pub(crate) fn request_context(parts: &Parts) -> RequestContext {
    let source = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
    RequestContext { source }
}

/// A user signed in through the web with a complete login (no password change or TOTP enrolment pending).
#[derive(Debug)]
pub(crate) struct WebUser {
    pub(crate) principal: Principal,
    pub(crate) ctx: RequestContext,
    pub(crate) csrf: String,
    pub(crate) username: String,
    pub(crate) stage: AuthSessionStage,
}

/// A web session at any stage: for signing out, changing the one-time password and enrolling TOTP.
#[derive(Debug)]
pub(crate) struct AnyStageWebUser(pub(crate) WebUser);

/// Why a page cannot be shown to this request: sign in first, finish the login, or an error.
#[derive(Debug)]
pub(crate) enum NotSignedIn {
    SignIn { htmx: bool, had_cookie: bool },
    FinishLogin(&'static str),
    Error(PageError),
}

impl IntoResponse for NotSignedIn {
    fn into_response(self) -> Response {
        match self {
            NotSignedIn::SignIn { htmx, had_cookie } => {
                let mut response = if htmx {
                    let mut response = StatusCode::UNAUTHORIZED.into_response();
                    response.headers_mut().insert("hx-redirect", HeaderValue::from_static("/login"));
                    response
                } else if had_cookie {
                    Redirect::to("/login?ended=1").into_response()
                } else {
                    Redirect::to("/login").into_response()
                };
                if had_cookie {
                    response.headers_mut().insert(header::SET_COOKIE, cleared_cookie());
                }
                response
            }
            NotSignedIn::FinishLogin(path) => Redirect::to(path).into_response(),
            NotSignedIn::Error(error) => error.into_response(),
        }
    }
}

async fn authenticate(parts: &Parts, state: &HttpState) -> Result<WebUser, NotSignedIn> {
    let htmx = parts.headers.contains_key("hx-request");
    let Some(token) = session_token(&parts.headers) else {
        return Err(NotSignedIn::SignIn { htmx, had_cookie: false });
    };
    let ctx = request_context(parts);
    let user = match state.app.authenticate(&token, &ctx).await {
        Ok(Principal::User(user)) => user,
        Ok(Principal::ApiAccount(_)) | Err(AppError::Unauthenticated) => {
            return Err(NotSignedIn::SignIn { htmx, had_cookie: true });
        }
        Err(err) => return Err(NotSignedIn::Error(err.into())),
    };
    let username = user.user().username.to_string();
    let stage = user.stage();
    Ok(WebUser { principal: Principal::User(user), ctx, csrf: csrf_token(&token), username, stage })
}

impl FromRequestParts<HttpState> for WebUser {
    type Rejection = NotSignedIn;

    async fn from_request_parts(parts: &mut Parts, state: &HttpState) -> Result<Self, Self::Rejection> {
        let user = authenticate(parts, state).await?;
        match user.stage {
            AuthSessionStage::Full => Ok(user),
            AuthSessionStage::PasswordChangeRequired => Err(NotSignedIn::FinishLogin("/password")),
            AuthSessionStage::TotpEnrollmentRequired => Err(NotSignedIn::FinishLogin("/totp")),
        }
    }
}

impl FromRequestParts<HttpState> for AnyStageWebUser {
    type Rejection = NotSignedIn;

    async fn from_request_parts(parts: &mut Parts, state: &HttpState) -> Result<Self, Self::Rejection> {
        authenticate(parts, state).await.map(AnyStageWebUser)
    }
}

/// Sign-ins whose password was right and which wait for the TOTP code, kept in memory for a few minutes under a
/// random id (the password is never sent back to the browser).
#[derive(Debug, Clone, Default)]
pub struct PendingLogins {
    inner: Arc<Mutex<HashMap<String, PendingLogin>>>,
}

#[derive(Debug, Clone)]
pub(crate) struct PendingLogin {
    pub(crate) username: String,
    pub(crate) password: SecretString,
    expires: Instant,
}

impl PendingLogins {
    /// Keeps `username` and `password` until the TOTP step; returns the id the form carries.
    pub(crate) fn insert(&self, username: String, password: SecretString) -> String {
        let mut bytes = [0u8; 32];
        rand_bytes(&mut bytes);
        let id = URL_SAFE_NO_PAD.encode(bytes);
        let now = Instant::now();
        let mut pending = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        pending.retain(|_, login| login.expires > now);
        if pending.len() >= MAX_PENDING_LOGINS {
            pending.clear();
        }
        pending.insert(id.clone(), PendingLogin { username, password, expires: now + PENDING_LOGIN_LIFETIME });
        id
    }

    /// The sign-in waiting under `id`, if it has not expired.
    pub(crate) fn get(&self, id: &str) -> Option<PendingLogin> {
        let pending = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        pending.get(id).filter(|login| login.expires > Instant::now()).cloned()
    }

    pub(crate) fn remove(&self, id: &str) {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).remove(id);
    }
}

fn rand_bytes(bytes: &mut [u8]) {
    rand::RngCore::fill_bytes(&mut rand::rng(), bytes);
}
