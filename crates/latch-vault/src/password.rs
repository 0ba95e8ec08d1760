//! Local user passwords: Argon2id PHC strings.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::VaultError;
use crate::random::random_array;
use crate::secret::SecretString;

/// Production cost: 19 MiB, 2 passes, 1 lane (the OWASP recommendation for Argon2id).
const M_COST_KIB: u32 = 19 * 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

/// Hash of a random, forgotten password with the production parameters, verified against by
/// [`dummy_verify`] so that unknown users cost as much time as known ones.
const DUMMY_PHC: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$+/XYx11CohYFvu+efgtijQ$fGx6fB9aPFPuANtdhFWAe2Pdb040swWvhEwq2nJrbGU";

/// Hashes a password with Argon2id and a fresh random salt, returning the PHC string
/// (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`). Password policy belongs to the caller.
///
/// # Errors
/// [`VaultError::PasswordHash`] if Argon2 fails (it does not for any password length in practice).
pub fn hash_password(pass: &SecretString) -> Result<String, VaultError> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).map_err(|_| VaultError::PasswordHash)?;
    let salt: [u8; 16] = random_array();
    let hash = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_with_salt(pass.expose().as_bytes(), &salt)
        .map_err(|_| VaultError::PasswordHash)?;
    Ok(hash.to_string())
}

/// Whether `pass` matches the PHC string `phc`; a malformed `phc` never matches. The final
/// comparison is constant-time (done by `argon2`).
pub fn verify_password(pass: &SecretString, phc: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default().verify_password(pass.expose().as_bytes(), &hash).is_ok()
}

/// Spends the time of one [`verify_password`] and forgets the outcome: call it when the user does
/// not exist, so response time does not reveal which user names exist.
pub fn dummy_verify(pass: &SecretString) {
    std::hint::black_box(verify_password(pass, DUMMY_PHC));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(text: &str) -> SecretString {
        SecretString::from(text.to_owned())
    }

    #[test]
    fn hash_then_verify() -> Result<(), VaultError> {
        let phc = hash_password(&pass("correct horse battery staple"))?;
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_password(&pass("correct horse battery staple"), &phc));
        assert!(!verify_password(&pass("correct horse battery stapler"), &phc));
        assert!(!verify_password(&pass(""), &phc));
        Ok(())
    }

    #[test]
    fn salts_make_hashes_differ() -> Result<(), VaultError> {
        let first = hash_password(&pass("same"))?;
        let second = hash_password(&pass("same"))?;
        assert_ne!(first, second);
        assert!(verify_password(&pass("same"), &second));
        Ok(())
    }

    #[test]
    fn malformed_hashes_never_match() {
        for phc in ["", "not a hash", "$argon2id$v=19$m=19456,t=2,p=1$", "$plain$secret"] {
            assert!(!verify_password(&pass("secret"), phc), "{phc:?}");
        }
    }

    #[test]
    fn dummy_hash_costs_the_same_as_real_hashes() -> Result<(), argon2::password_hash::Error> {
        let dummy = PasswordHash::new(DUMMY_PHC)?;
        let real_phc = hash_password(&pass("x")).map_err(|_| argon2::password_hash::Error::Algorithm)?;
        let real = PasswordHash::new(&real_phc)?;
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(dummy.params, real.params);
        assert_eq!(dummy.hash.map(|h| h.len()), real.hash.map(|h| h.len()));
        assert!(!verify_password(&pass("secret"), DUMMY_PHC));
        dummy_verify(&pass("secret"));
        Ok(())
    }
}
