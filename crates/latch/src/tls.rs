//! The HTTPS certificate: loaded from the configured files, or, at the default place in the data
//! directory, a self-signed one generated on first start.

use crate::config::TlsFiles;
use crate::init::write_new_private_file;
use anyhow::{Context, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

/// How long a generated self-signed certificate is valid.
const SELF_SIGNED_VALIDITY_DAYS: i64 = 3650;

/// The server side of TLS, ready to serve.
#[derive(Debug)]
pub struct ServerTls {
    pub config: Arc<rustls::ServerConfig>,
    /// Of the leaf certificate.
    pub fingerprint: CertFingerprint,
    /// Whether the certificate was generated just now.
    pub generated: bool,
}

/// The SHA-256 digest of a certificate (DER), which clients compare or pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFingerprint([u8; 32]);

impl CertFingerprint {
    pub fn of(der: &[u8]) -> CertFingerprint {
        CertFingerprint(Sha256::digest(der).into())
    }

    /// `AB:CD:…`, as browsers and `openssl x509 -fingerprint -sha256` show it.
    pub fn colon_hex(&self) -> String {
        self.0.iter().map(|byte| format!("{byte:02X}")).collect::<Vec<_>>().join(":")
    }

    /// `sha256/abcd…`, the form to pin.
    pub fn pin(&self) -> String {
        let hex: String = self.0.iter().map(|byte| format!("{byte:02x}")).collect();
        format!("sha256/{hex}")
    }
}

/// Loads the certificate and key named by `files`; at the default place, generates a
/// self-signed pair for `localhost`, the loopback addresses and `listen`'s address first if
/// neither file exists.
pub fn load_or_generate(files: &TlsFiles, listen: SocketAddr) -> anyhow::Result<ServerTls> {
    let (cert, key, generated) = match files {
        TlsFiles::Configured { cert, key } => (cert, key, false),
        TlsFiles::Default { cert, key } => {
            let generated = match (cert.exists(), key.exists()) {
                (true, true) => false,
                (false, false) => {
                    generate_self_signed(cert, key, listen.ip())?;
                    true
                }
                (true, false) => {
                    bail!("found {} but not its key {}: remove it or add the key", cert.display(), key.display())
                }
                (false, true) => bail!(
                    "found {} but not its certificate {}: remove it or add the certificate",
                    key.display(),
                    cert.display()
                ),
            };
            (cert, key, generated)
        }
    };
    let (config, fingerprint) = load(cert, key)?;
    Ok(ServerTls { config, fingerprint, generated })
}

fn load(cert_path: &Path, key_path: &Path) -> anyhow::Result<(Arc<rustls::ServerConfig>, CertFingerprint)> {
    let chain = CertificateDer::pem_file_iter(cert_path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("cannot read the TLS certificate {}", cert_path.display()))?;
    let leaf = chain.first().with_context(|| format!("no certificate in {}", cert_path.display()))?;
    let fingerprint = CertFingerprint::of(leaf);
    warn_if_readable_by_others(key_path);
    let key = PrivateKeyDer::from_pem_file(key_path)
        .with_context(|| format!("cannot read the TLS private key {}", key_path.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .with_context(|| format!("{} and {} do not form a usable pair", cert_path.display(), key_path.display()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((Arc::new(config), fingerprint))
}

fn generate_self_signed(cert_path: &Path, key_path: &Path, listen_ip: IpAddr) -> anyhow::Result<()> {
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    let listen_name = listen_ip.to_string();
    if !listen_ip.is_unspecified() && !names.contains(&listen_name) {
        names.push(listen_name);
    }
    let mut params = rcgen::CertificateParams::new(names).context("certificate names")?;
    params.distinguished_name.push(rcgen::DnType::CommonName, "Latch self-signed");
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(SELF_SIGNED_VALIDITY_DAYS);
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).context("generating a TLS key")?;
    let cert = params.self_signed(&key).context("signing the self-signed certificate")?;
    write_new_private_file(key_path, key.serialize_pem().as_bytes())?;
    std::fs::write(cert_path, cert.pem())
        .with_context(|| format!("cannot write the TLS certificate {}", cert_path.display()))?;
    tracing::info!(cert = %cert_path.display(), "generated a self-signed TLS certificate");
    Ok(())
}

fn warn_if_readable_by_others(path: &Path) {
    if let Ok(metadata) = std::fs::metadata(path)
        && metadata.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(path = %path.display(), "private key file is accessible to other users; chmod 600 it");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_then_loads_the_same_certificate() {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let files = TlsFiles::Default { cert: dir.path().join("tls/cert.pem"), key: dir.path().join("tls/key.pem") };
        let listen: SocketAddr = "10.1.2.3:8443".parse().unwrap();
        let first = load_or_generate(&files, listen).unwrap();
        assert!(first.generated);
        let mode = std::fs::metadata(dir.path().join("tls/key.pem")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let second = load_or_generate(&files, listen).unwrap();
        assert!(!second.generated);
        assert_eq!(first.fingerprint, second.fingerprint);
        std::fs::remove_file(dir.path().join("tls/key.pem")).unwrap();
        let message = load_or_generate(&files, listen).unwrap_err().to_string();
        assert!(message.contains("but not its key"), "{message}");
    }

    #[test]
    fn fingerprint_forms() {
        let fingerprint = CertFingerprint([0xab; 32]);
        assert!(fingerprint.colon_hex().starts_with("AB:AB:"));
        assert_eq!(fingerprint.colon_hex().len(), 32 * 3 - 1);
        assert_eq!(fingerprint.pin(), format!("sha256/{}", "ab".repeat(32)));
    }
}
