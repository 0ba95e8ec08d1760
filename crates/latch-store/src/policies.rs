//! Access policies, with their subjects, target selectors and account names in side tables.
//!
//! Policies are few and every access decision needs all enabled ones, so reads load whole policies. A read is one
//! statement (the policies left-joined to their side-table rows), so it sees one snapshot: a concurrent update is
//! seen wholly or not at all, never one version's subjects with another version's targets.

use crate::codec::{bool_int, corrupt, get, get_bool};
use crate::{Db, StoreError, Tx};
use latch_domain::names::{AccountName, PolicyName, TagName, TargetName};
use latch_domain::policy::{
    AccessMode, AccountSelector, ApprovalRule, ForwardingRules, Policy, PolicyRules, PolicySpec, PolicySubject,
    Schedule, TargetSelector, TicketPattern,
};
use latch_domain::{GroupId, PolicyId, TimeSpan, Timestamp};
use sqlx::any::AnyRow;
use std::collections::HashMap;

const COLUMNS: &str = "id, name, description, enabled, mode, approvals_required, approver_group_id, any_account, \
     max_duration_ms, schedule, mfa_to_request, mfa_to_connect, record_input, reveal_allowed, ticket_required, \
     ticket_pattern, integration, allow_local_forwarding, allow_remote_forwarding, allow_agent_forwarding, \
     consent_banner, recording_retention_days, recording_required, created_at, updated_at";

/// Inserts a policy; `Conflict("policy")` when the name is taken, `MissingReference` for an unknown user or group.
pub async fn insert(tx: &mut Tx, policy: &Policy) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO policies ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
         $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)"
    );
    bind_row(sqlx::query(sqlx::AssertSqlSafe(sql)), policy)
        .execute(tx.conn())
        .await
        .map_err(StoreError::on_write("policy"))?;
    insert_side_tables(tx, policy).await
}

/// Saves every field and replaces the side tables.
pub async fn update(tx: &mut Tx, policy: &Policy) -> Result<(), StoreError> {
    let assignments: Vec<String> =
        COLUMNS.split(", ").enumerate().skip(1).map(|(i, column)| format!("{column} = ${}", i + 1)).collect();
    let sql = format!("UPDATE policies SET {} WHERE id = $1", assignments.join(", "));
    let result = bind_row(sqlx::query(sqlx::AssertSqlSafe(sql)), policy)
        .execute(tx.conn())
        .await
        .map_err(StoreError::on_write("policy"))?;
    if result.rows_affected() != 1 {
        return Err(StoreError::NotFound("policy"));
    }
    for table in ["policy_subjects", "policy_targets", "policy_accounts"] {
        let sql = format!("DELETE FROM {table} WHERE policy_id = $1");
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(policy.id.to_string()).execute(tx.conn()).await?;
    }
    insert_side_tables(tx, policy).await
}

pub async fn delete(tx: &mut Tx, id: PolicyId) -> Result<(), StoreError> {
    let result = sqlx::query("DELETE FROM policies WHERE id = $1").bind(id.to_string()).execute(tx.conn()).await?;
    if result.rows_affected() != 1 {
        return Err(StoreError::NotFound("policy"));
    }
    Ok(())
}

/// Every policy, by name.
pub async fn list(db: &mut impl Db) -> Result<Vec<Policy>, StoreError> {
    load(db, Which::All).await
}

pub async fn find(db: &mut impl Db, id: PolicyId) -> Result<Option<Policy>, StoreError> {
    Ok(load(db, Which::Id(id)).await?.pop())
}

pub async fn find_by_name(db: &mut impl Db, name: &PolicyName) -> Result<Option<Policy>, StoreError> {
    Ok(load(db, Which::Name(name)).await?.pop())
}

type Query<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

fn bind_row<'q>(query: Query<'q>, policy: &Policy) -> Query<'q> {
    let spec = &policy.spec;
    let rules = &spec.rules;
    let (mode, approval) = match rules.mode {
        AccessMode::Standing => ("standing", ApprovalRule { approvals_required: 0, approver_group: None }),
        AccessMode::OnRequest(rule) => ("on_request", rule),
    };
    query
        .bind(policy.id.to_string())
        .bind(spec.name.as_str().to_owned())
        .bind(spec.description.clone())
        .bind(bool_int(spec.enabled))
        .bind(mode)
        .bind(i64::from(approval.approvals_required))
        .bind(approval.approver_group.map(|g| g.to_string()))
        .bind(bool_int(spec.accounts == AccountSelector::Any))
        .bind(rules.max_duration.as_millis())
        .bind(rules.schedule.map(|s| s.to_string()))
        .bind(bool_int(rules.mfa_to_request))
        .bind(bool_int(rules.mfa_to_connect))
        .bind(bool_int(rules.record_input))
        .bind(bool_int(rules.reveal_allowed))
        .bind(bool_int(rules.ticket_required))
        .bind(rules.ticket_pattern.as_ref().map(|p| p.as_str().to_owned()))
        .bind(rules.integration.clone())
        .bind(bool_int(rules.forwarding.local))
        .bind(bool_int(rules.forwarding.remote))
        .bind(bool_int(rules.forwarding.agent))
        .bind(rules.consent_banner.clone())
        .bind(rules.recording_retention_days.map(i64::from))
        .bind(bool_int(rules.recording_required))
        .bind(policy.created_at.as_millis())
        .bind(policy.updated_at.as_millis())
}

async fn insert_side_tables(tx: &mut Tx, policy: &Policy) -> Result<(), StoreError> {
    let id = policy.id.to_string();
    for subject in &policy.spec.subjects {
        let (user, group) = match subject {
            PolicySubject::User(user) => (Some(user.to_string()), None),
            PolicySubject::Group(group) => (None, Some(group.to_string())),
        };
        sqlx::query("INSERT INTO policy_subjects (policy_id, user_id, group_id) VALUES ($1, $2, $3)")
            .bind(id.clone())
            .bind(user)
            .bind(group)
            .execute(tx.conn())
            .await
            .map_err(StoreError::on_write("policy subject"))?;
    }
    for selector in &policy.spec.targets {
        let (kind, value) = match selector {
            TargetSelector::Name(name) => ("name", name.as_str()),
            TargetSelector::Tag(tag) => ("tag", tag.as_str()),
        };
        sqlx::query("INSERT INTO policy_targets (policy_id, kind, value) VALUES ($1, $2, $3)")
            .bind(id.clone())
            .bind(kind)
            .bind(value.to_owned())
            .execute(tx.conn())
            .await?;
    }
    if let AccountSelector::Named(names) = &policy.spec.accounts {
        for name in names {
            sqlx::query("INSERT INTO policy_accounts (policy_id, account_name) VALUES ($1, $2)")
                .bind(id.clone())
                .bind(name.as_str().to_owned())
                .execute(tx.conn())
                .await?;
        }
    }
    Ok(())
}

/// The parts of a policy kept in side tables, by policy id.
#[derive(Default)]
struct SideTables {
    subjects: HashMap<String, Vec<PolicySubject>>,
    targets: HashMap<String, Vec<TargetSelector>>,
    accounts: HashMap<String, Vec<AccountName>>,
}

/// Which policies to load.
enum Which<'a> {
    All,
    Id(PolicyId),
    Name(&'a PolicyName),
}

/// Every side-table row of every policy as (policy_id, side_kind, side_value).
const SIDE_ROWS: &str = "SELECT policy_id, 'user' AS side_kind, user_id AS side_value FROM policy_subjects \
     WHERE user_id IS NOT NULL \
     UNION ALL SELECT policy_id, 'group', group_id FROM policy_subjects WHERE group_id IS NOT NULL \
     UNION ALL SELECT policy_id, kind, value FROM policy_targets \
     UNION ALL SELECT policy_id, 'account', account_name FROM policy_accounts";

/// Loads whole policies in one statement: one row per side-table row (or one row with NULLs for a policy without
/// any), ordered by name so each policy's rows are adjacent.
async fn load(db: &mut impl Db, which: Which<'_>) -> Result<Vec<Policy>, StoreError> {
    let (condition, bound) = match which {
        Which::All => ("", None),
        Which::Id(id) => ("WHERE policies.id = $1", Some(id.to_string())),
        Which::Name(name) => ("WHERE policies.name = $1", Some(name.as_str().to_owned())),
    };
    let sql = format!(
        "SELECT {COLUMNS}, side.side_kind, side.side_value FROM policies \
         LEFT JOIN ({SIDE_ROWS}) side ON side.policy_id = policies.id {condition} ORDER BY policies.name"
    );
    let query = sqlx::query(sqlx::AssertSqlSafe(sql));
    let query = match bound {
        Some(value) => query.bind(value),
        None => query,
    };
    let rows = query.fetch_all(db.conn()).await?;
    // The first row of each policy, in name order.
    let mut firsts: Vec<&AnyRow> = Vec::new();
    let mut last_id: Option<String> = None;
    let mut side = SideTables::default();
    for row in &rows {
        let id: String = get(row, "id")?;
        if last_id.as_deref() != Some(id.as_str()) {
            firsts.push(row);
            last_id = Some(id.clone());
        }
        let Some(kind) = get::<Option<String>>(row, "side_kind")? else { continue };
        let value: String = get(row, "side_value")?;
        match kind.as_str() {
            "user" => side
                .subjects
                .entry(id)
                .or_default()
                .push(PolicySubject::User(value.parse().map_err(corrupt("policy subject"))?)),
            "group" => side
                .subjects
                .entry(id)
                .or_default()
                .push(PolicySubject::Group(value.parse().map_err(corrupt("policy subject"))?)),
            "name" => side
                .targets
                .entry(id)
                .or_default()
                .push(TargetSelector::Name(TargetName::parse(&value).map_err(corrupt("policy target"))?)),
            "tag" => side
                .targets
                .entry(id)
                .or_default()
                .push(TargetSelector::Tag(TagName::parse(&value).map_err(corrupt("policy target"))?)),
            "account" => side
                .accounts
                .entry(id)
                .or_default()
                .push(AccountName::parse(&value).map_err(corrupt("policy account"))?),
            other => return Err(StoreError::Corrupt(format!("unknown policy side-table row kind {other:?}"))),
        }
    }
    firsts.into_iter().map(|row| policy_from_row(row, &mut side)).collect()
}

fn policy_from_row(row: &AnyRow, side: &mut SideTables) -> Result<Policy, StoreError> {
    let id: String = get(row, "id")?;
    let mut subjects = side.subjects.remove(&id).unwrap_or_default();
    let mut targets = side.targets.remove(&id).unwrap_or_default();
    let mut accounts = side.accounts.remove(&id).unwrap_or_default();
    subjects.sort();
    targets.sort();
    accounts.sort();
    let approver_group: Option<String> = get(row, "approver_group_id")?;
    let approver_group: Option<GroupId> =
        approver_group.map(|g| g.parse()).transpose().map_err(corrupt("approver group"))?;
    let approvals_required: i64 = get(row, "approvals_required")?;
    let mode = match get::<String>(row, "mode")?.as_str() {
        "standing" => AccessMode::Standing,
        _ => AccessMode::OnRequest(ApprovalRule {
            approvals_required: u8::try_from(approvals_required)
                .map_err(|_| StoreError::Corrupt("approvals required out of range".to_owned()))?,
            approver_group,
        }),
    };
    let schedule: Option<String> = get(row, "schedule")?;
    let ticket_pattern: Option<String> = get(row, "ticket_pattern")?;
    let rules = PolicyRules {
        mode,
        max_duration: TimeSpan::from_millis(get(row, "max_duration_ms")?),
        schedule: schedule.map(|s| Schedule::parse(&s)).transpose().map_err(corrupt("schedule"))?,
        mfa_to_request: get_bool(row, "mfa_to_request")?,
        mfa_to_connect: get_bool(row, "mfa_to_connect")?,
        record_input: get_bool(row, "record_input")?,
        reveal_allowed: get_bool(row, "reveal_allowed")?,
        ticket_required: get_bool(row, "ticket_required")?,
        ticket_pattern: ticket_pattern.map(|p| TicketPattern::parse(&p)).transpose().map_err(corrupt("ticket"))?,
        integration: get(row, "integration")?,
        forwarding: ForwardingRules {
            local: get_bool(row, "allow_local_forwarding")?,
            remote: get_bool(row, "allow_remote_forwarding")?,
            agent: get_bool(row, "allow_agent_forwarding")?,
        },
        consent_banner: get(row, "consent_banner")?,
        recording_retention_days: get::<Option<i64>>(row, "recording_retention_days")?
            .map(u32::try_from)
            .transpose()
            .map_err(|_| StoreError::Corrupt("recording retention out of range".to_owned()))?,
        recording_required: get_bool(row, "recording_required")?,
    };
    let name: String = get(row, "name")?;
    Ok(Policy {
        id: id.parse().map_err(corrupt("policy id"))?,
        spec: PolicySpec {
            name: PolicyName::parse(&name).map_err(corrupt("policy name"))?,
            description: get(row, "description")?,
            enabled: get_bool(row, "enabled")?,
            subjects,
            targets,
            accounts: if get_bool(row, "any_account")? {
                AccountSelector::Any
            } else {
                AccountSelector::Named(accounts)
            },
            rules,
        },
        created_at: Timestamp::from_millis(get(row, "created_at")?),
        updated_at: Timestamp::from_millis(get(row, "updated_at")?),
    })
}
