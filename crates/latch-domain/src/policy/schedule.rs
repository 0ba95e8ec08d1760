//! When access may be used: days of the week and a time range, at a fixed UTC offset.
//!
//! Text form (API, CLI, storage): `mon-fri 08:00-18:00`, `daily 22:00-06:00 +01:00`, `sat,sun 00:00-24:00`.
//! A range whose end is before its start runs overnight and belongs to the day it starts on.

use crate::{DomainError, Timestamp};
use std::fmt;

const MINUTE_MS: i64 = 60_000;
const DAY_MINUTES: i64 = 1440;
const DAY_MS: i64 = DAY_MINUTES * MINUTE_MS;

/// A day of the week, Monday first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    pub const ALL: [Weekday; 7] =
        [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun];

    pub const fn as_str(&self) -> &'static str {
        match self {
            Weekday::Mon => "mon",
            Weekday::Tue => "tue",
            Weekday::Wed => "wed",
            Weekday::Thu => "thu",
            Weekday::Fri => "fri",
            Weekday::Sat => "sat",
            Weekday::Sun => "sun",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    fn parse(value: &str) -> Option<Weekday> {
        Weekday::ALL.into_iter().find(|day| day.as_str() == value)
    }
}

/// Days of the week and a daily time range, at a fixed offset from UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    days: [bool; 7],
    /// Minutes after local midnight, 0..1440.
    start_minute: u16,
    /// Minutes after local midnight, 1..=1440; before `start_minute` means overnight.
    end_minute: u16,
    /// Local time minus UTC, in minutes.
    utc_offset_minutes: i16,
}

impl Schedule {
    /// Parses the text form; see the module documentation.
    pub fn parse(text: &str) -> Result<Schedule, DomainError> {
        let invalid = |reason: &str| DomainError::invalid("schedule", reason.to_owned());
        let lowered = text.trim().to_ascii_lowercase();
        let parts: Vec<&str> = lowered.split_whitespace().collect();
        let (days, range, offset) = match parts.as_slice() {
            [days, range] => (*days, *range, "+00:00"),
            [days, range, offset] => (*days, *range, *offset),
            _ => return Err(invalid("use DAYS HH:MM-HH:MM [+HH:MM], e.g. \"mon-fri 08:00-18:00 +01:00\"")),
        };
        let days = parse_days(days).ok_or_else(|| invalid("days must be like mon-fri, sat,sun or daily"))?;
        let (start, end) = range.split_once('-').ok_or_else(|| invalid("the time range must be HH:MM-HH:MM"))?;
        let start_minute = parse_clock(start).filter(|m| *m < 1440).ok_or_else(|| invalid("bad start time"))?;
        let end_minute = parse_clock(end).filter(|m| *m >= 1).ok_or_else(|| invalid("bad end time"))?;
        if start_minute == end_minute {
            return Err(invalid("the time range is empty; use 00:00-24:00 for the whole day"));
        }
        let utc_offset_minutes = parse_offset(offset).ok_or_else(|| invalid("the offset must be like +01:00"))?;
        Ok(Schedule { days, start_minute, end_minute, utc_offset_minutes })
    }

    /// Whether `at` falls in an allowed period.
    pub fn allows(&self, at: Timestamp) -> bool {
        let local = at.as_millis() + i64::from(self.utc_offset_minutes) * MINUTE_MS;
        let day = local.div_euclid(DAY_MS);
        let minute = local.rem_euclid(DAY_MS) / MINUTE_MS;
        let (start, end) = (i64::from(self.start_minute), i64::from(self.end_minute));
        if start < end {
            self.day_allowed(day) && (start..end).contains(&minute)
        } else {
            (self.day_allowed(day) && minute >= start) || (self.day_allowed(day - 1) && minute < end)
        }
    }

    /// Whether every moment of `[start, end)` is allowed. Allowed-ness only changes at local midnights and at the
    /// range's edges, so checking the start and each such point inside the window is exact.
    pub fn allows_window(&self, start: Timestamp, end: Timestamp) -> bool {
        if !self.allows(start) {
            return false;
        }
        let offset = i64::from(self.utc_offset_minutes) * MINUTE_MS;
        let first_day = (start.as_millis() + offset).div_euclid(DAY_MS);
        let last_day = (end.as_millis() + offset).div_euclid(DAY_MS);
        let edges = [0, i64::from(self.start_minute), i64::from(self.end_minute)];
        (first_day..=last_day).all(|day| {
            edges.iter().all(|minute| {
                let point = day * DAY_MS + minute * MINUTE_MS - offset;
                point <= start.as_millis() || point >= end.as_millis() || self.allows(Timestamp::from_millis(point))
            })
        })
    }

    fn day_allowed(&self, day_since_epoch: i64) -> bool {
        // 1970-01-01 was a Thursday.
        let index = (day_since_epoch + 3).rem_euclid(7);
        usize::try_from(index).is_ok_and(|i| self.days[i])
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days: Vec<&str> = Weekday::ALL.iter().filter(|d| self.days[d.index()]).map(Weekday::as_str).collect();
        let days = match days.as_slice() {
            all if all.len() == 7 => "daily".to_owned(),
            ["mon", "tue", "wed", "thu", "fri"] => "mon-fri".to_owned(),
            other => other.join(","),
        };
        let clock = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        let offset = self.utc_offset_minutes;
        let sign = if offset < 0 { '-' } else { '+' };
        let abs = offset.unsigned_abs();
        write!(
            f,
            "{days} {}-{} {sign}{:02}:{:02}",
            clock(self.start_minute),
            clock(self.end_minute),
            abs / 60,
            abs % 60
        )
    }
}

fn parse_days(text: &str) -> Option<[bool; 7]> {
    let mut days = [false; 7];
    if text == "daily" {
        return Some([true; 7]);
    }
    for item in text.split(',') {
        match item.split_once('-') {
            Some((from, to)) => {
                let (from, to) = (Weekday::parse(from)?.index(), Weekday::parse(to)?.index());
                if from > to {
                    return None;
                }
                days[from..=to].iter_mut().for_each(|d| *d = true);
            }
            None => days[Weekday::parse(item)?.index()] = true,
        }
    }
    Some(days)
}

fn parse_clock(text: &str) -> Option<u16> {
    let (hours, minutes) = text.split_once(':')?;
    if hours.len() != 2 || minutes.len() != 2 {
        return None;
    }
    let (hours, minutes): (u16, u16) = (hours.parse().ok()?, minutes.parse().ok()?);
    let total = hours.checked_mul(60)?.checked_add(minutes)?;
    (minutes < 60 && total <= 1440).then_some(total)
}

fn parse_offset(text: &str) -> Option<i16> {
    let (sign, rest) = match text.strip_prefix('+') {
        Some(rest) => (1, rest),
        None => (-1, text.strip_prefix('-')?),
    };
    let minutes = i16::try_from(parse_clock(rest)?).ok()?;
    (minutes <= 14 * 60).then_some(sign * minutes)
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-23 was a Monday; 00:00 UTC.
    const MONDAY: i64 = 1_795_392_000_000;

    fn at(day: i64, hour: i64, minute: i64) -> Timestamp {
        Timestamp::from_millis(MONDAY + day * DAY_MS + (hour * 60 + minute) * MINUTE_MS)
    }

    #[test]
    fn text_form_round_trips() {
        for (input, shown) in [
            ("mon-fri 08:00-18:00", "mon-fri 08:00-18:00 +00:00"),
            ("daily 22:00-06:00 +01:00", "daily 22:00-06:00 +01:00"),
            ("SAT,sun 00:00-24:00 -05:30", "sat,sun 00:00-24:00 -05:30"),
            ("mon,wed-thu 09:15-10:00", "mon,wed,thu 09:15-10:00 +00:00"),
        ] {
            let schedule = Schedule::parse(input).unwrap();
            assert_eq!(schedule.to_string(), shown, "{input}");
            assert_eq!(Schedule::parse(shown).unwrap(), schedule);
        }
        for bad in [
            "",
            "mon-fri",
            "fri-mon 08:00-09:00",
            "mon 08:00-08:00",
            "mon 8:00-9:00",
            "mon 08:00-25:00",
            "x 01:00-02:00",
        ] {
            assert!(Schedule::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn allows_by_day_and_time() {
        let office = Schedule::parse("mon-fri 08:00-18:00").unwrap();
        let night = Schedule::parse("mon 22:00-06:00").unwrap();
        let berlin = Schedule::parse("mon 08:00-09:00 +01:00").unwrap();
        let cases = [
            (&office, at(0, 8, 0), true),
            (&office, at(0, 7, 59), false),
            (&office, at(0, 18, 0), false),
            (&office, at(4, 17, 59), true),
            (&office, at(5, 12, 0), false),
            (&night, at(0, 23, 0), true),
            (&night, at(1, 5, 59), true),
            (&night, at(1, 6, 0), false),
            (&night, at(1, 23, 0), false),
            (&night, at(0, 5, 0), false),
            (&berlin, at(0, 7, 0), true),
            (&berlin, at(0, 8, 0), false),
        ];
        for (schedule, moment, expected) in cases {
            assert_eq!(schedule.allows(moment), expected, "{schedule} at {moment:?}");
        }
    }

    #[test]
    fn windows_must_fit_inside_allowed_time() {
        let office = Schedule::parse("mon-fri 08:00-18:00").unwrap();
        let always = Schedule::parse("daily 00:00-24:00").unwrap();
        let night = Schedule::parse("mon 22:00-06:00").unwrap();
        let cases = [
            (&office, at(0, 9, 0), at(0, 17, 0), true),
            (&office, at(0, 9, 0), at(0, 18, 0), true),
            (&office, at(0, 9, 0), at(0, 18, 1), false),
            (&office, at(0, 17, 0), at(1, 9, 0), false),
            (&always, at(0, 20, 0), at(2, 4, 0), true),
            (&night, at(0, 23, 0), at(1, 6, 0), true),
            (&night, at(0, 23, 0), at(1, 7, 0), false),
        ];
        for (schedule, start, end, expected) in cases {
            assert_eq!(schedule.allows_window(start, end), expected, "{schedule}: {start:?}..{end:?}");
        }
    }
}
