//! User administration in the browser: the users with their roles and state, creating one (with a one-time
//! password shown once), disabling and enabling, unlocking, resetting the password or TOTP. The pages call the
//! same use cases as the API, which need `users:read` to list and `admin` to change anything; every change is
//! audited there.

use super::format;
use super::pages::{Layout, PageError, Section, form_message, render};
use super::session::WebUser;
use crate::HttpState;
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use latch_app::NewUser;
use latch_domain::permission::{Permission, Role};
use latch_domain::user::User;

const LIST_LIMIT: i64 = 1000;

#[derive(Debug)]
struct UserRow {
    id: String,
    username: String,
    display_name: String,
    roles: String,
    disabled: bool,
    locked: bool,
    totp_enrolled: bool,
    must_change_password: bool,
    last_login: String,
}

#[derive(Debug)]
struct RoleChoice {
    name: &'static str,
    checked: bool,
}

/// A one-time password just made, shown in this answer only.
#[derive(Debug)]
struct OneTimePassword {
    username: String,
    password: String,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    layout: Layout,
    users: Vec<UserRow>,
    can_change: bool,
    roles: Vec<RoleChoice>,
    form: NewUserForm,
    one_time: Option<OneTimePassword>,
    notice: Option<String>,
    error: Option<String>,
}

/// The new-user form as sent (its `role` field repeats, once per checked role).
#[derive(Debug, Default)]
pub(crate) struct NewUserForm {
    username: String,
    display_name: String,
    email: String,
    role: Vec<String>,
    totp_required: bool,
}

impl NewUserForm {
    fn from_pairs(pairs: Vec<(String, String)>) -> NewUserForm {
        let mut form = NewUserForm::default();
        for (name, value) in pairs {
            match name.as_str() {
                "username" => form.username = value,
                "display_name" => form.display_name = value,
                "email" => form.email = value,
                "role" => form.role.push(value),
                "totp_required" => form.totp_required = true,
                _ => {}
            }
        }
        form
    }
}

struct Outcome {
    one_time: Option<OneTimePassword>,
    notice: Option<String>,
    error: Option<String>,
    status: StatusCode,
}

impl Outcome {
    fn none() -> Outcome {
        Outcome { one_time: None, notice: None, error: None, status: StatusCode::OK }
    }
}

async fn page(state: &HttpState, user: &WebUser, form: NewUserForm, outcome: Outcome) -> Result<Response, PageError> {
    let users = state.app.list_users(&user.principal, LIST_LIMIT, 0).await?;
    let now = state.app.now();
    let checked = |name: &str| form.role.iter().any(|role| role == name);
    // A new form offers the user role; one sent back keeps exactly what was chosen.
    let fresh = form.username.is_empty() && form.role.is_empty();
    let roles = Role::ALL
        .iter()
        .map(|role| RoleChoice {
            name: role.as_str(),
            checked: checked(role.as_str()) || (fresh && *role == Role::User),
        })
        .collect();
    let page = UsersPage {
        layout: Layout::signed_in(user, "Users", Section::Users),
        users: users.iter().map(|u| row(u, now)).collect(),
        can_change: user.principal.has(Permission::Admin),
        roles,
        form,
        one_time: outcome.one_time,
        notice: outcome.notice,
        error: outcome.error,
    };
    Ok(render(outcome.status, &page))
}

fn row(user: &User, now: latch_domain::Timestamp) -> UserRow {
    UserRow {
        id: user.id.to_string(),
        username: user.username.to_string(),
        display_name: user.display_name.clone(),
        roles: user.roles.iter().map(|role| role.as_str()).collect::<Vec<_>>().join(", "),
        disabled: user.disabled,
        locked: user.lockout.is_locked(now),
        totp_enrolled: user.totp_enrolled,
        must_change_password: user.must_change_password,
        last_login: user.last_login_at.map(format::minute).unwrap_or_else(|| "never".to_owned()),
    }
}

/// `GET /admin/users`: every user, and the form for a new one (for admins).
pub(crate) async fn list(State(state): State<HttpState>, user: WebUser) -> Result<Response, PageError> {
    page(&state, &user, NewUserForm::default(), Outcome::none()).await
}

/// `POST /admin/users`: creates a user with a one-time password, shown once in the answer.
pub(crate) async fn create(
    State(state): State<HttpState>,
    user: WebUser,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let form = NewUserForm::from_pairs(pairs);
    let roles: Result<Vec<Role>, _> = form.role.iter().map(|name| Role::parse(name)).collect();
    let roles = match roles {
        Ok(roles) if !roles.is_empty() => roles,
        Ok(_) => {
            let outcome = Outcome {
                error: Some("Give the user at least one role.".to_owned()),
                status: StatusCode::UNPROCESSABLE_ENTITY,
                ..Outcome::none()
            };
            return page(&state, &user, form, outcome).await;
        }
        Err(err) => return Err(PageError::from(latch_app::AppError::from(err))),
    };
    let new = NewUser {
        username: form.username.trim().to_owned(),
        display_name: form.display_name.trim().to_owned(),
        email: Some(form.email.trim().to_owned()).filter(|email| !email.is_empty()),
        roles,
        totp_required: form.totp_required,
        password: None,
    };
    match state.app.create_user(&user.principal, new, &user.ctx).await {
        Ok((created, password)) => {
            let one_time = password.map(|password| OneTimePassword {
                username: created.username.to_string(),
                password: password.expose().clone(),
            });
            let notice = Some(format!("User {} created.", created.username));
            page(&state, &user, NewUserForm::default(), Outcome { one_time, notice, ..Outcome::none() }).await
        }
        Err(err) => {
            let (status, message) = form_message(err);
            page(&state, &user, form, Outcome { error: Some(message), status, ..Outcome::none() }).await
        }
    }
}

/// `POST /admin/users/{id}/{action}`: disable, enable, unlock, reset-totp or reset-password. A reset password is a
/// one-time password shown once in the answer; the others go back to the list.
pub(crate) async fn act(
    State(state): State<HttpState>,
    user: WebUser,
    Path((id, action)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let app = &state.app;
    let (principal, ctx) = (&user.principal, &user.ctx);
    let done = match action.as_str() {
        "disable" => app.set_user_disabled(principal, &id, true, ctx).await,
        "enable" => app.set_user_disabled(principal, &id, false, ctx).await,
        "unlock" => app.unlock_user(principal, &id, ctx).await,
        "reset-totp" => app.reset_user_totp(principal, &id, ctx).await,
        "reset-password" => {
            let target = app.get_user(principal, &id).await?;
            let password = app.reset_user_password(principal, &id, ctx).await?;
            let one_time =
                Some(OneTimePassword { username: target.username.to_string(), password: password.expose().clone() });
            return page(&state, &user, NewUserForm::default(), Outcome { one_time, ..Outcome::none() }).await;
        }
        _ => return Err(PageError::new(StatusCode::NOT_FOUND, "Page not found", "There is no such user action.")),
    };
    match done {
        Ok(_) => Ok(Redirect::to("/admin/users").into_response()),
        Err(err) => {
            let (status, message) = form_message(err);
            page(&state, &user, NewUserForm::default(), Outcome { error: Some(message), status, ..Outcome::none() })
                .await
        }
    }
}
