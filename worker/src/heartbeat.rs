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

/// Every third of a lease: extend the leases of running jobs in Postgres and
/// Redis, stop jobs whose lease is gone (cancelled or taken over), refresh
/// this worker's row in `workers`, touch the heartbeat file, and now and then
/// refresh this worker's kinds. The first beat is at once, so a worker is
/// listed from its start.
///
/// A beat that fails is tried again soon (100 ms, doubling up to a period),
/// not a whole period later: after an outage the leader reclaims leases once
/// it has reached Postgres for two periods (`housekeeping::reclaim`), and a
/// first beat that fails on a connection the outage broke must not use up
/// that grace.
pub(crate) async fn run(worker: Arc<Worker>, stop: CancellationToken) {
    let period = worker.config.heartbeat_every();
    let mut wait = Duration::ZERO;
    let mut beats: u64 = 0;
    let mut failures = 0u32;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.cancelled() => return,
        }
        let started = tokio::time::Instant::now();
        wait = match beat(&worker).await {
            Ok(()) => {
                failures = 0;
                period.saturating_sub(started.elapsed())
            }
            Err(e) => {
                failures += 1;
                let retry = Duration::from_millis(100u64 << failures.min(6)).min(period);
                warn!(error = %format!("{e:#}"), retry_in_ms = retry.as_millis() as u64,
                      "heartbeat failed");
                retry
            }
        };
        if failures > 0 {
            continue;
        }
        beats += 1;
        if beats % 20 == 1 {
            if let Err(e) = db::kinds::register(&worker.pool, &worker.registry.kinds()).await {
                warn!(error = %e, "could not refresh registered kinds");
            }
        }
    }
}

/// How the heartbeat file starts when the worker reports itself unhealthy.
pub const UNHEALTHY: &str = "unhealthy";

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
    // Leases first: they are what an outage puts at risk.
    renew_leases(worker).await?;
    db::workers::heartbeat(&worker.pool, &worker.registration()).await?;
    Ok(())
}

/// Extends in Postgres the leases due for renewal, stops the jobs whose lease
/// is gone, and pushes the renewed deadlines to Redis's in-flight set.
async fn renew_leases(worker: &Worker) -> anyhow::Result<()> {
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
    // Redis's deadline only makes a job a candidate for the leader's
    // reclaim, which reads the lease in Postgres: a silent Redis must not
    // hold up the next renewal, so it gets half a period.
    let bound = worker.config.heartbeat_every() / 2;
    match tokio::time::timeout(bound, worker.queue.extend(&items, deadline)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            warn!(error = %format!("{e:#}"), "could not extend in-flight entries in Redis")
        }
        Err(_) => warn!(
            timeout_ms = bound.as_millis() as u64,
            "Redis did not extend in-flight entries in time"
        ),
    }
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
    use conveyor_shared::testing::TestEnv;

    #[tokio::test]
    async fn a_finisher_stuck_for_over_a_lease_makes_the_heartbeat_file_say_unhealthy() {
        let env = TestEnv::new().await;
        let file = std::env::temp_dir().join(format!("conveyor-heartbeat-{}", Uuid::new_v4()));
        let path = file.to_string_lossy().into_owned();
        // A lease of 3 s.
        let clock = Clock::manual(chrono::Utc::now());
        let worker = Worker::for_test(
            &env,
            &[("WORKER_HEARTBEAT_FILE", &path)],
            env.pool.clone(),
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

    #[tokio::test]
    async fn a_beat_that_fails_is_tried_again_long_before_the_next_period() {
        let env = TestEnv::new().await;
        let proxy = conveyor_shared::testing::Proxy::start(env.postgres_addr()).await;
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_millis(500))
            .connect_lazy(&proxy.url_for(&env.database_url))
            .expect("pool");
        // A 30 s lease: a beat every 10 s.
        let worker = Arc::new(Worker::for_test(
            &env,
            &[("WORKER_LEASE_SECS", "30")],
            pool,
            Clock::system(),
        ));
        // A job this worker runs, its lease due for renewal (it ends in a
        // minute; the beat would set it to 30 s from now).
        let job = crate::finisher::tests::running_job(&env, worker.id()).await;
        let lease_of = || async {
            sqlx::query_scalar::<_, DateTime<Utc>>(
                "select lease_expires_at from jobs where id = $1",
            )
            .bind(job.id)
            .fetch_one(&env.pool)
            .await
            .expect("lease")
        };
        let first_lease = lease_of().await;
        worker.running.lock().expect("running").insert(
            (job.id, job.attempt),
            crate::runner::Running {
                queue: job.queue.clone(),
                cancel: CancellationToken::new(),
                reason: Default::default(),
                span: tracing::Span::none(),
                leased_at: Utc::now() - chrono::Duration::minutes(1),
            },
        );

        // Postgres is gone when the first beat comes, and back 1.5 s later.
        proxy.cut();
        let stop = CancellationToken::new();
        let beating = tokio::spawn(run(worker.clone(), stop.clone()));
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(lease_of().await, first_lease, "no beat reached Postgres");
        proxy.restore();

        // The failed beat is tried again within moments, not 10 s later.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let lease = lease_of().await;
            if lease != first_lease {
                assert!(lease < first_lease, "renewed to 30 s from now: {lease}");
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the lease was not renewed within 5 s of Postgres coming back"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stop.cancel();
        beating.await.expect("heartbeat");
        env.cleanup().await;
    }
}
