//! SSH public keys registered to users: parsing an authorized_keys-style line, the key-type
//! policy, and the SHA-256 fingerprint that `ssh-keygen -lf` prints.

use crate::{DomainError, Timestamp, UserId, UserSshKeyId};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use sha2::{Digest, Sha256};

/// The longest accepted key line.
pub const MAX_KEY_LINE_BYTES: usize = 16 * 1024;
/// The longest key name.
pub const MAX_KEY_NAME_CHARS: usize = 100;
/// The smallest accepted RSA modulus.
pub const MIN_RSA_BITS: usize = 2048;

/// Key types accepted besides `ssh-rsa` (which also needs a long enough modulus).
const ACCEPTED: &[&str] = &[
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// A parsed, policy-checked SSH public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshPublicKey {
    algorithm: String,
    blob: Vec<u8>,
    comment: String,
}

impl SshPublicKey {
    /// Parses `ALGO BASE64 [COMMENT]` (an authorized_keys line without options).
    pub fn parse(line: &str) -> Result<Self, DomainError> {
        if line.len() > MAX_KEY_LINE_BYTES {
            return Err(invalid("must be at most 16 KiB"));
        }
        let line = line.trim();
        let (algorithm, rest) = split_field(line);
        let (encoded, comment) = split_field(rest);
        if algorithm.is_empty() || encoded.is_empty() {
            return Err(invalid("expected `TYPE BASE64 [COMMENT]`, as in a .pub file"));
        }
        if algorithm == "ssh-dss" {
            return Err(invalid("DSA keys are not accepted"));
        }
        let blob = STANDARD.decode(encoded).map_err(|_| invalid("the key data is not valid base64"))?;
        let mut reader = BlobReader(&blob);
        let embedded = reader.string()?;
        if embedded != algorithm.as_bytes() {
            return Err(invalid("the key data does not match the key type"));
        }
        check_policy(algorithm, &mut reader)?;
        if comment.chars().any(char::is_control) {
            return Err(invalid("the comment must not contain control characters"));
        }
        Ok(Self { algorithm: algorithm.to_owned(), blob, comment: comment.to_owned() })
    }

    /// The key type, such as `ssh-ed25519`.
    pub fn algorithm(&self) -> &str {
        &self.algorithm
    }

    /// The comment after the key data (often `user@host`); empty when there was none.
    pub fn comment(&self) -> &str {
        &self.comment
    }

    /// The key's wire-format blob: what a client signs with and what the fingerprint covers.
    pub fn blob(&self) -> &[u8] {
        &self.blob
    }

    /// `SHA256:` and the unpadded base64 of the blob's SHA-256, as `ssh-keygen -lf` prints it.
    pub fn fingerprint(&self) -> String {
        format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(&self.blob)))
    }

    /// `TYPE BASE64`, without the comment.
    pub fn to_openssh(&self) -> String {
        format!("{} {}", self.algorithm, STANDARD.encode(&self.blob))
    }

    /// The same key with another comment (the store keeps the comment apart from the key).
    pub fn with_comment(mut self, comment: &str) -> Self {
        comment.trim().clone_into(&mut self.comment);
        self
    }
}

/// An SSH public key a user logs in to the gateway with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSshKey {
    pub id: UserSshKeyId,
    pub user_id: UserId,
    pub key: SshPublicKey,
    pub name: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

impl UserSshKey {
    /// Checks a key's name: at most 100 characters, no control characters, trimmed.
    pub fn check_name(name: &str) -> Result<String, DomainError> {
        let name = name.trim();
        if name.chars().count() > MAX_KEY_NAME_CHARS {
            return Err(DomainError::invalid("ssh key name", "must be at most 100 characters"));
        }
        if name.chars().any(char::is_control) {
            return Err(DomainError::invalid("ssh key name", "must not contain control characters"));
        }
        Ok(name.to_owned())
    }
}

fn invalid(reason: &str) -> DomainError {
    DomainError::invalid("ssh key", reason)
}

/// The first whitespace-separated field and the trimmed rest.
fn split_field(text: &str) -> (&str, &str) {
    match text.split_once(char::is_whitespace) {
        Some((field, rest)) => (field, rest.trim()),
        None => (text, ""),
    }
}

fn check_policy(algorithm: &str, reader: &mut BlobReader<'_>) -> Result<(), DomainError> {
    if algorithm == "ssh-rsa" {
        let _exponent = reader.string()?;
        let modulus = reader.string()?;
        if mpint_bits(modulus) < MIN_RSA_BITS {
            return Err(invalid("RSA keys must be at least 2048 bits"));
        }
        return Ok(());
    }
    if ACCEPTED.contains(&algorithm) {
        return Ok(());
    }
    Err(invalid(&format!("key type {algorithm} is not accepted (use ssh-ed25519, ecdsa-sha2-* or ssh-rsa)")))
}

/// The bit length of an SSH mpint's magnitude (leading zero bytes ignored).
fn mpint_bits(bytes: &[u8]) -> usize {
    let Some(start) = bytes.iter().position(|b| *b != 0) else { return 0 };
    let rest = &bytes[start..];
    (rest.len() - 1) * 8 + (8 - rest[0].leading_zeros() as usize)
}

/// Reads SSH wire-format length-prefixed strings.
struct BlobReader<'a>(&'a [u8]);

impl<'a> BlobReader<'a> {
    fn string(&mut self) -> Result<&'a [u8], DomainError> {
        let truncated = || invalid("the key data is truncated");
        let (len, rest) = self.0.split_first_chunk::<4>().ok_or_else(truncated)?;
        let len = u32::from_be_bytes(*len) as usize;
        if rest.len() < len {
            return Err(truncated());
        }
        let (value, rest) = rest.split_at(len);
        self.0 = rest;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made with `ssh-keygen -t ed25519 -C alice@laptop`; fingerprint from `ssh-keygen -lf`.
    const ED25519: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILfUpGl7YcX7Z2ZoAUz/G6KLYJ5oJT/uVAXgByhnMCPd alice@laptop";
    const ED25519_FINGERPRINT: &str = "SHA256:ckIPrg8GzPO//9PFR64gm9BT+MFjLARIISwETWxJEDU";
    const ECDSA: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEFuWogOgNO6eY2MXa/Hsu4xC5UNqcRh0kDD6U1GRYA3t9o/ZeBBKNP8ZgAbFwqPG5L16B7nhsSQ0ctpaz+cPN0= e";
    const ECDSA_FINGERPRINT: &str = "SHA256:HTzHj4nXGHWVv39vdoBYcqYjPjOwtC7EnQfzmR13ouw";
    const RSA_2048: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCQatZUJPxjafhX2aTPdduPkRJYNk9H73w9U1iJlBDjg1t9ABiTy4jtvkPK7d+BIbRx8ysvVQZ7K7uH/Enfj4hxtUsM7agtgGlEyeygD0O1LUwtgFYsJ8P0u8u8WKCwOIkrfZ8D3uuEjuLcP03d4CGDq4jAZvRtliwf388fj1sK3+dG2cYPdnM/8tKChfRrwRfE3ifF8NGAcCi8GHooHr+2xDccVR9a/+Rm891k1BbZaFTPX3WuWP/eeHBy1fCyct7sr9rtpLN4tqxztgkolyav3SjudRelKNn4Q5zEiCuBpz6eryA4K0KNLvFb74loR+81HvFbWwzA5S2leT0QVItj r2";
    const RSA_2048_FINGERPRINT: &str = "SHA256:nxoxTI/MNM/SYvUcn7W8EcZrC0+b8iD27fPPjKQNzJA";
    const RSA_1024: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQCucaawDAnLFNJZzjd5khOgXc4dpQNjSWIAsgCwNFDxHNhBGgze6pkznYfaPYKf14OOvmnQ5/PEZnVXhav1ODINZeNxWPhTsaRthnP+otLk0AEijzabdTo0FgVBFjPIH/T+5kPAqUzA0ND3POgFIlIgL3dzC5BlieLnmKLq7JZjyQ== r";
    const DSA: &str = "ssh-dss AAAAB3NzaC1kc3MAAACBAPctvXawr9w06Om2k8HNrOphqsl2Eh/C9vA5D0V2XBpY56uagZNcFGkhDWhdp2r6K0SuU4cnBg37raHfTdsyP1kkK2PK3KyMAf2tkHnBzLDfkIA0ZKCFrb1EBl9YlPWkKQ3dSFZf5BN4HyW8Q4hUh0XO77M4tbRd7Q0S4EI/tARJAAAAFQCOVgqxgnsT1lFoHMkEoTRiAPTcIwAAAIAfJtloNeE6sMEhibhkGQqwZLgkn6CyNvJZaHQ6wprysusHDSqsANh3PNYA/1JqrydrLZ4mcz+RkXLELnLNyqkOqqNmhY6MxG8OQtYI2alt3UsVOggVTxbcxRrcfBLYn1J3b4GjEStdpOxCKVTAe+y+ZxNDQ9MOW/6uVaQHhR6uwwAAAIBpFrjTxU01qowdoDhf6Ro/WJUTnh5CZ6NQZyApwhJQcYke8oJy+Sd0qqTx7SovG5ghhLlz7TeQwpsbD2DYRB+jepUopLsr/FVxUJ3sKBcBIiJwF4wpXGEz2RxnF2R1JV/4pVKt2H25iou+7Jb9FhzlgyJYGvkozo8G3CEgu2oppA== root@vm";

    /// `Ok((algorithm, fingerprint, comment))` or `Err(part of the message)`.
    fn check(line: &str, expected: Result<(&str, &str, &str), &str>) {
        match (SshPublicKey::parse(line), expected) {
            (Ok(key), Ok((algorithm, fingerprint, comment))) => {
                assert_eq!(key.algorithm(), algorithm, "{line}");
                assert_eq!(key.fingerprint(), fingerprint, "{line}");
                assert_eq!(key.comment(), comment, "{line}");
                let again = SshPublicKey::parse(&key.to_openssh()).unwrap();
                assert_eq!(again.fingerprint(), fingerprint, "round trip of {line}");
            }
            (Err(err), Err(part)) => assert!(err.to_string().contains(part), "{line}: {err}"),
            (got, expected) => panic!("{line}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn parses_accepted_keys_with_ssh_keygen_fingerprints() {
        check(ED25519, Ok(("ssh-ed25519", ED25519_FINGERPRINT, "alice@laptop")));
        check(ECDSA, Ok(("ecdsa-sha2-nistp256", ECDSA_FINGERPRINT, "e")));
        check(RSA_2048, Ok(("ssh-rsa", RSA_2048_FINGERPRINT, "r2")));
        let no_comment = ED25519.trim_end_matches(" alice@laptop");
        check(no_comment, Ok(("ssh-ed25519", ED25519_FINGERPRINT, "")));
        let spaced = format!("  {}\tmy   laptop key \n", no_comment.replacen(' ', "   ", 1));
        check(&spaced, Ok(("ssh-ed25519", ED25519_FINGERPRINT, "my   laptop key")));
    }

    #[test]
    fn refuses_weak_mismatched_and_malformed_keys() {
        check(RSA_1024, Err("RSA keys must be at least 2048 bits"));
        check(DSA, Err("DSA keys are not accepted"));
        let mismatch = ED25519.replacen("ssh-ed25519", "ecdsa-sha2-nistp256", 1);
        check(&mismatch, Err("does not match the key type"));
        check("ssh-ed25519 not*base64!", Err("not valid base64"));
        check("ssh-ed25519 AAAA", Err("truncated"));
        check("ssh-ed25519", Err("expected `TYPE BASE64"));
        check("", Err("expected `TYPE BASE64"));
        check("garbage", Err("expected `TYPE BASE64"));
        check("ssh-foo AAAAB3NzaC1mb28=", Err("key type ssh-foo is not accepted"));
        check(&format!("{ED25519} {}", "x".repeat(MAX_KEY_LINE_BYTES)), Err("at most 16 KiB"));
        check(&format!("{ED25519}\u{7}"), Err("control characters"));
    }

    #[test]
    fn mpint_bits_ignore_leading_zeros() {
        assert_eq!(mpint_bits(&[]), 0);
        assert_eq!(mpint_bits(&[0]), 0);
        assert_eq!(mpint_bits(&[0, 0x80]), 8);
        assert_eq!(mpint_bits(&[0x01, 0]), 9);
    }

    #[test]
    fn key_names() {
        assert_eq!(UserSshKey::check_name("  laptop ").unwrap(), "laptop");
        assert!(UserSshKey::check_name(&"n".repeat(100)).is_ok());
        assert!(UserSshKey::check_name(&"n".repeat(101)).is_err());
        assert!(UserSshKey::check_name("a\nb").is_err());
    }
}
