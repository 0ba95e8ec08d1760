//! The SSH host key: an Ed25519 key in OpenSSH format, generated on first start. The SSH gateway
//! serves with it, and `latch serve` logs its fingerprint so that operators can publish it.

use crate::init::write_new_private_file;
use anyhow::Context;
use rand::TryRngCore;
use russh::keys::PrivateKey;
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::ssh_key::{HashAlg, LineEnding};
use std::path::Path;
use zeroize::Zeroizing;

/// What `latch serve` tells about the host key.
#[derive(Debug, Clone)]
pub struct HostKeyInfo {
    pub key: PrivateKey,
    /// `SHA256:…`, as `ssh` shows it.
    pub fingerprint: String,
    /// Whether the key was generated just now.
    pub generated: bool,
}

/// Reads the key at `path`, or generates a new Ed25519 key there (mode 0600) if nothing is
/// there.
pub fn load_or_generate(path: &Path) -> anyhow::Result<HostKeyInfo> {
    load_or_generate_named(path, "latch host key", "SSH host key")
}

/// Like [`load_or_generate`] for the recording signing key, which also writes its public key to `PATH.pub` (what
/// `latch recordings verify` and `ssh-keygen -Y verify` need) when that file is missing.
pub fn load_or_generate_recording_key(path: &Path) -> anyhow::Result<HostKeyInfo> {
    let info = load_or_generate_named(path, "latch recording signing key", "recording signing key")?;
    let public_path = public_key_path(path);
    if !public_path.exists() {
        let public = info.key.public_key().to_openssh().context("encoding the recording signing key")?;
        std::fs::write(&public_path, format!("{public}\n"))
            .with_context(|| format!("cannot write {}", public_path.display()))?;
    }
    Ok(info)
}

/// `PATH.pub`.
pub fn public_key_path(path: &Path) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".pub");
    name.into()
}

fn load_or_generate_named(path: &Path, comment: &str, what: &str) -> anyhow::Result<HostKeyInfo> {
    if path.exists() {
        let key = PrivateKey::read_openssh_file(path)
            .with_context(|| format!("cannot read the {what} {} (OpenSSH format expected)", path.display()))?;
        return Ok(HostKeyInfo { fingerprint: fingerprint(&key), key, generated: false });
    }
    let key = generate(comment)?;
    let text = key.to_openssh(LineEnding::LF).with_context(|| format!("encoding the {what}"))?;
    write_new_private_file(path, text.as_bytes())?;
    Ok(HostKeyInfo { fingerprint: fingerprint(&key), key, generated: true })
}

fn generate(comment: &str) -> anyhow::Result<PrivateKey> {
    // russh's `PrivateKey::random` wants rand_core 0.10; the seed route needs only 32 random
    // bytes from the operating system.
    let mut seed = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng.try_fill_bytes(seed.as_mut()).context("the operating system's random source failed")?;
    let mut key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
    key.set_comment(comment);
    Ok(key)
}

fn fingerprint(key: &PrivateKey) -> String {
    key.public_key().fingerprint(HashAlg::Sha256).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn generates_an_openssh_ed25519_key_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ssh_host_ed25519_key");
        let first = load_or_generate(&path).unwrap();
        assert!(first.generated);
        assert!(first.fingerprint.starts_with("SHA256:"), "{}", first.fingerprint);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let key = PrivateKey::read_openssh_file(&path).unwrap();
        assert_eq!(key.algorithm(), russh::keys::Algorithm::Ed25519);
        let second = load_or_generate(&path).unwrap();
        assert!(!second.generated);
        assert_eq!(first.fingerprint, second.fingerprint);
    }
}
