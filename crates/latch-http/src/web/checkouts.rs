//! Check-outs in the browser: check out an account's secret for a release period, reveal it once (the answer to a
//! POST, never a page that can be fetched again), see the time left, and check it in. The pages call the same use
//! cases as the API (`check_out`, `list_checkouts`, `reveal_checkout`, `check_in`); the reveal is audited and
//! committed before the secret is in the page.

use super::access::encode;
use super::format;
use super::pages::{Layout, PageError, Section, form_message, render};
use super::session::WebUser;
use crate::HttpState;
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use latch_app::{CheckoutScope, NewCheckout};
use latch_domain::checkout::{Checkout, CheckoutState};
use latch_domain::target::TargetQuery;
use latch_domain::{AccountId, TimeSpan};
use std::collections::HashMap;

/// Release periods offered, in minutes; the policy (and a grant's end) cap what is given.
const RELEASES: [(i64, &str); 5] =
    [(15, "15 minutes"), (30, "30 minutes"), (60, "1 hour"), (120, "2 hours"), (240, "4 hours")];
const DEFAULT_RELEASE: i64 = 30;
const LIST_LIMIT: i64 = 100;

#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct CheckoutChoice {
    #[serde(default)]
    target: String,
    #[serde(default)]
    account: String,
}

#[derive(Debug)]
struct Release {
    minutes: i64,
    label: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "checkout_new.html")]
struct NewCheckoutPage {
    layout: Layout,
    target: String,
    account: String,
    releases: Vec<Release>,
    reason: String,
    error: Option<String>,
}

fn releases(selected: i64) -> Vec<Release> {
    RELEASES.iter().map(|&(minutes, label)| Release { minutes, label, selected: minutes == selected }).collect()
}

/// `GET /checkouts/new?target=…&account=…`: the check-out form for one account.
pub(crate) async fn new_checkout(user: WebUser, Query(choice): Query<CheckoutChoice>) -> Result<Response, PageError> {
    if choice.target.trim().is_empty() || choice.account.trim().is_empty() {
        return Ok(Redirect::to("/").into_response());
    }
    let page = NewCheckoutPage {
        layout: Layout::signed_in(&user, "Check out", Section::Checkouts),
        target: choice.target,
        account: choice.account,
        releases: releases(DEFAULT_RELEASE),
        reason: String::new(),
        error: None,
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct CheckoutForm {
    target: String,
    account: String,
    minutes: i64,
    #[serde(default)]
    reason: String,
}

/// `POST /checkouts`: checks the account out; the form again with the reason when it is refused.
pub(crate) async fn create(
    State(state): State<HttpState>,
    user: WebUser,
    Form(form): Form<CheckoutForm>,
) -> Result<Response, PageError> {
    let new = NewCheckout {
        target: form.target.clone(),
        account: Some(form.account.clone()),
        duration: TimeSpan::from_minutes(form.minutes),
        reason: form.reason.clone(),
    };
    match state.app.check_out(&user.principal, new, &user.ctx).await {
        Ok(checkout) => Ok(Redirect::to(&format!("/checkouts#checkout-{}", checkout.id)).into_response()),
        Err(err) => {
            let (status, message) = form_message(err);
            let page = NewCheckoutPage {
                layout: Layout::signed_in(&user, "Check out", Section::Checkouts),
                target: form.target,
                account: form.account,
                releases: releases(form.minutes),
                reason: form.reason,
                error: Some(message),
            };
            Ok(render(status, &page))
        }
    }
}

#[derive(Debug)]
struct CheckoutRow {
    id: String,
    target: String,
    account: String,
    reason: String,
    state: &'static str,
    open: bool,
    revealed: bool,
    checked_out: String,
    release_until: String,
    release_until_text: String,
    /// The secret, only in the answer to this check-out's reveal.
    secret: Option<String>,
}

#[derive(Template)]
#[template(path = "checkouts.html")]
struct CheckoutsPage {
    layout: Layout,
    checkouts: Vec<CheckoutRow>,
    error: Option<String>,
}

/// `GET /checkouts`: the user's check-outs, newest first.
pub(crate) async fn list(State(state): State<HttpState>, user: WebUser) -> Result<Response, PageError> {
    let rows = checkout_rows(&state, &user, None).await?;
    let page = CheckoutsPage {
        layout: Layout::signed_in(&user, "Check-outs", Section::Checkouts),
        checkouts: rows,
        error: None,
    };
    Ok(render(StatusCode::OK, &page))
}

/// The user's check-outs as rows; `revealed` carries the secret of one just revealed.
async fn checkout_rows(
    state: &HttpState,
    user: &WebUser,
    revealed: Option<(&str, String)>,
) -> Result<Vec<CheckoutRow>, PageError> {
    let app = &state.app;
    let checkouts = app.list_checkouts(&user.principal, CheckoutScope::Mine, false, LIST_LIMIT, 0).await?;
    // Names of the accounts the user can reach now; an account no longer reachable shows its id.
    let mut names: HashMap<AccountId, (String, String)> = HashMap::new();
    for reachable in app.my_access(&user.principal, &TargetQuery::default()).await? {
        for account in reachable.accounts {
            let pair = (reachable.target.spec.name.to_string(), account.account.spec.username.to_string());
            names.insert(account.account.id, pair);
        }
    }
    let now = app.now();
    let mut revealed = revealed;
    Ok(checkouts
        .iter()
        .map(|checkout| {
            let (target, account) = names
                .get(&checkout.account_id)
                .cloned()
                .unwrap_or_else(|| (checkout.target_id.to_string(), checkout.account_id.to_string()));
            let id = checkout.id.to_string();
            let secret = match revealed.take() {
                Some((shown, secret)) if shown == id => Some(secret),
                other => {
                    revealed = other;
                    None
                }
            };
            row(checkout, now, target, account, secret)
        })
        .collect())
}

fn row(
    checkout: &Checkout,
    now: latch_domain::Timestamp,
    target: String,
    account: String,
    secret: Option<String>,
) -> CheckoutRow {
    let state = checkout.state(now);
    CheckoutRow {
        id: checkout.id.to_string(),
        target,
        account,
        reason: checkout.reason.clone(),
        state: match state {
            CheckoutState::Open => "open",
            CheckoutState::Overdue => "overdue",
            CheckoutState::CheckedIn => "checked in",
        },
        open: state == CheckoutState::Open,
        revealed: checkout.revealed_at.is_some(),
        checked_out: format::minute(checkout.checked_out_at),
        release_until: format::machine(checkout.release_until),
        release_until_text: format::minute(checkout.release_until),
        secret,
    }
}

/// `POST /checkouts/{id}/reveal`: shows the secret of the user's open check-out, once, in this answer only.
pub(crate) async fn reveal(
    State(state): State<HttpState>,
    user: WebUser,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let layout = Layout::signed_in(&user, "Check-outs", Section::Checkouts);
    match state.app.reveal_checkout(&user.principal, &id, &user.ctx).await {
        Ok(secret) => {
            let rows = checkout_rows(&state, &user, Some((&id, secret.expose().to_owned()))).await?;
            Ok(render(StatusCode::OK, &CheckoutsPage { layout, checkouts: rows, error: None }))
        }
        Err(err) => {
            let (status, message) = form_message(err);
            let rows = checkout_rows(&state, &user, None).await?;
            Ok(render(status, &CheckoutsPage { layout, checkouts: rows, error: Some(message) }))
        }
    }
}

/// `POST /checkouts/{id}/checkin`: returns the check-out before its release period ends.
pub(crate) async fn check_in(
    State(state): State<HttpState>,
    user: WebUser,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    state.app.check_in(&user.principal, &id, &user.ctx).await?;
    Ok(Redirect::to(&format!("/checkouts#checkout-{}", encode(&id))).into_response())
}
