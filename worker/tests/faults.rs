//! Faults between the binaries and their servers, injected with the test
//! support's TCP proxy (pass, pause, blackhole, cut), and the lease rules
//! that keep a job from running twice through them.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{id_of, Stack};
use conveyor_shared::db::housekeeping;
use conveyor_shared::queue::{QueueOp, RedisQueue};
use conveyor_shared::testing::{Fault, Proxy};
use serde_json::{json, Value};
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(40);

/// Short ticks so the leader reacts quickly; leases of 3 s (one heartbeat a
/// second, a reclaim grace of two).
const FAST: [(&str, &str); 2] = [
    ("HOUSEKEEPING_INTERVAL_MS", "100"),
    ("RECONCILE_INTERVAL_SECS", "1"),
];

/// A file in the temp dir that jobs append to: one line per execution.
fn ledger(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("conveyor-{name}-{}", Uuid::new_v4().simple()))
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A shell job that writes `start <job> <attempt>` to `ledger`, sleeps, then
/// writes `end <job> <attempt>`.
fn logged_sleep(ledger: &Path, secs: f64) -> Value {
    let file = ledger.display();
    json!({"kind": "shell", "max_attempts": 3, "payload": {"argv": ["sh", "-c", format!(
        "echo start $CONVEYOR_JOB_ID $CONVEYOR_ATTEMPT >> {file}; sleep {secs}; \
         echo end $CONVEYOR_JOB_ID $CONVEYOR_ATTEMPT >> {file}")]}})
}

async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + WAIT;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A claim that PostgreSQL commits after its connection was cut (it waited
/// on a row lock meanwhile), so the worker never reads the answer: the
/// worker claims the same ids again and gets back the job its lost claim
/// holds. The job runs once, on its first attempt; it used to wait out its
/// lease and run again as attempt 2 after a `lost` one.
#[tokio::test]
async fn a_claim_whose_answer_is_lost_costs_no_attempt() {
    let mut stack = Stack::api_only().await;
    let file = ledger("lost-answer");
    let id = id_of(&stack.submit(logged_sleep(&file, 0.1)).await);
    let uuid = Uuid::parse_str(&id).expect("uuid");
    // Hold the job's row: the worker's claim will wait for it in PostgreSQL.
    let mut holder = stack.env.pool.begin().await.expect("begin");
    sqlx::query("select 1 from jobs where id = $1 for update")
        .bind(uuid)
        .execute(&mut *holder)
        .await
        .expect("lock");
    let pg = Proxy::start(stack.env.postgres_addr()).await;
    let pg_url = pg.url_for(&stack.env.database_url);
    stack
        .add_worker(&[("DATABASE_URL", pg_url.as_str()), FAST[0], FAST[1]])
        .await;
    let pool = stack.env.pool.clone();
    wait_until("the claim to wait on the row", || async {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from pg_stat_activity
              where datname = current_database() and wait_event_type = 'Lock'
                and query like '%update jobs set status = ''running''%'",
        )
        .fetch_one(&pool)
        .await
        .expect("activity")
            > 0
    })
    .await;
    // The answer's way back goes; the claim then gets its row and commits.
    pg.cut();
    pg.restore();
    holder.commit().await.expect("commit");

    let done = stack.wait_for_status(&id, "succeeded", WAIT).await;
    let attempts = done["attempts"].as_array().expect("attempts");
    assert_eq!(done["attempt"], 1, "{done:#}");
    assert_eq!(attempts.len(), 1, "{done:#}");
    assert_eq!(attempts[0]["outcome"], "succeeded", "{done:#}");
    let runs = lines(&file)
        .iter()
        .filter(|l| l.starts_with(&format!("start {id}")))
        .count();
    assert_eq!(runs, 1);
    let _ = std::fs::remove_file(&file);
    stack.stop().await;
}

/// Runs jobs through a worker whose Postgres goes away (as `fault`) for
/// longer than a lease: two finish during the outage, two run past it.
/// Every job must run once, with one attempt and no `lost` one.
async fn outage_longer_than_a_lease_runs_nothing_twice(fault: Fault) {
    let mut stack = Stack::api_only().await;
    let pg = Proxy::start(stack.env.postgres_addr()).await;
    let pg_url = pg.url_for(&stack.env.database_url);
    stack
        .add_worker(&[("DATABASE_URL", pg_url.as_str()), FAST[0], FAST[1]])
        .await;
    let file = ledger("outage");
    let mut ids = Vec::new();
    for secs in [1.0, 1.0, 7.0, 7.0] {
        ids.push(id_of(&stack.submit(logged_sleep(&file, secs)).await));
    }
    for id in &ids {
        stack.wait_for_status(id, "running", WAIT).await;
    }
    pg.set(fault);
    // Longer than the 3 s lease and its 2 s grace.
    tokio::time::sleep(Duration::from_secs(6)).await;
    if fault == Fault::Blackhole {
        // PostgreSQL comes back as after a restart: silent connections reset.
        pg.cut();
    }
    pg.restore();
    for id in &ids {
        let done = stack.wait_for_status(id, "succeeded", WAIT).await;
        let attempts = done["attempts"].as_array().expect("attempts");
        assert_eq!(done["attempt"], 1, "{done:#}");
        assert_eq!(attempts.len(), 1, "{done:#}");
        assert_eq!(attempts[0]["outcome"], "succeeded", "{done:#}");
    }
    let ledger = lines(&file);
    for id in &ids {
        let runs = ledger
            .iter()
            .filter(|l| l.starts_with(&format!("start {id}")))
            .count();
        assert_eq!(runs, 1, "job {id} ran {runs} times: {ledger:#?}");
    }
    let lost: i64 = sqlx::query_scalar("select count(*) from job_attempts where outcome = 'lost'")
        .fetch_one(&stack.env.pool)
        .await
        .expect("count");
    assert_eq!(lost, 0);
    let _ = std::fs::remove_file(&file);
    stack.stop().await;
}

#[tokio::test]
async fn postgres_cut_for_longer_than_a_lease_runs_no_job_twice_and_burns_no_attempt() {
    outage_longer_than_a_lease_runs_nothing_twice(Fault::Cut).await;
}

#[tokio::test]
async fn postgres_blackholed_for_longer_than_a_lease_runs_no_job_twice_and_burns_no_attempt() {
    outage_longer_than_a_lease_runs_nothing_twice(Fault::Blackhole).await;
}

#[tokio::test]
async fn an_attempt_whose_lease_was_taken_over_is_stopped_and_the_new_one_keeps_its_lease() {
    let mut stack = Stack::api_only().await;
    stack.add_worker(&FAST).await;
    let pool = stack.env.pool.clone();
    let file = ledger("takeover");
    let job = stack.submit(logged_sleep(&file, 5.0)).await;
    let id = Uuid::parse_str(&id_of(&job)).expect("uuid");
    stack
        .wait_for_status(&id.to_string(), "running", WAIT)
        .await;
    wait_until("the first attempt to start", || async {
        !lines(&file).is_empty()
    })
    .await;

    // Attempt 1's lease lapses and is reclaimed, as if its worker had been
    // silent; the same worker claims the job again as attempt 2.
    let epoch = housekeeping::take_epoch(&pool, "test")
        .await
        .expect("epoch");
    let mut reclaimed = Vec::new();
    while reclaimed.is_empty() {
        sqlx::query("update jobs set lease_expires_at = now() - interval '1 hour' where id = $1")
            .bind(id)
            .execute(&pool)
            .await
            .expect("expire");
        reclaimed = housekeeping::reclaim_expired(&pool, epoch, 0, None, &[id])
            .await
            .expect("reclaim");
    }
    let queue = RedisQueue::new(&stack.env.redis_url, &stack.env.prefix, 2).expect("redis");
    queue
        .apply(&[QueueOp::enqueue(&reclaimed[0])])
        .await
        .expect("enqueue");

    let done = stack
        .wait_for_status(&id.to_string(), "succeeded", WAIT)
        .await;
    assert_eq!(done["attempt"], 2, "{done:#}");
    let attempts = done["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 2, "{done:#}");
    assert_eq!(attempts[0]["outcome"], "lost");
    assert_eq!(attempts[1]["outcome"], "succeeded");
    // Attempt 1 was stopped at the next heartbeat, long before its end.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        lines(&file),
        vec![
            format!("start {id} 1"),
            format!("start {id} 2"),
            format!("end {id} 2")
        ]
    );
    let _ = std::fs::remove_file(&file);
    stack.stop().await;
}

#[tokio::test]
async fn a_paused_queue_stays_paused_after_redis_loses_its_data() {
    let mut stack = Stack::api_only().await;
    stack.add_worker(&FAST).await;
    let (status, _) = stack.post("/api/v1/queues/default/pause", json!({})).await;
    assert!(status.is_success(), "{status}");
    let job = stack.submit(json!({"kind": "noop"})).await;
    let id = id_of(&job);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(stack.job(&id).await["status"], "queued");

    stack.env.flush_redis().await;
    // The leader notices the lost data and rebuilds Redis from Postgres.
    let queue = RedisQueue::new(&stack.env.redis_url, &stack.env.prefix, 2).expect("redis");
    wait_until("the reconciler to restore the job", || async {
        queue
            .depth("default")
            .await
            .is_ok_and(|(ready, _, _)| ready > 0)
            || stack.job(&id).await["status"] != "queued"
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(stack.job(&id).await["status"], "queued");

    let (status, _) = stack.post("/api/v1/queues/default/resume", json!({})).await;
    assert!(status.is_success(), "{status}");
    stack.wait_for_status(&id, "succeeded", WAIT).await;
    stack.stop().await;
}

#[tokio::test]
async fn a_scheduled_job_put_in_the_ready_set_early_does_not_run_before_its_time() {
    let mut stack = Stack::api_only().await;
    stack.add_worker(&FAST).await;
    let run_at = chrono::Utc::now() + chrono::Duration::seconds(4);
    let job = stack
        .submit(json!({"kind": "noop", "run_at": run_at.to_rfc3339()}))
        .await;
    assert_eq!(job["status"], "scheduled");
    let id = Uuid::parse_str(&id_of(&job)).expect("uuid");
    // A stale or hostile index: the id is made ready now.
    let queue = RedisQueue::new(&stack.env.redis_url, &stack.env.prefix, 2).expect("redis");
    queue
        .apply(&[QueueOp::Enqueue {
            queue: "default".into(),
            id,
            priority: 5,
            due: chrono::Utc::now() - chrono::Duration::seconds(1),
        }])
        .await
        .expect("enqueue");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(stack.job(&id.to_string()).await["status"], "scheduled");

    let done = stack
        .wait_for_status(&id.to_string(), "succeeded", WAIT)
        .await;
    let started: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(done["attempts"][0]["started_at"].clone()).expect("started_at");
    assert!(started >= run_at, "started {started} before {run_at}");
    assert_eq!(done["attempt"], 1);
    stack.stop().await;
}

/// The longest a request may take while a server is silent (the api's
/// `REQUEST_TIMEOUT_SECS` is 3 s in these tests; Redis commands give up
/// after a few seconds).
const ANSWER_BOUND: Duration = Duration::from_secs(10);

/// An api (own process task) whose `DATABASE_URL` or `REDIS_URL` points at a
/// proxy; returns its base URL and its stop token.
async fn api_through(
    stack: &Stack,
    extra: &[(&str, &str)],
) -> (
    String,
    tokio_util::sync::CancellationToken,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let stop = tokio_util::sync::CancellationToken::new();
    let mut settings = vec![("REQUEST_TIMEOUT_SECS", "3")];
    settings.extend_from_slice(extra);
    let api = tokio::spawn(conveyor_api::run(
        stack.env.api_config(&settings),
        listener,
        stop.clone(),
    ));
    wait_until("the api behind the proxy", || async {
        stack
            .http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok()
    })
    .await;
    (base, stop, api)
}

/// POST /jobs on `base`, answered within `bound`; panics if it takes longer.
async fn submit_within(stack: &Stack, base: &str, bound: Duration) -> (reqwest::StatusCode, Value) {
    let started = Instant::now();
    let response = tokio::time::timeout(
        bound,
        stack
            .http
            .post(format!("{base}/api/v1/jobs"))
            .json(&json!({"kind": "noop"}))
            .send(),
    )
    .await
    .unwrap_or_else(|_| panic!("POST /jobs took longer than {bound:?}"))
    .expect("answer");
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    assert!(started.elapsed() < bound);
    (status, body)
}

#[tokio::test]
async fn with_postgres_blackholed_post_jobs_answers_503_within_a_bound() {
    let stack = Stack::api_only().await;
    let pg = Proxy::start(stack.env.postgres_addr()).await;
    let pg_url = pg.url_for(&stack.env.database_url);
    let (base, stop, api) = api_through(&stack, &[("DATABASE_URL", pg_url.as_str())]).await;
    let (status, _) = submit_within(&stack, &base, ANSWER_BOUND).await;
    assert_eq!(status, reqwest::StatusCode::CREATED);

    pg.blackhole();
    let (status, body) = submit_within(&stack, &base, ANSWER_BOUND).await;
    assert_eq!(status, reqwest::StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "unavailable");
    stop.cancel();
    api.abort();
    drop(pg);
    stack.stop().await;
}

#[tokio::test]
async fn with_redis_blackholed_post_jobs_stores_the_job_within_a_bound_and_it_runs_later() {
    let mut stack = Stack::api_only().await;
    let redis = Proxy::start(stack.env.redis_addr()).await;
    let redis_url = redis.url_for(&stack.env.redis_url);
    let (base, stop, api) = api_through(
        &stack,
        &[
            ("REDIS_URL", redis_url.as_str()),
            ("REQUEST_TIMEOUT_SECS", "8"),
        ],
    )
    .await;
    redis.blackhole();
    // Postgres is the truth: the job is committed, Redis is best effort
    // (a submit waits for it 2 s at most).
    let (status, job) = submit_within(&stack, &base, Duration::from_secs(4)).await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{job}");
    let id = id_of(&job);
    assert_eq!(stack.job(&id).await["status"], "queued");
    // The reconciler of a worker that reaches Redis puts it in the index.
    stack.add_worker(&FAST).await;
    stack.wait_for_status(&id, "succeeded", WAIT).await;
    stop.cancel();
    api.abort();
    drop(redis);
    stack.stop().await;
}

#[tokio::test]
async fn the_claim_loop_recovers_after_a_redis_blackhole_ends() {
    let mut stack = Stack::api_only().await;
    let redis = Proxy::start(stack.env.redis_addr()).await;
    let redis_url = redis.url_for(&stack.env.redis_url);
    stack
        .add_worker(&[("REDIS_URL", redis_url.as_str()), FAST[0], FAST[1]])
        .await;
    let first = stack.submit(json!({"kind": "noop"})).await;
    stack
        .wait_for_status(&id_of(&first), "succeeded", WAIT)
        .await;
    // The worker idles in BLPOP; its connections go silent and stay so.
    redis.blackhole();
    tokio::time::sleep(Duration::from_secs(2)).await;
    redis.restore();
    let job = stack.submit(json!({"kind": "noop"})).await;
    stack
        .wait_for_status(&id_of(&job), "succeeded", Duration::from_secs(25))
        .await;
    redis.cut();
    stack.stop().await;
}

#[tokio::test]
async fn the_websocket_relay_delivers_events_again_after_a_redis_blackhole_ends() {
    use futures::StreamExt;
    let stack = Stack::api_only().await;
    let redis = Proxy::start(stack.env.redis_addr()).await;
    let redis_url = redis.url_for(&stack.env.redis_url);
    let (base, stop, api) = api_through(&stack, &[("REDIS_URL", redis_url.as_str())]).await;
    redis.blackhole();
    tokio::time::sleep(Duration::from_secs(2)).await;
    redis.restore();

    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("{}/api/v1/ws", base.replace("http://", "ws://"))
        .into_client_request()
        .expect("request");
    let bearer = format!("Bearer {}", stack.token).parse().expect("header");
    request.headers_mut().insert("authorization", bearer);
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("websocket");
    // Events published on the real Redis (by the direct api) must arrive.
    let deadline = Instant::now() + Duration::from_secs(25);
    let mut seen = false;
    while !seen && Instant::now() < deadline {
        let job = stack.submit(json!({"kind": "noop"})).await;
        let id = id_of(&job);
        let wait = tokio::time::timeout(Duration::from_secs(1), async {
            while let Some(Ok(message)) = socket.next().await {
                let Ok(text) = message.into_text() else {
                    continue;
                };
                let event: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                if event["type"] == "job" && event["job_id"] == id.as_str() {
                    return true;
                }
            }
            false
        })
        .await;
        seen = wait.unwrap_or(false);
    }
    assert!(seen, "no event reached the WebSocket after the blackhole");
    stop.cancel();
    api.abort();
    redis.cut();
    stack.stop().await;
}
