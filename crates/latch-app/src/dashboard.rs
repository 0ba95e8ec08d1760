//! What the dashboard shows: sessions and failed logins per day, the busiest targets and users, and what is live
//! now (sessions, grants in force, requests waiting for a decision). Needs `sessions:read`.

use crate::{App, AppError, Principal};
use latch_domain::gateway_session::RETENTION_DAY;
use latch_domain::permission::Permission;
use latch_domain::{TimeSpan, Timestamp};
use latch_store::dashboard::Ranked;
pub use latch_store::dashboard::{DayCount, NameCount};

/// The longest period the dashboard covers, in days.
pub const MAX_DASHBOARD_DAYS: u32 = 90;
/// How many targets and users the top lists hold.
const TOP: i64 = 10;
/// The audit kind counted as failed logins.
const LOGIN_FAILED: &str = "auth.login_failed";

/// The dashboard's numbers for the last `days` UTC days (today included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dashboard {
    /// The start of the first day covered.
    pub since: Timestamp,
    pub days: u32,
    /// One entry per day, oldest first, zero-filled.
    pub sessions_per_day: Vec<DayCount>,
    pub failed_logins_per_day: Vec<DayCount>,
    pub top_targets: Vec<NameCount>,
    pub top_users: Vec<NameCount>,
    pub live_sessions: i64,
    pub active_grants: i64,
    pub pending_requests: i64,
}

impl App {
    /// The dashboard over the last `days` days (1 to [`MAX_DASHBOARD_DAYS`]).
    pub async fn dashboard(&self, principal: &Principal, days: u32) -> Result<Dashboard, AppError> {
        principal.require(Permission::SessionsRead)?;
        if !(1..=MAX_DASHBOARD_DAYS).contains(&days) {
            return Err(AppError::BadRequest(format!("days must be 1 to {MAX_DASHBOARD_DAYS}")));
        }
        let now = self.now();
        let today = now.as_millis() - now.as_millis().rem_euclid(RETENTION_DAY.as_millis());
        let since = Timestamp::from_millis(today).minus(TimeSpan::from_hours(24 * (i64::from(days) - 1)));
        let mut conn = self.store().read().await?;
        let sessions = latch_store::dashboard::sessions_per_day(&mut conn, since).await?;
        let failed = latch_store::dashboard::audit_per_day(&mut conn, LOGIN_FAILED, since).await?;
        Ok(Dashboard {
            since,
            days,
            sessions_per_day: zero_filled(since, days, &sessions),
            failed_logins_per_day: zero_filled(since, days, &failed),
            top_targets: latch_store::dashboard::top(&mut conn, Ranked::Targets, since, TOP).await?,
            top_users: latch_store::dashboard::top(&mut conn, Ranked::Users, since, TOP).await?,
            live_sessions: latch_store::dashboard::live_sessions(&mut conn).await?,
            active_grants: latch_store::dashboard::active_grants(&mut conn, now).await?,
            pending_requests: latch_store::dashboard::pending_requests(&mut conn).await?,
        })
    }
}

/// One count per day from `since`, `days` long, 0 where `counts` has none.
fn zero_filled(since: Timestamp, days: u32, counts: &[DayCount]) -> Vec<DayCount> {
    (0..i64::from(days))
        .map(|index| {
            let day = Timestamp::from_millis(since.as_millis() + index * RETENTION_DAY.as_millis());
            let count = counts.iter().find(|count| count.day == day).map_or(0, |count| count.count);
            DayCount { day, count }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_without_counts_are_zero() {
        let day = RETENTION_DAY.as_millis();
        let since = Timestamp::from_millis(20_000 * day);
        let counts = [DayCount { day: Timestamp::from_millis(20_001 * day), count: 4 }];
        let filled: Vec<i64> = zero_filled(since, 3, &counts).iter().map(|count| count.count).collect();
        assert_eq!(filled, [0, 4, 0]);
    }
}
