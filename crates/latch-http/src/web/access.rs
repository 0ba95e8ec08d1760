//! My access, requesting access, my requests and the approvals inbox. Each page calls the same use cases as the
//! API (`my_access`, `request_access`, `list_requests`, `decide_request`, `cancel_request`).

use super::format;
use super::pages::{Layout, PageError, Section, form_message, render};
use super::session::WebUser;
use crate::HttpState;
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use latch_app::{ActiveAccess, DescribedRequest, NewAccessRequest, RequestScope};
use latch_domain::TimeSpan;
use latch_domain::access_request::Decision;
use latch_domain::names::TagName;
use latch_domain::permission::Permission;
use latch_domain::target::{Protocol, TargetQuery};

/// Durations offered on the request form, in minutes.
const DURATIONS: [(i64, &str); 7] = [
    (15, "15 minutes"),
    (30, "30 minutes"),
    (60, "1 hour"),
    (120, "2 hours"),
    (240, "4 hours"),
    (480, "8 hours"),
    (1440, "1 day"),
];
const DEFAULT_DURATION: i64 = 60;
const LIST_LIMIT: i64 = 200;

#[derive(Debug)]
struct TargetRow {
    name: String,
    address: String,
    protocols: Vec<&'static str>,
    tags: Vec<String>,
    description: String,
    accounts: Vec<AccountRow>,
}

#[derive(Debug)]
struct AccountRow {
    username: String,
    policies: String,
    requestable: bool,
    standing: bool,
    /// RFC 3339 end of the valid grant.
    grant_until: Option<String>,
    grant_until_text: String,
    request_link: String,
    /// The check-out form's address, when the account's secret may be checked out now.
    checkout_link: Option<String>,
}

#[derive(Debug)]
struct GrantRow {
    target: String,
    account: String,
    ends_at: String,
    ends_at_text: String,
}

#[derive(Template)]
#[template(path = "my_access.html")]
struct MyAccessPage {
    layout: Layout,
    query: AccessQuery,
    protocols: [&'static str; 4],
    targets: Vec<TargetRow>,
    grants: Vec<GrantRow>,
    error: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct AccessQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    tag: String,
    #[serde(default)]
    protocol: String,
}

impl AccessQuery {
    fn to_target_query(&self) -> Result<TargetQuery, String> {
        let text = Some(self.q.trim().to_owned()).filter(|t| !t.is_empty());
        let tag = match self.tag.trim() {
            "" => None,
            tag => Some(TagName::parse(tag).map_err(|err| format!("tag: {err}"))?),
        };
        let protocol = match self.protocol.trim() {
            "" => None,
            protocol => Some(Protocol::parse(protocol).map_err(|err| format!("protocol: {err}"))?),
        };
        Ok(TargetQuery { text, tag, protocol })
    }
}

/// `GET /`: the targets the user may reach, searchable, and their grants valid now.
pub(crate) async fn my_access(
    State(state): State<HttpState>,
    user: WebUser,
    Query(query): Query<AccessQuery>,
) -> Result<Response, PageError> {
    let layout = Layout::signed_in(&user, "My access", Section::MyAccess);
    let protocols = Protocol::ALL.map(|p| p.as_str());
    if !user.principal.has(Permission::RequestsWrite) {
        let error = Some("Your roles do not include using or requesting access to targets.".to_owned());
        let page = MyAccessPage { layout, query, protocols, targets: Vec::new(), grants: Vec::new(), error };
        return Ok(render(StatusCode::OK, &page));
    }
    let grants = state.app.my_current_grants(&user.principal).await?;
    let grants = grants
        .into_iter()
        .map(|g| GrantRow {
            target: g.target,
            account: g.account,
            ends_at: format::machine(g.grant.ends_at),
            ends_at_text: format::minute(g.grant.ends_at),
        })
        .collect();
    let (targets, error, status) = match query.to_target_query() {
        Ok(target_query) => {
            let found = state.app.my_access(&user.principal, &target_query).await?;
            (found.into_iter().map(target_row).collect(), None, StatusCode::OK)
        }
        Err(message) => (Vec::new(), Some(message), StatusCode::BAD_REQUEST),
    };
    Ok(render(status, &MyAccessPage { layout, query, protocols, targets, grants, error }))
}

fn target_row(reachable: latch_app::ReachableTarget) -> TargetRow {
    let spec = &reachable.target.spec;
    let name = spec.name.to_string();
    TargetRow {
        address: format!("{}:{}", spec.address, spec.port),
        protocols: spec.protocols.iter().map(|p| p.as_str()).collect(),
        tags: spec.tags.iter().map(ToString::to_string).collect(),
        description: spec.description.clone(),
        accounts: reachable
            .accounts
            .into_iter()
            .map(|a| {
                let username = a.account.spec.username.to_string();
                let grant_until = match a.active {
                    Some(ActiveAccess::GrantUntil(until)) => Some(until),
                    _ => None,
                };
                let query = format!("target={}&account={}", encode(&name), encode(&username));
                AccountRow {
                    request_link: format!("/requests/new?{query}"),
                    checkout_link: a.revealable.then(|| format!("/checkouts/new?{query}")),
                    policies: a.policies.join(", "),
                    requestable: a.requestable,
                    standing: a.active == Some(ActiveAccess::Standing),
                    grant_until: grant_until.map(format::machine),
                    grant_until_text: grant_until.map(format::minute).unwrap_or_default(),
                    username,
                }
            })
            .collect(),
        name,
    }
}

/// Percent-encodes a query value (names are restricted, but never trust that in a URL).
pub(crate) fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Debug)]
struct Choice {
    value: String,
    label: String,
    selected: bool,
    /// The incident integration that knows this access's tickets; empty for none.
    integration: String,
}

#[derive(Debug)]
struct DurationChoice {
    minutes: i64,
    label: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "request_new.html")]
struct RequestPage {
    layout: Layout,
    /// Some choice has an incident integration: the form offers the ticket lookup.
    lookup: bool,
    choices: Vec<Choice>,
    durations: Vec<DurationChoice>,
    starts_at: String,
    reason: String,
    ticket: String,
    error: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct RequestQuery {
    #[serde(default)]
    target: String,
    #[serde(default)]
    account: String,
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct RequestForm {
    /// `ACCOUNT@TARGET`.
    access: String,
    /// `YYYY-MM-DDTHH:MM` in UTC (an `<input type="datetime-local">`); empty for now.
    #[serde(default)]
    starts_at: String,
    duration_minutes: i64,
    reason: String,
    #[serde(default)]
    ticket: String,
    /// The incident task chosen after a lookup.
    #[serde(default)]
    task: String,
}

/// The accounts the user may request, as `ACCOUNT@TARGET` choices, with `selected` chosen.
async fn request_choices(state: &HttpState, user: &WebUser, selected: &str) -> Result<Vec<Choice>, PageError> {
    let reachable = state.app.my_access(&user.principal, &TargetQuery::default()).await?;
    let mut choices = Vec::new();
    for target in reachable {
        for account in target.accounts.iter().filter(|a| a.requestable) {
            let value = format!("{}@{}", account.account.spec.username, target.target.spec.name);
            let label = format!(
                "{} on {} ({})",
                account.account.spec.username, target.target.spec.name, target.target.spec.address
            );
            let integration = account.integration.clone().unwrap_or_default();
            choices.push(Choice { selected: value == selected, value, label, integration });
        }
    }
    Ok(choices)
}

fn durations(selected: i64) -> Vec<DurationChoice> {
    DURATIONS.iter().map(|&(minutes, label)| DurationChoice { minutes, label, selected: minutes == selected }).collect()
}

/// `GET /requests/new`
pub(crate) async fn new_request(
    State(state): State<HttpState>,
    user: WebUser,
    Query(query): Query<RequestQuery>,
) -> Result<Response, PageError> {
    let selected = format!("{}@{}", query.account, query.target);
    let choices = request_choices(&state, &user, &selected).await?;
    let layout = Layout::signed_in(&user, "Request access", Section::Request);
    let page = RequestPage {
        layout,
        lookup: choices.iter().any(|choice| !choice.integration.is_empty()),
        choices,
        durations: durations(DEFAULT_DURATION),
        starts_at: String::new(),
        reason: String::new(),
        ticket: String::new(),
        error: None,
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct TaskLookup {
    /// `ACCOUNT@TARGET`.
    #[serde(default)]
    access: String,
    #[serde(default)]
    ticket: String,
}

#[derive(Debug)]
struct TaskRow {
    id: String,
    title: String,
    expires_at: String,
    expires_at_text: String,
}

#[derive(Template)]
#[template(path = "request_tasks.html")]
struct TasksFragment {
    tasks: Vec<TaskRow>,
    error: Option<String>,
}

/// `GET /requests/tasks?access=…&ticket=…`: the open tasks of the ticket in the incident system of the chosen
/// access's policy, as the list the request form shows (htmx); picking one caps the window at its end.
pub(crate) async fn incident_tasks(
    State(state): State<HttpState>,
    user: WebUser,
    Query(lookup): Query<TaskLookup>,
) -> Result<Response, PageError> {
    let fragment = |tasks, error| render(StatusCode::OK, &TasksFragment { tasks, error });
    let (account, target) = lookup.access.split_once('@').unwrap_or(("", lookup.access.as_str()));
    if lookup.ticket.trim().is_empty() {
        return Ok(fragment(Vec::new(), Some("Enter the ticket first.".to_owned())));
    }
    let choices = request_choices(&state, &user, &lookup.access).await?;
    let Some(integration) = choices.into_iter().find(|c| c.selected).map(|c| c.integration).filter(|i| !i.is_empty())
    else {
        return Ok(fragment(Vec::new(), Some("This access has no incident integration to ask.".to_owned())));
    };
    let found = state.app.incident_tasks(&user.principal, &integration, target, Some(account), &lookup.ticket).await;
    Ok(match found {
        Ok(tasks) if tasks.is_empty() => fragment(Vec::new(), Some("The ticket has no open tasks.".to_owned())),
        Ok(tasks) => fragment(
            tasks
                .into_iter()
                .map(|task| TaskRow {
                    id: task.id,
                    title: task.title,
                    expires_at: format::machine(task.expires_at),
                    expires_at_text: format::minute(task.expires_at),
                })
                .collect(),
            None,
        ),
        Err(err) => fragment(Vec::new(), Some(form_message(err).1)),
    })
}

/// `POST /requests`
pub(crate) async fn create_request(
    State(state): State<HttpState>,
    user: WebUser,
    Form(form): Form<RequestForm>,
) -> Result<Response, PageError> {
    let (account, target) = form.access.split_once('@').unwrap_or(("", form.access.as_str()));
    let starts_at = match parse_start(&form.starts_at) {
        Ok(start) => start,
        Err(message) => return request_form_again(&state, &user, StatusCode::BAD_REQUEST, message, form).await,
    };
    let new = NewAccessRequest {
        starts_at,
        target: target.to_owned(),
        account: Some(account.to_owned()).filter(|a| !a.is_empty()),
        duration: Some(TimeSpan::from_minutes(form.duration_minutes.clamp(1, 60 * 24 * 366))),
        reason: form.reason.clone(),
        ticket: Some(form.ticket.trim().to_owned()).filter(|t| !t.is_empty()),
        task: Some(form.task.trim().to_owned()).filter(|t| !t.is_empty()),
        ..NewAccessRequest::default()
    };
    match state.app.request_access(&user.principal, new, &user.ctx).await {
        Ok(outcome) => Ok(Redirect::to(&format!("/requests?created={}", outcome.request.id)).into_response()),
        Err(err) => {
            let (status, message) = form_message(err);
            request_form_again(&state, &user, status, message, form).await
        }
    }
}

/// The request form with what was entered and why it was refused.
async fn request_form_again(
    state: &HttpState,
    user: &WebUser,
    status: StatusCode,
    message: String,
    form: RequestForm,
) -> Result<Response, PageError> {
    let choices = request_choices(state, user, &form.access).await?;
    let layout = Layout::signed_in(user, "Request access", Section::Request);
    let page = RequestPage {
        layout,
        lookup: choices.iter().any(|choice| !choice.integration.is_empty()),
        choices,
        durations: durations(form.duration_minutes),
        starts_at: form.starts_at,
        reason: form.reason,
        ticket: form.ticket,
        error: Some(message),
    };
    Ok(render(status, &page))
}

/// The start of the window: empty for now, else `YYYY-MM-DDTHH:MM` (seconds allowed) in UTC.
fn parse_start(text: &str) -> Result<Option<latch_domain::Timestamp>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let minutes = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let seconds = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let parsed = time::PrimitiveDateTime::parse(text, minutes)
        .or_else(|_| time::PrimitiveDateTime::parse(text, seconds))
        .map_err(|_| format!("The start {text:?} is not a date and time such as 2026-01-31T14:30."))?;
    let millis = parsed.assume_utc().unix_timestamp().saturating_mul(1000);
    Ok(Some(latch_domain::Timestamp::from_millis(millis)))
}

#[derive(Debug)]
struct RequestRow {
    id: String,
    requester: String,
    target: String,
    account: String,
    status: &'static str,
    starts_at: String,
    ends_at: String,
    length: String,
    reason: String,
    ticket: String,
    approvals: String,
    comment: String,
    pending: bool,
}

fn request_row(described: DescribedRequest) -> RequestRow {
    let request = described.request;
    let mut comments: Vec<String> = request.approvals.iter().filter_map(|a| a.comment.clone()).collect();
    comments.extend(request.decision_comment.clone());
    RequestRow {
        id: request.id.to_string(),
        requester: described.requester,
        target: described.target,
        account: described.account,
        status: request.status.as_str(),
        starts_at: format::minute(request.starts_at),
        ends_at: format::minute(request.ends_at),
        length: format::span(request.starts_at, request.ends_at),
        reason: request.details.reason.clone(),
        ticket: request.details.ticket.clone().unwrap_or_default(),
        approvals: format!("{} of {}", request.approvals.len(), request.approvals_required),
        comment: comments.join(" · "),
        pending: request.status == latch_domain::access_request::RequestStatus::Pending,
    }
}

#[derive(Template)]
#[template(path = "requests.html")]
struct RequestsPage {
    layout: Layout,
    created: bool,
    requests: Vec<RequestRow>,
}

#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct CreatedQuery {
    created: Option<String>,
}

/// `GET /requests`: the user's own requests, newest first.
pub(crate) async fn my_requests(
    State(state): State<HttpState>,
    user: WebUser,
    Query(query): Query<CreatedQuery>,
) -> Result<Response, PageError> {
    let requests = state.app.list_requests_described(&user.principal, RequestScope::Mine, None, LIST_LIMIT).await?;
    let layout = Layout::signed_in(&user, "My requests", Section::MyRequests);
    let page = RequestsPage {
        layout,
        created: query.created.is_some(),
        requests: requests.into_iter().map(request_row).collect(),
    };
    Ok(render(StatusCode::OK, &page))
}

/// `POST /requests/{id}/cancel`
pub(crate) async fn cancel_request(
    State(state): State<HttpState>,
    user: WebUser,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    state.app.cancel_request(&user.principal, &id, &user.ctx).await?;
    Ok(Redirect::to("/requests").into_response())
}

#[derive(Template)]
#[template(path = "approvals.html")]
struct ApprovalsPage {
    layout: Layout,
    requests: Vec<RequestRow>,
}

#[derive(Template)]
#[template(path = "approval_row.html")]
struct ApprovalRow {
    layout: Layout,
    request: RequestRow,
    outcome: Option<String>,
    error: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct DecisionForm {
    decision: String,
    #[serde(default)]
    comment: String,
}

/// `GET /approvals`: the pending requests the user may decide.
pub(crate) async fn approvals(State(state): State<HttpState>, user: WebUser) -> Result<Response, PageError> {
    let requests = state.app.list_requests_described(&user.principal, RequestScope::ToDecide, None, LIST_LIMIT).await?;
    let layout = Layout::signed_in(&user, "Approvals", Section::Approvals);
    let page = ApprovalsPage { layout, requests: requests.into_iter().map(request_row).collect() };
    Ok(render(StatusCode::OK, &page))
}

/// `POST /approvals/{id}`: approve or deny with a comment. htmx swaps the returned row in place; a plain form
/// post goes back to the inbox.
pub(crate) async fn decide(
    State(state): State<HttpState>,
    user: WebUser,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<DecisionForm>,
) -> Result<Response, PageError> {
    let decision = match form.decision.as_str() {
        "approve" => Decision::Approve,
        "deny" => Decision::Deny,
        _ => return Err(PageError::new(StatusCode::BAD_REQUEST, "Unknown decision", "choose approve or deny")),
    };
    let comment = Some(form.comment.trim().to_owned()).filter(|c| !c.is_empty());
    let result = state.app.decide_request(&user.principal, &id, decision, comment, &user.ctx).await;
    if !headers.contains_key("hx-request") {
        result?;
        return Ok(Redirect::to("/approvals").into_response());
    }
    let (status, outcome, error) = match result {
        Ok(done) => {
            let text = match done.request.status.as_str() {
                "pending" => "Your approval is recorded; more approvals are needed.".to_owned(),
                "approved" => "Approved: the grant is active for its window.".to_owned(),
                "denied" => "Denied.".to_owned(),
                other => format!("Now {other}."),
            };
            (StatusCode::OK, Some(text), None)
        }
        Err(err) => {
            let (status, message) = form_message(err);
            (status, None, Some(message))
        }
    };
    let row = request_row(state.app.get_request_described(&user.principal, &id).await?);
    let layout = Layout::signed_in(&user, "Approvals", Section::Approvals);
    Ok(render(status, &ApprovalRow { layout, request: row, outcome, error }))
}

#[cfg(test)]
mod tests {
    use super::parse_start;
    use latch_domain::Timestamp;

    #[test]
    fn start_times() {
        let at = |seconds: i64| Ok(Some(Timestamp::from_millis(seconds * 1000)));
        assert_eq!(parse_start(""), Ok(None));
        assert_eq!(parse_start("  "), Ok(None));
        assert_eq!(parse_start("2026-01-31T14:30"), at(1_769_869_800));
        assert_eq!(parse_start("2026-01-31T14:30:15"), at(1_769_869_815));
        assert!(parse_start("2026-02-30T14:30").is_err());
        assert!(parse_start("tomorrow").is_err());
    }
}
