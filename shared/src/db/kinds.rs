//! The `job_kinds` table: which kinds some worker can run.

use sqlx::PgPool;

/// Records that this worker runs `kinds`.
pub async fn register(pool: &PgPool, kinds: &[String]) -> sqlx::Result<()> {
    sqlx::query(
        "insert into job_kinds (name) select * from unnest($1::text[])
         on conflict (name) do update set last_seen_at = now()",
    )
    .bind(kinds)
    .execute(pool)
    .await?;
    Ok(())
}

/// Every kind any worker has registered.
pub async fn all<'e>(exec: impl sqlx::PgExecutor<'e>) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("select name from job_kinds order by name")
        .fetch_all(exec)
        .await
}
