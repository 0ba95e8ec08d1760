//! What every page shares: the layout's data (who is signed in, the navigation, the asset URLs, the CSRF token)
//! and the HTML error page. Application errors become status codes through [`ApiError`]'s one mapping.

use super::assets;
use super::session::WebUser;
use crate::error::ApiError;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use latch_app::AppError;
use latch_domain::permission::Permission;

/// A navigation entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    MyAccess,
    Request,
    MyRequests,
    Approvals,
    Checkouts,
    Sessions,
    Dashboard,
    Audit,
    Users,
    Account,
    None,
}

/// The layout's data.
#[derive(Debug)]
pub(crate) struct Layout {
    pub(crate) title: String,
    pub(crate) section: Section,
    /// The signed-in user's name, absent on the sign-in pages.
    pub(crate) username: Option<String>,
    /// Show the full navigation (a login that still must change its password or enrol TOTP shows none).
    pub(crate) navigation: bool,
    pub(crate) approver: bool,
    pub(crate) requester: bool,
    /// Holds `sessions:read`: sees everyone's sessions and the dashboard.
    pub(crate) auditor: bool,
    /// Holds `audit:read`.
    pub(crate) audit_reader: bool,
    /// Holds `users:read`: sees the user administration.
    pub(crate) user_reader: bool,
    pub(crate) csrf: String,
    pub(crate) css: String,
    pub(crate) htmx: String,
    pub(crate) script: String,
}

impl Layout {
    /// A page for the signed-in `user`.
    pub(crate) fn signed_in(user: &WebUser, title: impl Into<String>, section: Section) -> Layout {
        Layout {
            navigation: user.stage == latch_domain::auth_session::AuthSessionStage::Full,
            username: Some(user.username.clone()),
            approver: user.principal.has(Permission::RequestsApprove),
            requester: user.principal.has(Permission::RequestsWrite),
            auditor: user.principal.has(Permission::SessionsRead),
            audit_reader: user.principal.has(Permission::AuditRead),
            user_reader: user.principal.has(Permission::UsersRead),
            csrf: user.csrf.clone(),
            ..Layout::anonymous(title)
        }
        .in_section(section)
    }

    /// A page for someone not signed in.
    pub(crate) fn anonymous(title: impl Into<String>) -> Layout {
        Layout {
            title: title.into(),
            section: Section::None,
            username: None,
            navigation: false,
            approver: false,
            requester: false,
            auditor: false,
            audit_reader: false,
            user_reader: false,
            csrf: String::new(),
            css: assets::url("latch.css"),
            htmx: assets::url("htmx.min.js"),
            script: assets::url("latch.js"),
        }
    }

    fn in_section(self, section: Section) -> Layout {
        Layout { section, ..self }
    }

    /// `aria-current="page"` for the current section's link.
    pub(crate) fn current(&self, section: &str) -> &'static str {
        let name = match self.section {
            Section::MyAccess => "access",
            Section::Request => "request",
            Section::MyRequests => "requests",
            Section::Approvals => "approvals",
            Section::Checkouts => "checkouts",
            Section::Sessions => "sessions",
            Section::Dashboard => "dashboard",
            Section::Audit => "audit",
            Section::Users => "users",
            Section::Account => "account",
            Section::None => "",
        };
        if name == section { "page" } else { "false" }
    }
}

/// Renders `page` as an HTML response with `status`.
pub(crate) fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "rendering a page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered").into_response()
        }
    }
}

/// A page that failed: its status, a heading and a message safe to show (internals are logged, never shown).
#[derive(Debug)]
pub(crate) struct PageError {
    pub(crate) status: StatusCode,
    pub(crate) heading: String,
    pub(crate) message: String,
}

impl PageError {
    pub(crate) fn new(status: StatusCode, heading: impl Into<String>, message: impl Into<String>) -> PageError {
        PageError { status, heading: heading.into(), message: message.into() }
    }
}

impl From<AppError> for PageError {
    fn from(err: AppError) -> Self {
        let api = ApiError::from(err);
        let heading = match api.status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::SERVICE_UNAVAILABLE => "Latch is unavailable",
            StatusCode::INTERNAL_SERVER_ERROR => "Something went wrong",
            _ => "That did not work",
        };
        let message = if api.status == StatusCode::INTERNAL_SERVER_ERROR {
            "Latch could not complete this. The error was logged; try again, or tell an administrator.".to_owned()
        } else {
            api.message
        };
        PageError::new(api.status, heading, message)
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    error: &'a PageError,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let page = ErrorPage { layout: Layout::anonymous(self.heading.clone()), error: &self };
        render(self.status, &page)
    }
}

/// The message of an application error as a form shows it next to the fields.
pub(crate) fn form_message(err: AppError) -> (StatusCode, String) {
    let error = PageError::from(err);
    (error.status, error.message)
}
