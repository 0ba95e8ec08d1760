//! Signing in (password, then the TOTP code when the account has one), signing out, the password change a
//! one-time password requires, and TOTP enrolment. Every check is the app's: `App::login` with the same lockout
//! counter as the API and SSH, `change_own_password`, `begin_totp_enrollment`/`confirm_totp_enrollment`.

use super::pages::{Layout, PageError, Section, form_message, render};
use super::session::{AnyStageWebUser, cleared_cookie, session_cookie};
use crate::HttpState;
use crate::guard::Ctx;
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use latch_app::{AppError, LoginOutcome, SecretString};
use latch_domain::auth_session::{AuthSessionKind, AuthSessionStage};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    username: String,
    error: Option<String>,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "login_totp.html")]
struct TotpStepPage {
    layout: Layout,
    username: String,
    pending: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    layout: Layout,
    required: bool,
    error: Option<String>,
}

/// What the enrolment page shows once started.
#[derive(Debug)]
struct Enrolment {
    otpauth_uri: String,
    qr_png_base64: String,
}

#[derive(Template)]
#[template(path = "totp.html")]
struct TotpPage {
    layout: Layout,
    enrolment: Option<Enrolment>,
    error: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct LoginForm {
    username: String,
    password: String,
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct TotpForm {
    pending: String,
    code: String,
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct PasswordForm {
    current: String,
    new: String,
    confirm: String,
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct CodeForm {
    code: String,
}

fn login_page(status: StatusCode, username: &str, error: Option<String>) -> Response {
    let page = LoginPage { layout: Layout::anonymous("Sign in"), username: username.to_owned(), error, notice: None };
    render(status, &page)
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct LoginQuery {
    ended: Option<String>,
}

/// `GET /login`; `?ended=1` when the browser's session was no longer valid.
pub(crate) async fn show_login(Query(query): Query<LoginQuery>) -> Response {
    let notice = query.ended.map(|_| {
        "Your session has ended: it was idle too long, reached its maximum length, or was signed out. Sign in \
         again."
            .to_owned()
    });
    let page = LoginPage { layout: Layout::anonymous("Sign in"), username: String::new(), error: None, notice };
    render(StatusCode::OK, &page)
}

/// `POST /login`: the password step.
pub(crate) async fn submit_login(
    State(state): State<HttpState>,
    Ctx(ctx): Ctx,
    Form(form): Form<LoginForm>,
) -> Response {
    let password = SecretString::new(form.password);
    let request = latch_app::LoginRequest {
        username: form.username.clone(),
        password: password.clone(),
        totp_code: None,
        kind: AuthSessionKind::Web,
    };
    match state.app.login(request, &ctx).await {
        Ok(outcome) => signed_in(&outcome),
        Err(AppError::TotpRequired) => {
            let pending = state.pending_logins.insert(form.username.clone(), password);
            let page = TotpStepPage {
                layout: Layout::anonymous("Authenticator code"),
                username: form.username,
                pending,
                error: None,
            };
            render(StatusCode::OK, &page)
        }
        Err(err) => login_refused(err, &form.username),
    }
}

/// `POST /login/totp`: the code step, with the username and password kept since the first step.
pub(crate) async fn submit_totp(State(state): State<HttpState>, Ctx(ctx): Ctx, Form(form): Form<TotpForm>) -> Response {
    let Some(pending) = state.pending_logins.get(&form.pending) else {
        let message = "The sign-in took too long. Enter your password again.".to_owned();
        return login_page(StatusCode::UNAUTHORIZED, "", Some(message));
    };
    let request = latch_app::LoginRequest {
        username: pending.username.clone(),
        password: pending.password.clone(),
        totp_code: Some(form.code.trim().to_owned()),
        kind: AuthSessionKind::Web,
    };
    match state.app.login(request, &ctx).await {
        Ok(outcome) => {
            state.pending_logins.remove(&form.pending);
            signed_in(&outcome)
        }
        Err(AppError::InvalidCredentials | AppError::TotpRequired) => {
            let error = "That code is wrong or was already used. Wait for the next code and try again.".to_owned();
            let layout = Layout::anonymous("Authenticator code");
            let page = TotpStepPage { layout, username: pending.username, pending: form.pending, error: Some(error) };
            render(StatusCode::UNAUTHORIZED, &page)
        }
        Err(err) => {
            state.pending_logins.remove(&form.pending);
            login_refused(err, &pending.username)
        }
    }
}

/// The session cookie, then wherever the login stage leads.
fn signed_in(outcome: &LoginOutcome) -> Response {
    let cookie = match session_cookie(&outcome.token) {
        Ok(cookie) => cookie,
        Err(err) => return err.into_response(),
    };
    let next = match outcome.session.stage {
        AuthSessionStage::Full => "/",
        AuthSessionStage::PasswordChangeRequired => "/password",
        AuthSessionStage::TotpEnrollmentRequired => "/totp",
    };
    let mut response = Redirect::to(next).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
}

fn login_refused(err: AppError, username: &str) -> Response {
    let message = match &err {
        AppError::InvalidCredentials => "The username or password is wrong.".to_owned(),
        AppError::Locked { until } => format!(
            "Too many failed sign-ins: this account is locked until {} UTC. Try again later, or ask an administrator \
             to unlock it.",
            super::format::minute(*until)
        ),
        AppError::Disabled => "This account is disabled. Ask an administrator.".to_owned(),
        _ => return PageError::from(err).into_response(),
    };
    let (status, _) = form_message(err);
    login_page(status, username, Some(message))
}

/// `POST /logout`
pub(crate) async fn logout(State(state): State<HttpState>, AnyStageWebUser(user): AnyStageWebUser) -> Response {
    if let Err(err) = state.app.logout(&user.principal, &user.ctx).await {
        return PageError::from(err).into_response();
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(header::SET_COOKIE, cleared_cookie());
    response
}

/// `GET /password`
pub(crate) async fn show_password(AnyStageWebUser(user): AnyStageWebUser) -> Response {
    let required = user.stage == AuthSessionStage::PasswordChangeRequired;
    let page =
        PasswordPage { layout: Layout::signed_in(&user, "Change password", Section::Account), required, error: None };
    render(StatusCode::OK, &page)
}

/// `POST /password`
pub(crate) async fn change_password(
    State(state): State<HttpState>,
    AnyStageWebUser(user): AnyStageWebUser,
    Form(form): Form<PasswordForm>,
) -> Response {
    let required = user.stage == AuthSessionStage::PasswordChangeRequired;
    let failed = |status, message: String| {
        let layout = Layout::signed_in(&user, "Change password", Section::Account);
        render(status, &PasswordPage { layout, required, error: Some(message) })
    };
    if form.new != form.confirm {
        return failed(StatusCode::BAD_REQUEST, "The two new passwords differ.".to_owned());
    }
    let current = SecretString::new(form.current);
    let new = SecretString::new(form.new);
    match state.app.change_own_password(&user.principal, current, new, &user.ctx).await {
        Ok(()) => Redirect::to("/").into_response(),
        Err(err) => {
            let (status, message) = form_message(err);
            failed(status, message)
        }
    }
}

/// `GET /totp`
pub(crate) async fn show_totp(AnyStageWebUser(user): AnyStageWebUser) -> Response {
    let page =
        TotpPage { layout: Layout::signed_in(&user, "Authenticator", Section::Account), enrolment: None, error: None };
    render(StatusCode::OK, &page)
}

/// `POST /totp/start`: a new seed waits for its first code.
pub(crate) async fn start_totp(State(state): State<HttpState>, AnyStageWebUser(user): AnyStageWebUser) -> Response {
    match state.app.begin_totp_enrollment(&user.principal).await {
        Ok(started) => {
            let enrolment = Enrolment {
                otpauth_uri: started.otpauth_uri.expose().clone(),
                qr_png_base64: started.qr_png_base64.expose().clone(),
            };
            let layout = Layout::signed_in(&user, "Authenticator", Section::Account);
            render(StatusCode::OK, &TotpPage { layout, enrolment: Some(enrolment), error: None })
        }
        Err(err) => PageError::from(err).into_response(),
    }
}

/// `POST /totp/confirm`
pub(crate) async fn confirm_totp(
    State(state): State<HttpState>,
    AnyStageWebUser(user): AnyStageWebUser,
    Form(form): Form<CodeForm>,
) -> Response {
    match state.app.confirm_totp_enrollment(&user.principal, form.code.trim(), &user.ctx).await {
        Ok(()) => Redirect::to("/").into_response(),
        Err(err) => {
            let (status, message) = form_message(err);
            let layout = Layout::signed_in(&user, "Authenticator", Section::Account);
            render(status, &TotpPage { layout, enrolment: None, error: Some(format!("{message}. Start again.")) })
        }
    }
}
