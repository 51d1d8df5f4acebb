//! The Conveyor worker: claims job ids from Redis, claims the jobs in
//! Postgres, runs them with the executor of their kind, and records each
//! attempt. `main.rs` only parses configuration and calls [`run`].

pub mod executors;
mod finisher;
mod heartbeat;
mod housekeeping;
mod metrics;
mod outbound;
mod redis_writer;
mod runner;
mod webhooks;

use std::sync::Arc;

use anyhow::Context;
use conveyor_shared::config::WorkerConfig;
use conveyor_shared::executor::Registry;
use conveyor_shared::queue::RedisQueue;
use conveyor_shared::{clock::Clock, db};
use tokio_util::sync::CancellationToken;

pub use heartbeat::UNHEALTHY;
pub use runner::Worker;

/// The built-in kinds, configured for this worker.
pub fn builtin_registry(config: &WorkerConfig) -> Registry {
    let mut registry = Registry::new();
    let outbound = std::sync::Arc::new(config.common.outbound.clone());
    executors::register_builtins(
        &mut registry,
        config.allow_shell,
        executors::shell_user(config.shell_user),
        config.allow_docker,
        docker_settings(config, &outbound),
        outbound,
    );
    registry
}

fn docker_settings(
    config: &WorkerConfig,
    outbound: &std::sync::Arc<conveyor_shared::outbound::OutboundPolicy>,
) -> executors::DockerSettings {
    executors::DockerSettings {
        outbound: outbound.clone(),
        bin: config.docker_bin.clone(),
        cache_dir: config.docker_cache_dir.clone(),
        s3_endpoint: config.docker_s3_endpoint.clone(),
        scope: config.common.redis_prefix.clone(),
        limits: config.docker.clone(),
    }
}

/// Connects, registers this worker's kinds, and runs until `shutdown` is
/// cancelled; then stops claiming, lets running jobs finish within the grace
/// period, hands the rest back to the queue, and returns. Serves `/metrics`
/// on `WORKER_METRICS_ADDR` unless that is `off`; a port that cannot be
/// bound stops start-up at once.
pub async fn run(
    config: WorkerConfig,
    registry: Registry,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let metrics = match config.metrics_addr {
        Some(addr) => Some(metrics::bind(addr).await?),
        None => None,
    };
    run_with_metrics(config, registry, metrics, shutdown).await
}

/// [`run`], serving `/metrics` on a listener the caller bound (`None`: no
/// listener) instead of binding `WORKER_METRICS_ADDR`. Tests bind port 0 and
/// read the address from the listener.
pub async fn run_with_metrics(
    config: WorkerConfig,
    registry: Registry,
    metrics: Option<tokio::net::TcpListener>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    conveyor_shared::metrics::install();
    if config.allow_shell || config.allow_docker {
        executors::protect_process();
    }
    // Served from start-up to return, whichever way `run` returns.
    let metrics_stop = CancellationToken::new();
    let _stop_metrics_on_return = metrics_stop.clone().drop_guard();
    if let Some(listener) = metrics {
        metrics::serve(listener, config.common.metrics_token.clone(), metrics_stop)?;
    }
    let pool = db::connect_and_migrate_within(
        &config.common.database_url,
        config.common.db_max_connections,
        config.common.startup_timeout,
        config.common.db_statement_timeout,
    )
    .await?;
    let queue = RedisQueue::new(
        &config.common.redis_url,
        &config.common.redis_prefix,
        config.concurrency.min(64) + 8,
    )?;
    let started = std::time::Instant::now();
    let mut wait = std::time::Duration::from_millis(250);
    while let Err(e) = queue.ping().await {
        if started.elapsed() + wait >= config.common.startup_timeout {
            return Err(e.context(format!(
                "cannot reach REDIS_URL ({})",
                conveyor_shared::secrets::redact_url(&config.common.redis_url)
            )));
        }
        tracing::warn!(error = %format!("{e:#}"), "waiting for Redis");
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(std::time::Duration::from_secs(2));
    }
    db::kinds::register(&pool, &registry.kinds())
        .await
        .context("registering this worker's kinds")?;
    // Webhook deliveries stop with the claim loop; their attempts in flight
    // finish (bounded by WEBHOOK_TIMEOUT_SECS) while running jobs drain.
    let webhooks = webhooks::spawn(
        &config.webhooks,
        &std::sync::Arc::new(config.common.outbound.clone()),
        pool.clone(),
        shutdown.clone(),
    );
    // Containers a killed worker left behind, and unused images: swept at
    // start and then periodically by every worker that runs docker jobs.
    let janitor = config.allow_docker.then(|| {
        executors::docker_janitor(
            docker_settings(
                &config,
                &std::sync::Arc::new(config.common.outbound.clone()),
            ),
            pool.clone(),
            shutdown.clone(),
        )
    });
    let worker = Arc::new(Worker::new(config, registry, pool, queue, Clock::system()));
    let result = worker.run(shutdown).await;
    if let Some(janitor) = janitor {
        let _ = janitor.await;
    }
    if let Some(webhooks) = webhooks {
        if let Err(e) = webhooks.await {
            tracing::warn!(error = %e, "webhook delivery loop failed");
        }
    }
    result
}

/// Fires every schedule due at `clock`'s now, as the housekeeping leader
/// holding epoch `fence` does at each tick (with the default misfire grace).
/// Returns how many jobs it created. Tests call it with a manual clock.
pub async fn fire_due_schedules(
    pool: &sqlx::PgPool,
    queue: &RedisQueue,
    clock: &Clock,
    fence: i64,
) -> anyhow::Result<usize> {
    use conveyor_shared::model::schedule::MISFIRE_GRACE;
    housekeeping::schedules::fire_due(pool, queue, clock, fence, MISFIRE_GRACE).await
}
