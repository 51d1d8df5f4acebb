//! Housekeeping, run by one worker at a time: the holder of a lease in Redis,
//! fenced by an epoch in Postgres. One file per loop:
//!
//! * `promote`   — scheduled jobs that are due become queued;
//! * `schedules` — due schedules fire: each fire creates its job once;
//! * `reclaim`   — running jobs whose lease expired go back to the queue;
//! * `reconcile` — Redis holds exactly the waiting jobs Postgres has (in a
//!   task of its own beside the tick, so a long one never lets the leader
//!   lease lapse);
//! * `retention` — old finished jobs are deleted in small batches.
//!
//! If the leader dies its Redis lease lapses within `LEASE_TICKS` ticks and
//! another worker takes over; a deposed leader that has not noticed cannot
//! write, because its epoch is no longer current.

mod promote;
mod reclaim;
mod reconcile;
mod retention;
pub(crate) mod schedules;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use conveyor_shared::config::HousekeepingConfig;
use conveyor_shared::db::housekeeping as sql;
use conveyor_shared::queue::Leadership;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::metrics;
use crate::runner::Worker;

/// The leader lease lasts this many ticks; renewed every tick.
const LEASE_TICKS: u32 = 5;
/// How often retention runs.
const RETENTION_EVERY: Duration = Duration::from_secs(60);

/// Competes for the leader lease and, while holding it, runs the loops.
pub(crate) async fn run(worker: Arc<Worker>, stop: CancellationToken) {
    let config = worker.config.housekeeping.clone();
    if !config.enabled {
        return;
    }
    let ttl_ms = (config.interval * LEASE_TICKS).as_millis() as u64;
    let mut ticker = tokio::time::interval(config.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut epoch: Option<i64> = None;
    let mut reconciler = Reconciler::new();
    let mut last_retention: Option<Instant> = None;
    let mut health = reclaim::PgHealth::default();
    // Longer than this without an answer from Postgres, and the workers may
    // have missed a renewal too (two ticks: a tick alone is no gap).
    let max_gap = worker.config.heartbeat_every().max(config.interval * 2);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.cancelled() => break,
        }
        let (state, sentinel) = match worker.queue.hold_leadership(&worker.id, ttl_ms).await {
            Ok(answer) => answer,
            Err(e) => {
                // Writes of this or other processes may have been lost
                // while Redis did not answer.
                reconciler.suspect = true;
                if epoch.take().is_some() {
                    warn!(error = %format!("{e:#}"), "lost Redis; no longer housekeeping leader");
                    metrics::leadership_changed(false);
                    reconciler.stop();
                }
                continue;
            }
        };
        match (state, epoch) {
            (Leadership::Follower, Some(_)) => {
                info!(worker = %worker.id, "no longer housekeeping leader");
                metrics::leadership_changed(false);
                epoch = None;
                reconciler.stop();
                continue;
            }
            (Leadership::Follower, None) => continue,
            (Leadership::Acquired, _) | (Leadership::Renewed, None) => {
                match sql::take_epoch(&worker.pool, &worker.id).await {
                    Ok(e) => {
                        info!(worker = %worker.id, epoch = e, "became housekeeping leader");
                        if epoch.is_none() {
                            metrics::leadership_changed(true);
                        }
                        epoch = Some(e);
                        reconciler.start();
                        // A new leader does not know what Postgres did before.
                        health.failed();
                        health.answered(worker.clock.now(), max_gap);
                    }
                    Err(e) => {
                        health.failed();
                        warn!(error = %e, "won the lease but cannot reach Postgres");
                        continue;
                    }
                }
            }
            (Leadership::Renewed, Some(_)) => {}
        }
        let Some(fence) = epoch else { continue };
        let checked_at = match sql::check_epoch(&worker.pool, fence).await {
            Ok((true, pg_now)) => {
                health.answered(worker.clock.now(), max_gap);
                pg_now
            }
            Ok((false, _)) => {
                info!(epoch = fence, "another worker took over housekeeping");
                metrics::leadership_changed(false);
                epoch = None;
                reconciler.stop();
                continue;
            }
            Err(e) => {
                health.failed();
                warn!(error = %e, "housekeeping: Postgres unavailable");
                continue;
            }
        };
        // A failed write of the leader may have left Redis behind
        // PostgreSQL: the next reconcile reads everything.
        if let Err(e) = reclaim::run(&worker, fence, &health, checked_at, max_gap).await {
            health.failed();
            warn!(error = %format!("{e:#}"), "reclaiming expired leases failed");
            reconciler.suspect = true;
        }
        if let Err(e) = promote::run(&worker, fence).await {
            warn!(error = %format!("{e:#}"), "promoting due jobs failed");
            reconciler.suspect = true;
        }
        if let Err(e) = schedules::run(&worker, fence).await {
            warn!(error = %format!("{e:#}"), "firing schedules failed");
            reconciler.suspect = true;
        }
        if let Err(e) = conveyor_shared::db::stats::fold_counters(&worker.pool).await {
            warn!(error = %e, "folding counters failed");
        }
        reconciler.tick(&worker, sentinel, &config).await;
        if last_retention.is_none_or(|t| t.elapsed() >= RETENTION_EVERY) {
            last_retention = Some(Instant::now());
            if let Err(e) = retention::run(&worker, fence, checked_at).await {
                warn!(error = %format!("{e:#}"), "retention failed");
            }
        }
    }
    reconciler.stop();
    if epoch.is_some() {
        let _ = worker.queue.release_leadership(&worker.id).await;
        info!(worker = %worker.id, "released housekeeping lease");
        metrics::leadership_changed(false);
    }
}

/// Runs the leader's reconciles in a task beside the tick, one at a time, and
/// picks how much each reads (see `reconcile`).
struct Reconciler {
    task: Option<JoinHandle<anyhow::Result<reconcile::Report>>>,
    /// When the last finished reconcile began: the next quick one reads the
    /// jobs submitted since then.
    covered: Option<DateTime<Utc>>,
    last_run: Option<Instant>,
    last_full: Instant,
    /// Redis or a write of the leader failed since the last full reconcile.
    suspect: bool,
}

impl Reconciler {
    fn new() -> Self {
        Self {
            task: None,
            covered: None,
            last_run: None,
            last_full: Instant::now(),
            suspect: false,
        }
    }

    /// On becoming leader: the first tick asks Redis what the last leader
    /// covered. If Redis vouches for itself (its sentinel is there), the
    /// first quick reconcile waits one interval, as it would have under the
    /// last leader: run at once it would read every job still waiting that
    /// was submitted since the last reconcile, which is the whole backlog
    /// when workers start on one. Without the sentinel the rebuild starts at
    /// once (`next_scope`).
    fn start(&mut self) {
        self.stop();
        let suspect = self.suspect;
        *self = Self::new();
        self.suspect = suspect;
        self.last_run = Some(Instant::now());
    }

    /// On losing leadership or shutting down.
    fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    async fn tick(&mut self, worker: &Arc<Worker>, sentinel: bool, config: &HousekeepingConfig) {
        if let Some(task) = self.task.take_if(|t| t.is_finished()) {
            match task.await {
                Ok(Ok(report)) => self.finished(report),
                Ok(Err(e)) => {
                    warn!(error = %format!("{e:#}"), "reconcile failed");
                    self.suspect = true;
                }
                Err(e) => warn!(error = %e, "reconcile task failed"),
            }
        }
        if self.task.is_some() {
            return;
        }
        let Some(scope) = self.next_scope(worker, sentinel, config).await else {
            return;
        };
        let worker = Arc::clone(worker);
        self.last_run = Some(Instant::now());
        self.task = Some(tokio::spawn(
            async move { reconcile::run(&worker, scope).await },
        ));
    }

    fn finished(&mut self, report: reconcile::Report) {
        if report.sentinel {
            self.covered = Some(report.began);
        }
        if report.scope == reconcile::Scope::Full {
            self.last_full = Instant::now();
            self.suspect = false;
        }
    }

    async fn next_scope(
        &mut self,
        worker: &Worker,
        sentinel: bool,
        config: &HousekeepingConfig,
    ) -> Option<reconcile::Scope> {
        use reconcile::Scope;
        let full_due = self.suspect || self.last_full.elapsed() >= config.reconcile_full_every;
        if !sentinel {
            // Redis lost its data (or never had it): rebuild at once.
            if self.covered.take().is_some() {
                warn!("Redis lost its data; rebuilding it from Postgres");
            }
            return Some(if full_due {
                Scope::Full
            } else {
                Scope::Rebuild
            });
        }
        if full_due {
            return Some(Scope::Full);
        }
        if self.covered.is_none() {
            match worker.queue.reconciled_through().await {
                Ok(Some(through)) => self.covered = Some(through),
                Ok(None) => return Some(Scope::Rebuild),
                Err(e) => {
                    warn!(error = %format!("{e:#}"), "reading the reconcile sentinel failed");
                    return None;
                }
            }
        }
        let since = self.covered?;
        let due = self
            .last_run
            .is_none_or(|t| t.elapsed() >= config.reconcile_every);
        due.then_some(Scope::Quick { since })
    }
}
