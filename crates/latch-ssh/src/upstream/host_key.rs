//! A target's host key as presented in the key exchange, and the pin check.
//!
//! The pin is the key's `SHA256:` fingerprint exactly as `ssh-keygen -lf` prints it: unpadded base64 of SHA-256
//! over the key's wire encoding. A host *certificate* is treated as the key it certifies (as OpenSSH falls back to
//! the plain key when it does not trust the CA): the key exchange was signed with that key, so pinning it pins the
//! host; the certificate's CA, validity and principals play no part.

use latch_domain::target::HostKeyPin;
use russh::keys::ssh_key::public::KeyData;
use russh::keys::ssh_key::{HashAlg, PublicKey};
use russh::keys::{PublicKeyOrCertificate, ssh_key};
use tokio::sync::oneshot;

use crate::UpstreamError;

/// A host key as a target presented it, for an administrator to confirm and pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedHostKey {
    /// `SHA256:…` (unpadded base64), as `ssh-keygen -lf` prints it; the value to pin.
    pub fingerprint: String,
    /// The key algorithm, e.g. `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`.
    pub algorithm: String,
    /// The public key as a known_hosts/authorized_keys line without comment: `ssh-ed25519 AAAA…`.
    pub openssh: String,
}

impl PresentedHostKey {
    pub(crate) fn from_server_key(server_key: &PublicKeyOrCertificate) -> Result<Self, UpstreamError> {
        let key_data = certified_key(server_key);
        let openssh = PublicKey::new(key_data.clone(), "").to_openssh().map_err(key_encoding_error)?;
        Ok(PresentedHostKey {
            fingerprint: fingerprint(key_data),
            algorithm: key_data.algorithm().to_string(),
            openssh,
        })
    }
}

/// Accepts the presented key only if a pin exists and equals its fingerprint.
pub(crate) fn check_pin(pin: Option<&HostKeyPin>, server_key: &PublicKeyOrCertificate) -> Result<(), UpstreamError> {
    let presented = fingerprint(certified_key(server_key));
    let Some(pin) = pin else {
        return Err(UpstreamError::HostKeyNotPinned { presented });
    };
    // `HostKeyPin` also accepts the padded base64 form; ssh-keygen prints it without padding.
    if pin.as_str().trim_end_matches('=') != presented {
        return Err(UpstreamError::HostKeyMismatch { expected: pin.as_str().to_owned(), presented });
    }
    Ok(())
}

fn certified_key(server_key: &PublicKeyOrCertificate) -> &KeyData {
    match server_key {
        PublicKeyOrCertificate::PublicKey { key, .. } => key.key_data(),
        PublicKeyOrCertificate::Certificate(certificate) => certificate.public_key(),
    }
}

fn fingerprint(key_data: &KeyData) -> String {
    key_data.fingerprint(HashAlg::Sha256).to_string()
}

fn key_encoding_error(error: ssh_key::Error) -> UpstreamError {
    UpstreamError::Protocol(russh::Error::Keys(russh::keys::Error::from(error)))
}

/// A client handler that records the server's host key and then refuses it, which ends the handshake before any
/// authentication: used to fetch a key for pinning.
#[derive(Debug)]
pub(crate) struct HostKeyProbe {
    presented: Option<oneshot::Sender<PresentedHostKey>>,
}

impl HostKeyProbe {
    pub(crate) fn new() -> (HostKeyProbe, oneshot::Receiver<PresentedHostKey>) {
        let (sender, receiver) = oneshot::channel();
        (HostKeyProbe { presented: Some(sender) }, receiver)
    }
}

impl russh::client::Handler for HostKeyProbe {
    type Error = UpstreamError;

    async fn check_server_key(&mut self, server_key: &PublicKeyOrCertificate) -> Result<bool, UpstreamError> {
        let presented = PresentedHostKey::from_server_key(server_key)?;
        if let Some(sender) = self.presented.take() {
            // The receiver only goes away when `fetch_host_key` gave up already.
            let _ = sender.send(presented);
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ssh-keygen -lf` of this key prints `SHA256:h+IWFkRQ416rlcs6Z1H78lCd6+C7YnHhBfidD65yNpE`.
    const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEoCjPgpiwf0XNRsIss8yCBbiQl5Q9BbePOObRn0loyo";
    const ED25519_FINGERPRINT: &str = "SHA256:h+IWFkRQ416rlcs6Z1H78lCd6+C7YnHhBfidD65yNpE";

    fn server_key(line: &str) -> PublicKeyOrCertificate {
        PublicKeyOrCertificate::from(PublicKey::from_openssh(line).unwrap())
    }

    fn pin(value: &str) -> HostKeyPin {
        HostKeyPin::parse(value).unwrap()
    }

    #[test]
    fn presented_key_matches_ssh_keygen() {
        let presented = PresentedHostKey::from_server_key(&server_key(ED25519)).unwrap();
        assert_eq!(presented.fingerprint, ED25519_FINGERPRINT);
        assert_eq!(presented.algorithm, "ssh-ed25519");
        assert_eq!(presented.openssh, ED25519);
    }

    #[test]
    fn comments_are_dropped() {
        let presented = PresentedHostKey::from_server_key(&server_key(&format!("{ED25519} root@host"))).unwrap();
        assert_eq!(presented.openssh, ED25519);
    }

    #[test]
    fn pin_check() {
        let key = server_key(ED25519);
        check_pin(Some(&pin(ED25519_FINGERPRINT)), &key).unwrap();
        check_pin(Some(&pin(&format!("{ED25519_FINGERPRINT}="))), &key).unwrap();

        let other = "SHA256:A+IWFkRQ416rlcs6Z1H78lCd6+C7YnHhBfidD65yNpE";
        match check_pin(Some(&pin(other)), &key) {
            Err(UpstreamError::HostKeyMismatch { expected, presented }) => {
                assert_eq!(expected, other);
                assert_eq!(presented, ED25519_FINGERPRINT);
            }
            result => panic!("expected a mismatch, got {result:?}"),
        }
        let tls_pin = format!("sha256/{}", "ab".repeat(32));
        assert!(matches!(check_pin(Some(&pin(&tls_pin)), &key), Err(UpstreamError::HostKeyMismatch { .. })));
        match check_pin(None, &key) {
            Err(UpstreamError::HostKeyNotPinned { presented }) => assert_eq!(presented, ED25519_FINGERPRINT),
            result => panic!("expected not pinned, got {result:?}"),
        }
    }
}
