//! Keeps the container engine of a worker that runs `docker` jobs tidy. Every
//! such worker runs it (an engine belongs to one host, so the housekeeping
//! leader cannot reach the others'), at start and every
//! `WORKER_DOCKER_SWEEP_SECS`:
//!
//! * **sweep**: removes the containers of this scope (`REDIS_PREFIX`) whose
//!   attempt is over: the job is no longer running that attempt on a live
//!   lease. That is a container a killed worker left behind (the job runs
//!   again elsewhere once its lease is reclaimed), or one that came up after
//!   its attempt was cancelled.
//! * **prune**: removes the images built from Dockerfiles, and the cached
//!   Dockerfiles, unused for `WORKER_DOCKER_CACHE_TTL_SECS`. An image a
//!   container still uses is kept (`rmi` without force) and tried again next
//!   time.

use std::collections::HashSet;
use std::process::Stdio;

use anyhow::Context;
use sqlx::PgPool;
use tokio::process::Command;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::args::{image_tag, inspect_args, list_args, parse_container_name, remove_image_args};
use super::cache::Cache;
use super::{remove_container, DockerSettings, QUICK_COMMAND_TIMEOUT};

/// Runs the sweep and the pruning until `shutdown`.
pub(crate) fn spawn(
    settings: DockerSettings,
    pool: PgPool,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let every = settings.limits.sweep_every;
        loop {
            match sweep(&settings, &pool).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(removed = n, "removed containers of attempts that are over")
                }
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "container sweep failed"),
            }
            let pruned = prune(&settings).await;
            if pruned > 0 {
                tracing::info!(pruned, "pruned unused job images and Dockerfiles");
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    })
}

/// Runs a quick CLI command and returns its stdout when it succeeds.
async fn output(settings: &DockerSettings, args: Vec<String>) -> anyhow::Result<String> {
    let mut command = Command::new(&settings.bin);
    command
        .args(&args)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let out = tokio::time::timeout(QUICK_COMMAND_TIMEOUT, command.output())
        .await
        .with_context(|| format!("`{}` did not answer", args.join(" ")))?
        .with_context(|| format!("running {}", settings.bin.display()))?;
    if !out.status.success() {
        anyhow::bail!(
            "`{}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Removes this scope's containers whose attempt is over; returns how many.
pub(crate) async fn sweep(settings: &DockerSettings, pool: &PgPool) -> anyhow::Result<usize> {
    let listed = output(settings, list_args(&settings.scope)).await?;
    let containers: Vec<(&str, uuid::Uuid, i32)> = listed
        .lines()
        .filter_map(|name| {
            let (job, attempt) = parse_container_name(name)?;
            Some((name.trim(), job, attempt))
        })
        .collect();
    if containers.is_empty() {
        return Ok(0);
    }
    let ids: Vec<uuid::Uuid> = containers.iter().map(|(_, job, _)| *job).collect();
    let live: HashSet<(uuid::Uuid, i32)> = conveyor_shared::db::claims::live_attempts(pool, &ids)
        .await
        .context("reading the attempts that are running")?
        .into_iter()
        .collect();
    let mut removed = 0;
    for (name, job, attempt) in containers {
        if !live.contains(&(job, attempt)) {
            tracing::info!(container = name, %job, attempt, "removing the container of an attempt that is over");
            remove_container(&settings.bin, name).await;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Removes the images and cached Dockerfiles unused for the TTL; returns
/// how many digests were pruned.
pub(crate) async fn prune(settings: &DockerSettings) -> usize {
    let cache = Cache::new(&settings.cache_dir);
    let mut pruned = 0;
    for digest in cache.unused_for(settings.limits.cache_ttl).await {
        let tag = image_tag(&digest);
        if let Err(e) = output(settings, remove_image_args(&tag)).await {
            tracing::debug!(%tag, error = %format!("{e:#}"), "rmi");
        }
        if output(settings, inspect_args(&tag)).await.is_ok() {
            // Still there: a container uses it. Kept until a later round.
            continue;
        }
        match cache.forget(&digest).await {
            Ok(()) => pruned += 1,
            Err(e) => tracing::warn!(%digest, error = %e, "cannot remove a cached Dockerfile"),
        }
    }
    pruned
}
