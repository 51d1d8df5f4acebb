//! The webhook delivery loop. Every worker runs one unless started with
//! `WORKER_WEBHOOKS=0`; the loops share the work through Postgres.
//!
//! Deliveries are rows of `webhook_deliveries`, created in the transaction
//! that finished the job (a trigger; see migrations/0009_webhooks.sql), so
//! job processing never waits for a receiver. Each tick the loop
//!
//! 1. turns run checks into `workflow_run.finished` deliveries for the runs
//!    whose jobs have all finished, and
//! 2. claims due pending deliveries (`for update skip locked`, as many as it
//!    has free slots) and POSTs each in its own task, at most
//!    `WEBHOOK_CONCURRENCY` at once, each bounded by `WEBHOOK_TIMEOUT_SECS`.
//!
//! It polls (every `WEBHOOK_POLL_MS`, 1 s by default) rather than waiting on
//! LISTEN/NOTIFY: a NOTIFY in the trigger would take a cluster-wide lock at
//! every commit that finishes jobs, and the finisher's throughput matters
//! more than shaving a second off a webhook's latency. A due-pending scan on
//! a partial index costs next to nothing when there is nothing to send.
//!
//! A 2xx answer succeeds the delivery. Anything else is retried after
//! `WEBHOOK_BACKOFF_BASE_MS` doubling per attempt, with jitter, capped at an
//! hour, until `WEBHOOK_MAX_ATTEMPTS` attempts, and then the delivery fails.
//! A claimed delivery is not due again for the timeout plus 30 s, so one
//! whose sender died is sent again then (delivery is at least once;
//! receivers deduplicate on `Conveyor-Delivery`).

mod send;

use std::sync::Arc;
use std::time::Duration;

use conveyor_shared::config::WebhookConfig;
use conveyor_shared::db::webhooks::{self as sql, AttemptOutcome, Claimed, DeliveryStatus};
use conveyor_shared::model::{backoff_delay, Backoff};
use rand::Rng;
use sqlx::PgPool;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// Longest delay between two attempts.
const BACKOFF_CAP_MS: i32 = 3_600_000;
/// Most deliveries claimed in one statement.
const MAX_CLAIM: usize = 100;
/// Run checks handled per statement, and statements per tick.
const RUN_CHECKS: i64 = 500;
const RUN_CHECK_ROUNDS: usize = 10;
/// How long a claimed delivery stays with its sender beyond the timeout.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// What every delivery task shares: the pool, one HTTP client (one
/// connection pool) and the settings.
struct Sender {
    pool: PgPool,
    client: reqwest::Client,
    outbound: Arc<conveyor_shared::outbound::OutboundPolicy>,
    config: WebhookConfig,
}

/// Starts the loop unless this worker has webhooks turned off. It stops
/// claiming when `stop` is cancelled and lets the attempts in flight finish
/// (each is bounded by the timeout); join the handle to wait for that.
pub(crate) fn spawn(
    config: &WebhookConfig,
    outbound: &Arc<conveyor_shared::outbound::OutboundPolicy>,
    pool: PgPool,
    stop: CancellationToken,
) -> Option<JoinHandle<()>> {
    if !config.enabled {
        info!("webhook deliveries are off on this worker (WORKER_WEBHOOKS=0)");
        return None;
    }
    // Receivers are reached only where the outbound policy allows.
    let client = match crate::outbound::client_builder(outbound)
        .timeout(config.timeout)
        .connect_timeout(config.timeout)
        // A redirect is an answer that is not 2xx: the receiver should
        // give its final URL rather than have signed bodies forwarded.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Conveyor-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(client) => client,
        Err(e) => {
            warn!(error = %e, "cannot build the webhook HTTP client; this worker sends no webhooks");
            return None;
        }
    };
    let sender = Arc::new(Sender {
        pool,
        client,
        outbound: outbound.clone(),
        config: config.clone(),
    });
    Some(tokio::spawn(run(sender, stop)))
}

async fn run(sender: Arc<Sender>, stop: CancellationToken) {
    let slots = Arc::new(Semaphore::new(sender.config.concurrency));
    let mut in_flight: JoinSet<()> = JoinSet::new();
    let mut ticker = tokio::time::interval(sender.config.poll_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.cancelled() => break,
        }
        while in_flight.try_join_next().is_some() {}
        if let Err(e) = check_runs(&sender.pool).await {
            warn!(error = %e, "could not check finished workflow runs for webhooks");
        }
        if let Err(e) = claim_and_send(&sender, &slots, &mut in_flight).await {
            warn!(error = %e, "could not claim webhook deliveries");
        }
    }
    let wait = sender.config.timeout + Duration::from_secs(5);
    let drained = tokio::time::timeout(wait, async {
        while in_flight.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        // Their claims lapse and another sender retries them.
        warn!(
            count = in_flight.len(),
            "gave up waiting for webhook attempts in flight"
        );
        in_flight.abort_all();
    }
}

/// Creates the `workflow_run.finished` deliveries of runs that ended.
async fn check_runs(pool: &PgPool) -> sqlx::Result<()> {
    for _ in 0..RUN_CHECK_ROUNDS {
        let (taken, created) = sql::process_run_checks(pool, RUN_CHECKS).await?;
        if created > 0 {
            debug!(created, "workflow_run.finished deliveries created");
        }
        if taken < RUN_CHECKS {
            break;
        }
    }
    Ok(())
}

/// Claims as many due deliveries as there are free slots and starts them.
async fn claim_and_send(
    sender: &Arc<Sender>,
    slots: &Arc<Semaphore>,
    in_flight: &mut JoinSet<()>,
) -> sqlx::Result<()> {
    let lease_ms = (sender.config.timeout + LEASE_MARGIN).as_millis() as i64;
    loop {
        let want = slots.available_permits().min(MAX_CLAIM);
        if want == 0 {
            return Ok(());
        }
        let claimed = sql::claim_due(&sender.pool, want as i64, lease_ms).await?;
        let got = claimed.len();
        for delivery in claimed {
            // Only this loop takes slots, so one is free for each claim.
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return Ok(());
            };
            in_flight.spawn(attempt(sender.clone(), delivery, permit));
        }
        if got < want {
            return Ok(());
        }
    }
}

/// Sends one delivery and records how it went.
async fn attempt(sender: Arc<Sender>, delivery: Claimed, _slot: OwnedSemaphorePermit) {
    let sent = send::send(
        &sender.client,
        &sender.outbound,
        &delivery,
        sender.config.timeout,
    )
    .await;
    let outcome = decide(&sender.config, &delivery, &sent, rand::thread_rng().gen());
    let mut failures = 0u32;
    let recorded = loop {
        match sql::record_attempt(&sender.pool, &outcome).await {
            Ok(changed) => break Some(changed),
            Err(e) if failures < 5 => {
                failures += 1;
                warn!(delivery_id = %delivery.id, error = %e, "could not record a webhook attempt; retrying");
                tokio::time::sleep(Duration::from_millis(200 << failures)).await;
            }
            Err(e) => {
                // The claim lapses and the delivery is sent again.
                warn!(delivery_id = %delivery.id, error = %e, "could not record a webhook attempt");
                break None;
            }
        }
    };
    let (webhook_id, delivery_id, event) = (delivery.webhook_id, delivery.id, &delivery.event);
    let (attempt, duration_ms) = (delivery.attempts, outcome.duration_ms);
    let code = sent.status_code;
    let error = sent.error.as_deref().unwrap_or_default();
    match (recorded, outcome.status) {
        (Some(false), _) => {
            info!(%webhook_id, %delivery_id, attempt,
                  "webhook attempt finished after the delivery was redelivered or retaken; outcome not kept")
        }
        (_, DeliveryStatus::Succeeded) => {
            debug!(%webhook_id, %delivery_id, event, attempt, status_code = code, duration_ms,
                   "webhook delivered")
        }
        (_, DeliveryStatus::Pending) => {
            info!(%webhook_id, %delivery_id, event, attempt, status_code = code, error,
                  retry_in_ms = outcome.retry_in.map(|d| d.as_millis() as u64),
                  "webhook attempt failed; will retry")
        }
        (_, DeliveryStatus::Failed) => {
            warn!(%webhook_id, %delivery_id, event, attempt, status_code = code, error,
                  "webhook delivery failed for good: no attempts left")
        }
    }
}

/// Where an attempt leaves its delivery: succeeded on 2xx; else retried
/// after the backoff (`unit` is the jitter draw, in [0, 1)) while attempts
/// remain, failed when none do.
fn decide(
    config: &WebhookConfig,
    delivery: &Claimed,
    sent: &send::Sent,
    unit: f64,
) -> AttemptOutcome {
    let made = delivery.attempts - delivery.attempt_base;
    let (status, retry_in) = if sent.ok {
        (DeliveryStatus::Succeeded, None)
    } else if sent.refused || made >= config.max_attempts {
        (DeliveryStatus::Failed, None)
    } else {
        let base_ms = i32::try_from(config.backoff_base.as_millis()).unwrap_or(BACKOFF_CAP_MS);
        let backoff = Backoff {
            base_ms,
            max_ms: BACKOFF_CAP_MS.max(base_ms),
        };
        (
            DeliveryStatus::Pending,
            Some(backoff_delay(backoff, made, unit)),
        )
    };
    AttemptOutcome {
        id: delivery.id,
        attempt: delivery.attempts,
        status,
        retry_in,
        status_code: sent.status_code.map(i32::from),
        error: sent.error.clone(),
        response_excerpt: sent.excerpt.clone(),
        duration_ms: i32::try_from(sent.duration.as_millis()).unwrap_or(i32::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use conveyor_shared::db::webhooks::Secret;

    fn config() -> WebhookConfig {
        WebhookConfig {
            enabled: true,
            timeout: Duration::from_secs(10),
            max_attempts: 3,
            backoff_base: Duration::from_millis(10_000),
            poll_interval: Duration::from_secs(1),
            concurrency: 4,
        }
    }

    fn claimed(attempts: i32, attempt_base: i32) -> Claimed {
        Claimed {
            id: uuid::Uuid::now_v7(),
            webhook_id: uuid::Uuid::now_v7(),
            event: "job.dead".into(),
            payload: serde_json::json!({}),
            attempts,
            attempt_base,
            url: "http://127.0.0.1:9/".into(),
            secret: Secret::new("whsec_x"),
        }
    }

    fn sent(code: Option<u16>) -> send::Sent {
        let ok = code.is_some_and(|c| (200..300).contains(&c));
        send::Sent {
            ok,
            status_code: code,
            error: (!ok).then(|| "HTTP 500".to_owned()),
            excerpt: None,
            duration: Duration::from_millis(3),
            refused: false,
        }
    }

    #[test]
    fn a_2xx_succeeds_and_is_not_retried() {
        let outcome = decide(&config(), &claimed(1, 0), &sent(Some(204)), 0.5);
        assert_eq!(outcome.status, DeliveryStatus::Succeeded);
        assert_eq!(outcome.retry_in, None);
        assert_eq!(outcome.status_code, Some(204));
    }

    #[test]
    fn a_failure_is_retried_with_doubling_backoff_until_attempts_run_out() {
        let first = decide(&config(), &claimed(1, 0), &sent(Some(500)), 0.99);
        assert_eq!(first.status, DeliveryStatus::Pending);
        assert_eq!(first.retry_in, Some(Duration::from_secs(10)));
        let second = decide(&config(), &claimed(2, 0), &sent(None), 0.999_999);
        assert_eq!(second.status, DeliveryStatus::Pending);
        assert!(second.retry_in.is_some_and(|d| d > Duration::from_secs(19)));
        let last = decide(&config(), &claimed(3, 0), &sent(Some(500)), 0.5);
        assert_eq!(last.status, DeliveryStatus::Failed);
        assert_eq!(last.retry_in, None);
    }

    #[test]
    fn a_redelivery_gets_a_fresh_budget() {
        let outcome = decide(&config(), &claimed(4, 3), &sent(Some(500)), 0.0);
        assert_eq!(outcome.status, DeliveryStatus::Pending);
    }
}
