//! Lists with optional filters: each present filter adds a condition with its own placeholder, then one page.

use crate::{Db, StoreError};
use sqlx::any::AnyRow;

/// The conditions of a filtered list and the values they bind, in placeholder order.
#[derive(Debug, Default)]
pub(crate) struct Filtered {
    conditions: Vec<String>,
    binds: Vec<Bind>,
}

#[derive(Debug)]
enum Bind {
    Text(String),
    Int(i64),
}

impl Filtered {
    /// Adds `condition`, where every `{}` stands for the placeholder of `value`.
    pub(crate) fn text(&mut self, condition: &str, value: String) {
        self.push(condition, Bind::Text(value));
    }

    /// Like [`text`](Self::text), for an integer (times in milliseconds, counts).
    pub(crate) fn int(&mut self, condition: &str, value: i64) {
        self.push(condition, Bind::Int(value));
    }

    /// Adds a condition without a value.
    pub(crate) fn always(&mut self, condition: &str) {
        self.conditions.push(condition.to_owned());
    }

    fn push(&mut self, condition: &str, value: Bind) {
        self.binds.push(value);
        self.conditions.push(condition.replace("{}", &format!("${}", self.binds.len())));
    }

    /// Runs `{select} WHERE … ORDER BY {order} LIMIT … OFFSET …` with every value bound.
    pub(crate) async fn fetch_page(
        self,
        db: &mut impl Db,
        select: &str,
        order: &str,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<AnyRow>, StoreError> {
        let filter =
            if self.conditions.is_empty() { String::new() } else { format!("WHERE {}", self.conditions.join(" AND ")) };
        let next = self.binds.len() + 1;
        let sql = format!("{select} {filter} ORDER BY {order} LIMIT ${next} OFFSET ${}", next + 1);
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for bind in self.binds {
            query = match bind {
                Bind::Text(text) => query.bind(text),
                Bind::Int(int) => query.bind(int),
            };
        }
        Ok(query.bind(limit.max(0)).bind(offset.max(0)).fetch_all(db.conn()).await?)
    }
}
