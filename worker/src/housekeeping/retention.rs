//! Deletes finished jobs (and their attempts) and webhook deliveries past
//! their retention age, in small batches so no statement holds locks for long.

use chrono::{DateTime, Utc};
use conveyor_shared::db::housekeeping as sql;
use conveyor_shared::model::JobStatus;
use tracing::info;

use crate::runner::Worker;

const BATCH: i64 = 1_000;
/// Most batches per pass; the next pass goes on.
const MAX_BATCHES: usize = 20;

/// `pg_now`: PostgreSQL's clock at this tick's epoch check.
pub(super) async fn run(worker: &Worker, fence: i64, pg_now: DateTime<Utc>) -> anyhow::Result<()> {
    let config = &worker.config.housekeeping;
    let rules = [
        (JobStatus::Succeeded, config.keep_succeeded_days),
        (JobStatus::Cancelled, config.keep_succeeded_days),
        (JobStatus::Skipped, config.keep_succeeded_days),
        (JobStatus::Dead, config.keep_dead_days),
    ];
    for (status, days) in rules {
        let mut deleted = 0;
        let mut after = None;
        for _ in 0..MAX_BATCHES {
            let (n, last) =
                sql::delete_finished(&worker.pool, fence, status, days, pg_now, after, BATCH)
                    .await?;
            deleted += n;
            after = last;
            if (n as i64) < BATCH {
                break;
            }
        }
        if deleted > 0 {
            info!(
                status = status.as_str(),
                deleted, days, "deleted old finished jobs"
            );
        }
    }
    // Webhook deliveries (with their attempts) live as long as succeeded jobs.
    let mut deleted = 0;
    for _ in 0..MAX_BATCHES {
        let n = conveyor_shared::db::webhooks::delete_old_deliveries(
            &worker.pool,
            fence,
            config.keep_succeeded_days,
            BATCH,
        )
        .await?;
        deleted += n;
        if (n as i64) < BATCH {
            break;
        }
    }
    if deleted > 0 {
        info!(
            deleted,
            days = config.keep_succeeded_days,
            "deleted old webhook deliveries"
        );
    }
    conveyor_shared::db::stats::prune_counters(&worker.pool).await?;
    let expired = conveyor_shared::db::tokens::delete_expired_sessions(&worker.pool, BATCH).await?;
    if expired > 0 {
        info!(expired, "deleted expired dashboard sessions");
    }
    let pruned = conveyor_shared::db::workers::prune(&worker.pool).await?;
    if pruned > 0 {
        info!(pruned, "forgot workers silent for an hour");
    }
    Ok(())
}
