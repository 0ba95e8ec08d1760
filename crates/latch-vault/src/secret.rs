//! `Secret<T>`: a value that is wiped from memory on drop and never printed.

use std::fmt;

use zeroize::Zeroize;

/// A secret value: zeroized when dropped, shown as `Secret([redacted])` by `Debug` and `Display`.
///
/// It deliberately implements neither `Serialize` nor `PartialEq`; read it with [`Secret::expose`]
/// at the moment of use.
pub struct Secret<T: Zeroize>(T);

/// A secret text, such as a passphrase or a credential password.
pub type SecretString = Secret<String>;

/// Secret bytes, such as a decrypted credential.
pub type SecretBytes = Secret<Vec<u8>>;

impl<T: Zeroize> Secret<T> {
    /// Wraps `value`; it will be zeroized when the wrapper is dropped.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// Borrows the secret value. Keep the borrow short and never log it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T: Zeroize> Drop for Secret<T> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl<T: Zeroize + Clone> Clone for Secret<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T: Zeroize> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl<T: Zeroize> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(value: Vec<u8>) -> Self {
        Self::new(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_redacted() {
        let secret = SecretString::from("hunter2-very-secret".to_owned());
        assert_eq!(format!("{secret:?}"), "Secret([redacted])");
        assert_eq!(format!("{secret}"), "Secret([redacted])");
        assert_eq!(secret.expose(), "hunter2-very-secret");
    }

    #[test]
    fn clone_keeps_the_value() {
        let secret = SecretBytes::from(vec![1, 2, 3]);
        let copy = secret.clone();
        drop(secret);
        assert_eq!(copy.expose(), &vec![1, 2, 3]);
    }
}
