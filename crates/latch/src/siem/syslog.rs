//! RFC 5424 syslog messages and their framing: octet counting over TCP (RFC 6587 `LEN SP MSG`), one message per
//! datagram over UDP (RFC 5426) with a bounded size.
//!
//! A message is `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG`: PRI from the configured facility and the
//! record's outcome (success: notice, failure: warning), TIMESTAMP the record's time, MSGID its event kind, no
//! structured data, and MSG the record's JSON (RFC 5424 `MSG-ANY`, without a byte order mark, so that the receiver
//! can hand it to a JSON parser as it is).

use super::record::{Outcome, SiemRecord};

/// The syslog facilities an audit stream belongs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Facility {
    Auth,
    Authpriv,
    Local(u8),
}

impl Facility {
    /// `auth`, `authpriv` or `local0` to `local7`.
    pub fn parse(name: &str) -> Option<Facility> {
        match name {
            "auth" => Some(Facility::Auth),
            "authpriv" => Some(Facility::Authpriv),
            _ => {
                let n: u8 = name.strip_prefix("local")?.parse().ok()?;
                (n <= 7 && name.len() == 6).then_some(Facility::Local(n))
            }
        }
    }

    const fn code(self) -> u8 {
        match self {
            Facility::Auth => 4,
            Facility::Authpriv => 10,
            Facility::Local(n) => 16 + n,
        }
    }
}

/// The parts of the header that are the same for every message of one sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogHeader {
    pub facility: Facility,
    /// At most 255 printable ASCII characters.
    pub hostname: String,
    /// At most 48 printable ASCII characters.
    pub app_name: String,
    /// The process id, so the receiver can tell restarts apart.
    pub procid: u32,
}

/// The longest RFC 5424 HOSTNAME and APP-NAME.
pub const MAX_HOSTNAME: usize = 255;
pub const MAX_APP_NAME: usize = 48;
/// The datagram size every RFC 5426 receiver must accept.
pub const RFC5426_MINIMUM: usize = 480;
/// Header bytes besides HOSTNAME and APP-NAME at most: PRI, version, timestamp, PROCID, MSGID and separators.
const FIXED_HEADER_BYTES: usize = 80;
/// The longest record essentials (`SiemRecord::essentials_json`) with an event kind of up to 64 bytes.
const ESSENTIALS_BYTES: usize = 320;

impl SyslogHeader {
    /// The smallest datagram limit with which every record fits, at least with its essentials.
    pub fn minimum_datagram_bytes(&self) -> usize {
        (FIXED_HEADER_BYTES + self.hostname.len() + self.app_name.len() + ESSENTIALS_BYTES).max(RFC5426_MINIMUM)
    }

    /// The whole message for `record`, with `msg` (the record's JSON) as MSG.
    pub fn message(&self, record: &SiemRecord, msg: &str) -> String {
        let severity: u8 = match record.outcome {
            Outcome::Success => 5, // notice
            Outcome::Failure => 4, // warning
        };
        let pri = u16::from(self.facility.code()) * 8 + u16::from(severity);
        let timestamp = if record.time.is_empty() { "-" } else { &record.time };
        format!(
            "<{pri}>1 {timestamp} {} {} {} {} - {msg}",
            or_nil(&self.hostname),
            or_nil(&self.app_name),
            self.procid,
            msgid(&record.event)
        )
    }

    /// The message for `record` in at most `max_bytes`: whole if it fits, else with the details cut as much as
    /// needed, else (never with a `max_bytes` of at least [`Self::minimum_datagram_bytes`]) only its essentials. A
    /// record is never dropped: a SIEM that sees a cut record still sees its sequence number and chain link.
    pub fn datagram(&self, record: &SiemRecord, max_bytes: usize) -> String {
        let whole = self.message(record, &record.to_json());
        if whole.len() <= max_bytes {
            return whole;
        }
        let empty = self.message(record, &record.with_details_cut(0).to_json());
        if empty.len() > max_bytes {
            return self.message(record, &record.essentials_json());
        }
        // The longest prefix of the details that fits; each escaped byte can take up to six in the JSON string.
        let (mut fits, mut too_long) = (0, max_bytes - empty.len() + 1);
        while fits + 1 < too_long {
            let middle = (fits + too_long) / 2;
            if self.message(record, &record.with_details_cut(middle).to_json()).len() <= max_bytes {
                fits = middle;
            } else {
                too_long = middle;
            }
        }
        self.message(record, &record.with_details_cut(fits).to_json())
    }
}

/// Appends `message` as one octet-counted frame: `LEN SP MSG`, LEN the byte length of MSG in decimal.
pub fn frame_octet_counted(out: &mut Vec<u8>, message: &str) {
    out.extend_from_slice(message.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(message.as_bytes());
}

/// Whether `text` fits a header field: printable US-ASCII (33 to 126), 1 to `max` characters.
pub fn is_header_field(text: &str, max: usize) -> bool {
    !text.is_empty() && text.len() <= max && text.bytes().all(|b| (33..=126).contains(&b))
}

fn or_nil(text: &str) -> &str {
    if is_header_field(text, MAX_HOSTNAME) { text } else { "-" }
}

/// MSGID: the event kind, cut to RFC 5424's 32 characters.
fn msgid(event: &str) -> &str {
    let cut = &event[..event.len().min(32)];
    if is_header_field(cut, 32) { cut } else { "-" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::siem::record::SiemRecord;
    use latch_app::AuditRecord;
    use latch_app::domain::Timestamp;

    fn header(facility: Facility) -> SyslogHeader {
        SyslogHeader { facility, hostname: "pam01".to_owned(), app_name: "latch".to_owned(), procid: 4242 }
    }

    fn record(kind: &str, details: &str) -> SiemRecord {
        SiemRecord::from_audit(&AuditRecord {
            seq: 7,
            at: Timestamp::from_millis(1_735_787_045_678),
            actor_kind: "user".to_owned(),
            actor_id: None,
            actor_name: "alice".to_owned(),
            source: None,
            kind: kind.to_owned(),
            details: details.to_owned(),
            link: "0f".repeat(32),
        })
    }

    #[test]
    fn messages_follow_rfc5424() {
        let check = |facility: Facility, kind: &str, expect_start: &str| {
            let record = record(kind, "{}");
            let message = header(facility).message(&record, &record.to_json());
            assert_eq!(message, format!("{expect_start} - {}", record.to_json()));
        };
        check(
            Facility::Authpriv,
            "auth.login_succeeded",
            "<85>1 2025-01-02T03:04:05.678Z pam01 latch 4242 auth.login_succeeded",
        );
        check(
            Facility::Authpriv,
            "auth.login_failed",
            "<84>1 2025-01-02T03:04:05.678Z pam01 latch 4242 auth.login_failed",
        );
        check(Facility::Auth, "user.created", "<37>1 2025-01-02T03:04:05.678Z pam01 latch 4242 user.created");
        check(Facility::Local(0), "user.created", "<133>1 2025-01-02T03:04:05.678Z pam01 latch 4242 user.created");
        check(Facility::Local(7), "request.denied", "<188>1 2025-01-02T03:04:05.678Z pam01 latch 4242 request.denied");
        check(
            Facility::Auth,
            "vault.root_key_rotation_completed",
            "<37>1 2025-01-02T03:04:05.678Z pam01 latch 4242 vault.root_key_rotation_complete",
        );
        let nil = SyslogHeader { hostname: "has space".to_owned(), app_name: String::new(), ..header(Facility::Auth) };
        let record = record("user.created", "{}");
        assert!(nil.message(&record, "{}").starts_with("<37>1 2025-01-02T03:04:05.678Z - - 4242 user.created - "));
    }

    #[test]
    fn facilities_parse_by_name() {
        let check = |name: &str, expect: Option<Facility>| assert_eq!(Facility::parse(name), expect, "{name}");
        check("auth", Some(Facility::Auth));
        check("authpriv", Some(Facility::Authpriv));
        check("local0", Some(Facility::Local(0)));
        check("local7", Some(Facility::Local(7)));
        check("local8", None);
        check("local07", None);
        check("kern", None);
        check("", None);
    }

    #[test]
    fn octet_counting_prefixes_the_byte_length() {
        let check = |messages: &[&str], expect: &[u8]| {
            let mut out = Vec::new();
            for message in messages {
                frame_octet_counted(&mut out, message);
            }
            assert_eq!(out, expect, "{messages:?}");
        };
        check(&["<85>1 - - - - - - x"], b"19 <85>1 - - - - - - x");
        check(&["a", "bc"], b"1 a2 bc");
        check(&["é"], "2 é".as_bytes());
        check(&["line\nbreak"], b"10 line\nbreak");
        check(&[""], b"0 ");
    }

    #[test]
    fn datagrams_cut_details_never_the_record() {
        let header = header(Facility::Authpriv);
        let long = format!(r#"{{"changes":["{}"],"user_id":"u-1"}}"#, "x".repeat(3000));
        let small = record("user.updated", r#"{"user_id":"u-1"}"#);
        let big = record("user.updated", &long);
        let whole = header.datagram(&small, 2048);
        assert_eq!(whole, header.message(&small, &small.to_json()), "a record that fits is sent whole");
        for max in [header.minimum_datagram_bytes(), 600, 1024, 2048] {
            for record in [&small, &big] {
                let datagram = header.datagram(record, max);
                assert!(datagram.len() <= max, "{max}: {} bytes", datagram.len());
                let json = datagram.split_once(" - ").unwrap().1;
                let parsed: serde_json::Value = serde_json::from_str(json).unwrap();
                assert_eq!(parsed["seq"], 7);
                assert_eq!(parsed["mac"], "0f".repeat(32));
            }
            let cut = header.datagram(&big, max);
            assert!(cut.len() > max - 16, "the details fill what is left: {} of {max}", cut.len());
            assert!(cut.contains(r#""details_truncated":true"#), "{cut}");
        }
    }

    #[test]
    fn the_essentials_fit_the_minimum_with_the_longest_header() {
        let header = SyslogHeader {
            facility: Facility::Local(7),
            hostname: "h".repeat(MAX_HOSTNAME),
            app_name: "a".repeat(MAX_APP_NAME),
            procid: u32::MAX,
        };
        let mut record = record(&"k".repeat(64), &format!(r#"{{"x":"{}"}}"#, "y".repeat(1000)));
        record.seq = i64::MAX;
        record.time_ms = i64::MAX;
        record.outcome = Outcome::Failure;
        let max = header.minimum_datagram_bytes();
        let datagram = header.datagram(&record, max);
        assert!(datagram.len() <= max, "{} > {max}", datagram.len());
        assert!(datagram.contains(&i64::MAX.to_string()));
        assert!(datagram.contains(r#""truncated":true"#), "only the essentials fit: {datagram}");
    }
}
