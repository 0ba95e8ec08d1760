//! Connecting, migrating and the transaction/connection handles repositories take.

use crate::StoreError;
use sqlx::AnyConnection;
use sqlx::any::AnyPoolOptions;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Transaction};
use std::time::Duration;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Which SQL engine is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database: a pool of connections to SQLite or PostgreSQL. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

/// A write transaction. Dropping it without [`Tx::commit`] rolls back.
#[derive(Debug)]
pub struct Tx {
    inner: Transaction<'static, Any>,
    backend: Backend,
}

/// A pooled connection for reads.
#[derive(Debug)]
pub struct Conn {
    inner: PoolConnection<Any>,
    backend: Backend,
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Tx {}
    impl Sealed for super::Conn {}
}

/// A handle repository functions run their SQL on: [`Tx`] or [`Conn`].
pub trait Db: sealed::Sealed + Send {
    #[doc(hidden)]
    fn conn(&mut self) -> &mut AnyConnection;
    fn backend(&self) -> Backend;
}

impl Db for Tx {
    fn conn(&mut self) -> &mut AnyConnection {
        &mut self.inner
    }
    fn backend(&self) -> Backend {
        self.backend
    }
}

impl Db for Conn {
    fn conn(&mut self) -> &mut AnyConnection {
        &mut self.inner
    }
    fn backend(&self) -> Backend {
        self.backend
    }
}

impl Store {
    /// Connects to `sqlite://PATH` or `postgres://…` and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(redact_url(url)));
        };
        let max_connections = match backend {
            Backend::Sqlite => 4,
            Backend::Postgres => 16,
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&pool).await.map_err(StoreError::Migration)?;
        Ok(Store { pool, backend })
    }

    /// The URL of a SQLite database file.
    pub fn sqlite_url(path: &std::path::Path) -> String {
        format!("sqlite://{}?mode=rwc", path.display())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Begins a write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`),
    /// so concurrent writers queue instead of failing when they upgrade.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        let inner = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(Tx { inner, backend: self.backend })
    }

    /// A connection for reads.
    pub async fn read(&self) -> Result<Conn, StoreError> {
        Ok(Conn { inner: self.pool.acquire().await?, backend: self.backend })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Runs one SQL statement as given and returns the rows it affected.
    ///
    /// Exists only for the store's own tests, which tamper with rows behind the repositories'
    /// backs (e.g. to check that audit verification notices). Never call it from product code.
    #[doc(hidden)]
    pub async fn execute_raw_for_tests(&self, sql: &str) -> Result<u64, StoreError> {
        let result = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).execute(&self.pool).await?;
        Ok(result.rows_affected())
    }
}

impl Tx {
    pub async fn commit(self) -> Result<(), StoreError> {
        self.inner.commit().await?;
        Ok(())
    }
}

/// Row-lock suffix: PostgreSQL needs it; SQLite's write transactions already hold the lock.
pub(crate) fn for_update(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "",
        Backend::Postgres => " FOR UPDATE",
    }
}

/// A URL without its password, for messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => format!("{}://…{}", &url[..scheme_end], &url[at..]),
        _ => url.split('?').next().unwrap_or_default().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(super::redact_url("mysql://u:pw@h/db"), "mysql://…@h/db");
        assert_eq!(super::redact_url("foo://x?secret=1"), "foo://x");
    }
}
