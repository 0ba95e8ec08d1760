//! How the client decides to trust the server's TLS certificate: a CA certificate as the only
//! root, a pinned SHA-256 fingerprint of the leaf certificate, or the system's roots.

use super::ClientError;
use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};

/// The SHA-256 digest of a certificate's DER encoding.
///
/// Shown and parsed as `sha256/<64 lowercase hex digits>`; parsing also accepts the colon form
/// (`AB:CD:…`, as `openssl x509 -fingerprint -sha256` prints it) and bare hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of_der(der: &[u8]) -> Fingerprint {
        Fingerprint(Sha256::digest(der).into())
    }

    /// Parses `sha256/HEX`, `AB:CD:…` or bare hex (any case).
    pub fn parse(text: &str) -> Result<Fingerprint, ClientError> {
        let trimmed = text.trim();
        let hex_part = strip_prefix_ignore_case(trimmed, "sha256/")
            .or_else(|| strip_prefix_ignore_case(trimmed, "sha256:"))
            .unwrap_or(trimmed);
        let digits: String = hex_part.chars().filter(|c| *c != ':').collect();
        let bad = || {
            ClientError::Config(format!("{text:?} is not a SHA-256 fingerprint such as sha256/0a1b… (64 hex digits)"))
        };
        if digits.len() != 64 || !digits.is_ascii() {
            return Err(bad());
        }
        let mut bytes = [0u8; 32];
        for (index, byte) in bytes.iter_mut().enumerate() {
            let pair = digits.get(index * 2..index * 2 + 2).ok_or_else(bad)?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
        }
        Ok(Fingerprint(bytes))
    }

    /// `AB:CD:…`, as browsers and `openssl x509 -fingerprint -sha256` show it.
    pub fn colon_hex(&self) -> String {
        self.0.iter().map(|byte| format!("{byte:02X}")).collect::<Vec<_>>().join(":")
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("sha256/")?;
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}

/// Which server certificates the client accepts.
#[derive(Debug, Clone, Default)]
pub enum Trust {
    /// The operating system's trusted roots.
    #[default]
    System,
    /// Only certificates issued by (or equal to) the certificates in this PEM text.
    CaCertificatePem(Vec<u8>),
    /// Only the leaf certificate with this fingerprint, whatever its names or dates.
    Fingerprint(Fingerprint),
}

/// The rustls configuration for `trust`; `None` for the system roots (reqwest's default).
pub(crate) fn rustls_config(trust: &Trust) -> Result<Option<rustls::ClientConfig>, ClientError> {
    match trust {
        Trust::System => Ok(None),
        Trust::CaCertificatePem(pem) => ca_config(pem).map(Some),
        Trust::Fingerprint(pin) => custom_verifier_config(Arc::new(LeafVerifier::pinned(*pin))).map(Some),
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn algorithms() -> WebPkiSupportedAlgorithms {
    provider().signature_verification_algorithms
}

fn ca_config(pem: &[u8]) -> Result<rustls::ClientConfig, ClientError> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| ClientError::Config(format!("cannot read the CA certificate: {err}")))?;
    if certificates.is_empty() {
        return Err(ClientError::Config("the CA certificate file holds no PEM certificate".to_owned()));
    }
    let mut roots = rustls::RootCertStore::empty();
    for certificate in certificates {
        roots.add(certificate).map_err(|err| ClientError::Config(format!("unusable CA certificate: {err}")))?;
    }
    Ok(rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|err| ClientError::Transport(format!("cannot set up TLS: {err}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn custom_verifier_config(verifier: Arc<dyn ServerCertVerifier>) -> Result<rustls::ClientConfig, ClientError> {
    Ok(rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|err| ClientError::Transport(format!("cannot set up TLS: {err}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// What the leaf-certificate verifier does with the certificate it is shown.
#[derive(Debug)]
enum LeafCheck {
    /// Accept exactly this leaf certificate.
    Pin(Fingerprint),
    /// Accept any certificate once and remember its fingerprint (trust on first use).
    Record(Mutex<Option<Fingerprint>>),
}

/// Judges the server by its leaf certificate alone. In both modes the handshake signatures are
/// still checked against that certificate, so the server must hold its private key.
#[derive(Debug)]
pub(crate) struct LeafVerifier {
    check: LeafCheck,
    algorithms: WebPkiSupportedAlgorithms,
}

impl LeafVerifier {
    fn pinned(pin: Fingerprint) -> LeafVerifier {
        LeafVerifier { check: LeafCheck::Pin(pin), algorithms: algorithms() }
    }

    pub(crate) fn new() -> Arc<LeafVerifier> {
        Arc::new(LeafVerifier { check: LeafCheck::Record(Mutex::new(None)), algorithms: algorithms() })
    }

    pub(crate) fn config(self: &Arc<Self>) -> Result<rustls::ClientConfig, ClientError> {
        custom_verifier_config(self.clone())
    }

    /// The fingerprint a recording verifier saw.
    pub(crate) fn seen(&self) -> Option<Fingerprint> {
        match &self.check {
            LeafCheck::Record(slot) => slot.lock().ok().and_then(|slot| *slot),
            LeafCheck::Pin(_) => None,
        }
    }
}

impl ServerCertVerifier for LeafVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let seen = Fingerprint::of_der(end_entity);
        match &self.check {
            LeafCheck::Pin(pin) if seen == *pin => Ok(ServerCertVerified::assertion()),
            LeafCheck::Pin(pin) => Err(rustls::Error::General(format!(
                "the server's certificate fingerprint is {seen}, not the pinned {pin}"
            ))),
            LeafCheck::Record(slot) => {
                let mut slot = slot.lock().map_err(|_| rustls::Error::General("poisoned lock".to_owned()))?;
                *slot = Some(seen);
                Ok(ServerCertVerified::assertion())
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";

    #[test]
    fn display_is_the_pin_form() {
        let fingerprint = Fingerprint::parse(&format!("sha256/{HEX}")).unwrap();
        assert_eq!(fingerprint.to_string(), format!("sha256/{HEX}"));
        assert!(fingerprint.colon_hex().starts_with("0A:1B:2C:3D:"));
        assert_eq!(fingerprint.colon_hex().len(), 32 * 3 - 1);
    }

    #[test]
    fn parses_every_common_form() {
        let expected = Fingerprint::parse(&format!("sha256/{HEX}")).unwrap();
        let colon = expected.colon_hex();
        for text in [
            HEX.to_owned(),
            HEX.to_uppercase(),
            format!("SHA256/{}", HEX.to_uppercase()),
            format!("sha256:{colon}"),
            colon.clone(),
            format!("  sha256/{HEX}\n"),
        ] {
            assert_eq!(Fingerprint::parse(&text).unwrap(), expected, "{text}");
        }
    }

    #[test]
    fn rejects_what_is_not_a_sha256_digest() {
        for text in [
            "",
            "sha256/",
            "sha256/abc",
            &HEX[..62],
            &format!("{HEX}00"),
            &format!("sha1/{HEX}"),
            &HEX.replace('a', "g"),
            &"é".repeat(32),
        ] {
            assert!(Fingerprint::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn of_der_is_sha256_of_the_bytes() {
        // SHA-256 of the empty string.
        assert_eq!(
            Fingerprint::of_der(b"").to_string(),
            "sha256/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        assert!(rustls_config(&Trust::CaCertificatePem(b"not pem".to_vec())).is_err());
        assert!(rustls_config(&Trust::System).unwrap().is_none());
    }
}
