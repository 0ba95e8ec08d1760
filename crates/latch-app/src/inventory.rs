//! Targets and accounts: create, change, search, delete; import and export as one document.

use crate::users::conflict_as;
use crate::{App, AppError, Principal, RequestContext};
use latch_domain::account::{Account, AccountSpec, SecretKind};
use latch_domain::audit::AuditEvent;
use latch_domain::names::{AccountName, HostAddress, TagName, TargetName};
use latch_domain::permission::Permission;
use latch_domain::target::{HostKeyPin, Protocol, Target, TargetQuery, TargetSpec};
use latch_domain::{AccountId, DomainError, TargetId};
use latch_store::Tx;
use latch_vault::SecretString;
use uuid::Uuid;

/// A new target, as entered.
#[derive(Debug, Clone, Default)]
pub struct NewTarget {
    pub name: String,
    pub address: String,
    pub port: Option<u16>,
    pub protocols: Vec<String>,
    pub tags: Vec<String>,
    pub description: String,
    pub host_key_pin: Option<String>,
}

/// Fields to change; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct TargetChange {
    pub address: Option<String>,
    pub port: Option<u16>,
    pub protocols: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
    pub description: Option<String>,
    pub host_key_pin: Option<Option<String>>,
}

/// A new account on a target. The secret is optional so it can be set later.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub username: String,
    pub secret_kind: String,
    pub secret: Option<SecretString>,
    pub api_enabled: bool,
    pub rotate_after_use: bool,
    /// One holder at a time (`true`), or shared check-outs.
    pub exclusive_checkout: bool,
    pub description: String,
}

/// Fields to change; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct AccountChange {
    pub api_enabled: Option<bool>,
    pub rotate_after_use: Option<bool>,
    pub exclusive_checkout: Option<bool>,
    pub description: Option<String>,
    pub secret: Option<SecretString>,
}

/// The whole inventory (never secrets on export; optional secrets on import).
#[derive(Debug, Clone, Default)]
pub struct InventoryDocument {
    pub targets: Vec<(NewTarget, Vec<NewAccount>)>,
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub targets_created: i64,
    pub targets_updated: i64,
    pub accounts_created: i64,
    pub accounts_updated: i64,
}

const MAX_SEARCH: i64 = 1000;
const MAX_IMPORT_TARGETS: usize = 10_000;

impl App {
    pub async fn create_target(
        &self,
        principal: &Principal,
        new: NewTarget,
        ctx: &RequestContext,
    ) -> Result<Target, AppError> {
        principal.require(Permission::InventoryWrite)?;
        let now = self.now();
        let target = Target {
            id: TargetId::from_uuid(Uuid::new_v4()),
            spec: target_spec(&new)?,
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.store().begin().await?;
        latch_store::targets::insert(&mut tx, &target).await.map_err(conflict_as("target"))?;
        let event = AuditEvent::TargetCreated { target_id: target.id, name: target.spec.name.to_string() };
        self.audit(&mut tx, ctx, &principal.actor(), event).await?;
        tx.commit().await?;
        Ok(target)
    }

    /// Searches targets by text (name, address, description), tag and protocol.
    pub async fn search_targets(
        &self,
        principal: &Principal,
        query: &TargetQuery,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<Target>, i64), AppError> {
        principal.require(Permission::InventoryRead)?;
        let mut conn = self.store().read().await?;
        let total = latch_store::targets::count(&mut conn, query).await?;
        let found = latch_store::targets::search(&mut conn, query, limit.clamp(1, MAX_SEARCH), offset.max(0)).await?;
        Ok((found, total))
    }

    /// A target by id or name, with its accounts.
    pub async fn get_target(&self, principal: &Principal, key: &str) -> Result<(Target, Vec<Account>), AppError> {
        principal.require(Permission::InventoryRead)?;
        let target = self.find_target(key).await?;
        let mut conn = self.store().read().await?;
        let accounts = latch_store::accounts::list_for_target(&mut conn, target.id).await?;
        Ok((target, accounts))
    }

    pub async fn update_target(
        &self,
        principal: &Principal,
        key: &str,
        change: TargetChange,
        ctx: &RequestContext,
    ) -> Result<Target, AppError> {
        principal.require(Permission::InventoryWrite)?;
        let mut target = self.find_target(key).await?;
        let (spec, changes) = apply_target_change(&target.spec, change)?;
        target.spec = spec;
        target.updated_at = self.now();
        let mut tx = self.store().begin().await?;
        latch_store::targets::update(&mut tx, &target).await?;
        self.audit(&mut tx, ctx, &principal.actor(), AuditEvent::TargetUpdated { target_id: target.id, changes })
            .await?;
        tx.commit().await?;
        Ok(target)
    }

    /// Deletes a target with its accounts and their secrets.
    pub async fn delete_target(&self, principal: &Principal, key: &str, ctx: &RequestContext) -> Result<(), AppError> {
        principal.require(Permission::InventoryWrite)?;
        let target = self.find_target(key).await?;
        let mut tx = self.store().begin().await?;
        let secrets = latch_store::accounts::secret_ids_for_target(&mut tx, target.id).await?;
        latch_store::targets::delete(&mut tx, target.id).await?;
        for secret in secrets {
            latch_store::vault::delete_secret(&mut tx, secret).await?;
        }
        let event = AuditEvent::TargetDeleted { target_id: target.id, name: target.spec.name.to_string() };
        self.audit(&mut tx, ctx, &principal.actor(), event).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn create_account(
        &self,
        principal: &Principal,
        target_key: &str,
        new: NewAccount,
        ctx: &RequestContext,
    ) -> Result<Account, AppError> {
        principal.require(Permission::InventoryWrite)?;
        let target = self.find_target(target_key).await?;
        let mut tx = self.store().begin().await?;
        let account = self.insert_account(&mut tx, target.id, &new, ctx, principal).await?;
        tx.commit().await?;
        Ok(account)
    }

    /// An account by id.
    pub async fn get_account(&self, principal: &Principal, id: &str) -> Result<Account, AppError> {
        principal.require(Permission::InventoryRead)?;
        self.find_account(id).await
    }

    pub async fn update_account(
        &self,
        principal: &Principal,
        id: &str,
        change: AccountChange,
        ctx: &RequestContext,
    ) -> Result<Account, AppError> {
        principal.require(Permission::InventoryWrite)?;
        let mut account = self.find_account(id).await?;
        let mut changes = Vec::new();
        if let Some(flag) = change.api_enabled {
            account.spec.api_enabled = flag;
            changes.push(format!("api_enabled={flag}"));
        }
        if let Some(flag) = change.rotate_after_use {
            account.spec.rotate_after_use = flag;
            changes.push(format!("rotate_after_use={flag}"));
        }
        if let Some(flag) = change.exclusive_checkout {
            account.spec.exclusive_checkout = flag;
            changes.push(format!("exclusive_checkout={flag}"));
        }
        if let Some(description) = change.description {
            account.spec.description = crate::groups::check_description(&description)?;
            changes.push("description".to_owned());
        }
        account.updated_at = self.now();
        let mut tx = self.store().begin().await?;
        latch_store::accounts::update(&mut tx, &account).await?;
        if !changes.is_empty() {
            let event = AuditEvent::AccountUpdated { account_id: account.id, changes };
            self.audit(&mut tx, ctx, &principal.actor(), event).await?;
        }
        if let Some(secret) = change.secret {
            self.store_account_secret(&mut tx, &mut account, &secret, ctx, principal).await?;
        }
        tx.commit().await?;
        Ok(account)
    }

    pub async fn delete_account(&self, principal: &Principal, id: &str, ctx: &RequestContext) -> Result<(), AppError> {
        principal.require(Permission::InventoryWrite)?;
        let account = self.find_account(id).await?;
        let mut tx = self.store().begin().await?;
        if let Some(secret) = latch_store::accounts::delete(&mut tx, account.id).await? {
            latch_store::vault::delete_secret(&mut tx, secret).await?;
        }
        let event = AuditEvent::AccountDeleted { account_id: account.id, username: account.spec.username.to_string() };
        self.audit(&mut tx, ctx, &principal.actor(), event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The whole inventory without secrets.
    pub async fn export_inventory(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<Vec<(Target, Vec<Account>)>, AppError> {
        principal.require(Permission::InventoryRead)?;
        let mut conn = self.store().read().await?;
        let targets = latch_store::targets::list_all(&mut conn).await?;
        let mut accounts = latch_store::accounts::list_all(&mut conn).await?;
        drop(conn);
        let out: Vec<(Target, Vec<Account>)> = targets
            .into_iter()
            .map(|t| {
                let (mine, rest): (Vec<Account>, Vec<Account>) = accounts.drain(..).partition(|a| a.target_id == t.id);
                accounts = rest;
                (t, mine)
            })
            .collect();
        let mut tx = self.store().begin().await?;
        let event = AuditEvent::InventoryExported { targets: out.len() as i64 };
        self.audit(&mut tx, ctx, &principal.actor(), event).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Imports targets and accounts by name: new ones are created, existing targets updated,
    /// existing accounts' flags updated (and secrets replaced when given); nothing is deleted.
    /// The document is validated whole before anything is written, and written in one transaction.
    pub async fn import_inventory(
        &self,
        principal: &Principal,
        document: InventoryDocument,
        ctx: &RequestContext,
    ) -> Result<ImportReport, AppError> {
        principal.require(Permission::InventoryWrite)?;
        if document.targets.len() > MAX_IMPORT_TARGETS {
            return Err(AppError::BadRequest(format!("at most {MAX_IMPORT_TARGETS} targets per import")));
        }
        let mut checked = Vec::with_capacity(document.targets.len());
        for (index, (target, accounts)) in document.targets.iter().enumerate() {
            let spec = target_spec(target)
                .map_err(|e| AppError::BadRequest(format!("target #{} ({}): {e}", index + 1, target.name)))?;
            for account in accounts {
                check_new_account(account).map_err(|e| {
                    AppError::BadRequest(format!("target {} account {}: {e}", target.name, account.username))
                })?;
            }
            checked.push((spec, accounts));
        }
        let mut report = ImportReport::default();
        let now = self.now();
        let mut tx = self.store().begin().await?;
        for (spec, accounts) in checked {
            let target = match latch_store::targets::find_by_name(&mut tx, &spec.name).await? {
                Some(mut existing) => {
                    existing.spec = spec;
                    existing.updated_at = now;
                    latch_store::targets::update(&mut tx, &existing).await?;
                    report.targets_updated += 1;
                    existing
                }
                None => {
                    let target =
                        Target { id: TargetId::from_uuid(Uuid::new_v4()), spec, created_at: now, updated_at: now };
                    latch_store::targets::insert(&mut tx, &target).await.map_err(conflict_as("target"))?;
                    report.targets_created += 1;
                    target
                }
            };
            for new in accounts {
                let name = AccountName::parse(&new.username)?;
                match latch_store::accounts::find_on_target(&mut tx, target.id, &name).await? {
                    Some(mut existing) => {
                        existing.spec.api_enabled = new.api_enabled;
                        existing.spec.rotate_after_use = new.rotate_after_use;
                        existing.spec.exclusive_checkout = new.exclusive_checkout;
                        existing.spec.description = new.description.trim().to_owned();
                        existing.updated_at = now;
                        latch_store::accounts::update(&mut tx, &existing).await?;
                        if let Some(secret) = &new.secret {
                            self.store_account_secret(&mut tx, &mut existing, secret, ctx, principal).await?;
                        }
                        report.accounts_updated += 1;
                    }
                    None => {
                        self.insert_account(&mut tx, target.id, new, ctx, principal).await?;
                        report.accounts_created += 1;
                    }
                }
            }
        }
        let event = AuditEvent::InventoryImported {
            targets_created: report.targets_created,
            targets_updated: report.targets_updated,
            accounts_created: report.accounts_created,
        };
        self.audit(&mut tx, ctx, &principal.actor(), event).await?;
        tx.commit().await?;
        Ok(report)
    }

    async fn insert_account(
        &self,
        tx: &mut Tx,
        target: TargetId,
        new: &NewAccount,
        ctx: &RequestContext,
        principal: &Principal,
    ) -> Result<Account, AppError> {
        let spec = check_new_account(new)?;
        let now = self.now();
        let mut account = Account {
            id: AccountId::from_uuid(Uuid::new_v4()),
            target_id: target,
            spec,
            has_secret: false,
            secret_updated_at: None,
            created_at: now,
            updated_at: now,
        };
        latch_store::accounts::insert(tx, &account, None).await.map_err(conflict_as("account"))?;
        let event = AuditEvent::AccountCreated {
            account_id: account.id,
            target_id: target,
            username: account.spec.username.to_string(),
        };
        self.audit(tx, ctx, &principal.actor(), event).await?;
        if let Some(secret) = &new.secret {
            self.store_account_secret(tx, &mut account, secret, ctx, principal).await?;
        }
        Ok(account)
    }

    /// Seals a new secret for `account`, replacing (and deleting) any previous one.
    async fn store_account_secret(
        &self,
        tx: &mut Tx,
        account: &mut Account,
        secret: &SecretString,
        ctx: &RequestContext,
        principal: &Principal,
    ) -> Result<(), AppError> {
        account.spec.secret_kind.check_secret(secret.expose())?;
        let kind = account.spec.secret_kind.vault_kind();
        let old = latch_store::accounts::secret_id(tx, account.id).await?;
        let id = self.seal_new_secret(tx, kind, account.id.as_uuid(), secret.expose().as_bytes()).await?;
        let now = self.now();
        latch_store::accounts::set_secret(tx, account.id, id, now).await?;
        if let Some(old) = old {
            latch_store::vault::delete_secret(tx, old).await?;
        }
        account.has_secret = true;
        account.secret_updated_at = Some(now);
        let event =
            AuditEvent::AccountSecretSet { account_id: account.id, kind: account.spec.secret_kind.as_str().to_owned() };
        self.audit(tx, ctx, &principal.actor(), event).await
    }

    pub(crate) async fn find_target(&self, key: &str) -> Result<Target, AppError> {
        let mut conn = self.store().read().await?;
        let found = match key.parse::<TargetId>() {
            Ok(id) => latch_store::targets::find(&mut conn, id).await?,
            Err(_) => match TargetName::parse(key) {
                Ok(name) => latch_store::targets::find_by_name(&mut conn, &name).await?,
                Err(_) => None,
            },
        };
        found.ok_or(AppError::NotFound("target"))
    }

    async fn find_account(&self, id: &str) -> Result<Account, AppError> {
        let id: AccountId = id.parse().map_err(|_| AppError::NotFound("account"))?;
        let mut conn = self.store().read().await?;
        latch_store::accounts::find(&mut conn, id).await?.ok_or(AppError::NotFound("account"))
    }
}

fn target_spec(new: &NewTarget) -> Result<TargetSpec, DomainError> {
    let protocols = if new.protocols.is_empty() {
        vec![Protocol::Ssh]
    } else {
        new.protocols.iter().map(|p| Protocol::parse(p)).collect::<Result<Vec<_>, _>>()?
    };
    let port = new.port.unwrap_or_else(|| protocols.first().map(Protocol::default_port).unwrap_or(22));
    TargetSpec {
        name: TargetName::parse(&new.name)?,
        address: HostAddress::parse(&new.address)?,
        port,
        protocols,
        tags: new.tags.iter().map(|t| TagName::parse(t)).collect::<Result<Vec<_>, _>>()?,
        description: new.description.trim().to_owned(),
        host_key_pin: new
            .host_key_pin
            .as_deref()
            .filter(|p| !p.trim().is_empty())
            .map(HostKeyPin::parse)
            .transpose()?,
    }
    .normalized()
}

fn apply_target_change(spec: &TargetSpec, change: TargetChange) -> Result<(TargetSpec, Vec<String>), DomainError> {
    let mut next = spec.clone();
    let mut changes = Vec::new();
    if let Some(address) = change.address {
        next.address = HostAddress::parse(&address)?;
        changes.push(format!("address={}", next.address));
    }
    if let Some(port) = change.port {
        next.port = port;
        changes.push(format!("port={port}"));
    }
    if let Some(protocols) = change.protocols {
        next.protocols = protocols.iter().map(|p| Protocol::parse(p)).collect::<Result<Vec<_>, _>>()?;
        changes.push(format!("protocols={}", protocols.join(",")));
    }
    if let Some(tags) = change.tags {
        next.tags = tags.iter().map(|t| TagName::parse(t)).collect::<Result<Vec<_>, _>>()?;
        changes.push(format!("tags={}", tags.join(",")));
    }
    if let Some(description) = change.description {
        next.description = description.trim().to_owned();
        changes.push("description".to_owned());
    }
    if let Some(pin) = change.host_key_pin {
        next.host_key_pin = pin.as_deref().filter(|p| !p.trim().is_empty()).map(HostKeyPin::parse).transpose()?;
        changes.push(format!("host_key_pin={}", next.host_key_pin.as_ref().map_or("none", |p| p.as_str())));
    }
    Ok((next.normalized()?, changes))
}

fn check_new_account(new: &NewAccount) -> Result<AccountSpec, DomainError> {
    let kind = SecretKind::parse(&new.secret_kind)?;
    if let Some(secret) = &new.secret {
        kind.check_secret(secret.expose())?;
    }
    if new.description.chars().count() > 2000 {
        return Err(DomainError::invalid("description", "must be at most 2000 characters"));
    }
    Ok(AccountSpec {
        username: AccountName::parse(&new.username)?,
        secret_kind: kind,
        api_enabled: new.api_enabled,
        rotate_after_use: new.rotate_after_use,
        exclusive_checkout: new.exclusive_checkout,
        description: new.description.trim().to_owned(),
    })
}
