//! Table-driven tests of policy decisions.

use super::*;
use crate::account::{AccountSpec, SecretKind};
use crate::names::HostAddress;
use crate::target::{Protocol, TargetSpec};
use crate::{AccountId, TargetId};
use uuid::Uuid;

const HOUR: i64 = 3_600_000;
// 2026-11-23, a Monday, 10:00 UTC.
const NOW: Timestamp = Timestamp::from_millis(1_795_392_000_000 + 10 * HOUR);

fn uuid(n: u128) -> Uuid {
    Uuid::from_u128(n)
}
fn alice() -> UserId {
    UserId::from_uuid(uuid(1))
}
fn ops() -> GroupId {
    GroupId::from_uuid(uuid(10))
}
fn dba() -> GroupId {
    GroupId::from_uuid(uuid(11))
}

fn target(name: &str, tags: &[&str]) -> Target {
    Target {
        id: TargetId::from_uuid(uuid(100)),
        spec: TargetSpec {
            name: TargetName::parse(name).unwrap(),
            address: HostAddress::parse("10.0.0.1").unwrap(),
            port: 22,
            protocols: vec![Protocol::Ssh],
            tags: tags.iter().map(|t| TagName::parse(t).unwrap()).collect(),
            description: String::new(),
            host_key_pin: None,
        },
        created_at: NOW,
        updated_at: NOW,
    }
}

fn account(username: &str) -> Account {
    Account {
        id: AccountId::from_uuid(uuid(200)),
        target_id: TargetId::from_uuid(uuid(100)),
        spec: AccountSpec {
            username: AccountName::parse(username).unwrap(),
            secret_kind: SecretKind::Password,
            api_enabled: false,
            rotate_after_use: false,
            exclusive_checkout: true,
            description: String::new(),
        },
        has_secret: true,
        secret_updated_at: None,
        created_at: NOW,
        updated_at: NOW,
    }
}

/// A policy written as `name: mode; subject; targets; accounts` in a tiny test notation.
struct P {
    name: &'static str,
    mode: AccessMode,
    subjects: Vec<PolicySubject>,
    targets: Vec<TargetSelector>,
    accounts: AccountSelector,
    max_hours: i64,
    schedule: Option<&'static str>,
    ticket: Option<&'static str>,
    mfa: bool,
    enabled: bool,
}

impl P {
    fn new(name: &'static str, mode: AccessMode) -> P {
        P {
            name,
            mode,
            subjects: vec![PolicySubject::Group(ops())],
            targets: vec![TargetSelector::Tag(TagName::parse("prod").unwrap())],
            accounts: AccountSelector::Any,
            max_hours: 4,
            schedule: None,
            ticket: None,
            mfa: false,
            enabled: true,
        }
    }
    fn build(self, n: u128) -> Policy {
        Policy {
            id: PolicyId::from_uuid(uuid(1000 + n)),
            spec: PolicySpec {
                name: PolicyName::parse(self.name).unwrap(),
                description: String::new(),
                enabled: self.enabled,
                subjects: self.subjects,
                targets: self.targets,
                accounts: self.accounts,
                rules: PolicyRules {
                    mode: self.mode,
                    max_duration: TimeSpan::from_hours(self.max_hours),
                    schedule: self.schedule.map(|s| Schedule::parse(s).unwrap()),
                    mfa_to_request: self.mfa,
                    mfa_to_connect: false,
                    record_input: false,
                    reveal_allowed: false,
                    ticket_required: self.ticket.is_some(),
                    ticket_pattern: self.ticket.map(|t| TicketPattern::parse(t).unwrap()),
                    integration: None,
                    forwarding: ForwardingRules::default(),
                    consent_banner: None,
                    recording_retention_days: None,
                    recording_required: true,
                },
            },
            created_at: NOW,
            updated_at: NOW,
        }
        .normalized_for_test()
    }
}

impl Policy {
    fn normalized_for_test(mut self) -> Policy {
        self.spec = self.spec.normalized().unwrap();
        self
    }
}

fn on_request(approvals: u8) -> AccessMode {
    AccessMode::OnRequest(ApprovalRule { approvals_required: approvals, approver_group: None })
}

fn window(start_h: i64, end_h: i64) -> RequestWindow<'static> {
    RequestWindow {
        starts_at: Timestamp::from_millis(NOW.as_millis() + start_h * HOUR),
        ends_at: Timestamp::from_millis(NOW.as_millis() + end_h * HOUR),
        ticket: None,
        requester_has_mfa: false,
    }
}

/// One row: the policies in force, alice's groups, the target's name and tags, the account, the window, and the
/// expected outcome: `Ok(policy name)` or `Err(refusal)`.
fn check(
    name: &str,
    policies: Vec<P>,
    groups: &[GroupId],
    target_: (&str, &[&str]),
    account_: &str,
    window: RequestWindow<'_>,
    expected: Result<&str, PolicyRefusal>,
) {
    let policies: Vec<Policy> = policies.into_iter().zip(0u128..).map(|(p, n)| p.build(n)).collect();
    let who = Requester { user_id: alice(), groups };
    let target = target(target_.0, target_.1);
    let account = account(account_);
    let got = policy_for_request(&policies, who, &target, &account, &window, NOW).map(|p| p.spec.name.as_str());
    assert_eq!(got, expected, "{name}");
}

#[test]
fn request_decisions() {
    let prod: &[&str] = &["prod"];
    let ops_only = &[ops()][..];
    check("no policy at all", vec![], ops_only, ("db01", prod), "root", window(0, 1), Err(PolicyRefusal::NoPolicy));
    check(
        "covered by group and tag",
        vec![P::new("ops", on_request(1))],
        ops_only,
        ("db01", prod),
        "root",
        window(0, 1),
        Ok("ops"),
    );
    check(
        "not in the group",
        vec![P::new("ops", on_request(1))],
        &[dba()],
        ("db01", prod),
        "root",
        window(0, 1),
        Err(PolicyRefusal::NoPolicy),
    );
    check(
        "untagged target",
        vec![P::new("ops", on_request(1))],
        ops_only,
        ("db01", &[]),
        "root",
        window(0, 1),
        Err(PolicyRefusal::NoPolicy),
    );
    check(
        "by target name and user",
        vec![P {
            subjects: vec![PolicySubject::User(alice())],
            targets: vec![TargetSelector::Name(TargetName::parse("db01").unwrap())],
            ..P::new("alice-db01", on_request(1))
        }],
        &[],
        ("db01", &[]),
        "root",
        window(0, 1),
        Ok("alice-db01"),
    );
    check(
        "account not named",
        vec![P {
            accounts: AccountSelector::Named(vec![AccountName::parse("postgres").unwrap()]),
            ..P::new("pg", on_request(1))
        }],
        ops_only,
        ("db01", prod),
        "root",
        window(0, 1),
        Err(PolicyRefusal::NoPolicy),
    );
    check(
        "disabled policy",
        vec![P { enabled: false, ..P::new("ops", on_request(1)) }],
        ops_only,
        ("db01", prod),
        "root",
        window(0, 1),
        Err(PolicyRefusal::NoPolicy),
    );
    check(
        "standing access needs no request",
        vec![P::new("ops", AccessMode::Standing), P::new("req", on_request(1))],
        ops_only,
        ("db01", prod),
        "root",
        window(0, 1),
        Err(PolicyRefusal::StandingAccess),
    );
    check(
        "standing outside its hours does not block a request",
        vec![
            P { schedule: Some("sat,sun 00:00-24:00"), ..P::new("weekend", AccessMode::Standing) },
            P::new("req", on_request(1)),
        ],
        ops_only,
        ("db01", prod),
        "root",
        window(0, 1),
        Ok("req"),
    );
    check(
        "too long",
        vec![P::new("ops", on_request(1))],
        ops_only,
        ("db01", prod),
        "root",
        window(0, 5),
        Err(PolicyRefusal::TooLong { max: TimeSpan::from_hours(4) }),
    );
    check(
        "empty window",
        vec![P::new("ops", on_request(1))],
        ops_only,
        ("db01", prod),
        "root",
        window(1, 1),
        Err(PolicyRefusal::EmptyWindow),
    );
    check(
        "in the past",
        vec![P::new("ops", on_request(1))],
        ops_only,
        ("db01", prod),
        "root",
        window(-2, 1),
        Err(PolicyRefusal::StartsInPast),
    );
    check(
        "too far ahead",
        vec![P::new("ops", on_request(1))],
        ops_only,
        ("db01", prod),
        "root",
        window(24 * 31, 24 * 31 + 1),
        Err(PolicyRefusal::StartsTooFarAhead),
    );
    check(
        "fewest approvals wins",
        vec![P::new("two", on_request(2)), P::new("auto", on_request(0)), P::new("one", on_request(1))],
        ops_only,
        ("db01", prod),
        "root",
        window(0, 1),
        Ok("auto"),
    );
    check(
        "a policy the window fits beats one it does not",
        vec![P { max_hours: 1, ..P::new("auto", on_request(0)) }, P { max_hours: 8, ..P::new("long", on_request(2)) }],
        ops_only,
        ("db01", prod),
        "root",
        window(0, 6),
        Ok("long"),
    );
    check(
        "office hours",
        vec![P { schedule: Some("mon-fri 08:00-18:00"), ..P::new("office", on_request(1)) }],
        ops_only,
        ("db01", prod),
        "root",
        window(0, 4),
        Ok("office"),
    );
    check(
        "past office hours",
        vec![P { schedule: Some("mon-fri 08:00-18:00"), max_hours: 12, ..P::new("office", on_request(1)) }],
        ops_only,
        ("db01", prod),
        "root",
        window(0, 9),
        Err(PolicyRefusal::OutsideSchedule { schedule: "mon-fri 08:00-18:00 +00:00".to_owned() }),
    );
    let ticketed = || P { ticket: Some(r"^(INC|CHG)\d{7,8}$"), ..P::new("itsm", on_request(1)) };
    check(
        "ticket missing",
        vec![ticketed()],
        ops_only,
        ("db01", prod),
        "root",
        window(0, 1),
        Err(PolicyRefusal::TicketRequired),
    );
    check(
        "ticket malformed",
        vec![ticketed()],
        ops_only,
        ("db01", prod),
        "root",
        RequestWindow { ticket: Some("INC12"), ..window(0, 1) },
        Err(PolicyRefusal::TicketPattern { pattern: r"^(INC|CHG)\d{7,8}$".to_owned() }),
    );
    check(
        "ticket fine",
        vec![ticketed()],
        ops_only,
        ("db01", prod),
        "root",
        RequestWindow { ticket: Some("INC1234567"), ..window(0, 1) },
        Ok("itsm"),
    );
    check(
        "mfa missing",
        vec![P { mfa: true, ..P::new("mfa", on_request(1)) }],
        ops_only,
        ("db01", prod),
        "root",
        window(0, 1),
        Err(PolicyRefusal::MfaRequired),
    );
    check(
        "mfa present",
        vec![P { mfa: true, ..P::new("mfa", on_request(1)) }],
        ops_only,
        ("db01", prod),
        "root",
        RequestWindow { requester_has_mfa: true, ..window(0, 1) },
        Ok("mfa"),
    );
}

#[test]
fn standing_access_decisions() {
    let policies: Vec<Policy> = vec![
        P { schedule: Some("mon-fri 08:00-18:00"), ..P::new("office", AccessMode::Standing) }.build(1),
        P::new("request", on_request(1)).build(2),
    ];
    let target = target("db01", &["prod"]);
    let account = account("root");
    let ops_member = Requester { user_id: alice(), groups: &[ops()] };
    let outsider = Requester { user_id: alice(), groups: &[dba()] };
    let evening = NOW.plus(TimeSpan::from_hours(9));
    let name = |p: Option<&Policy>| p.map(|p| p.spec.name.as_str().to_owned());
    assert_eq!(name(standing_policy(&policies, ops_member, &target, &account, NOW)), Some("office".to_owned()));
    assert_eq!(name(standing_policy(&policies, ops_member, &target, &account, evening)), None);
    assert_eq!(name(standing_policy(&policies, outsider, &target, &account, NOW)), None);
}

#[test]
fn spec_validation() {
    let base = || P::new("ops", on_request(1)).build(1).spec;
    assert!(PolicySpec { subjects: vec![], ..base() }.normalized().is_err());
    assert!(PolicySpec { targets: vec![], ..base() }.normalized().is_err());
    assert!(PolicySpec { accounts: AccountSelector::Named(vec![]), ..base() }.normalized().is_err());
    let mut long = base();
    long.rules.max_duration = TimeSpan::from_hours(24 * 32);
    assert!(long.normalized().is_err());
    let mut pattern_without_ticket = base();
    pattern_without_ticket.rules.ticket_pattern = Some(TicketPattern::parse("INC.*").unwrap());
    assert!(pattern_without_ticket.normalized().is_err());
    let mut many_approvals = base();
    many_approvals.rules.mode = on_request(11);
    assert!(many_approvals.normalized().is_err());
    let mut blank_banner = base();
    blank_banner.rules.consent_banner = Some("  ".to_owned());
    assert!(blank_banner.normalized().is_err());
    let retention = |days: Option<u32>| {
        let mut spec = base();
        spec.rules.recording_retention_days = days;
        spec.normalized().is_ok()
    };
    assert!(retention(None), "no retention keeps recordings forever");
    assert!(retention(Some(1)));
    assert!(retention(Some(MAX_RECORDING_RETENTION_DAYS)));
    assert!(!retention(Some(0)), "zero days would delete a recording as soon as the session ends");
    assert!(!retention(Some(MAX_RECORDING_RETENTION_DAYS + 1)));
}
