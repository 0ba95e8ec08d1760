//! The storage backends and how each is opened. Credentials come from the vault at the moment of use, as a
//! [`StorageSecret`], and never reach a log or an error message.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::local::LocalFileSystem;
use object_store::{ClientOptions, RetryConfig};

use super::error::StorageError;

/// One request to the storage service gives up after this long (a hung server fails an attempt within a minute).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Retries inside one upload attempt are few and short: the uploader retries whole recordings with its own backoff.
const REQUEST_RETRIES: usize = 2;
const REQUEST_RETRY_WINDOW: Duration = Duration::from_secs(30);

/// A storage credential (an S3 secret access key, an Azure account key); `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct StorageSecret(String);

impl StorageSecret {
    pub fn new(value: String) -> Self {
        Self(value)
    }
    fn expose(&self) -> &str {
        &self.0
    }
    /// SHA-256 of the credential: tells a changed credential from the same one without keeping a copy of it.
    pub fn fingerprint(&self) -> [u8; 32] {
        use sha2::Digest;
        sha2::Sha256::digest(self.0.as_bytes()).into()
    }
}

impl fmt::Debug for StorageSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StorageSecret([redacted])")
    }
}

/// Where finished recordings are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageBackend {
    Local(LocalBackend),
    S3(S3Backend),
    Azure(AzureBackend),
}

/// A directory on this machine or a mounted share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalBackend {
    pub dir: PathBuf,
}

/// AWS S3 or any S3-compatible service (path-style requests when an endpoint is given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Backend {
    pub bucket: String,
    pub region: String,
    /// `None` for AWS itself.
    pub endpoint: Option<String>,
    pub access_key_id: String,
    /// Plain `http://` endpoints are refused unless this is set (a loopback test server, a private network).
    pub allow_http: bool,
}

/// An Azure Blob Storage container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureBackend {
    pub account: String,
    pub container: String,
    /// The account's blob endpoint, e.g. `http://127.0.0.1:10000/devstoreaccount1` for Azurite; `None` for Azure.
    pub endpoint: Option<String>,
    pub allow_http: bool,
}

impl StorageBackend {
    /// Whether the backend needs a credential from the vault.
    pub fn needs_secret(&self) -> bool {
        !matches!(self, StorageBackend::Local(_))
    }

    /// A short name for logs and status: `local`, `s3` or `azure`.
    pub fn kind(&self) -> &'static str {
        match self {
            StorageBackend::Local(_) => "local",
            StorageBackend::S3(_) => "s3",
            StorageBackend::Azure(_) => "azure",
        }
    }

    /// Opens the backend. A local directory is created (only its owner may enter it) when missing.
    pub(super) fn open(&self, secret: Option<&StorageSecret>) -> Result<Arc<dyn ObjectStore>, StorageError> {
        let needs_secret = || StorageError::Config(format!("the {} storage credential is not set", self.kind()));
        let invalid = |error: object_store::Error| StorageError::Config(error.to_string());
        match self {
            StorageBackend::Local(local) => {
                create_private_dir(&local.dir)?;
                let store = LocalFileSystem::new_with_prefix(&local.dir).map_err(invalid)?;
                Ok(Arc::new(store.with_automatic_cleanup(true)))
            }
            StorageBackend::S3(s3) => {
                let secret = secret.ok_or_else(needs_secret)?;
                let mut builder = AmazonS3Builder::new()
                    .with_bucket_name(&s3.bucket)
                    .with_region(&s3.region)
                    .with_access_key_id(&s3.access_key_id)
                    .with_secret_access_key(secret.expose())
                    .with_client_options(client_options(s3.allow_http))
                    .with_retry(retry_config());
                if let Some(endpoint) = &s3.endpoint {
                    builder = builder.with_endpoint(endpoint).with_virtual_hosted_style_request(false);
                }
                Ok(Arc::new(builder.build().map_err(invalid)?))
            }
            StorageBackend::Azure(azure) => {
                let secret = secret.ok_or_else(needs_secret)?;
                let mut builder = MicrosoftAzureBuilder::new()
                    .with_account(&azure.account)
                    .with_container_name(&azure.container)
                    .with_access_key(secret.expose())
                    .with_client_options(client_options(azure.allow_http))
                    .with_retry(retry_config());
                if let Some(endpoint) = &azure.endpoint {
                    builder = builder.with_endpoint(endpoint.clone());
                }
                Ok(Arc::new(builder.build().map_err(invalid)?))
            }
        }
    }
}

fn client_options(allow_http: bool) -> ClientOptions {
    ClientOptions::new().with_allow_http(allow_http).with_timeout(REQUEST_TIMEOUT).with_connect_timeout(CONNECT_TIMEOUT)
}

fn retry_config() -> RetryConfig {
    RetryConfig { max_retries: REQUEST_RETRIES, retry_timeout: REQUEST_RETRY_WINDOW, ..RetryConfig::default() }
}

fn create_private_dir(dir: &std::path::Path) -> Result<(), StorageError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| StorageError::Spool { path: dir.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_shows_in_debug_output() {
        let secret = StorageSecret::new("wJalrXUtnFEMI/K7MDENG".to_owned());
        assert_eq!(format!("{secret:?}"), "StorageSecret([redacted])");
    }

    #[test]
    fn remote_backends_refuse_to_open_without_a_credential() {
        let s3 = StorageBackend::S3(S3Backend {
            bucket: "recordings".to_owned(),
            region: "us-east-1".to_owned(),
            endpoint: Some("http://127.0.0.1:9".to_owned()),
            access_key_id: "AKIA".to_owned(),
            allow_http: true,
        });
        assert!(s3.needs_secret());
        let error = s3.open(None).err().map(|error| error.to_string());
        assert_eq!(
            error.as_deref(),
            Some("invalid recording storage configuration: the s3 storage credential is not set")
        );
        assert!(s3.open(Some(&StorageSecret::new("secret".to_owned()))).is_ok());
    }
}
