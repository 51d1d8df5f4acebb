//! The fault part of the hostile suite: PostgreSQL and Redis paused,
//! blackholed and restarted (cut) under load — a stream of submits through
//! an api and two workers, all behind the test support's fault proxies —
//! ending with every job succeeded exactly once.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::Stack;
use conveyor_shared::testing::{Fault, Proxy};
use serde_json::{json, Value};

const JOBS: usize = 120;

/// The faults, in order: (which server, what, for how long).
const SCRIPT: [(&str, Fault, u64); 6] = [
    ("postgres", Fault::Pause, 2),
    ("redis", Fault::Blackhole, 3),
    ("postgres", Fault::Cut, 2),
    ("redis", Fault::Pause, 2),
    ("postgres", Fault::Blackhole, 3),
    ("redis", Fault::Cut, 2),
];

#[tokio::test]
async fn postgres_and_redis_paused_blackholed_and_restarted_under_load_run_every_job_once() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_test_writer()
        .try_init();
    let mut stack = Stack::api_only().await;
    let pg = Proxy::start(stack.env.postgres_addr()).await;
    let redis = Proxy::start(stack.env.redis_addr()).await;
    let pg_url = pg.url_for(&stack.env.database_url);
    let redis_url = redis.url_for(&stack.env.redis_url);
    let through = [
        ("DATABASE_URL", pg_url.as_str()),
        ("REDIS_URL", redis_url.as_str()),
        ("HOUSEKEEPING_INTERVAL_MS", "100"),
        ("RECONCILE_INTERVAL_SECS", "1"),
        ("REQUEST_TIMEOUT_SECS", "3"),
    ];
    for _ in 0..2 {
        stack.add_worker(&through).await;
    }
    // A second api, the one the load goes through.
    let api = common::ExtraApi::start(&stack.env, &through).await;
    let base = api.base.clone();
    let ledger =
        std::env::temp_dir().join(format!("conveyor-load-{}", uuid::Uuid::new_v4().simple()));

    // The load: one job after another, each retried with its idempotency key
    // until the api says it is stored (201, or 200 for a replay).
    let http = stack.http.clone();
    let file = ledger.display().to_string();
    let load = tokio::spawn(async move {
        let mut ids = HashMap::new();
        let mut refused = 0usize;
        for n in 0..JOBS {
            let key = format!("load-{n}");
            let spec = json!({"kind": "shell", "idempotency_key": key, "max_attempts": 1,
                              "payload": {"argv": ["sh", "-c",
                                  format!("echo $CONVEYOR_JOB_ID >> {file}")]}});
            loop {
                let sent = http
                    .post(format!("{base}/api/v1/jobs"))
                    .timeout(Duration::from_secs(10))
                    .json(&spec)
                    .send()
                    .await;
                let why = match sent {
                    Ok(response) if response.status().is_success() => {
                        let job: Value = response.json().await.expect("job");
                        let id = job["id"].as_str().expect("id").to_owned();
                        ids.insert(key.clone(), id);
                        break;
                    }
                    Ok(response) => format!(
                        "{} {}",
                        response.status(),
                        response.text().await.unwrap_or_default()
                    ),
                    Err(e) => e.to_string(),
                };
                refused += 1;
                if refused % 10 == 1 {
                    eprintln!("job {n}: refused {refused} times so far: {why}");
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        (ids, refused)
    });

    for (server, fault, secs) in SCRIPT {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let proxy = if server == "postgres" { &pg } else { &redis };
        eprintln!("fault: {server} {fault:?} for {secs} s");
        proxy.set(fault);
        tokio::time::sleep(Duration::from_secs(secs)).await;
        if fault == Fault::Blackhole {
            // The silent server comes back as a restart: its old connections
            // are reset.
            proxy.cut();
        }
        proxy.restore();
    }

    eprintln!("faults over; waiting for the load");
    let (ids, refused) = load.await.expect("load");
    eprintln!("load submitted ({refused} refused)");
    assert_eq!(ids.len(), JOBS);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let done: i64 = sqlx::query_scalar("select count(*) from jobs where status = 'succeeded'")
            .fetch_one(&stack.env.pool)
            .await
            .expect("count");
        if done as usize == JOBS {
            break;
        }
        assert!(Instant::now() < deadline, "{done} of {JOBS} jobs succeeded");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Exactly once: one job per key, one attempt each, one execution each.
    assert_eq!(stack.job_count().await as usize, JOBS);
    let attempts: i64 = sqlx::query_scalar("select count(*) from all_attempts")
        .fetch_one(&stack.env.pool)
        .await
        .expect("attempts");
    if attempts as usize != JOBS {
        // Which attempts, by whom, and how they ended: what a failure here
        // needs to be understood.
        let extra: Vec<(uuid::Uuid, i32, String, String, Option<String>)> = sqlx::query_as(
            "select job_id, attempt, coalesce(worker_id, ''), outcome::text, error
             from all_attempts where job_id in (
                 select job_id from all_attempts group by job_id having count(*) > 1)
             order by job_id, attempt",
        )
        .fetch_all(&stack.env.pool)
        .await
        .expect("extra attempts");
        for row in &extra {
            eprintln!("attempt of a job with several: {row:?}");
        }
    }
    assert_eq!(attempts as usize, JOBS, "an outage cost an attempt");
    let ran = std::fs::read_to_string(&ledger).unwrap_or_default();
    let mut runs: HashMap<&str, usize> = HashMap::new();
    for line in ran.lines() {
        *runs.entry(line.trim()).or_default() += 1;
    }
    for id in ids.values() {
        assert_eq!(
            runs.get(id.as_str()),
            Some(&1),
            "job {id} ran {:?} times",
            runs.get(id.as_str())
        );
    }
    eprintln!("checked; stopping");
    println!("{JOBS} jobs, {refused} refused submits retried, every job ran once");
    let _ = std::fs::remove_file(&ledger);
    api.stop().await;
    stack.stop().await;
}
