//! Latch's use cases. Every front end (HTTP, CLI through HTTP, SSH) calls into [`App`], which
//! authenticates, authorizes, decrypts only at the moment of use, and writes the audit record in
//! the same transaction as the change.
//!
//! Architecture Invariant: only this crate constructs [`AuthenticatedUser`] and
//! [`AuthenticatedApiAccount`]; every use case takes a [`Principal`] and checks it first.
//! Architecture Invariant: no axum, hyper or russh here.

mod access;
mod access_overview;
mod access_requests;
mod api_accounts;
mod app;
mod audit_log;
mod auth;
mod bootstrap;
mod break_glass;
mod checkouts;
mod clock;
mod dashboard;
mod error;
mod gateway;
mod grants;
mod groups;
mod host_keys;
mod incidents;
mod inventory;
mod live_sessions;
mod notifications;
mod policies;
mod principal;
mod reconcile;
mod recording_files;
mod recording_storage;
mod retention;
mod session_reports;
mod sessions;
mod siem_export;
mod ssh_keys;
mod tokens;
mod users;
mod vault_ops;

pub use access_overview::{ActiveAccess, DescribedGrant, DescribedRequest, ReachableAccount, ReachableTarget};
pub use access_requests::{NewAccessRequest, RequestOutcome, RequestScope};
pub use api_accounts::{ApiAccountChange, IssuedApiSecret, IssuedToken, NewApiAccount};
pub use app::{App, AppConfig, RequestContext};
pub use audit_log::{AuditPage, AuditQuery, VerifyReport};
pub use auth::{LoginOutcome, LoginRequest, TotpEnrollment};
pub use bootstrap::{FirstStart, InitMode, InitOutcome};
pub use break_glass::BreakGlassConfig;
pub use checkouts::{CheckoutScope, NewCheckout};
pub use clock::{Clock, ManualClock, SystemClock};
pub use dashboard::{Dashboard, DayCount, MAX_DASHBOARD_DAYS, NameCount};
pub use error::AppError;
pub use gateway::{ConnectionGrant, GatewayIdentity, SessionStart, SessionTraffic, TargetCredential, TargetSecret};
pub use grants::GrantScope;
pub use groups::{GroupChange, GroupDetails, NewGroup};
pub use host_keys::{HostKeyProbe, ProbedHostKey};
pub use incidents::{
    AuthenticatedIntegration, IncidentClosure, IncidentDirectory, IncidentLookupError, IncidentQuery, IncidentTask,
    IntegrationTest, IntegrationTestReport, MAX_INCIDENT_TASKS, TestVerdict,
};
pub use inventory::{AccountChange, ImportReport, InventoryDocument, NewAccount, NewTarget, TargetChange};
pub use live_sessions::{
    LIVE_OUTPUT_CAPACITY, LiveOutput, LiveOutputKind, LiveOutputPublisher, LiveSession, LiveSessionKey, LiveSessions,
    SessionSelector, TERMINATE_WAIT, TerminalSize,
};
pub use policies::{PolicyDetails, PolicyDraft};
pub use principal::{AuthenticatedApiAccount, AuthenticatedUser, Principal};
pub use recording_files::{MAX_RECORDING_FILE_BYTES, RecordingFile, RecordingFiles, RecordingFilesError};
pub use recording_storage::{StoredRecording, UploadBacklog};
pub use retention::{RecordingDeleter, RetentionSweep};
pub use session_reports::{MAX_REPORT_PAGE, RecordedEvents, SessionQuery};
pub use sessions::{SessionWatch, WatchEvent};
pub use siem_export::ExportStream;
pub use ssh_keys::MAX_SSH_KEYS_PER_USER;
pub use users::{NewUser, UserChange};
pub use vault_ops::{RotationReport, UnsealProgress, VaultStatus};

pub use latch_domain as domain;
pub use latch_store::audit::{AuditProblem, AuditRecord};
pub use latch_store::notifications::PendingNotification;
pub use latch_vault::{Secret, SecretString};
