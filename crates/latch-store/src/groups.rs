//! Groups, their roles and members.

use crate::codec::{get, get_parsed, join, roles_from};
use crate::{Db, StoreError, Tx};
use latch_domain::names::GroupName;
use latch_domain::user::Group;
use latch_domain::{GroupId, Timestamp, UserId};
use sqlx::any::AnyRow;

pub async fn insert(tx: &mut Tx, group: &Group) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO user_groups (id, name, description, roles, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(group.id.to_string())
        .bind(group.name.as_str().to_owned())
        .bind(group.description.clone())
        .bind(join(&group.roles))
        .bind(group.created_at.as_millis())
        .execute(tx.conn())
        .await
        .map_err(StoreError::on_write("group"))?;
    Ok(())
}

pub async fn find(db: &mut impl Db, id: GroupId) -> Result<Option<Group>, StoreError> {
    let row = sqlx::query("SELECT id, name, description, roles, created_at FROM user_groups WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(db.conn())
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn find_by_name(db: &mut impl Db, name: &GroupName) -> Result<Option<Group>, StoreError> {
    let row = sqlx::query("SELECT id, name, description, roles, created_at FROM user_groups WHERE name = $1")
        .bind(name.as_str().to_owned())
        .fetch_optional(db.conn())
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn list(db: &mut impl Db) -> Result<Vec<Group>, StoreError> {
    let rows = sqlx::query("SELECT id, name, description, roles, created_at FROM user_groups ORDER BY name")
        .fetch_all(db.conn())
        .await?;
    rows.iter().map(from_row).collect()
}

/// The groups `user` belongs to.
pub async fn of_user(db: &mut impl Db, user: UserId) -> Result<Vec<Group>, StoreError> {
    let rows = sqlx::query(
        "SELECT g.id, g.name, g.description, g.roles, g.created_at FROM user_groups g \
         JOIN group_members m ON m.group_id = g.id WHERE m.user_id = $1 ORDER BY g.name",
    )
    .bind(user.to_string())
    .fetch_all(db.conn())
    .await?;
    rows.iter().map(from_row).collect()
}

pub async fn update(tx: &mut Tx, group: &Group) -> Result<(), StoreError> {
    let result = sqlx::query("UPDATE user_groups SET description = $2, roles = $3 WHERE id = $1")
        .bind(group.id.to_string())
        .bind(group.description.clone())
        .bind(join(&group.roles))
        .execute(tx.conn())
        .await?;
    if result.rows_affected() != 1 {
        return Err(StoreError::NotFound("group"));
    }
    Ok(())
}

pub async fn delete(tx: &mut Tx, id: GroupId) -> Result<(), StoreError> {
    let result = sqlx::query("DELETE FROM user_groups WHERE id = $1").bind(id.to_string()).execute(tx.conn()).await?;
    if result.rows_affected() != 1 {
        return Err(StoreError::NotFound("group"));
    }
    Ok(())
}

/// Adds a member; `false` when they already were one.
pub async fn add_member(tx: &mut Tx, group: GroupId, user: UserId) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "INSERT INTO group_members (group_id, user_id) VALUES ($1, $2) ON CONFLICT (group_id, user_id) DO NOTHING",
    )
    .bind(group.to_string())
    .bind(user.to_string())
    .execute(tx.conn())
    .await
    .map_err(StoreError::on_write("group member"))?;
    Ok(result.rows_affected() == 1)
}

/// Removes a member; `false` when they were not one.
pub async fn remove_member(tx: &mut Tx, group: GroupId, user: UserId) -> Result<bool, StoreError> {
    let result = sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
        .bind(group.to_string())
        .bind(user.to_string())
        .execute(tx.conn())
        .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn members(db: &mut impl Db, group: GroupId) -> Result<Vec<UserId>, StoreError> {
    let rows = sqlx::query(
        "SELECT m.user_id FROM group_members m JOIN users u ON u.id = m.user_id WHERE m.group_id = $1 ORDER BY u.username",
    )
    .bind(group.to_string())
    .fetch_all(db.conn())
    .await?;
    rows.iter().map(|row| get_parsed(row, "user_id")).collect()
}

fn from_row(row: &AnyRow) -> Result<Group, StoreError> {
    Ok(Group {
        id: get_parsed(row, "id")?,
        name: GroupName::parse(&get::<String>(row, "name")?).map_err(crate::codec::corrupt("group name"))?,
        description: get(row, "description")?,
        roles: roles_from(&get::<String>(row, "roles")?)?,
        created_at: Timestamp::from_millis(get(row, "created_at")?),
    })
}
