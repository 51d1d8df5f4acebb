//! Stall diagnosis: what the jobs that are not final are waiting for
//! (expired leases, due jobs, open attempts per worker, the Redis keys).

use anyhow::Result;
use sqlx::PgPool;

/// What the jobs that are not final are waiting for: printed when the run
/// stalls or times out, before the workers are stopped.
pub async fn diagnose(pool: &PgPool, redis_url: &str, alive: &[(String, u32)]) {
    println!();
    println!("diagnosis (before stopping the workers):");
    let expired: Result<(i64, Option<f64>)> = sqlx::query_as(
        "select count(*), extract(epoch from now() - min(lease_expires_at))::float8
           from jobs where status = 'running' and lease_expires_at < now()",
    )
    .fetch_one(pool)
    .await
    .map_err(Into::into);
    match expired {
        Ok((count, oldest)) => println!(
            "  running jobs whose lease has expired: {count}{}",
            oldest.map_or(String::new(), |s| format!(" (oldest expired {s:.1} s ago)"))
        ),
        Err(e) => println!("  cannot query leases: {e:#}"),
    }
    let due: Vec<(String, i64, Option<f64>)> = sqlx::query_as(
        "select status::text, count(*), extract(epoch from now() - min(run_at))::float8
           from jobs where status in ('queued', 'scheduled') and run_at < now()
          group by 1 order by 1",
    )
    .fetch_all(pool)
    .await
    .unwrap_or_default();
    for (status, count, oldest) in due {
        println!(
            "  {status} jobs already due: {count} (oldest due {:.1} s ago)",
            oldest.unwrap_or(0.0)
        );
    }
    let owners: Vec<(String, i64)> = sqlx::query_as(
        "select worker_id, count(*) from all_attempts where outcome = 'running'
          group by 1 order by 1",
    )
    .fetch_all(pool)
    .await
    .unwrap_or_default();
    for (worker_id, count) in owners {
        let who = alive
            .iter()
            .find(|(_, pid)| worker_id.contains(&format!("-{pid}-")))
            .map_or("not running".to_owned(), |(name, _)| {
                format!("{name}, alive")
            });
        println!("  open attempts of {worker_id} ({who}): {count}");
    }
    let keys = async {
        let client = redis::Client::open(redis_url)?;
        let mut c = client.get_multiplexed_async_connection().await?;
        let names: Vec<String> = redis::cmd("KEYS")
            .arg("chaos:*")
            .query_async(&mut c)
            .await?;
        let mut sizes = Vec::new();
        for name in names {
            let kind: String = redis::cmd("TYPE").arg(&name).query_async(&mut c).await?;
            let size: i64 = match kind.as_str() {
                "zset" => redis::cmd("ZCARD").arg(&name).query_async(&mut c).await?,
                "list" => redis::cmd("LLEN").arg(&name).query_async(&mut c).await?,
                "set" => redis::cmd("SCARD").arg(&name).query_async(&mut c).await?,
                "hash" => redis::cmd("HLEN").arg(&name).query_async(&mut c).await?,
                _ => 1,
            };
            sizes.push(format!("{name} ({kind}) {size}"));
        }
        sizes.sort();
        Ok::<_, anyhow::Error>(sizes)
    };
    match keys.await {
        Ok(sizes) if sizes.is_empty() => println!("  Redis: no chaos:* keys"),
        Ok(sizes) => println!("  Redis: {}", sizes.join(", ")),
        Err(e) => println!("  Redis: cannot read the keys: {e:#}"),
    }
}
