//! Pinning targets' SSH host keys: fetch the key a target presents (trust on first use, shown to an admin) and pin
//! the fingerprint the admin confirmed.
//!
//! Fetching needs an SSH client, which lives in a front end; the binary installs one as a [`HostKeyProbe`], so this
//! crate stays free of protocol code.

use crate::{App, AppError, Principal, RequestContext};
use latch_domain::audit::{AccessEvent, AuditEvent};
use latch_domain::permission::Permission;
use latch_domain::target::{HostKeyPin, Protocol, Target};
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;

/// The host key a target presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbedHostKey {
    /// `SHA256:…`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    pub algorithm: String,
    /// `ssh-ed25519 AAAA…`
    pub openssh: String,
}

/// Fetches the SSH host key a server presents, without logging in.
pub trait HostKeyProbe: Send + Sync + Debug {
    fn fetch<'a>(
        &'a self,
        address: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = Result<ProbedHostKey, String>> + Send + 'a>>;
}

impl App {
    /// Connects to the target and returns the host key it presents, for an admin to confirm.
    pub async fn fetch_target_host_key(&self, principal: &Principal, key: &str) -> Result<ProbedHostKey, AppError> {
        principal.require(Permission::InventoryWrite)?;
        let target = self.find_target(key).await?;
        if !target.spec.protocols.contains(&Protocol::Ssh) {
            return Err(AppError::BadRequest("the target does not speak SSH".to_owned()));
        }
        let probe = self
            .host_key_probe()
            .ok_or_else(|| AppError::BadRequest("this Latch node has no SSH gateway to fetch host keys".to_owned()))?;
        probe
            .fetch(target.spec.address.as_str(), target.spec.port)
            .await
            .map_err(|reason| AppError::BadRequest(format!("cannot fetch the host key: {reason}")))
    }

    /// Pins `fingerprint` (as confirmed by the admin) as the target's host key.
    pub async fn pin_target_host_key(
        &self,
        principal: &Principal,
        key: &str,
        fingerprint: &str,
        ctx: &RequestContext,
    ) -> Result<Target, AppError> {
        principal.require(Permission::InventoryWrite)?;
        let pin = HostKeyPin::parse(fingerprint)?;
        if !pin.as_str().starts_with("SHA256:") {
            return Err(AppError::BadRequest("an SSH host key pin is a SHA256:… fingerprint".to_owned()));
        }
        let mut target = self.find_target(key).await?;
        target.spec.host_key_pin = Some(pin.clone());
        target.updated_at = self.now();
        let mut tx = self.store().begin().await?;
        latch_store::targets::update(&mut tx, &target).await?;
        let event = AccessEvent::HostKeyPinned { target_id: target.id, fingerprint: pin.as_str().to_owned() };
        self.audit(&mut tx, ctx, &principal.actor(), AuditEvent::Access(event)).await?;
        tx.commit().await?;
        Ok(target)
    }
}
