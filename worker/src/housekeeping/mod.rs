//! Housekeeping, run by one worker at a time: the holder of a lease in Redis,
//! fenced by an epoch in Postgres. One file per loop:
//!
//! * `promote`   — scheduled jobs that are due become queued;
//! * `schedules` — due schedules fire: each fire creates its job once;
//! * `reclaim`   — running jobs whose lease expired go back to the queue;
//! * `reconcile` — Redis holds exactly the waiting jobs Postgres has;
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

use conveyor_shared::db::housekeeping as sql;
use conveyor_shared::queue::Leadership;
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
    let mut last_reconcile: Option<Instant> = None;
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
                if epoch.take().is_some() {
                    warn!(error = %format!("{e:#}"), "lost Redis; no longer housekeeping leader");
                    metrics::leadership_changed(false);
                }
                continue;
            }
        };
        match (state, epoch) {
            (Leadership::Follower, Some(_)) => {
                info!(worker = %worker.id, "no longer housekeeping leader");
                metrics::leadership_changed(false);
                epoch = None;
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
                        last_reconcile = None;
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
                continue;
            }
            Err(e) => {
                health.failed();
                warn!(error = %e, "housekeeping: Postgres unavailable");
                continue;
            }
        };
        if let Err(e) = reclaim::run(&worker, fence, &health, checked_at, max_gap).await {
            health.failed();
            warn!(error = %format!("{e:#}"), "reclaiming expired leases failed");
        }
        if let Err(e) = promote::run(&worker, fence).await {
            warn!(error = %format!("{e:#}"), "promoting due jobs failed");
        }
        if let Err(e) = schedules::run(&worker, fence).await {
            warn!(error = %format!("{e:#}"), "firing schedules failed");
        }
        if let Err(e) = conveyor_shared::db::stats::fold_counters(&worker.pool).await {
            warn!(error = %e, "folding counters failed");
        }
        // A missing sentinel means Redis lost its data: reconcile at once.
        let due = last_reconcile.is_none_or(|t| t.elapsed() >= config.reconcile_every);
        if due || !sentinel {
            if !sentinel && last_reconcile.is_some() {
                warn!("Redis lost its data; rebuilding it from Postgres");
            }
            match reconcile::run(&worker).await {
                Ok(()) => last_reconcile = Some(Instant::now()),
                Err(e) => warn!(error = %format!("{e:#}"), "reconcile failed"),
            }
        }
        if last_retention.is_none_or(|t| t.elapsed() >= RETENTION_EVERY) {
            last_retention = Some(Instant::now());
            if let Err(e) = retention::run(&worker, fence).await {
                warn!(error = %format!("{e:#}"), "retention failed");
            }
        }
    }
    if epoch.is_some() {
        let _ = worker.queue.release_leadership(&worker.id).await;
        info!(worker = %worker.id, "released housekeeping lease");
        metrics::leadership_changed(false);
    }
}
