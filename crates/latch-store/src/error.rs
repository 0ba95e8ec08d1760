//! Storage errors. Database details stay in the source error and are logged once at the edge,
//! never sent to clients.

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{what} refers to something that does not exist")]
    MissingReference { what: &'static str },
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("database error")]
    Database(#[source] sqlx::Error),
    #[error("database migration failed")]
    Migration(#[source] sqlx::migrate::MigrateError),
    #[error("unsupported database url: {0}")]
    UnsupportedUrl(String),
}

impl StoreError {
    /// Maps a unique-constraint violation to `Conflict(what)`, foreign keys to `MissingReference`.
    pub(crate) fn on_write(what: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
        move |err| match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::MissingReference { what },
            _ => StoreError::Database(err),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        StoreError::Database(err)
    }
}
