//! Keeping leases alive, and noticing cancelled jobs.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use conveyor_shared::db::{self, claims};
use conveyor_shared::model::JobStatus;
use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};
use uuid::Uuid;

use crate::runner::{AttemptKey, StopReason, Worker};

/// Every third of a lease: refresh this worker's row in `workers`, extend the
/// leases of running jobs in Postgres and Redis, stop jobs whose lease is gone
/// (cancelled or taken over), touch the heartbeat file, and now and then
/// refresh this worker's kinds. The first beat is at once, so a worker is
/// listed from its start.
/// How the heartbeat file starts when the worker reports itself unhealthy.
pub const UNHEALTHY: &str = "unhealthy";

pub(crate) async fn run(worker: Arc<Worker>, stop: CancellationToken) {
    let period = worker.config.heartbeat_every();
    let mut ticker = tokio::time::interval(period);
    let mut beats: u64 = 0;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.cancelled() => return,
        }
        beats += 1;
        if let Err(e) = beat(&worker).await {
            warn!(error = %format!("{e:#}"), "heartbeat failed");
        }
        if beats % 20 == 1 {
            if let Err(e) = db::kinds::register(&worker.pool, &worker.registry.kinds()).await {
                warn!(error = %e, "could not refresh registered kinds");
            }
        }
    }
}

async fn beat(worker: &Worker) -> anyhow::Result<()> {
    // The file says the process is alive, whatever Postgres is doing, unless
    // its finisher has been unable to record outcomes for over a lease: then
    // it says so, and `conveyor-worker healthcheck` fails.
    let stuck = worker.finisher_is_stuck();
    if stuck {
        warn!("the finisher has not recorded outcomes for over a lease; reporting unhealthy");
    }
    if let Some(path) = &worker.config.heartbeat_file {
        let now = worker.clock.now().to_rfc3339();
        let stamp = if stuck {
            format!("{UNHEALTHY}: finisher stuck for over a lease at {now}")
        } else {
            now
        };
        if let Err(e) = tokio::fs::write(path, stamp).await {
            warn!(error = %e, path = %path.display(), "cannot write heartbeat file");
        }
    }
    db::workers::heartbeat(&worker.pool, &worker.registration()).await?;
    let lease_ms = worker.config.lease.as_millis() as i64;
    let now = worker.clock.now();
    let renew_before = renew_before(now, worker.config.lease, worker.config.heartbeat_every());
    let items: Vec<(String, AttemptKey)> = {
        let running = worker.running.lock().unwrap_or_else(|e| e.into_inner());
        running
            .iter()
            .filter(|(_, r)| r.leased_at <= renew_before)
            .map(|(key, r)| (r.queue.clone(), *key))
            .collect()
    };
    if items.is_empty() {
        return Ok(());
    }
    let attempts: Vec<AttemptKey> = items.iter().map(|(_, key)| *key).collect();
    let held: HashSet<AttemptKey> =
        claims::extend_leases(&worker.pool, &attempts, &worker.id, lease_ms)
            .await?
            .into_iter()
            .collect();
    for key in attempts.iter().filter(|key| !held.contains(key)) {
        let (id, attempt) = *key;
        // Cancelled only if this very attempt was; an attempt whose job
        // moved on to a newer attempt lost its lease, whatever came after.
        let status = db::jobs::status_of_attempt(&worker.pool, id, attempt).await?;
        let reason = if status == Some(JobStatus::Cancelled) {
            StopReason::Cancelled
        } else {
            StopReason::LeaseLost
        };
        if let Some(job) = worker
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
        {
            job.span
                .in_scope(|| warn!(?reason, "lease no longer held; stopping the job"));
            job.stop(reason);
        }
    }
    {
        let mut running = worker.running.lock().unwrap_or_else(|e| e.into_inner());
        for key in &held {
            if let Some(job) = running.get_mut(key) {
                job.leased_at = now;
            }
        }
    }
    let items: Vec<(String, Uuid)> = items
        .into_iter()
        .filter(|(_, key)| held.contains(key))
        .map(|(queue, (id, _))| (queue, id))
        .collect();
    let deadline = now + chrono::Duration::milliseconds(lease_ms);
    worker.queue.extend(&items, deadline).await?;
    Ok(())
}

/// The beat at `now` renews the leases set at or before the instant this
/// returns. A lease set later still outlasts the beat after next by half a
/// period, so skipping it now costs nothing even if the next beat fails; a
/// job that ends within moments of its claim (most do) never has its lease
/// renewed, so the heartbeat writes nothing for it and never waits on the
/// finisher's lock of its row. With a lease of three periods (the default)
/// that skips leases set in the last half period; with a lease of at most
/// two and a half periods, none.
fn renew_before(now: DateTime<Utc>, lease: Duration, period: Duration) -> DateTime<Utc> {
    let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
    let period = chrono::Duration::from_std(period).unwrap_or(chrono::Duration::MAX);
    let must_outlast = period * 5 / 2;
    match lease.checked_sub(&must_outlast) {
        Some(spare) if spare > chrono::Duration::zero() => now - spare,
        _ => now,
    }
}

/// Subscribes to the cancels channel (ids of cancelled jobs, not every
/// status event: a worker would otherwise decode two events of every job
/// that any worker runs) and stops the running jobs named there. The
/// heartbeat catches any cancel missed while disconnected.
pub(crate) async fn listen_for_cancels(worker: Arc<Worker>, stop: CancellationToken) {
    let channel = worker.queue.keys().cancels();
    let mut failures = 0u32;
    loop {
        let session = async {
            let mut pubsub = worker.queue.client().get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            let mut messages = pubsub.on_message();
            while let Some(msg) = messages.next().await {
                let Ok(body) = msg.get_payload::<String>() else {
                    continue;
                };
                let Ok(ids) = serde_json::from_str::<Vec<Uuid>>(&body) else {
                    continue;
                };
                let running = worker.running.lock().unwrap_or_else(|e| e.into_inner());
                for id in ids {
                    let attempts = running.iter().filter(|((job, _), _)| *job == id);
                    for (_, job) in attempts {
                        job.span.in_scope(|| debug!("cancel requested"));
                        job.stop(StopReason::Cancelled);
                    }
                }
            }
            anyhow::Ok(())
        };
        tokio::select! {
            result = session => {
                if let Err(e) = result {
                    failures += 1;
                    warn!(error = %format!("{e:#}"), "event subscription lost; reconnecting");
                }
            }
            _ = stop.cancelled() => return,
        }
        let wait = Duration::from_millis((100u64 << failures.min(6)).min(5_000));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_renewed_unless_it_outlasts_the_beat_after_next_by_half_a_period() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let secs = Duration::from_secs;
        // The default: a 30 s lease, a beat every 10 s. A lease set 5 s ago
        // or earlier ends at most 25 s from now, half a period after the
        // beat after next: renew it now.
        assert_eq!(
            renew_before(now, secs(30), secs(10)),
            now - chrono::Duration::seconds(5)
        );
        // A lease of three half-second periods: 0.25 s of spare.
        assert_eq!(
            renew_before(now, Duration::from_millis(1500), Duration::from_millis(500)),
            now - chrono::Duration::milliseconds(250)
        );
        // Leases of 1.25 s or less (the period is at least 500 ms) leave no
        // spare: every lease is renewed at every beat.
        for lease_ms in [1250, 1000, 500, 100] {
            assert_eq!(
                renew_before(
                    now,
                    Duration::from_millis(lease_ms),
                    Duration::from_millis(500)
                ),
                now,
                "lease {lease_ms} ms"
            );
        }
    }
    use conveyor_shared::clock::Clock;
    use conveyor_shared::executor::Registry;
    use conveyor_shared::queue::RedisQueue;
    use conveyor_shared::testing::TestEnv;

    #[tokio::test]
    async fn a_finisher_stuck_for_over_a_lease_makes_the_heartbeat_file_say_unhealthy() {
        let env = TestEnv::new().await;
        let file = std::env::temp_dir().join(format!("conveyor-heartbeat-{}", Uuid::new_v4()));
        let path = file.to_string_lossy().into_owned();
        // A lease of 3 s.
        let config = env.worker_config(&[("WORKER_HEARTBEAT_FILE", &path)]);
        let queue = RedisQueue::new(&config.common.redis_url, &config.common.redis_prefix, 4)
            .expect("redis");
        let clock = Clock::manual(chrono::Utc::now());
        let worker = Worker::new(
            config,
            Registry::new(),
            env.pool.clone(),
            queue,
            clock.clone(),
        );
        let says_unhealthy = || {
            std::fs::read_to_string(&file)
                .expect("heartbeat file")
                .starts_with(UNHEALTHY)
        };
        beat(&worker).await.expect("beat");
        assert!(!says_unhealthy());

        worker.finisher_stuck(true);
        clock.advance(chrono::Duration::seconds(2));
        beat(&worker).await.expect("beat");
        assert!(!says_unhealthy(), "stuck for less than a lease");
        clock.advance(chrono::Duration::seconds(2));
        beat(&worker).await.expect("beat");
        assert!(says_unhealthy(), "stuck for over a lease");

        worker.finisher_stuck(false);
        beat(&worker).await.expect("beat");
        assert!(!says_unhealthy(), "recording again");
        let _ = std::fs::remove_file(&file);
        env.cleanup().await;
    }
}
