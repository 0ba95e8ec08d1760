//! Background work: named tasks that run until a shared shutdown signal, spawned by the binary
//! (never by constructors) and awaited on shutdown.

use latch_app::App;
use std::future::Future;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// A piece of background work. `run` returns when `shutdown` is cancelled; it handles its own
/// transient errors (log and carry on) and returns `Err` only when it cannot go on at all.
pub trait Task: Send + 'static {
    const NAME: &'static str;
    fn run(self, shutdown: CancellationToken) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// The running background tasks and the signal that stops them.
#[derive(Debug)]
pub struct Tasks {
    shutdown: CancellationToken,
    running: JoinSet<(&'static str, anyhow::Result<()>)>,
}

impl Tasks {
    pub fn new(shutdown: CancellationToken) -> Tasks {
        Tasks { shutdown, running: JoinSet::new() }
    }

    /// Starts `task` in its own tracing span, named after it.
    pub fn spawn<T: Task>(&mut self, task: T) {
        let shutdown = self.shutdown.clone();
        let span = tracing::info_span!("task", name = T::NAME);
        self.running.spawn(async move { (T::NAME, task.run(shutdown).await) }.instrument(span));
        tracing::debug!(task = T::NAME, "task started");
    }

    /// Signals every task to stop and waits up to `grace` for them; the rest are aborted.
    pub async fn shutdown(mut self, grace: Duration) {
        self.shutdown.cancel();
        let deadline = tokio::time::sleep(grace);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                finished = self.running.join_next() => match finished {
                    None => return,
                    Some(Ok((name, Ok(())))) => tracing::debug!(task = name, "task stopped"),
                    Some(Ok((name, Err(err)))) => {
                        tracing::error!(task = name, error = format!("{err:#}"), "task failed");
                    }
                    Some(Err(err)) => tracing::error!(error = %err, "task panicked or was cancelled"),
                },
                () = &mut deadline => {
                    tracing::warn!(remaining = self.running.len(), "tasks did not stop in time; aborting them");
                    self.running.abort_all();
                    return;
                }
            }
        }
    }
}

/// Removes expired login sessions and API tokens at a fixed interval (and once at start).
#[derive(Debug)]
pub struct ExpirySweeper {
    pub app: App,
    pub every: Duration,
}

impl ExpirySweeper {
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

    async fn sweep_once(&self) {
        match self.app.sweep_expired().await {
            Ok(0) => tracing::trace!("nothing expired"),
            Ok(removed) => tracing::info!(removed, "removed expired sessions and tokens"),
            Err(err) => tracing::warn!(error = %err, detail = ?err, "sweeping expired sessions failed; will retry"),
        }
    }
}

impl Task for ExpirySweeper {
    const NAME: &'static str = "expiry-sweeper";

    async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut ticks = tokio::time::interval(self.every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                _ = ticks.tick() => self.sweep_once().await,
            }
        }
    }
}

/// Enforces the end of expired or revoked grants (ending their live sessions and writing the receipt) a few
/// times a second, and expires requests nobody decided.
#[derive(Debug)]
pub struct AccessSweeper {
    pub app: App,
}

impl AccessSweeper {
    /// Gateway sessions also end themselves at their grant's end; this bounds how late a revocation made on
    /// another node (or a grant end missed by a session timer) is enforced here.
    pub const GRANT_INTERVAL: Duration = Duration::from_millis(250);
    /// Request expiry and automatic check-in.
    pub const REQUEST_INTERVAL: Duration = Duration::from_secs(5);
    /// How often live sessions are checked against current users, accounts, grants and policies.
    pub const RECONCILE_INTERVAL: Duration = Duration::from_secs(5);
}

impl AccessSweeper {
    /// First closes the sessions a previous run left open (once the vault is unsealed), then enforces grant ends.
    async fn on_grant_tick(&self, abandoned_closed: &mut bool) {
        if !*abandoned_closed {
            match self.app.close_abandoned_sessions().await {
                Ok(closed) => {
                    *abandoned_closed = true;
                    if closed > 0 {
                        tracing::warn!(closed, "closed gateway sessions left open by the previous run");
                    }
                }
                Err(latch_app::AppError::Sealed) => return,
                Err(err) => {
                    tracing::warn!(error = %err, detail = ?err, "closing abandoned sessions failed; will retry");
                    return;
                }
            }
        }
        match self.app.enforce_grant_ends().await {
            Ok(0) | Err(latch_app::AppError::Sealed) => {}
            Ok(enforced) => tracing::info!(enforced, "enforced the end of grants"),
            Err(err) => tracing::warn!(error = %err, detail = ?err, "enforcing grant ends failed; will retry"),
        }
    }
}

impl AccessSweeper {
    /// Expires undecided requests, checks in credentials whose release period ended and switches off expired
    /// break-glass.
    async fn on_request_tick(&self) {
        match self.app.expire_overdue_requests().await {
            Ok(0) | Err(latch_app::AppError::Sealed) => {}
            Ok(expired) => tracing::info!(expired, "expired undecided requests"),
            Err(err) => tracing::warn!(error = %err, detail = ?err, "expiring requests failed; will retry"),
        }
        match self.app.check_in_expired().await {
            Ok(0) | Err(latch_app::AppError::Sealed) => {}
            Ok(checked_in) => tracing::info!(checked_in, "checked in credentials whose release period ended"),
            Err(err) => tracing::warn!(error = %err, detail = ?err, "automatic check-in failed; will retry"),
        }
        match self.app.end_expired_break_glass().await {
            Ok(0) | Err(latch_app::AppError::Sealed) => {}
            Ok(ended) => tracing::info!(ended, "switched off break-glass whose time ran out"),
            Err(err) => tracing::warn!(error = %err, detail = ?err, "ending break-glass failed; will retry"),
        }
    }
}

impl Task for AccessSweeper {
    const NAME: &'static str = "access-sweeper";

    async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut grants = tokio::time::interval(Self::GRANT_INTERVAL);
        grants.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut requests = tokio::time::interval(Self::REQUEST_INTERVAL);
        requests.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut reconcile = tokio::time::interval(Self::RECONCILE_INTERVAL);
        reconcile.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut abandoned_closed = false;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                _ = grants.tick() => self.on_grant_tick(&mut abandoned_closed).await,
                _ = reconcile.tick() => match self.app.reconcile_live_sessions().await {
                    Ok(0) | Err(latch_app::AppError::Sealed) => {}
                    Ok(ended) => tracing::warn!(ended, "ended live sessions that are no longer allowed"),
                    Err(err) => tracing::warn!(error = %err, detail = ?err, "reconciling live sessions failed"),
                },
                _ = requests.tick() => self.on_request_tick().await,
            }
        }
    }
}

/// Deletes the recordings whose retention ran out (and that are on no legal hold): once at start, as soon as the
/// vault is unsealed, then at a fixed interval.
#[derive(Debug)]
pub struct RetentionSweeper {
    pub app: App,
}

impl RetentionSweeper {
    /// Retention is counted in days; a recording deleted up to this much after it became due is on time.
    pub const INTERVAL: Duration = Duration::from_secs(10 * 60);
    /// How soon a sweep is tried again while the vault is sealed or after the sweep failed.
    pub const RETRY: Duration = Duration::from_secs(5);

    /// One sweep; whether it ran (a sealed vault or a failure leaves it to the retry; a recording that could not be
    /// deleted is tried again at the next sweep).
    async fn sweep_once(&self) -> bool {
        match self.app.sweep_recordings().await {
            Ok(sweep) => {
                if sweep.failed > 0 {
                    tracing::warn!(
                        deleted = sweep.deleted,
                        failed = sweep.failed,
                        "some recordings past their retention could not be deleted; will retry"
                    );
                } else if sweep.deleted > 0 {
                    tracing::info!(deleted = sweep.deleted, "deleted recordings past their retention");
                }
                true
            }
            Err(latch_app::AppError::Sealed) => false,
            Err(err) => {
                tracing::warn!(error = %err, detail = ?err, "the recording retention sweep failed; will retry");
                false
            }
        }
    }
}

impl Task for RetentionSweeper {
    const NAME: &'static str = "retention-sweeper";

    async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut wait = Duration::ZERO;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(wait) => {}
            }
            wait = if self.sweep_once().await { Self::INTERVAL } else { Self::RETRY };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Debug)]
    struct Stubborn;

    impl Task for Stubborn {
        const NAME: &'static str = "stubborn";
        async fn run(self, _shutdown: CancellationToken) -> anyhow::Result<()> {
            std::future::pending::<()>().await;
            Ok(())
        }
    }

    #[derive(Debug)]
    struct Counter(Arc<AtomicUsize>);

    impl Task for Counter {
        const NAME: &'static str = "counter";
        async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
            shutdown.cancelled().await;
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    #[tokio::test]
    async fn shutdown_stops_cooperative_tasks_and_aborts_the_rest() {
        let stopped = Arc::new(AtomicUsize::new(0));
        let mut tasks = Tasks::new(CancellationToken::new());
        tasks.spawn(Counter(stopped.clone()));
        tasks.spawn(Stubborn);
        let started = std::time::Instant::now();
        tasks.shutdown(Duration::from_millis(200)).await;
        assert_eq!(stopped.load(Ordering::SeqCst), 1);
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn the_sweeper_runs_against_a_real_store_until_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let url = latch_store::Store::sqlite_url(&dir.path().join("latch.db"));
        let store = latch_store::Store::connect(&url).await.unwrap();
        let app = App::new(store.clone(), Arc::new(latch_app::SystemClock), latch_app::AppConfig::default());
        let mut tasks = Tasks::new(CancellationToken::new());
        tasks.spawn(ExpirySweeper { app, every: Duration::from_millis(10) });
        tokio::time::sleep(Duration::from_millis(50)).await;
        tasks.shutdown(Duration::from_secs(5)).await;
        store.close().await;
    }
}
