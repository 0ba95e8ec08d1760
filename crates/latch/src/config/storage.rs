//! `[recordings.storage]`: where finished recordings are kept, and how the uploader retries.
//!
//! ```toml
//! [recordings.storage]
//! kind = "s3"                     # "local" | "s3" | "azure"; without this section recordings stay in recordings.dir
//! prefix = "latch"                # objects are <prefix>/<session>/<file>
//! bucket = "recordings"           # s3
//! region = "eu-central-1"         # s3, default us-east-1
//! endpoint = "https://s3.example" # s3 or azure; default: the provider's own
//! access_key_id = "AKIA…"         # s3; the secret key is kept in the vault: `latch recordings storage-credential`
//! account = "latchrecordings"     # azure; the account key is kept in the vault
//! container = "recordings"        # azure
//! path = "/mnt/recordings"        # local: a directory or a mounted share
//! allow_http = false              # plain http:// endpoints only when set
//! upload_retries = 5              # retries at the fixed interval before the alert and exponential backoff
//! upload_retry_interval_ms = 5000
//! upload_max_backoff_seconds = 900
//! ```

use std::path::PathBuf;
use std::time::Duration;

use latch_recording::{AzureBackend, LocalBackend, S3Backend, StorageBackend};
use serde::Deserialize;

use crate::UsageError;

const DEFAULT_RETRIES: u32 = 5;
const DEFAULT_RETRY_INTERVAL_MS: u64 = 5000;
const DEFAULT_MAX_BACKOFF_SECONDS: u64 = 900;
const MAX_NAME_CHARS: usize = 255;

/// `[recordings.storage]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSection {
    pub kind: Option<String>,
    pub prefix: Option<String>,
    pub bucket: Option<String>,
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub access_key_id: Option<String>,
    pub account: Option<String>,
    pub container: Option<String>,
    pub path: Option<PathBuf>,
    pub allow_http: Option<bool>,
    pub upload_retries: Option<u32>,
    pub upload_retry_interval_ms: Option<u64>,
    pub upload_max_backoff_seconds: Option<u64>,
}

/// The validated storage setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageConfig {
    pub backend: StorageBackend,
    pub prefix: String,
    pub retry: UploadRetry,
}

/// When the uploader tries a recording again after a failed attempt: `retries` times at `interval`, then (with the
/// alert) at twice the interval, four times, … up to `max_backoff`, for as long as it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadRetry {
    pub retries: u32,
    pub interval: Duration,
    pub max_backoff: Duration,
}

impl Default for UploadRetry {
    fn default() -> Self {
        Self {
            retries: DEFAULT_RETRIES,
            interval: Duration::from_millis(DEFAULT_RETRY_INTERVAL_MS),
            max_backoff: Duration::from_secs(DEFAULT_MAX_BACKOFF_SECONDS),
        }
    }
}

impl UploadRetry {
    /// The wait after the `failures`-th failed attempt in a row (1 for the first).
    pub fn delay_after(&self, failures: u32) -> Duration {
        if failures <= self.retries {
            return self.interval;
        }
        let doublings = (failures - self.retries).min(30);
        self.interval.saturating_mul(1 << doublings).min(self.max_backoff).max(self.interval)
    }

    /// Whether the `failures`-th failure in a row is the one past the configured retries (the alert).
    pub fn is_alert(&self, failures: u32) -> bool {
        failures == self.retries + 1
    }
}

/// `None` when the section is absent: recordings then stay where they were written.
pub fn resolve(section: Option<&StorageSection>) -> Result<Option<StorageConfig>, UsageError> {
    let Some(section) = section else { return Ok(None) };
    let at = |what: &str| UsageError(format!("[recordings.storage]: {what}"));
    let kind = section.kind.as_deref().ok_or_else(|| at("kind is required: local, s3 or azure"))?;
    let allow_http = section.allow_http.unwrap_or(false);
    let endpoint = section.endpoint.as_deref().map(|url| endpoint(url, allow_http, &at)).transpose()?;
    let required = |value: &Option<String>, key: &str| -> Result<String, UsageError> {
        let value = value.as_deref().map(str::trim).unwrap_or_default();
        if value.is_empty() || value.len() > MAX_NAME_CHARS || value.chars().any(char::is_control) {
            return Err(at(&format!("{key} is required for kind = {kind:?} (1 to {MAX_NAME_CHARS} characters)")));
        }
        Ok(value.to_owned())
    };
    let unused = |keys: &[(&str, bool)]| -> Result<(), UsageError> {
        match keys.iter().find(|(_, set)| *set) {
            Some((key, _)) => Err(at(&format!("{key} does not apply to kind = {kind:?}"))),
            None => Ok(()),
        }
    };
    let backend = match kind {
        "local" => {
            unused(&[
                ("bucket", section.bucket.is_some()),
                ("access_key_id", section.access_key_id.is_some()),
                ("account", section.account.is_some()),
                ("container", section.container.is_some()),
                ("endpoint", endpoint.is_some()),
            ])?;
            let dir = section.path.clone().ok_or_else(|| at("path is required for kind = \"local\""))?;
            if !dir.is_absolute() {
                return Err(at("path must be absolute"));
            }
            StorageBackend::Local(LocalBackend { dir })
        }
        "s3" => {
            unused(&[
                ("account", section.account.is_some()),
                ("container", section.container.is_some()),
                ("path", section.path.is_some()),
            ])?;
            StorageBackend::S3(S3Backend {
                bucket: required(&section.bucket, "bucket")?,
                region: section.region.clone().unwrap_or_else(|| "us-east-1".to_owned()),
                endpoint,
                access_key_id: required(&section.access_key_id, "access_key_id")?,
                allow_http,
            })
        }
        "azure" => {
            unused(&[
                ("bucket", section.bucket.is_some()),
                ("access_key_id", section.access_key_id.is_some()),
                ("region", section.region.is_some()),
                ("path", section.path.is_some()),
            ])?;
            StorageBackend::Azure(AzureBackend {
                account: required(&section.account, "account")?,
                container: required(&section.container, "container")?,
                endpoint,
                allow_http,
            })
        }
        other => return Err(at(&format!("unknown kind {other:?}: local, s3 or azure"))),
    };
    let prefix = section.prefix.clone().unwrap_or_default();
    if prefix
        .split('/')
        .filter(|s| !s.is_empty())
        .any(|s| s == "." || s == ".." || !s.bytes().all(|b| b.is_ascii_graphic() && b != b'\\'))
    {
        return Err(at("prefix must be path segments of printable ASCII, without . or .."));
    }
    let defaults = UploadRetry::default();
    let retry = UploadRetry {
        retries: section.upload_retries.unwrap_or(defaults.retries),
        interval: Duration::from_millis(section.upload_retry_interval_ms.unwrap_or(DEFAULT_RETRY_INTERVAL_MS)),
        max_backoff: Duration::from_secs(section.upload_max_backoff_seconds.unwrap_or(DEFAULT_MAX_BACKOFF_SECONDS)),
    };
    if retry.retries > 1000 {
        return Err(at("upload_retries must be at most 1000"));
    }
    if !(100..=3_600_000).contains(&section.upload_retry_interval_ms.unwrap_or(DEFAULT_RETRY_INTERVAL_MS)) {
        return Err(at("upload_retry_interval_ms must be 100 to 3600000"));
    }
    if retry.max_backoff < retry.interval || retry.max_backoff > Duration::from_secs(86_400) {
        return Err(at("upload_max_backoff_seconds must be at least the retry interval and at most 86400"));
    }
    Ok(Some(StorageConfig { backend, prefix, retry }))
}

/// An endpoint URL: https, or http when `allow_http` is set; never with credentials in it.
fn endpoint(url: &str, allow_http: bool, at: &dyn Fn(&str) -> UsageError) -> Result<String, UsageError> {
    let url = url.trim().trim_end_matches('/');
    let rest = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(rest), _) => rest,
        (None, Some(rest)) if allow_http => rest,
        (None, Some(_)) => return Err(at("endpoint is http://: set allow_http = true to use it")),
        _ => return Err(at("endpoint must be an https:// URL")),
    };
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') || url.len() > 2000 {
        return Err(at("endpoint must name a host and must not hold credentials"));
    }
    Ok(url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(endpoint: &str, allow_http: bool) -> StorageSection {
        StorageSection {
            kind: Some("s3".to_owned()),
            bucket: Some("recordings".to_owned()),
            access_key_id: Some("AKIA".to_owned()),
            endpoint: Some(endpoint.to_owned()),
            allow_http: Some(allow_http),
            ..StorageSection::default()
        }
    }

    #[test]
    fn s3_and_azure_sections_resolve_with_the_seed_retry_defaults() {
        let config = resolve(Some(&s3("http://127.0.0.1:9000/", true))).unwrap().unwrap();
        let StorageBackend::S3(backend) = &config.backend else { panic!("{config:?}") };
        assert_eq!(backend.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(backend.region, "us-east-1");
        assert_eq!(config.retry, UploadRetry::default());
        assert_eq!(config.retry.retries, 5);
        assert_eq!(config.retry.interval, Duration::from_millis(5000));

        let azure = StorageSection {
            kind: Some("azure".to_owned()),
            account: Some("devstoreaccount1".to_owned()),
            container: Some("recordings".to_owned()),
            ..StorageSection::default()
        };
        assert!(matches!(resolve(Some(&azure)).unwrap().unwrap().backend, StorageBackend::Azure(_)));
        assert_eq!(resolve(None).unwrap(), None);
    }

    #[test]
    fn mistakes_are_named() {
        let cases = [
            (s3("http://127.0.0.1:9000", false), "allow_http"),
            (s3("https://ak:sk@s3.example", false), "credentials"),
            (s3("ftp://s3.example", false), "https://"),
            (StorageSection { bucket: None, ..s3("https://s3.example", false) }, "bucket is required"),
            (
                StorageSection { container: Some("c".to_owned()), ..s3("https://s3.example", false) },
                "container does not apply",
            ),
            (StorageSection { kind: Some("gcs".to_owned()), ..StorageSection::default() }, "unknown kind"),
            (
                StorageSection {
                    kind: Some("local".to_owned()),
                    path: Some("rel".into()),
                    ..StorageSection::default()
                },
                "absolute",
            ),
            (StorageSection { prefix: Some("a/../b".to_owned()), ..s3("https://s3.example", false) }, "prefix"),
            (StorageSection { upload_retry_interval_ms: Some(5), ..s3("https://s3.example", false) }, "interval"),
        ];
        for (section, expected) in cases {
            let error = resolve(Some(&section)).unwrap_err().0;
            assert!(error.contains(expected), "{error} does not mention {expected}");
        }
    }

    #[test]
    fn retries_wait_the_interval_then_back_off_exponentially_up_to_the_cap() {
        let retry = UploadRetry { retries: 2, interval: Duration::from_secs(5), max_backoff: Duration::from_secs(60) };
        let delays: Vec<u64> = (1..=7).map(|n| retry.delay_after(n).as_secs()).collect();
        assert_eq!(delays, [5, 5, 10, 20, 40, 60, 60]);
        assert!(!retry.is_alert(2) && retry.is_alert(3) && !retry.is_alert(4));
    }
}
