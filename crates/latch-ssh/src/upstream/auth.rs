//! Logging in to a target with the vault's credential.

use std::sync::Arc;

use latch_vault::SecretString;
use russh::MethodKind;
use russh::client::{AuthResult, Handle, Handler, KeyboardInteractiveAuthResponse};
use russh::keys::{self, PrivateKeyWithHashAlg};
use tracing::debug;

use super::{UpstreamCredential, UpstreamSecret};
use crate::UpstreamError;

/// PAM may ask several rounds of questions (the last often empty); a server asking more is not answered further.
const MAX_KEYBOARD_INTERACTIVE_ROUNDS: usize = 8;

/// Authenticates as `credential.username`; `AuthenticationFailed` when the target refuses the credential.
pub(crate) async fn authenticate<H: Handler>(
    handle: &mut Handle<H>,
    credential: &UpstreamCredential,
) -> Result<(), UpstreamError> {
    let username = credential.username.as_str();
    let accepted = match &credential.secret {
        UpstreamSecret::Password(password) => with_password(handle, username, password).await?,
        UpstreamSecret::PrivateKey(private_key) => with_private_key(handle, username, private_key).await?,
    };
    if !accepted {
        debug!(username, "upstream refused the credential");
        return Err(UpstreamError::AuthenticationFailed);
    }
    debug!(username, "upstream authentication succeeded");
    Ok(())
}

/// `password`, then `keyboard-interactive` answering every prompt with the password when the server offers it
/// (servers with PAM often accept only the latter).
async fn with_password<H: Handler>(
    handle: &mut Handle<H>,
    username: &str,
    password: &SecretString,
) -> Result<bool, UpstreamError> {
    match handle.authenticate_password(username, password.expose().clone()).await? {
        AuthResult::Success => return Ok(true),
        AuthResult::Failure { remaining_methods, .. } => {
            if !remaining_methods.contains(&MethodKind::KeyboardInteractive) {
                return Ok(false);
            }
        }
    }
    debug!(username, "upstream password refused or not offered, trying keyboard-interactive");
    let mut response = handle.authenticate_keyboard_interactive_start(username, Option::<String>::None).await?;
    for _ in 0..MAX_KEYBOARD_INTERACTIVE_ROUNDS {
        let prompts = match response {
            KeyboardInteractiveAuthResponse::Success => return Ok(true),
            KeyboardInteractiveAuthResponse::Failure { .. } => return Ok(false),
            KeyboardInteractiveAuthResponse::InfoRequest { prompts, .. } => prompts,
        };
        let answers = prompts.iter().map(|_| password.expose().clone()).collect();
        response = handle.authenticate_keyboard_interactive_respond(answers).await?;
    }
    Ok(matches!(response, KeyboardInteractiveAuthResponse::Success))
}

/// `publickey` with an OpenSSH or PEM key without passphrase; RSA signs with the best hash the server supports.
async fn with_private_key<H: Handler>(
    handle: &mut Handle<H>,
    username: &str,
    private_key: &SecretString,
) -> Result<bool, UpstreamError> {
    let key = keys::decode_secret_key(private_key.expose(), None).map_err(invalid_private_key)?;
    let rsa_hash = if key.algorithm().is_rsa() { handle.best_supported_rsa_hash().await?.flatten() } else { None };
    let key = PrivateKeyWithHashAlg::new(Arc::new(key), rsa_hash);
    Ok(handle.authenticate_publickey(username, key).await?.success())
}

/// Names the reason without echoing anything from the key text.
fn invalid_private_key(error: keys::Error) -> UpstreamError {
    let reason = match error {
        keys::Error::KeyIsEncrypted => "the key is encrypted with a passphrase",
        keys::Error::UnsupportedKeyType { .. } | keys::Error::UnknownAlgorithm(_) => "unsupported key type",
        _ => "not an OpenSSH, PEM or PuTTY private key",
    };
    UpstreamError::InvalidPrivateKey { reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_not_a_key_and_is_not_echoed() {
        let text = "-----BEGIN OPENSSH PRIVATE KEY-----\nbm90IGEga2V5\n-----END OPENSSH PRIVATE KEY-----\n";
        let error = keys::decode_secret_key(text, None).map_err(invalid_private_key).unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with("the private key cannot be used: "), "{message}");
        assert!(!message.contains("bm90IGEga2V5"), "{message}");
    }
}
