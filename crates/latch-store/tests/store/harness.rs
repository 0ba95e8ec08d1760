//! Opens a migrated store on each backend, runs one check on it, and closes it.

use latch_store::Store;
use std::future::Future;

/// Runs `check` on a new SQLite database in a temporary directory.
pub async fn run_on_sqlite<F, Fut>(check: F) -> anyhow::Result<()>
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let dir = tempfile::tempdir()?;
    let store = Store::connect(&Store::sqlite_url(&dir.path().join("latch.db"))).await?;
    run(store, check).await
}

/// Runs `check` on a fresh database of the shared test cluster; passes with a note when there is none.
pub async fn run_on_postgres<F, Fut>(test_name: &str, check: F) -> anyhow::Result<()>
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let Some(cluster) = tokio::task::spawn_blocking(latch_testkit::postgres::shared_postgres).await?? else {
        eprintln!("skipped {test_name}: PostgreSQL is not available");
        return Ok(());
    };
    let hint = test_name.to_owned();
    let url = tokio::task::spawn_blocking(move || cluster.fresh_database(&hint)).await??;
    let store = Store::connect(&url).await?;
    run(store, check).await
}

async fn run<F, Fut>(store: Store, check: F) -> anyhow::Result<()>
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let result = check(store.clone()).await;
    store.close().await;
    result
}
