//! Exit codes of the client commands, so that scripts can tell failures apart.
//!
//! 0 ok, 1 error, 2 usage, 3 sealed or not initialized, 4 not authenticated (no session, wrong
//! credentials, locked, disabled), 5 forbidden, 6 not found, 7 conflict, 8 verification found
//! problems.

use crate::{EXIT_FAILURE, EXIT_SEALED, EXIT_USAGE};
use latch_api::client::ClientError;

pub const EXIT_UNAUTHENTICATED: u8 = 4;
pub const EXIT_FORBIDDEN: u8 = 5;
pub const EXIT_NOT_FOUND: u8 = 6;
pub const EXIT_CONFLICT: u8 = 7;
pub const EXIT_PROBLEMS_FOUND: u8 = 8;

/// No session is saved (or given in `LATCH_TOKEN`).
#[derive(Debug)]
pub struct NotLoggedIn;

impl std::fmt::Display for NotLoggedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not logged in: run `latch login --server URL` (or set LATCH_SERVER and LATCH_TOKEN)")
    }
}

impl std::error::Error for NotLoggedIn {}

/// The exit code for a failure that involves the server or the session; `None` leaves it to
/// `main` (1, or 2 for usage errors).
pub fn code_for(err: &anyhow::Error) -> Option<u8> {
    if err.chain().any(|cause| cause.is::<NotLoggedIn>()) {
        return Some(EXIT_UNAUTHENTICATED);
    }
    err.chain().find_map(|cause| cause.downcast_ref::<ClientError>()).map(client_error_code)
}

/// A next step to suggest after `err`, when there is an obvious one.
pub fn hint_for(err: &anyhow::Error) -> Option<&'static str> {
    let transport = err.chain().find_map(|cause| match cause.downcast_ref::<ClientError>() {
        Some(ClientError::Transport(message)) => Some(message),
        _ => None,
    })?;
    transport.contains("certificate").then_some(
        "the server's certificate is not trusted: log in again with --ca-cert FILE or --fingerprint sha256/HEX \
         (or set LATCH_CA_CERT or LATCH_FINGERPRINT)",
    )
}

fn client_error_code(err: &ClientError) -> u8 {
    match err {
        ClientError::Api { status, code, .. } => api_error_code(*status, code),
        ClientError::Config(_) => EXIT_USAGE,
        ClientError::Transport(_) | ClientError::Decode(_) => EXIT_FAILURE,
    }
}

fn api_error_code(status: u16, code: &str) -> u8 {
    match code {
        "sealed" | "not_initialized" => EXIT_SEALED,
        "unauthenticated"
        | "invalid_credentials"
        | "totp_required"
        | "locked"
        | "disabled"
        | "password_change_required"
        | "totp_enrollment_required"
        | "invalid_client" => EXIT_UNAUTHENTICATED,
        "forbidden" | "csrf" => EXIT_FORBIDDEN,
        "not_found" => EXIT_NOT_FOUND,
        "conflict" => EXIT_CONFLICT,
        _ => match status {
            401 | 423 => EXIT_UNAUTHENTICATED,
            403 => EXIT_FORBIDDEN,
            404 => EXIT_NOT_FOUND,
            409 => EXIT_CONFLICT,
            _ => EXIT_FAILURE,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, code: &str) -> anyhow::Error {
        ClientError::Api { status, code: code.to_owned(), message: "m".to_owned() }.into()
    }

    #[test]
    fn server_errors_map_to_documented_codes() {
        let cases = [
            (503, "sealed", 3),
            (503, "not_initialized", 3),
            (503, "audit_unavailable", 1),
            (401, "unauthenticated", 4),
            (401, "invalid_credentials", 4),
            (401, "totp_required", 4),
            (423, "locked", 4),
            (403, "disabled", 4),
            (401, "invalid_client", 4),
            (403, "forbidden", 5),
            (404, "not_found", 6),
            (409, "conflict", 7),
            (400, "invalid_input", 1),
            (500, "internal", 1),
            (404, "http_404", 6),
        ];
        for (status, code, expected) in cases {
            assert_eq!(code_for(&api(status, code)), Some(expected), "{status} {code}");
        }
    }

    #[test]
    fn context_does_not_hide_the_client_error() {
        let err = api(403, "forbidden").context("cannot add the target");
        assert_eq!(code_for(&err), Some(EXIT_FORBIDDEN));
        assert_eq!(code_for(&ClientError::Config("bad".to_owned()).into()), Some(EXIT_USAGE));
        assert_eq!(code_for(&ClientError::Transport("down".to_owned()).into()), Some(EXIT_FAILURE));
        assert_eq!(code_for(&anyhow::anyhow!("other")), None);
        assert_eq!(code_for(&anyhow::Error::new(NotLoggedIn)), Some(EXIT_UNAUTHENTICATED));
    }

    #[test]
    fn certificate_failures_get_a_hint() {
        let untrusted = ClientError::Transport("invalid peer certificate: UnknownIssuer".to_owned());
        assert!(hint_for(&untrusted.into()).is_some());
        assert!(hint_for(&ClientError::Transport("connection refused".to_owned()).into()).is_none());
        assert!(hint_for(&api(404, "not_found")).is_none());
    }
}
