//! Access policies: every field and side table round-trips, updates replace the side tables, names are unique,
//! subjects must exist and go when their user or group goes.

use crate::fixtures::{expect_err, fresh, group, t, user};
use latch_domain::names::{AccountName, PolicyName, TagName, TargetName};
use latch_domain::permission::Role;
use latch_domain::policy::{
    AccessMode, AccountSelector, ApprovalRule, ForwardingRules, Policy, PolicyRules, PolicySpec, PolicySubject,
    Schedule, TargetSelector, TicketPattern,
};
use latch_domain::{GroupId, PolicyId, TimeSpan, UserId};
use latch_store::{Store, StoreError, groups, policies, users};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

fn name(text: &str) -> anyhow::Result<TargetSelector> {
    Ok(TargetSelector::Name(TargetName::parse(text)?))
}

fn tag(text: &str) -> anyhow::Result<TargetSelector> {
    Ok(TargetSelector::Tag(TagName::parse(text)?))
}

fn named(accounts: &[&str]) -> anyhow::Result<AccountSelector> {
    Ok(AccountSelector::Named(accounts.iter().map(|a| AccountName::parse(a)).collect::<Result<_, _>>()?))
}

/// Rules with every field at its plainest.
fn plain_rules(mode: AccessMode) -> PolicyRules {
    PolicyRules {
        mode,
        max_duration: TimeSpan::from_hours(1),
        schedule: None,
        mfa_to_request: false,
        mfa_to_connect: false,
        record_input: false,
        reveal_allowed: false,
        ticket_required: false,
        ticket_pattern: None,
        integration: None,
        forwarding: ForwardingRules::default(),
        consent_banner: None,
        recording_retention_days: None,
        recording_required: true,
    }
}

/// A stored-shape policy: the spec normalized as the application does before saving.
fn policy(spec: PolicySpec, created_ms: i64) -> anyhow::Result<Policy> {
    Ok(Policy {
        id: fresh(PolicyId::from_uuid),
        spec: spec.normalized()?,
        created_at: t(created_ms),
        updated_at: t(created_ms + 1),
    })
}

pub async fn check_policies(store: Store) -> anyhow::Result<()> {
    let alice = user("alice", 1)?;
    let bob = user("bob", 2)?;
    let ops = group("ops", vec![Role::User])?;
    let dev = group("dev", vec![Role::User])?;
    let approvers = group("approvers", vec![Role::Approver])?;
    let mut tx = store.begin().await?;
    users::insert(&mut tx, &alice, None).await?;
    users::insert(&mut tx, &bob, None).await?;
    for g in [&ops, &dev, &approvers] {
        groups::insert(&mut tx, g).await?;
    }
    tx.commit().await?;

    // Every rule field off its default; a name and a tag with the same text are two selectors.
    let on_call = policy(
        PolicySpec {
            name: PolicyName::parse("db-oncall")?,
            description: "on-call access to the databases".to_owned(),
            enabled: true,
            subjects: vec![
                PolicySubject::Group(dev.id),
                PolicySubject::User(bob.id),
                PolicySubject::Group(ops.id),
                PolicySubject::User(alice.id),
            ],
            targets: vec![tag("env=prod")?, name("db-01")?, tag("prod")?, name("prod")?, name("web-01")?],
            accounts: named(&["root", "Admin", "svc$backup", r"CORP\dba"])?,
            rules: PolicyRules {
                mode: AccessMode::OnRequest(ApprovalRule { approvals_required: 2, approver_group: Some(approvers.id) }),
                max_duration: TimeSpan::from_minutes(90),
                schedule: Some(Schedule::parse("mon-fri 08:00-18:00 +01:00")?),
                mfa_to_request: true,
                mfa_to_connect: true,
                record_input: true,
                reveal_allowed: true,
                ticket_required: true,
                ticket_pattern: Some(TicketPattern::parse(r"^(INC|CHG)\d{7,8}$")?),
                integration: Some("servicenow".to_owned()),
                forwarding: ForwardingRules { local: true, remote: true, agent: true },
                consent_banner: Some("Authorised use only.\nSessions are recorded.".to_owned()),
                recording_retention_days: Some(36_500),
                recording_required: true,
            },
        },
        1_000,
    )?;
    // The booleans alternate, so two columns swapped in the SQL cannot round-trip both policies.
    let office = policy(
        PolicySpec {
            name: PolicyName::parse("office-hours")?,
            description: String::new(),
            enabled: false,
            subjects: vec![PolicySubject::Group(ops.id)],
            targets: vec![tag("pci")?],
            accounts: AccountSelector::Any,
            rules: PolicyRules {
                mode: AccessMode::Standing,
                max_duration: TimeSpan::from_hours(8),
                schedule: Some(Schedule::parse("sat,sun 22:00-06:00 -05:30")?),
                mfa_to_request: false,
                mfa_to_connect: true,
                record_input: false,
                reveal_allowed: true,
                forwarding: ForwardingRules { local: false, remote: true, agent: false },
                recording_required: false,
                ..plain_rules(AccessMode::Standing)
            },
        },
        2_000,
    )?;
    // On request but approved at once: the mode is its own column, not inferred from the approval count.
    let self_service = policy(
        PolicySpec {
            name: PolicyName::parse("self-service")?,
            description: "no approval".to_owned(),
            enabled: true,
            subjects: vec![PolicySubject::User(alice.id)],
            targets: vec![name("web-01")?],
            accounts: named(&["deploy"])?,
            rules: PolicyRules {
                mfa_to_request: true,
                record_input: true,
                forwarding: ForwardingRules { local: true, remote: false, agent: true },
                recording_retention_days: Some(7),
                ..plain_rules(AccessMode::OnRequest(ApprovalRule { approvals_required: 0, approver_group: None }))
            },
        },
        3_000,
    )?;
    let mut tx = store.begin().await?;
    for p in [&self_service, &on_call, &office] {
        policies::insert(&mut tx, p).await?;
    }
    tx.commit().await?;

    let mut conn = store.read().await?;
    for p in [&on_call, &office, &self_service] {
        assert_eq!(policies::find(&mut conn, p.id).await?.as_ref(), Some(p), "{}", p.spec.name);
        assert_eq!(policies::find_by_name(&mut conn, &p.spec.name).await?.as_ref(), Some(p), "{}", p.spec.name);
    }
    assert_eq!(policies::find_by_name(&mut conn, &PolicyName::parse("DB-OnCall")?).await?, Some(on_call.clone()));
    assert_eq!(policies::find(&mut conn, fresh(PolicyId::from_uuid)).await?, None);
    assert_eq!(policies::find_by_name(&mut conn, &PolicyName::parse("nope")?).await?, None);
    assert_eq!(policies::list(&mut conn).await?, vec![on_call.clone(), office.clone(), self_service.clone()]);
    drop(conn);

    // The name is unique, on insert and on update.
    let mut tx = store.begin().await?;
    let same_name = policy(PolicySpec { description: "copy".to_owned(), ..on_call.spec.clone() }, 4_000)?;
    expect_err(policies::insert(&mut tx, &same_name).await, &StoreError::Conflict("policy"))?;
    drop(tx);
    let mut tx = store.begin().await?;
    let clash =
        Policy { spec: PolicySpec { name: on_call.spec.name.clone(), ..office.spec.clone() }, ..office.clone() };
    expect_err(policies::update(&mut tx, &clash).await, &StoreError::Conflict("policy"))?;
    drop(tx);

    // Subjects must exist.
    let ghost_user = PolicySubject::User(fresh(UserId::from_uuid));
    let ghost_group = PolicySubject::Group(fresh(GroupId::from_uuid));
    for ghost in [ghost_user, ghost_group] {
        let mut subjects = vec![PolicySubject::User(alice.id), ghost];
        subjects.sort();
        let mut tx = store.begin().await?;
        let spec = PolicySpec { name: PolicyName::parse("ghostly")?, subjects, ..self_service.spec.clone() };
        expect_err(
            policies::insert(&mut tx, &policy(spec.clone(), 5_000)?).await,
            &StoreError::MissingReference { what: "policy subject" },
        )?;
        drop(tx);
        let mut tx = store.begin().await?;
        let changed =
            Policy { spec: PolicySpec { name: self_service.spec.name.clone(), ..spec }, ..self_service.clone() };
        expect_err(
            policies::update(&mut tx, &changed).await,
            &StoreError::MissingReference { what: "policy subject" },
        )?;
        drop(tx);
    }
    let mut tx = store.begin().await?;
    expect_err(policies::update(&mut tx, &same_name).await, &StoreError::NotFound("policy"))?;
    tx.commit().await?;
    let mut conn = store.read().await?;
    assert_eq!(policies::list(&mut conn).await?, vec![on_call.clone(), office.clone(), self_service.clone()]);
    drop(conn);

    // An update replaces every field and every side table; created_at stays.
    let mut narrowed = on_call.clone();
    narrowed.spec = PolicySpec {
        name: PolicyName::parse("db-oncall-2")?,
        description: "narrowed".to_owned(),
        enabled: false,
        subjects: vec![PolicySubject::User(alice.id), PolicySubject::Group(ops.id)],
        targets: vec![tag("staging")?, name("db-01")?],
        accounts: AccountSelector::Any,
        rules: PolicyRules {
            mode: AccessMode::OnRequest(ApprovalRule { approvals_required: 1, approver_group: None }),
            max_duration: TimeSpan::from_hours(2),
            schedule: Some(Schedule::parse("daily 00:00-24:00")?),
            mfa_to_request: true,
            mfa_to_connect: false,
            record_input: true,
            reveal_allowed: false,
            ticket_required: true,
            ticket_pattern: None,
            integration: None,
            forwarding: ForwardingRules { local: false, remote: true, agent: false },
            consent_banner: None,
            recording_retention_days: None,
            recording_required: true,
        },
    }
    .normalized()?;
    narrowed.updated_at = t(9_000);
    let mut tx = store.begin().await?;
    policies::update(&mut tx, &narrowed).await?;
    tx.commit().await?;
    let mut conn = store.read().await?;
    assert_eq!(policies::find(&mut conn, on_call.id).await?, Some(narrowed.clone()));
    assert_eq!(policies::find_by_name(&mut conn, &on_call.spec.name).await?, None, "the old name is free");
    assert_eq!(policies::list(&mut conn).await?, vec![narrowed.clone(), office.clone(), self_service.clone()]);
    drop(conn);

    // From any account back to named ones: only the new names, none of the first insert's.
    let mut renamed = narrowed.clone();
    renamed.spec.accounts = named(&["postgres"])?;
    renamed.spec.subjects = vec![PolicySubject::Group(dev.id)];
    renamed.updated_at = t(10_000);
    let mut tx = store.begin().await?;
    policies::update(&mut tx, &renamed).await?;
    tx.commit().await?;
    let mut conn = store.read().await?;
    assert_eq!(policies::find(&mut conn, on_call.id).await?, Some(renamed.clone()));
    drop(conn);

    // Deleting a user or a group takes it out of every policy's subjects.
    let mut tx = store.begin().await?;
    let mut office_wide = office.clone();
    office_wide.spec.subjects =
        vec![PolicySubject::User(bob.id), PolicySubject::Group(dev.id), PolicySubject::Group(ops.id)];
    office_wide.spec = office_wide.spec.normalized()?;
    policies::update(&mut tx, &office_wide).await?;
    groups::delete(&mut tx, dev.id).await?;
    users::delete(&mut tx, bob.id).await?;
    tx.commit().await?;
    let office_now =
        Policy { spec: PolicySpec { subjects: vec![PolicySubject::Group(ops.id)], ..office.spec.clone() }, ..office };
    let renamed_now = Policy { spec: PolicySpec { subjects: vec![], ..renamed.spec.clone() }, ..renamed };
    let mut conn = store.read().await?;
    assert_eq!(policies::find(&mut conn, office_now.id).await?, Some(office_now.clone()));
    assert_eq!(policies::find(&mut conn, on_call.id).await?, Some(renamed_now.clone()), "its one subject was deleted");
    drop(conn);

    // Delete takes the side tables with it.
    let mut tx = store.begin().await?;
    policies::delete(&mut tx, on_call.id).await?;
    expect_err(policies::delete(&mut tx, on_call.id).await, &StoreError::NotFound("policy"))?;
    tx.commit().await?;
    let mut conn = store.read().await?;
    assert_eq!(policies::find(&mut conn, on_call.id).await?, None);
    assert_eq!(policies::find_by_name(&mut conn, &renamed_now.spec.name).await?, None);
    assert_eq!(policies::list(&mut conn).await?, vec![office_now, self_service]);
    drop(conn);
    for table in ["policy_subjects", "policy_targets", "policy_accounts"] {
        let sql = format!("DELETE FROM {table} WHERE policy_id = '{}'", on_call.id);
        assert_eq!(store.execute_raw_for_tests(&sql).await?, 0, "{table} rows outlived their policy");
    }
    Ok(())
}

/// Readers racing an editor see the policy before or after each update, never a mix: a torn read could pair one
/// version's subjects with another's targets and grant what neither allowed.
pub async fn check_policy_reads_are_consistent(store: Store) -> anyhow::Result<()> {
    let alice = user("alice", 1)?;
    let bob = user("bob", 2)?;
    let ops = group("ops", vec![Role::User])?;
    let mut tx = store.begin().await?;
    users::insert(&mut tx, &alice, None).await?;
    users::insert(&mut tx, &bob, None).await?;
    groups::insert(&mut tx, &ops).await?;
    tx.commit().await?;
    let first = policy(
        PolicySpec {
            name: PolicyName::parse("flip")?,
            description: "first".to_owned(),
            enabled: true,
            subjects: vec![PolicySubject::User(alice.id)],
            targets: vec![name("web-01")?],
            accounts: named(&["deploy"])?,
            rules: plain_rules(AccessMode::Standing),
        },
        1_000,
    )?;
    let second = Policy {
        spec: PolicySpec {
            description: "second".to_owned(),
            subjects: vec![PolicySubject::User(bob.id), PolicySubject::Group(ops.id)],
            targets: vec![tag("prod")?],
            accounts: AccountSelector::Any,
            rules: plain_rules(AccessMode::OnRequest(ApprovalRule { approvals_required: 1, approver_group: None })),
            ..first.spec.clone()
        },
        updated_at: t(2_000),
        ..first.clone()
    };
    let mut tx = store.begin().await?;
    policies::insert(&mut tx, &first).await?;
    tx.commit().await?;

    let done = Arc::new(AtomicBool::new(false));
    let editor = tokio::spawn({
        let (store, done, versions) = (store.clone(), Arc::clone(&done), [first.clone(), second.clone()]);
        async move {
            for round in 0..300 {
                let mut tx = store.begin().await?;
                policies::update(&mut tx, &versions[round % 2]).await?;
                tx.commit().await?;
            }
            done.store(true, Ordering::SeqCst);
            anyhow::Ok(())
        }
    });
    let mut readers = Vec::new();
    for _ in 0..2 {
        let (store, done, versions) = (store.clone(), Arc::clone(&done), [first.clone(), second.clone()]);
        readers.push(tokio::spawn(async move {
            let mut reads = 0;
            while reads < 50 || !done.load(Ordering::SeqCst) {
                let mut conn = store.read().await?;
                let found = policies::find(&mut conn, versions[0].id).await?;
                let by_name = policies::find_by_name(&mut conn, &versions[0].spec.name).await?;
                let listed = policies::list(&mut conn).await?;
                drop(conn);
                anyhow::ensure!(found.as_ref().is_some_and(|p| versions.contains(p)), "torn find: {found:?}");
                anyhow::ensure!(by_name.as_ref().is_some_and(|p| versions.contains(p)), "torn find: {by_name:?}");
                anyhow::ensure!(matches!(listed.as_slice(), [p] if versions.contains(p)), "torn list: {listed:?}");
                reads += 1;
            }
            anyhow::Ok(())
        }));
    }
    editor.await??;
    for reader in readers {
        reader.await??;
    }
    Ok(())
}
