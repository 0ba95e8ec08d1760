//! Who may call a route, as a type: the first extractor of every handler.
//!
//! `Need<Admin>` authenticates the caller and refuses (401/403) before the body is even read;
//! the application layer checks again inside the use case.

use crate::HttpState;
use crate::error::ApiError;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use latch_app::{AppError, Principal, RequestContext};
use latch_domain::permission::Permission;
use std::marker::PhantomData;
use std::net::SocketAddr;

/// The session cookie of browsers.
pub const SESSION_COOKIE: &str = "latch_session";
/// Cookie-authenticated requests that change state must carry this header (CSRF defence:
/// browsers cannot add it cross-site without a CORS preflight, which Latch never allows).
pub const CSRF_HEADER: &str = "x-latch-csrf";

/// A route's access rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Any authenticated user, even one who must still change a one-time password.
    Authenticated,
    /// Any user or API account that has completed login.
    FullLogin,
    /// Any user who has completed login, for self-service routes (API accounts have no self to serve).
    FullLoginUser,
    /// Holders of this permission (role or API scope).
    Permission(Permission),
    /// Users holding this permission, for use cases that act as the calling person (requesting or deciding
    /// access); API accounts are refused even with the scope.
    UserPermission(Permission),
    /// Holders of the first permission (who see everything), or users holding the second (who see their own).
    PermissionOrOwn(Permission, Permission),
    /// Users holding the first permission, API accounts holding the second scope: for what a person does under a
    /// policy and a script under its scope (credential check-outs).
    UserOrScope(Permission, Permission),
    /// Holders of the first permission (who see everything), or callers satisfying `UserOrScope` with the other two
    /// (who see their own).
    PermissionOrUserOrScope(Permission, Permission, Permission),
}

/// A marker type naming a [`Rule`].
pub trait Access: Send + Sync + 'static {
    const RULE: Rule;
}

macro_rules! access {
    ($($name:ident => $rule:expr),* $(,)?) => {
        $(
            #[derive(Debug)]
            pub struct $name;
            impl Access for $name {
                const RULE: Rule = $rule;
            }
        )*
    };
}

access! {
    AnyStage => Rule::Authenticated,
    Signed => Rule::FullLogin,
    SignedUser => Rule::FullLoginUser,
    Admin => Rule::Permission(Permission::Admin),
    InventoryRead => Rule::Permission(Permission::InventoryRead),
    InventoryWrite => Rule::Permission(Permission::InventoryWrite),
    UsersRead => Rule::Permission(Permission::UsersRead),
    AuditRead => Rule::Permission(Permission::AuditRead),
    PoliciesRead => Rule::Permission(Permission::PoliciesRead),
    RequestsWrite => Rule::Permission(Permission::RequestsWrite),
    Requester => Rule::UserPermission(Permission::RequestsWrite),
    Approver => Rule::UserPermission(Permission::RequestsApprove),
    SessionsReadOrOwn => Rule::PermissionOrOwn(Permission::SessionsRead, Permission::RequestsWrite),
    AccessReadOrOwn => Rule::PermissionOrOwn(Permission::AuditRead, Permission::RequestsWrite),
    SessionsTerminate => Rule::Permission(Permission::SessionsTerminate),
    SessionsHold => Rule::Permission(Permission::SessionsHold),
    CheckoutHolder => Rule::UserOrScope(Permission::RequestsWrite, Permission::CredentialsCheckout),
    CheckoutReadOrOwn =>
        Rule::PermissionOrUserOrScope(Permission::AuditRead, Permission::RequestsWrite, Permission::CredentialsCheckout),
}

/// An authenticated caller who satisfies `A`.
#[derive(Debug)]
pub struct Need<A: Access> {
    pub principal: Principal,
    pub ctx: RequestContext,
    rule: PhantomData<A>,
}

/// Where the request came from, for routes open to anyone.
#[derive(Debug, Clone)]
pub struct Ctx(pub RequestContext);

impl FromRequestParts<HttpState> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &HttpState) -> Result<Self, Self::Rejection> {
        Ok(Ctx(context(parts)))
    }
}

/// An incident system calling its inbound route (`/integrations/{integration}/…`), authenticated by the
/// integration's inbound secret as a bearer token before the body is read. It is not a Latch identity: session
/// tokens and API tokens are refused like any wrong secret (401), and so is an unknown integration.
#[derive(Debug)]
pub struct IncidentSystem {
    pub integration: latch_app::AuthenticatedIntegration,
    pub ctx: RequestContext,
}

impl FromRequestParts<HttpState> for IncidentSystem {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &HttpState) -> Result<Self, Self::Rejection> {
        let ctx = context(parts);
        let axum::extract::Path(integration) = axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::Unauthenticated)?;
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|text| text.strip_prefix("Bearer "))
            .map(|token| latch_app::SecretString::new(token.trim().to_owned()))
            .ok_or(AppError::Unauthenticated)?;
        let integration = state.app.authenticate_integration(&integration, &presented)?;
        Ok(IncidentSystem { integration, ctx })
    }
}

impl<A: Access> FromRequestParts<HttpState> for Need<A> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &HttpState) -> Result<Self, Self::Rejection> {
        let ctx = context(parts);
        let token = credential(parts)?.ok_or(AppError::Unauthenticated)?;
        let principal = state.app.authenticate(&token, &ctx).await.map_err(|err| match err {
            AppError::Sealed => ApiError::from(AppError::Sealed),
            err if err.is_internal() => ApiError::from(err),
            _ => ApiError::from(AppError::Unauthenticated),
        })?;
        match A::RULE {
            Rule::Authenticated => {
                if let Principal::ApiAccount(_) = principal {
                    return Err(AppError::Forbidden.into());
                }
            }
            Rule::FullLogin => {
                if let Principal::User(user) = &principal {
                    stage_ok(user)?;
                }
            }
            Rule::FullLoginUser => match &principal {
                Principal::User(user) => stage_ok(user)?,
                Principal::ApiAccount(_) => return Err(AppError::Forbidden.into()),
            },
            Rule::Permission(permission) => principal.require(permission)?,
            Rule::UserPermission(permission) => {
                principal.as_user()?;
                principal.require(permission)?;
            }
            Rule::PermissionOrOwn(all, own) => {
                if !principal.has(all) {
                    principal.as_user()?;
                    principal.require(own)?;
                }
            }
            Rule::UserOrScope(user, scope) => user_or_scope(&principal, user, scope)?,
            Rule::PermissionOrUserOrScope(all, user, scope) => {
                if !principal.has(all) {
                    user_or_scope(&principal, user, scope)?;
                }
            }
        }
        Ok(Need { principal, ctx, rule: PhantomData })
    }
}

fn user_or_scope(principal: &Principal, user: Permission, scope: Permission) -> Result<(), AppError> {
    match principal {
        Principal::User(_) => principal.require(user),
        Principal::ApiAccount(_) => principal.require(scope),
    }
}

fn stage_ok(user: &latch_app::AuthenticatedUser) -> Result<(), ApiError> {
    use latch_domain::auth_session::AuthSessionStage as Stage;
    match user.stage() {
        Stage::Full => Ok(()),
        Stage::PasswordChangeRequired => Err(AppError::PasswordChangeRequired.into()),
        Stage::TotpEnrollmentRequired => Err(AppError::TotpEnrollmentRequired.into()),
    }
}

fn context(parts: &Parts) -> RequestContext {
    let source = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
    RequestContext { source }
}

/// The bearer token, or the session cookie (with the CSRF header on state changes).
fn credential(parts: &Parts) -> Result<Option<String>, ApiError> {
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        let text = value.to_str().map_err(|_| AppError::Unauthenticated)?;
        let token = text.strip_prefix("Bearer ").ok_or(AppError::Unauthenticated)?;
        return Ok(Some(token.trim().to_owned()));
    }
    let cookie = parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned());
    let Some(cookie) = cookie else { return Ok(None) };
    let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && !parts.headers.contains_key(CSRF_HEADER) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "cookie-authenticated changes need the x-latch-csrf header",
        ));
    }
    Ok(Some(cookie))
}

/// A JSON body whose rejections use the API's error shape.
#[derive(Debug, axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Body<T>(pub T);

/// Query parameters whose rejections use the API's error shape.
#[derive(Debug, axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Params<T>(pub T);
