//! Targets, their tags, and the target search.
//!
//! Tags live in `target_tags`; every read joins them in the same statement, so a page of
//! targets costs one query and always sees each target together with its own tags.

use crate::codec::{corrupt, get, get_parsed, join, split};
use crate::{Db, StoreError, Tx};
use latch_domain::names::{HostAddress, TagName, TargetName};
use latch_domain::target::{HostKeyPin, Protocol, Target, TargetQuery, TargetSpec};
use latch_domain::{TargetId, Timestamp};
use sqlx::any::AnyRow;

/// Target columns (from alias `t`) plus one tag (from alias `tt`, NULL for an untagged target).
const JOINED_COLUMNS: &str = "t.id AS id, t.name AS name, t.address AS address, t.port AS port, \
     t.protocols AS protocols, t.description AS description, t.host_key_pin AS host_key_pin, \
     t.created_at AS created_at, t.updated_at AS updated_at, tt.tag AS tag";

/// The search conditions on `targets`: $1 text pattern, $2 tag, $3 protocol pattern; NULL skips
/// a criterion. Kept in step with [`TargetQuery::matches`] (see [`SearchParams`]).
const SEARCH_WHERE: &str = "($1 IS NULL OR LOWER(name) LIKE $1 ESCAPE '\\' OR LOWER(address) LIKE $1 ESCAPE '\\' \
     OR description_lower LIKE $1 ESCAPE '\\') \
     AND ($2 IS NULL OR EXISTS (SELECT 1 FROM target_tags WHERE target_tags.target_id = targets.id AND target_tags.tag = $2)) \
     AND ($3 IS NULL OR (',' || protocols || ',') LIKE $3)";

/// Inserts a target and its tags; `Conflict("target")` when the name is taken.
pub async fn insert(tx: &mut Tx, target: &Target) -> Result<(), StoreError> {
    let spec = &target.spec;
    sqlx::query(
        "INSERT INTO targets (id, name, address, port, protocols, description, description_lower, host_key_pin, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(target.id.to_string())
    .bind(spec.name.as_str().to_owned())
    .bind(spec.address.as_str().to_owned())
    .bind(i64::from(spec.port))
    .bind(protocols_text(&spec.protocols))
    .bind(spec.description.clone())
    .bind(spec.description.to_lowercase())
    .bind(spec.host_key_pin.as_ref().map(|pin| pin.as_str().to_owned()))
    .bind(target.created_at.as_millis())
    .bind(target.updated_at.as_millis())
    .execute(tx.conn())
    .await
    .map_err(StoreError::on_write("target"))?;
    insert_tags(tx, target.id, &spec.tags).await
}

/// Saves every field of the spec and `updated_at`, and replaces the tags.
pub async fn update(tx: &mut Tx, target: &Target) -> Result<(), StoreError> {
    let spec = &target.spec;
    let result = sqlx::query(
        "UPDATE targets SET name = $2, address = $3, port = $4, protocols = $5, description = $6, \
         description_lower = $7, host_key_pin = $8, updated_at = $9 WHERE id = $1",
    )
    .bind(target.id.to_string())
    .bind(spec.name.as_str().to_owned())
    .bind(spec.address.as_str().to_owned())
    .bind(i64::from(spec.port))
    .bind(protocols_text(&spec.protocols))
    .bind(spec.description.clone())
    .bind(spec.description.to_lowercase())
    .bind(spec.host_key_pin.as_ref().map(|pin| pin.as_str().to_owned()))
    .bind(target.updated_at.as_millis())
    .execute(tx.conn())
    .await
    .map_err(StoreError::on_write("target"))?;
    if result.rows_affected() != 1 {
        return Err(StoreError::NotFound("target"));
    }
    sqlx::query("DELETE FROM target_tags WHERE target_id = $1").bind(target.id.to_string()).execute(tx.conn()).await?;
    insert_tags(tx, target.id, &spec.tags).await
}

pub async fn find(db: &mut impl Db, id: TargetId) -> Result<Option<Target>, StoreError> {
    let sql = format!(
        "SELECT {JOINED_COLUMNS} FROM targets t LEFT JOIN target_tags tt ON tt.target_id = t.id \
         WHERE t.id = $1 ORDER BY tt.tag"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_all(db.conn()).await?;
    Ok(targets_from_rows(&rows)?.pop())
}

pub async fn find_by_name(db: &mut impl Db, name: &TargetName) -> Result<Option<Target>, StoreError> {
    let sql = format!(
        "SELECT {JOINED_COLUMNS} FROM targets t LEFT JOIN target_tags tt ON tt.target_id = t.id \
         WHERE t.name = $1 ORDER BY tt.tag"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(name.as_str().to_owned()).fetch_all(db.conn()).await?;
    Ok(targets_from_rows(&rows)?.pop())
}

/// One page of the targets matching `query` (the rules of [`TargetQuery::matches`]), by name.
pub async fn search(db: &mut impl Db, query: &TargetQuery, limit: i64, offset: i64) -> Result<Vec<Target>, StoreError> {
    let params = SearchParams::of(query);
    let sql = format!(
        "SELECT {JOINED_COLUMNS} FROM (SELECT * FROM targets WHERE {SEARCH_WHERE} ORDER BY name LIMIT $4 OFFSET $5) t \
         LEFT JOIN target_tags tt ON tt.target_id = t.id ORDER BY t.name, tt.tag"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(params.text_pattern)
        .bind(params.tag)
        .bind(params.protocol_pattern)
        .bind(limit.max(0))
        .bind(offset.max(0))
        .fetch_all(db.conn())
        .await?;
    targets_from_rows(&rows)
}

/// How many targets match `query`.
pub async fn count(db: &mut impl Db, query: &TargetQuery) -> Result<i64, StoreError> {
    let params = SearchParams::of(query);
    let sql = format!("SELECT COUNT(*) AS n FROM targets WHERE {SEARCH_WHERE}");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(params.text_pattern)
        .bind(params.tag)
        .bind(params.protocol_pattern)
        .fetch_one(db.conn())
        .await?;
    get(&row, "n")
}

/// Deletes a target; its tags and accounts go with it (collect the accounts' secret ids first
/// with `accounts::secret_ids_for_target`).
pub async fn delete(tx: &mut Tx, id: TargetId) -> Result<(), StoreError> {
    let result = sqlx::query("DELETE FROM targets WHERE id = $1").bind(id.to_string()).execute(tx.conn()).await?;
    if result.rows_affected() != 1 {
        return Err(StoreError::NotFound("target"));
    }
    Ok(())
}

/// Every target with its tags, by name (for export).
pub async fn list_all(db: &mut impl Db) -> Result<Vec<Target>, StoreError> {
    let sql = format!(
        "SELECT {JOINED_COLUMNS} FROM targets t LEFT JOIN target_tags tt ON tt.target_id = t.id ORDER BY t.name, tt.tag"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(db.conn()).await?;
    targets_from_rows(&rows)
}

/// The bound values of [`SEARCH_WHERE`].
struct SearchParams {
    /// `%needle%`, the needle lowercased like [`TargetQuery::matches`] does and its LIKE
    /// wildcards escaped; compared with ASCII-lowercased name and address (both ASCII) and
    /// with `description_lower`.
    text_pattern: Option<String>,
    tag: Option<String>,
    /// `%,ssh,%`, matched against `,` + protocols + `,`.
    protocol_pattern: Option<String>,
}

impl SearchParams {
    fn of(query: &TargetQuery) -> SearchParams {
        SearchParams {
            text_pattern: query.text.as_deref().map(|text| format!("%{}%", escape_like(&text.to_lowercase()))),
            tag: query.tag.as_ref().map(|tag| tag.as_str().to_owned()),
            protocol_pattern: query.protocol.map(|protocol| format!("%,{},%", protocol.as_str())),
        }
    }
}

/// Escapes LIKE's wildcards and the escape character itself (`ESCAPE '\'`).
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

async fn insert_tags(tx: &mut Tx, target: TargetId, tags: &[TagName]) -> Result<(), StoreError> {
    for tag in tags {
        sqlx::query("INSERT INTO target_tags (target_id, tag) VALUES ($1, $2) ON CONFLICT (target_id, tag) DO NOTHING")
            .bind(target.to_string())
            .bind(tag.as_str().to_owned())
            .execute(tx.conn())
            .await
            .map_err(StoreError::on_write("target tag"))?;
    }
    Ok(())
}

fn protocols_text(protocols: &[Protocol]) -> String {
    join(protocols.iter().map(Protocol::as_str))
}

/// Folds rows of [`JOINED_COLUMNS`] (one per target and tag, a target's rows adjacent) into targets.
fn targets_from_rows(rows: &[AnyRow]) -> Result<Vec<Target>, StoreError> {
    let mut targets: Vec<Target> = Vec::new();
    for row in rows {
        let id: TargetId = get_parsed(row, "id")?;
        let tag: Option<String> = get(row, "tag")?;
        if targets.last().is_none_or(|last| last.id != id) {
            targets.push(target_from_row(row, id)?);
        }
        if let (Some(tag), Some(current)) = (tag, targets.last_mut()) {
            current.spec.tags.push(TagName::parse(&tag).map_err(corrupt("tag"))?);
        }
    }
    for target in &mut targets {
        target.spec.tags.sort();
    }
    Ok(targets)
}

fn target_from_row(row: &AnyRow, id: TargetId) -> Result<Target, StoreError> {
    let port: i64 = get(row, "port")?;
    let protocols: String = get(row, "protocols")?;
    let pin: Option<String> = get(row, "host_key_pin")?;
    let spec = TargetSpec {
        name: TargetName::parse(&get::<String>(row, "name")?).map_err(corrupt("target name"))?,
        address: HostAddress::parse(&get::<String>(row, "address")?).map_err(corrupt("address"))?,
        port: u16::try_from(port).map_err(|_| StoreError::Corrupt(format!("port {port} is out of range")))?,
        protocols: split(&protocols)
            .map(|p| Protocol::parse(p).map_err(corrupt("protocols")))
            .collect::<Result<_, _>>()?,
        tags: Vec::new(),
        description: get(row, "description")?,
        host_key_pin: pin.as_deref().map(HostKeyPin::parse).transpose().map_err(corrupt("host key pin"))?,
    };
    Ok(Target {
        id,
        spec,
        created_at: Timestamp::from_millis(get(row, "created_at")?),
        updated_at: Timestamp::from_millis(get(row, "updated_at")?),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(super::escape_like(r"50%_a\b"), r"50\%\_a\\b");
        assert_eq!(super::escape_like("plain"), "plain");
    }
}
