//! The exported record: one JSON object per record of a stream, the same envelope for every stream and sink.
//!
//! An audit record becomes `{"stream":"audit","seq":…,"time":"2025-01-02T03:04:05.678Z","time_ms":…,
//! "event":"user.created","outcome":"success","actor":{…},"target":{…},"source_ip":…,"mac":"…","details":{…}}`.
//! `mac` is the record's link in the keyed audit chain, so the SIEM holds an anchor of the chain outside Latch:
//! `latch audit verify` on a database whose records were edited or cut no longer matches what the SIEM received.
//!
//! A session event becomes `{"stream":"session_events","seq":…,"time":…,"time_ms":…,"event":"exec",
//! "outcome":"success","actor":{"kind":"user",…},"target":{"type":"target",…},"session":{"id":…,"position":…,
//! "target":…,"account":…,"account_id":…,"protocol":…,"node":…},"source_ip":…,"summary":"…","details":{…}}`: `seq` is
//! the sequence number of the session's `session.ended` audit record (shared by all of the session's events, which
//! `session.position` orders), `event` the event's kind and `details` the event as stored in its log.

use latch_app::AuditRecord;
use latch_app::domain::Timestamp;
use latch_store::session_events::ExportedSessionEvent;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use time::macros::format_description;

/// One exported record. Fields serialize in this order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiemRecord {
    pub stream: &'static str,
    /// The record's position in its stream.
    pub seq: i64,
    /// RFC 3339 in UTC with milliseconds.
    pub time: String,
    pub time_ms: i64,
    pub event: String,
    pub outcome: Outcome,
    pub actor: Actor,
    /// What the event acted on, when its details name it.
    pub target: Option<Target>,
    /// The session a session event happened in (session events only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    /// One line a person reads (session events only: the command, the path, `host:port`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Hex of the record's chain link (audit only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// The event's details; a string (the start of their JSON text) when they were cut to fit a datagram.
    pub details: Value,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub details_truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    pub kind: String,
    pub id: Option<String>,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: String,
}

/// Where a session event happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionRef {
    pub id: String,
    /// The event's position in the session's event log, from 0.
    pub position: i64,
    /// The target's name (its id is the record's `target`).
    pub target: String,
    pub account: String,
    pub account_id: String,
    pub protocol: String,
    /// The Latch node that ran the session.
    pub node: String,
}

/// Whether the recorded action succeeded; a failure is also what a SIEM alerts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
}

/// Event kinds that record something refused or failed.
const FAILURE_KINDS: [&str; 7] = [
    "auth.login_failed",
    "auth.identity_locked",
    "vault.unseal_failed",
    "session.refused",
    "target.host_key_mismatch",
    "request.denied",
    "notification.abandoned",
];

/// The detail naming what an event acted on, by the event kind's first part (`user.created` → `user_id`).
const TARGET_KEYS: [(&str, &str, &str); 12] = [
    ("user", "user", "user_id"),
    ("group", "group", "group_id"),
    ("target", "target", "target_id"),
    ("account", "account", "account_id"),
    ("api_account", "api_account", "api_account_id"),
    ("policy", "policy", "policy_id"),
    ("request", "request", "request_id"),
    ("grant", "grant", "grant_id"),
    ("session", "session", "session_id"),
    ("credential", "account", "account_id"),
    ("break_glass", "break_glass", "break_glass_id"),
    ("incident", "ticket", "ticket"),
];

impl SiemRecord {
    /// The exported form of an audit record.
    pub fn from_audit(record: &AuditRecord) -> SiemRecord {
        let details: Value = serde_json::from_str(&record.details).unwrap_or(Value::String(record.details.clone()));
        SiemRecord {
            stream: latch_app::ExportStream::Audit.as_str(),
            seq: record.seq,
            time: rfc3339_millis(record.at),
            time_ms: record.at.as_millis(),
            event: record.kind.clone(),
            outcome: outcome(&record.kind, &details),
            actor: Actor {
                kind: record.actor_kind.clone(),
                id: record.actor_id.clone(),
                name: record.actor_name.clone(),
            },
            target: target(&record.kind, &details),
            session: None,
            source_ip: record.source.clone(),
            summary: None,
            mac: Some(record.link.clone()),
            details,
            details_truncated: false,
        }
    }

    /// The exported form of a session event.
    pub fn from_session_event(event: &ExportedSessionEvent) -> SiemRecord {
        let details: Value = serde_json::from_str(&event.data).unwrap_or(Value::String(event.data.clone()));
        SiemRecord {
            stream: latch_app::ExportStream::SessionEvents.as_str(),
            seq: event.audit_seq,
            time: rfc3339_millis(event.at),
            time_ms: event.at.as_millis(),
            event: event.kind.clone(),
            outcome: Outcome::Success,
            actor: Actor { kind: "user".to_owned(), id: Some(event.user_id.clone()), name: event.username.clone() },
            target: Some(Target { kind: "target", id: event.target_id.clone() }),
            session: Some(SessionRef {
                id: event.session_id.clone(),
                position: event.position,
                target: event.target_name.clone(),
                account: event.account_name.clone(),
                account_id: event.account_id.clone(),
                protocol: event.protocol.clone(),
                node: event.node.clone(),
            }),
            source_ip: event.source.clone(),
            summary: Some(event.summary.clone()),
            mac: None,
            details,
            details_truncated: false,
        }
    }

    /// The record as one line of JSON, without the newline.
    pub fn to_json(&self) -> String {
        // Serializing plain strings, numbers and maps cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The record with its details replaced by the first `max_bytes` (or fewer, at a character boundary) of their
    /// JSON text, marked as truncated.
    pub fn with_details_cut(&self, max_bytes: usize) -> SiemRecord {
        let text = match &self.details {
            Value::String(text) if self.details_truncated => text.clone(),
            other => other.to_string(),
        };
        let mut end = max_bytes.min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        SiemRecord { details: Value::String(text[..end].to_owned()), details_truncated: true, ..self.clone() }
    }

    /// The fields that identify the record and its place in the chain, nothing else: what is sent when even the
    /// record without details does not fit.
    pub fn essentials_json(&self) -> String {
        let mut essentials = serde_json::json!({
            "stream": self.stream,
            "seq": self.seq,
            "time": self.time,
            "time_ms": self.time_ms,
            "event": self.event,
            "outcome": self.outcome,
            "mac": self.mac,
            "truncated": true,
        });
        if let Some(session) = &self.session {
            essentials["session"] = serde_json::json!({"id": session.id, "position": session.position});
        }
        essentials.to_string()
    }
}

/// `2025-01-02T03:04:05.678Z`.
pub fn rfc3339_millis(at: Timestamp) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(at.as_millis()) * 1_000_000)
        .ok()
        .and_then(|time| time.format(&format).ok())
        .unwrap_or_default()
}

fn outcome(kind: &str, details: &Value) -> Outcome {
    let verify_failed = kind == "audit.verified" && details.get("ok") == Some(&Value::Bool(false));
    if FAILURE_KINDS.contains(&kind) || verify_failed { Outcome::Failure } else { Outcome::Success }
}

fn target(kind: &str, details: &Value) -> Option<Target> {
    let area = kind.split('.').next()?;
    let (_, target_kind, key) = TARGET_KEYS.iter().find(|(prefix, _, _)| *prefix == area)?;
    let id = details.get(*key)?.as_str().filter(|id| !id.is_empty())?;
    Some(Target { kind: target_kind, id: id.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audit(kind: &str, details: &str) -> AuditRecord {
        AuditRecord {
            seq: 42,
            at: Timestamp::from_millis(1_735_787_045_678),
            actor_kind: "user".to_owned(),
            actor_id: Some("0b0e…".to_owned()),
            actor_name: "alice".to_owned(),
            source: Some("192.0.2.7".to_owned()),
            kind: kind.to_owned(),
            details: details.to_owned(),
            link: "ab".repeat(32),
        }
    }

    #[test]
    fn an_audit_record_becomes_one_json_object() {
        let record = SiemRecord::from_audit(&audit("user.created", r#"{"roles":["user"],"user_id":"u-1"}"#));
        let json: Value = serde_json::from_str(&record.to_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "stream": "audit", "seq": 42, "time": "2025-01-02T03:04:05.678Z", "time_ms": 1_735_787_045_678_i64,
                "event": "user.created", "outcome": "success",
                "actor": {"kind": "user", "id": "0b0e…", "name": "alice"},
                "target": {"type": "user", "id": "u-1"}, "source_ip": "192.0.2.7", "mac": "ab".repeat(32),
                "details": {"roles": ["user"], "user_id": "u-1"},
            })
        );
        assert!(record.to_json().starts_with(r#"{"stream":"audit","seq":42,"#), "seq comes first");
        assert!(!record.to_json().contains('\n'));
    }

    #[test]
    fn a_session_event_becomes_one_json_object_of_its_own_stream() {
        let event = ExportedSessionEvent {
            audit_seq: 77,
            session_id: "s-1".to_owned(),
            position: 2,
            at: Timestamp::from_millis(1_735_787_045_678),
            kind: "exec".to_owned(),
            channel: Some(0),
            summary: "uname -a".to_owned(),
            bytes: None,
            data: r#"{"at_ms":1735787045678,"kind":"exec","command":"uname -a"}"#.to_owned(),
            user_id: "u-1".to_owned(),
            username: "alice".to_owned(),
            target_id: "t-1".to_owned(),
            target_name: "web-01".to_owned(),
            account_id: "a-1".to_owned(),
            account_name: "root".to_owned(),
            protocol: "ssh".to_owned(),
            node: "node-a".to_owned(),
            source: Some("192.0.2.7".to_owned()),
        };
        let record = SiemRecord::from_session_event(&event);
        let json: Value = serde_json::from_str(&record.to_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "stream": "session_events", "seq": 77, "time": "2025-01-02T03:04:05.678Z",
                "time_ms": 1_735_787_045_678_i64, "event": "exec", "outcome": "success",
                "actor": {"kind": "user", "id": "u-1", "name": "alice"},
                "target": {"type": "target", "id": "t-1"},
                "session": {"id": "s-1", "position": 2, "target": "web-01", "account": "root", "account_id": "a-1",
                            "protocol": "ssh", "node": "node-a"},
                "source_ip": "192.0.2.7", "summary": "uname -a",
                "details": {"at_ms": 1_735_787_045_678_i64, "kind": "exec", "command": "uname -a"},
            })
        );
        assert!(record.to_json().starts_with(r#"{"stream":"session_events","seq":77,"#));
        let essentials: Value = serde_json::from_str(&record.essentials_json()).unwrap();
        assert_eq!(essentials["session"], serde_json::json!({"id": "s-1", "position": 2}));
        assert_eq!(essentials["mac"], Value::Null);
    }

    #[test]
    fn outcomes_and_targets_follow_the_event() {
        let check = |kind: &str, details: &str, outcome: Outcome, target: Option<(&str, &str)>| {
            let record = SiemRecord::from_audit(&audit(kind, details));
            assert_eq!(record.outcome, outcome, "{kind}");
            let got = record.target.as_ref().map(|t| (t.kind, t.id.as_str()));
            assert_eq!(got, target, "{kind}");
        };
        check("auth.login_succeeded", r#"{"method":"password"}"#, Outcome::Success, None);
        check("auth.login_failed", r#"{"username":"x"}"#, Outcome::Failure, None);
        check("session.refused", r#"{"user_id":"u"}"#, Outcome::Failure, None);
        check("audit.verified", r#"{"ok":false}"#, Outcome::Failure, None);
        check("audit.verified", r#"{"ok":true}"#, Outcome::Success, None);
        check("target.created", r#"{"name":"db","target_id":"t-1"}"#, Outcome::Success, Some(("target", "t-1")));
        check("credential.revealed", r#"{"account_id":"a-1"}"#, Outcome::Success, Some(("account", "a-1")));
        check("session.started", r#"{"grant_id":"","session_id":"s-1"}"#, Outcome::Success, Some(("session", "s-1")));
        check("grant.created", r#"{"grant_id":""}"#, Outcome::Success, None);
    }

    #[test]
    fn cut_details_stay_valid_json_and_within_the_budget() {
        let record = SiemRecord::from_audit(&audit("user.updated", r#"{"changes":["é","ü"],"user_id":"u"}"#));
        for budget in [0, 1, 12, 13, 14, 1000] {
            let cut = record.with_details_cut(budget);
            assert!(cut.details_truncated);
            let text = cut.details.as_str().unwrap();
            assert!(text.len() <= budget, "{budget}: {text}");
            assert!(r#"{"changes":["é","ü"],"user_id":"u"}"#.starts_with(text));
            let line: Value = serde_json::from_str(&cut.to_json()).unwrap();
            assert_eq!(line["details_truncated"], true);
            assert_eq!(line["seq"], 42);
        }
        let essentials: Value = serde_json::from_str(&record.essentials_json()).unwrap();
        assert_eq!(essentials["seq"], 42);
        assert_eq!(essentials["mac"], "ab".repeat(32));
    }
}
