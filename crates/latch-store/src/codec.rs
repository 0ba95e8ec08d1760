//! Conversions between domain values and the portable column types (TEXT, BIGINT, 0/1).

use crate::StoreError;
use latch_domain::DomainError;
use latch_domain::permission::Role;
use sqlx::Row;
use sqlx::any::AnyRow;
use std::str::FromStr;

pub(crate) fn corrupt(what: &str) -> impl Fn(DomainError) -> StoreError + '_ {
    move |err| StoreError::Corrupt(format!("{what}: {err}"))
}

pub(crate) fn get<'r, T>(row: &'r AnyRow, column: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(column).map_err(StoreError::Database)
}

pub(crate) fn get_bool(row: &AnyRow, column: &str) -> Result<bool, StoreError> {
    Ok(get::<i64>(row, column)? != 0)
}

pub(crate) fn get_parsed<T: FromStr<Err = DomainError>>(row: &AnyRow, column: &str) -> Result<T, StoreError> {
    let text: String = get(row, column)?;
    text.parse().map_err(corrupt(column))
}

pub(crate) fn get_opt_parsed<T: FromStr<Err = DomainError>>(
    row: &AnyRow,
    column: &str,
) -> Result<Option<T>, StoreError> {
    let text: Option<String> = get(row, column)?;
    text.map(|t| t.parse().map_err(corrupt(column))).transpose()
}

pub(crate) fn bool_int(value: bool) -> i64 {
    i64::from(value)
}

/// Lists are stored as comma-separated text: every element type here excludes commas.
pub(crate) fn join<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    items.into_iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",")
}

pub(crate) fn split(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').filter(|s| !s.is_empty())
}

pub(crate) fn roles_from(text: &str) -> Result<Vec<Role>, StoreError> {
    split(text).map(|r| Role::parse(r).map_err(corrupt("roles"))).collect()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn unhex32(text: &str) -> Result<[u8; 32], StoreError> {
    let bad = || StoreError::Corrupt("link is not 64 hex digits".to_owned());
    if text.len() != 64 {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(i * 2..i * 2 + 2).ok_or_else(bad)?, 16).map_err(|_| bad())?;
    }
    Ok(out)
}
