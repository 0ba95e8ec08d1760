//! Builders for domain values the checks store, and a test MAC for the audit chain.

use latch_domain::access_request::{AccessRequest, RequestDetails, RequestStatus};
use latch_domain::account::{Account, AccountSpec, SecretKind};
use latch_domain::api_account::{ApiAccount, SourceRanges};
use latch_domain::audit::ChainMac;
use latch_domain::auth_session::{AuthSession, AuthSessionKind, AuthSessionStage};
use latch_domain::gateway_session::{GatewaySession, RecordingRetention};
use latch_domain::grant::{Grant, GrantOrigin};
use latch_domain::lockout::LockoutState;
use latch_domain::names::{AccountName, ApiAccountName, GroupName, HostAddress, TagName, TargetName, Username};
use latch_domain::permission::{Role, ScopeSet};
use latch_domain::target::{Protocol, Target, TargetSpec};
use latch_domain::user::{Group, User};
use latch_domain::{
    AccessRequestId, AccountId, ApiAccountId, AuthSessionId, GatewaySessionId, GrantId, GroupId, PolicyId, SecretId,
    TargetId, TimeSpan, Timestamp, UserId,
};
use latch_store::vault::{self, SealedRecord, WrappedRootKey};
use latch_store::{Store, StoreError, Tx, accounts, groups, targets, users};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub fn t(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

/// A fresh id of any kind: `fresh(UserId::from_uuid)`.
pub fn fresh<T>(make: fn(Uuid) -> T) -> T {
    make(Uuid::new_v4())
}

/// `Ok(())` when `result` failed with exactly `expected` (compared through `Debug`, as
/// `StoreError` is not `PartialEq`), an error saying what happened otherwise.
pub fn expect_err<T: std::fmt::Debug>(result: Result<T, StoreError>, expected: &StoreError) -> anyhow::Result<()> {
    match result {
        Err(err) if format!("{err:?}") == format!("{expected:?}") => Ok(()),
        other => anyhow::bail!("expected Err({expected:?}), got {other:?}"),
    }
}

pub fn user(username: &str, created_ms: i64) -> anyhow::Result<User> {
    Ok(User {
        id: fresh(UserId::from_uuid),
        username: Username::parse(username)?,
        display_name: format!("{username} display"),
        email: Some(format!("{username}@example.test")),
        roles: vec![Role::User],
        disabled: false,
        must_change_password: false,
        totp_enrolled: false,
        totp_required: false,
        lockout: LockoutState::default(),
        created_at: t(created_ms),
        last_login_at: None,
    })
}

pub fn group(name: &str, roles: Vec<Role>) -> anyhow::Result<Group> {
    Ok(Group {
        id: fresh(GroupId::from_uuid),
        name: GroupName::parse(name)?,
        description: format!("{name} group"),
        roles,
        created_at: t(50),
    })
}

pub fn session(user: UserId, created_ms: i64, last_seen_ms: i64) -> AuthSession {
    AuthSession {
        id: fresh(AuthSessionId::from_uuid),
        user_id: user,
        kind: AuthSessionKind::Web,
        stage: AuthSessionStage::Full,
        created_at: t(created_ms),
        last_seen_at: t(last_seen_ms),
        source: Some("192.0.2.10".to_owned()),
    }
}

/// A target; `protocols` and `tags` are normalized like the application does.
pub fn target(
    name: &str,
    address: &str,
    protocols: &[Protocol],
    tags: &[&str],
    description: &str,
) -> anyhow::Result<Target> {
    let spec = TargetSpec {
        name: TargetName::parse(name)?,
        address: HostAddress::parse(address)?,
        port: 22,
        protocols: protocols.to_vec(),
        tags: tags.iter().map(|tag| TagName::parse(tag)).collect::<Result<_, _>>()?,
        description: description.to_owned(),
        host_key_pin: None,
    }
    .normalized()?;
    Ok(Target { id: fresh(TargetId::from_uuid), spec, created_at: t(100), updated_at: t(100) })
}

/// An account without a secret.
pub fn account(target: TargetId, username: &str) -> anyhow::Result<Account> {
    Ok(Account {
        id: fresh(AccountId::from_uuid),
        target_id: target,
        spec: AccountSpec {
            username: AccountName::parse(username)?,
            secret_kind: SecretKind::Password,
            api_enabled: false,
            rotate_after_use: false,
            exclusive_checkout: true,
            description: format!("{username} account"),
        },
        has_secret: false,
        secret_updated_at: None,
        created_at: t(200),
        updated_at: t(200),
    })
}

pub fn api_account(name: &str) -> anyhow::Result<ApiAccount> {
    Ok(ApiAccount {
        id: fresh(ApiAccountId::from_uuid),
        name: ApiAccountName::parse(name)?,
        description: format!("{name} automation"),
        scopes: ScopeSet::parse_list(["inventory:read", "credentials:checkout"])?,
        allowed_sources: SourceRanges::parse_list(["10.0.0.0/8", "192.168.1.7"])?,
        token_ttl: TimeSpan::from_minutes(15),
        revoked: false,
        lockout: LockoutState::default(),
        created_at: t(300),
        secret_rotated_at: t(300),
    })
}

/// Stores a root key (as the vault would after wrapping it) and returns its id.
pub async fn seed_root_key(tx: &mut Tx) -> anyhow::Result<Uuid> {
    let key = WrappedRootKey { id: Uuid::new_v4(), wrapped: vec![7; 40] };
    vault::insert_root_key(tx, &key, t(10)).await?;
    Ok(key.id)
}

/// A sealed record with recognisable bytes.
pub fn sealed(root_key_id: Uuid, kind: &str, fill: u8) -> SealedRecord {
    SealedRecord {
        id: fresh(SecretId::from_uuid),
        kind: kind.to_owned(),
        owner_id: Uuid::new_v4(),
        root_key_id,
        wrapped_data_key: vec![fill; 48],
        ciphertext: vec![fill.wrapping_add(1); 64],
    }
}

/// Stores a sealed secret under `root_key_id` and returns its id.
pub async fn seed_secret(tx: &mut Tx, root_key_id: Uuid, kind: &str) -> anyhow::Result<SecretId> {
    let record = sealed(root_key_id, kind, 3);
    vault::insert_secret(tx, &record, t(20)).await?;
    Ok(record.id)
}

/// The stored people and inventory that access requests, grants and gateway sessions refer to.
pub struct AccessWorld {
    pub alice: User,
    pub bob: User,
    /// The members of `approver_group`, sorted by id.
    pub approvers: Vec<User>,
    pub approver_group: Group,
    pub web: Target,
    pub root: Account,
    pub deploy: Account,
}

/// Stores two requesters, three approvers in a group, and a target with two accounts.
pub async fn seed_access_world(store: &Store) -> anyhow::Result<AccessWorld> {
    let mut approvers = vec![user("carol", 3)?, user("dave", 4)?, user("erin", 5)?];
    approvers.sort_by_key(|approver| approver.id);
    let web = target("web-01", "web01.example.com", &[Protocol::Ssh], &["prod"], "")?;
    let world = AccessWorld {
        alice: user("alice", 1)?,
        bob: user("bob", 2)?,
        approvers,
        approver_group: group("approvers", vec![Role::Approver])?,
        root: account(web.id, "root")?,
        deploy: account(web.id, "deploy")?,
        web,
    };
    let mut tx = store.begin().await?;
    for person in [&world.alice, &world.bob].into_iter().chain(&world.approvers) {
        users::insert(&mut tx, person, None).await?;
    }
    groups::insert(&mut tx, &world.approver_group).await?;
    for approver in &world.approvers {
        groups::add_member(&mut tx, world.approver_group.id, approver.id).await?;
    }
    targets::insert(&mut tx, &world.web).await?;
    accounts::insert(&mut tx, &world.root, None).await?;
    accounts::insert(&mut tx, &world.deploy, None).await?;
    tx.commit().await?;
    Ok(world)
}

/// A pending request by `requester` for `account`, made at `created_ms`, needing one approval from anyone with
/// the approver role, to be decided by `decide_by_ms`.
pub fn request(
    requester: UserId,
    account: &Account,
    created_ms: i64,
    decide_by_ms: i64,
) -> anyhow::Result<AccessRequest> {
    Ok(AccessRequest {
        id: fresh(AccessRequestId::from_uuid),
        requester,
        target_id: account.target_id,
        account_id: account.id,
        policy_id: fresh(PolicyId::from_uuid),
        starts_at: t(created_ms + 60_000),
        ends_at: t(created_ms + 3_600_000),
        details: RequestDetails::new("disk full on /var", None, None)?,
        status: RequestStatus::Pending,
        approvals_required: 1,
        approver_group: None,
        approvals: Vec::new(),
        decided_by: None,
        decision_comment: None,
        decided_at: None,
        decide_by: t(decide_by_ms),
        grant_id: None,
        created_at: t(created_ms),
    })
}

/// A grant from an approved request for `user` to use `account` from `starts_ms` until `ends_ms`.
pub fn grant(user: UserId, account: &Account, starts_ms: i64, ends_ms: i64) -> Grant {
    Grant {
        id: fresh(GrantId::from_uuid),
        user_id: user,
        target_id: account.target_id,
        account_id: account.id,
        policy_id: Some(fresh(PolicyId::from_uuid)),
        request_id: Some(fresh(AccessRequestId::from_uuid)),
        origin: GrantOrigin::Request,
        break_glass_id: None,
        starts_at: t(starts_ms),
        ends_at: t(ends_ms),
        revoked_at: None,
        revoked_by: None,
        revoke_reason: None,
        enforced_at: None,
        created_at: t(starts_ms),
    }
}

/// A live SSH session of `user` as `account` on `target`, started at `started_ms` on `node`.
pub fn gateway_session(
    user: &User,
    target: &Target,
    account: &Account,
    grant: Option<GrantId>,
    started_ms: i64,
    node: &str,
) -> GatewaySession {
    GatewaySession {
        id: fresh(GatewaySessionId::from_uuid),
        user_id: user.id,
        username: user.username.to_string(),
        target_id: target.id,
        target_name: target.spec.name.to_string(),
        account_id: account.id,
        account_name: account.spec.username.to_string(),
        grant_id: grant,
        policy_id: fresh(PolicyId::from_uuid),
        protocol: Protocol::Ssh,
        source: None,
        started_at: t(started_ms),
        ended_at: None,
        end_reason: None,
        bytes_to_target: 0,
        bytes_from_target: 0,
        recording: None,
        consent_accepted_at: None,
        node: node.to_owned(),
        retention: RecordingRetention::default(),
    }
}

/// SHA-256 over key ‖ previous link ‖ record: enough of a keyed chain for the store's tests.
#[derive(Debug)]
pub struct TestMac {
    pub key: [u8; 32],
}

impl Default for TestMac {
    fn default() -> Self {
        Self { key: [0x5a; 32] }
    }
}

impl ChainMac for TestMac {
    fn link(&self, prev: &[u8; 32], record: &[u8]) -> [u8; 32] {
        Sha256::new().chain_update(self.key).chain_update(prev).chain_update(record).finalize().into()
    }
}
