//! Counts for the dashboard: sessions and failed logins per day, the busiest targets and users, and what is live
//! now. Every query is a range or equality scan of an existing index (gateway sessions by start time, audit events
//! by kind and time, requests by status, grants by end).

use crate::codec::get;
use crate::{Db, StoreError};
use latch_domain::Timestamp;
use latch_domain::gateway_session::RETENTION_DAY;

/// A count for the UTC day starting at `day`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayCount {
    pub day: Timestamp,
    pub count: i64,
}

/// A count for a name (a target, a user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameCount {
    pub name: String,
    pub count: i64,
}

/// Gateway sessions started per UTC day since `since`; days without sessions are absent.
pub async fn sessions_per_day(db: &mut impl Db, since: Timestamp) -> Result<Vec<DayCount>, StoreError> {
    let rows = sqlx::query(
        "SELECT started_at / $2 AS day, COUNT(*) AS n FROM gateway_sessions WHERE started_at >= $1 \
         GROUP BY started_at / $2 ORDER BY day",
    )
    .bind(since.as_millis())
    .bind(RETENTION_DAY.as_millis())
    .fetch_all(db.conn())
    .await?;
    rows.iter().map(day_count).collect()
}

/// Audit records of `kind` per UTC day since `since` (failed logins, for one).
pub async fn audit_per_day(db: &mut impl Db, kind: &str, since: Timestamp) -> Result<Vec<DayCount>, StoreError> {
    let rows = sqlx::query(
        "SELECT at / $3 AS day, COUNT(*) AS n FROM audit_events WHERE kind = $1 AND at >= $2 \
         GROUP BY at / $3 ORDER BY day",
    )
    .bind(kind.to_owned())
    .bind(since.as_millis())
    .bind(RETENTION_DAY.as_millis())
    .fetch_all(db.conn())
    .await?;
    rows.iter().map(day_count).collect()
}

/// What a top list ranks by sessions started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ranked {
    Targets,
    Users,
}

/// The targets or users with the most sessions started since `since`, most first (ties by name), at most `limit`.
pub async fn top(db: &mut impl Db, ranked: Ranked, since: Timestamp, limit: i64) -> Result<Vec<NameCount>, StoreError> {
    let sql = match ranked {
        Ranked::Targets => {
            "SELECT target_name AS name, COUNT(*) AS n FROM gateway_sessions WHERE started_at >= $1 \
             GROUP BY target_name ORDER BY n DESC, name LIMIT $2"
        }
        Ranked::Users => {
            "SELECT username AS name, COUNT(*) AS n FROM gateway_sessions WHERE started_at >= $1 \
             GROUP BY username ORDER BY n DESC, name LIMIT $2"
        }
    };
    let rows = sqlx::query(sql).bind(since.as_millis()).bind(limit).fetch_all(db.conn()).await?;
    rows.iter().map(name_count).collect()
}

/// Gateway sessions running now, on any node.
pub async fn live_sessions(db: &mut impl Db) -> Result<i64, StoreError> {
    count(db, "SELECT COUNT(*) AS n FROM gateway_sessions WHERE ended_at IS NULL", None).await
}

/// Grants in force at `now` (started, not ended, not revoked).
pub async fn active_grants(db: &mut impl Db, now: Timestamp) -> Result<i64, StoreError> {
    let sql = "SELECT COUNT(*) AS n FROM grants WHERE enforced_at IS NULL AND ends_at > $1 AND starts_at <= $1 \
               AND (revoked_at IS NULL OR revoked_at > $1)";
    count(db, sql, Some(now.as_millis())).await
}

/// Access requests waiting for a decision.
pub async fn pending_requests(db: &mut impl Db) -> Result<i64, StoreError> {
    count(db, "SELECT COUNT(*) AS n FROM access_requests WHERE status = 'pending'", None).await
}

async fn count(db: &mut impl Db, sql: &'static str, parameter: Option<i64>) -> Result<i64, StoreError> {
    let mut query = sqlx::query(sql);
    if let Some(parameter) = parameter {
        query = query.bind(parameter);
    }
    let row = query.fetch_one(db.conn()).await?;
    get(&row, "n")
}

fn day_count(row: &sqlx::any::AnyRow) -> Result<DayCount, StoreError> {
    let day: i64 = get(row, "day")?;
    Ok(DayCount { day: Timestamp::from_millis(day * RETENTION_DAY.as_millis()), count: get(row, "n")? })
}

fn name_count(row: &sqlx::any::AnyRow) -> Result<NameCount, StoreError> {
    Ok(NameCount { name: get(row, "name")?, count: get(row, "n")? })
}
