//! Keeping leases alive, and noticing cancelled jobs.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use conveyor_shared::db::{self, claims};
use conveyor_shared::events::StatusEvent;
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
    let items: Vec<(String, AttemptKey)> = {
        let running = worker.running.lock().unwrap_or_else(|e| e.into_inner());
        running
            .iter()
            .map(|(key, r)| (r.queue.clone(), *key))
            .collect()
    };
    if items.is_empty() {
        return Ok(());
    }
    let attempts: Vec<AttemptKey> = items.iter().map(|(_, key)| *key).collect();
    let lease_ms = worker.config.lease.as_millis() as i64;
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
    let items: Vec<(String, Uuid)> = items
        .into_iter()
        .filter(|(_, key)| held.contains(key))
        .map(|(queue, (id, _))| (queue, id))
        .collect();
    let deadline = worker.clock.now() + chrono::Duration::milliseconds(lease_ms);
    worker.queue.extend(&items, deadline).await?;
    Ok(())
}

/// Subscribes to status events and stops running jobs that were cancelled.
/// The heartbeat catches any event missed while disconnected.
pub(crate) async fn listen_for_cancels(worker: Arc<Worker>, stop: CancellationToken) {
    let channel = worker.queue.keys().events();
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
                let Ok(events) = serde_json::from_str::<Vec<StatusEvent>>(&body) else {
                    continue;
                };
                for event in events.iter().filter(|e| e.status == JobStatus::Cancelled) {
                    let running = worker.running.lock().unwrap_or_else(|e| e.into_inner());
                    let attempts = running.iter().filter(|((id, _), _)| *id == event.job_id);
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
