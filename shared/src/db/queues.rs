//! The `queues` table: per-queue settings (pausing).

use sqlx::PgPool;

/// Pauses or resumes `queue`; returns the new state.
pub async fn set_paused(pool: &PgPool, queue: &str, paused: bool) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "insert into queues (name, paused) values ($1, $2)
         on conflict (name) do update set paused = excluded.paused, updated_at = now()
         returning paused",
    )
    .bind(queue)
    .bind(paused)
    .fetch_one(pool)
    .await
}

/// Names of the paused queues.
pub async fn paused(pool: &PgPool) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("select name from queues where paused order by name")
        .fetch_all(pool)
        .await
}

/// Every queue with a settings row, and whether it is paused.
pub async fn all(pool: &PgPool) -> sqlx::Result<Vec<(String, bool)>> {
    sqlx::query_as("select name, paused from queues order by name")
        .fetch_all(pool)
        .await
}
