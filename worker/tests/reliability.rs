//! Failures that must lose no job and run none twice: a worker killed with
//! SIGKILL, a stale worker writing late, Redis losing its data or going away,
//! Postgres going away, and the housekeeping leader dying.

mod common;

use std::time::{Duration, Instant};

use common::{id_of, Stack};
use conveyor_shared::db::{claims, housekeeping};
use conveyor_shared::model::{AttemptOutcome, JobStatus};
use conveyor_shared::queue::Keys;
use conveyor_shared::testing::Proxy;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use reqwest::StatusCode;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);

/// A worker's report that attempt `attempt` of job `id` ended, as the
/// finisher would write it (no error, result or output).
fn outcome(
    id: uuid::Uuid,
    attempt: i32,
    outcome: AttemptOutcome,
    status: JobStatus,
) -> claims::Finish {
    let now = chrono::Utc::now();
    claims::Finish {
        id,
        attempt,
        outcome,
        status,
        run_at: None,
        error: None,
        result: None,
        output: None,
        started_at: now,
        finished_at: now,
    }
}
/// How many rows of `job_attempts` job `id` has (not counting the attempts
/// its job row describes).
async fn attempt_rows(pool: &sqlx::PgPool, id: uuid::Uuid) -> i64 {
    sqlx::query_scalar("select count(*) from job_attempts where job_id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("count")
}

/// Short ticks so recovery is quick in tests.
const FAST: [(&str, &str); 2] = [
    ("HOUSEKEEPING_INTERVAL_MS", "100"),
    ("RECONCILE_INTERVAL_SECS", "1"),
];

fn sigkill(child: &tokio::process::Child) {
    let pid = child.id().expect("running") as i32;
    kill(Pid::from_raw(pid), Signal::SIGKILL).expect("SIGKILL");
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

#[tokio::test]
async fn a_killed_workers_job_runs_again_after_its_lease_expires() {
    a_killed_workers_job_runs_again(false).await;
}

/// The leader finds expired leases through Redis's in-flight sets
/// (migration 0015). When Redis lost them, the rebuild puts the running
/// jobs' entries back from PostgreSQL, so a job whose worker died after the
/// loss still runs again.
#[tokio::test]
async fn a_killed_workers_job_runs_again_even_after_redis_lost_its_in_flight_entry() {
    a_killed_workers_job_runs_again(true).await;
}

/// A job's worker is killed while it runs (after Redis lost its data, with
/// `lose_redis`); another worker runs it again, and the first attempt is
/// recorded `lost`, naming the dead worker.
async fn a_killed_workers_job_runs_again(lose_redis: bool) {
    let mut stack = Stack::api_only().await;
    let mut doomed = stack.spawn_worker_process(&FAST);
    let job = stack
        .submit(json!({"kind": "shell", "max_attempts": 1,
                       "payload": {"argv": ["sh", "-c", "sleep 1; echo done"]}}))
        .await;
    let id = id_of(&job);
    let running = stack.wait_for_status(&id, "running", WAIT).await;
    let doomed_id = running["lease_owner"].as_str().expect("owner").to_owned();
    if lose_redis {
        stack.env.flush_redis().await;
    }
    sigkill(&doomed);
    let _ = doomed.wait().await;
    stack.add_worker(&FAST).await;
    let done = stack.wait_for_status(&id, "succeeded", WAIT).await;
    let attempts = done["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 2, "{done:#}");
    assert_eq!(attempts[0]["outcome"], "lost");
    assert_eq!(attempts[0]["worker_id"], doomed_id.as_str());
    assert!(attempts[0]["error"]
        .as_str()
        .unwrap_or_default()
        .contains(&doomed_id));
    assert_eq!(attempts[1]["outcome"], "succeeded");
    assert_ne!(attempts[1]["worker_id"], doomed_id.as_str());
    stack.stop().await;
}

/// Expired in-flight entries that PostgreSQL will not reclaim (here 600 of
/// jobs that no longer exist; after a flush, of jobs that finished after the
/// rebuild read them as running) fill the reclaim's first page of
/// candidates. A killed worker's job behind them is still reclaimed within a
/// lease or two, not at the next reconcile (an hour away here): the reclaim
/// settles such a page itself.
#[tokio::test]
async fn a_page_of_stale_in_flight_entries_does_not_hold_up_a_reclaim() {
    let mut stack = Stack::api_only().await;
    let slow_reconcile = [
        ("HOUSEKEEPING_INTERVAL_MS", "100"),
        ("RECONCILE_INTERVAL_SECS", "3600"),
    ];
    let doomed = stack.spawn_worker_process(&slow_reconcile);
    let job = stack
        .submit(json!({"kind": "shell", "max_attempts": 1,
                       "payload": {"argv": ["sh", "-c", "sleep 1; echo done"]}}))
        .await;
    let id = id_of(&job);
    stack.wait_for_status(&id, "running", WAIT).await;
    sigkill(&doomed);
    let mut redis = redis_of(&stack).await;
    let key = Keys::new(stack.env.prefix.clone()).inflight("default");
    let long_ago = chrono::Utc::now().timestamp_millis() - 60_000;
    let mut add = redis::cmd("ZADD");
    add.arg(&key);
    for i in 0..600 {
        add.arg(long_ago + i).arg(uuid::Uuid::now_v7().to_string());
    }
    let added: i64 = add.query_async(&mut redis).await.expect("zadd");
    assert_eq!(added, 600);
    stack.add_worker(&slow_reconcile).await;
    let done = stack.wait_for_status(&id, "succeeded", WAIT).await;
    let attempts = done["attempts"].as_array().expect("attempts");
    assert_eq!(attempts[0]["outcome"], "lost", "{done:#}");
    let left: i64 = redis::cmd("ZCARD")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .expect("zcard");
    assert_eq!(left, 0, "the stale entries were not settled");
    stack.stop().await;
}

/// A worker whose claim went unanswered (its connection lost; the claim
/// may have been committed) sends the same ids again: what its first claim
/// took comes back with the same attempt and start and a fresh lease, what
/// it did not take is claimed now, and what another worker holds stays
/// with it. So the lost answer costs no attempt (it once cost a `lost` one,
/// `faults_under_load.rs`).
#[tokio::test]
async fn a_claim_sent_again_hands_over_what_the_unanswered_one_took() {
    let stack = Stack::api_only().await;
    let pool = &stack.env.pool;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let job = stack.submit(json!({"kind": "noop"})).await;
        ids.push(uuid::Uuid::parse_str(&id_of(&job)).expect("uuid"));
    }
    let (took, missed, other) = (ids[0], ids[1], ids[2]);
    // The claim whose answer was lost did take `took`; another worker has
    // `other`.
    let first = claims::claim(pool, &[took], "worker-a", 1_000)
        .await
        .expect("claim");
    claims::claim(pool, &[other], "worker-b", 30_000)
        .await
        .expect("claim");

    let again = claims::claim_again(pool, &[took, missed, other], "worker-a", 30_000)
        .await
        .expect("claim again");

    let mut handed: Vec<_> = again.iter().map(|j| (j.id, j.attempt)).collect();
    handed.sort();
    let mut expected = vec![(took, 1), (missed, 1)];
    expected.sort();
    assert_eq!(handed, expected);
    let adopted = again.iter().find(|j| j.id == took).expect("took");
    assert_eq!(adopted.started_at, first[0].started_at);
    assert!(adopted.lease_expires_at > first[0].lease_expires_at);
    assert_eq!(adopted.lease_owner.as_deref(), Some("worker-a"));
    let held: (String, i32) = sqlx::query_as("select lease_owner, attempt from jobs where id = $1")
        .bind(other)
        .fetch_one(pool)
        .await
        .expect("other");
    assert_eq!(held, ("worker-b".to_owned(), 1));
    // A plain claim never hands over a running job, even to its owner.
    assert!(claims::claim(pool, &[took], "worker-a", 30_000)
        .await
        .expect("claim")
        .is_empty());
    stack.stop().await;
}

#[tokio::test]
async fn a_worker_whose_lease_was_taken_over_cannot_overwrite_the_newer_attempt() {
    let stack = Stack::api_only().await;
    let pool = &stack.env.pool;
    let job = stack.submit(json!({"kind": "noop"})).await;
    let id = uuid::Uuid::parse_str(&id_of(&job)).expect("uuid");
    let first = claims::claim(pool, &[id], "worker-a", 30_000)
        .await
        .expect("claim");
    assert_eq!(first[0].attempt, 1);
    // Worker A goes silent; its lease runs out and the leader reclaims the job.
    sqlx::query("update jobs set lease_expires_at = now() - interval '1 second' where id = $1")
        .bind(id)
        .execute(pool)
        .await
        .expect("expire");
    let epoch = housekeeping::take_epoch(pool, "leader")
        .await
        .expect("epoch");
    let reclaimed = housekeeping::reclaim_expired(pool, epoch, 0, None, &[id])
        .await
        .expect("reclaim");
    assert_eq!(reclaimed.len(), 1);
    let second = claims::claim(pool, &[id], "worker-b", 30_000)
        .await
        .expect("claim");
    assert_eq!(second[0].attempt, 2);

    // A wakes up and reports attempt 1: refused.
    let mut stale = outcome(id, 1, AttemptOutcome::Failed, JobStatus::Dead);
    stale.error = Some("stale".into());
    let refused = claims::finish(pool, "worker-a", &[stale])
        .await
        .expect("finish");
    assert!(refused.is_empty());
    // B reports attempt 2: accepted.
    let ok = outcome(id, 2, AttemptOutcome::Succeeded, JobStatus::Succeeded);
    let accepted = claims::finish(pool, "worker-b", &[ok])
        .await
        .expect("finish");
    assert_eq!(accepted, vec![id]);
    let after = stack.job(&id.to_string()).await;
    assert_eq!(after["status"], "succeeded");
    assert_eq!(after["attempts"][0]["outcome"], "lost");
    assert_eq!(after["attempts"][1]["outcome"], "succeeded");
    // A deposed leader cannot reclaim any more: its epoch is stale.
    let newer = housekeeping::take_epoch(pool, "other")
        .await
        .expect("epoch");
    assert!(newer > epoch);
    assert!(!housekeeping::holds_epoch(pool, epoch).await.expect("holds"));
    stack.stop().await;
}

#[tokio::test]
async fn a_job_running_for_several_leases_keeps_its_lease_and_runs_once() {
    // 3 s leases renewed every second, a leader reclaiming expired leases
    // every 100 ms, and an idle second worker ready to take the job: a lease
    // the heartbeat failed to renew (it skips leases set in the last half
    // second) would hand the job to the other worker as a second attempt.
    let stack = Stack::api_only().await;
    let mut a = stack.spawn_worker_process(&FAST);
    let job = stack
        .submit(json!({"kind": "shell", "payload": {"argv": ["sleep", "8"]}}))
        .await;
    let id = id_of(&job);
    stack.wait_for_status(&id, "running", WAIT).await;
    let mut b = stack.spawn_worker_process(&FAST);
    let done = stack
        .wait_for_status(&id, "succeeded", Duration::from_secs(20))
        .await;
    assert_eq!(done["attempt"], 1, "{done:#}");
    let attempts = done["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1, "{done:#}");
    assert_eq!(attempts[0]["outcome"], "succeeded");
    sigkill(&a);
    sigkill(&b);
    let _ = a.wait().await;
    let _ = b.wait().await;
    stack.stop().await;
}

#[tokio::test]
async fn workers_are_listed_with_their_running_jobs_and_a_dead_one_leaves_the_list() {
    let stack = Stack::api_only().await;
    let mut a = stack.spawn_worker_process(&[
        ("WORKER_CONCURRENCY", "3"),
        ("WORKER_QUEUES", "default,mail:2"),
    ]);
    let job = stack
        .submit(json!({"kind": "shell", "payload": {"argv": ["sleep", "5"]}}))
        .await;
    stack.wait_for_status(&id_of(&job), "running", WAIT).await;
    let (status, body) = stack.get("/api/v1/workers").await;
    assert_eq!(status, StatusCode::OK);
    let workers = body["workers"].as_array().expect("workers").clone();
    assert_eq!(workers.len(), 1, "{body:#}");
    let w = &workers[0];
    assert_eq!(w["pid"], a.id().expect("pid"));
    assert_eq!(w["concurrency"], 3);
    assert_eq!(
        w["queues"],
        json!([{"name": "default", "weight": 1}, {"name": "mail", "weight": 2}])
    );
    assert!(w["host"].as_str().is_some_and(|h| !h.is_empty()));
    assert!(w["started_at"].is_string() && w["last_seen_at"].is_string());
    assert_eq!(w["running"][0]["id"], job["id"]);

    sigkill(&a);
    let _ = a.wait().await;
    wait_until("the dead worker to leave the list", || async {
        let (_, body) = stack.get("/api/v1/workers").await;
        body["workers"].as_array().is_some_and(Vec::is_empty)
    })
    .await;
    let (_, cancelled) = stack
        .post(&format!("/api/v1/jobs/{}/cancel", id_of(&job)), json!({}))
        .await;
    assert_eq!(cancelled["status"], "cancelled");
    stack.stop().await;
}

#[tokio::test]
async fn when_the_housekeeping_leader_dies_another_worker_takes_over() {
    let stack = Stack::api_only().await;
    let mut a = stack.spawn_worker_process(&FAST);
    let mut b = stack.spawn_worker_process(&FAST);
    let leader = || async {
        sqlx::query_as::<_, (i64, Option<String>)>("select epoch, holder from housekeeping_leader")
            .fetch_one(&stack.env.pool)
            .await
            .expect("leader")
    };
    wait_until("a leader", || async { leader().await.1.is_some() }).await;
    let (epoch, holder) = leader().await;
    let holder = holder.expect("holder");
    let pid_of = |h: &str| {
        h.split('-')
            .rev()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok())
    };
    let (victim, survivor) = if pid_of(&holder) == a.id() {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    sigkill(victim);
    let _ = victim.wait().await;
    let started = Instant::now();
    wait_until("a new leader", || async { leader().await.0 > epoch }).await;
    let (_, new_holder) = leader().await;
    assert_ne!(new_holder.as_deref(), Some(holder.as_str()));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "takeover took {:?}",
        started.elapsed()
    );
    // The new leader does the work: a delayed job is promoted and runs.
    let job = stack.submit(json!({"kind": "noop", "delay_ms": 200})).await;
    stack.wait_for_status(&id_of(&job), "succeeded", WAIT).await;
    let _ = survivor.start_kill();
    let _ = survivor.wait().await;
    stack.stop().await;
}

#[tokio::test]
async fn after_redis_loses_its_data_every_job_still_runs() {
    let mut stack = Stack::api_only().await;
    let mut ids = Vec::new();
    for i in 0..20 {
        let delay = if i % 2 == 0 { 0 } else { 300 };
        ids.push(id_of(
            &stack
                .submit(json!({"kind": "noop", "delay_ms": delay}))
                .await,
        ));
    }
    stack.env.flush_redis().await;
    stack.add_worker(&FAST).await;
    for id in &ids {
        stack.wait_for_status(id, "succeeded", WAIT).await;
    }
    // Again, with the worker running and the sentinel in place.
    let later: Vec<String> = {
        let mut v = Vec::new();
        for _ in 0..5 {
            v.push(id_of(
                &stack.submit(json!({"kind": "noop", "delay_ms": 500})).await,
            ));
        }
        v
    };
    stack.env.flush_redis().await;
    for id in &later {
        let done = stack.wait_for_status(id, "succeeded", WAIT).await;
        assert_eq!(done["attempt"], 1);
    }
    stack.stop().await;
}

#[tokio::test]
async fn with_redis_down_the_api_accepts_jobs_and_they_run_when_it_returns() {
    let env_probe = conveyor_shared::testing::TestEnv::new().await;
    let redis = Proxy::start(env_probe.redis_addr()).await;
    env_probe.cleanup().await;
    redis.cut();
    let redis_url = redis.url_for("redis://127.0.0.1:6379");
    let mut stack = Stack::api_with(&[("REDIS_URL", redis_url.as_str())]).await;
    let (status, ready) = stack.get("/readyz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ready["status"], "degraded");
    assert!(ready["redis"]
        .as_str()
        .unwrap_or_default()
        .starts_with("error"));
    let early = stack.submit(json!({"kind": "noop"})).await;
    let (status, listed) = stack.get("/api/v1/jobs").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["jobs"][0]["id"], early["id"]);
    // Redis returns (empty): the job submitted meanwhile runs.
    redis.restore();
    stack
        .add_worker(&[("REDIS_URL", redis_url.as_str()), FAST[0], FAST[1]])
        .await;
    stack
        .wait_for_status(&id_of(&early), "succeeded", WAIT)
        .await;
    // Redis goes away under a running worker: it waits, without crashing.
    redis.cut();
    let job = stack.submit(json!({"kind": "noop"})).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(stack.job(&id_of(&job)).await["status"], "queued");
    redis.restore();
    stack.wait_for_status(&id_of(&job), "succeeded", WAIT).await;
    let (_, ready) = stack.get("/readyz").await;
    assert_eq!(ready["status"], "ready");
    stack.stop().await;
}

#[tokio::test]
async fn with_postgres_down_the_api_answers_503_and_workers_keep_their_outcomes() {
    let mut stack = Stack::api_only().await;
    let pg = Proxy::start(stack.env.postgres_addr()).await;
    let pg_url = pg.url_for(&stack.env.database_url);
    stack.add_worker(&[("DATABASE_URL", pg_url.as_str())]).await;
    let job = stack
        .submit(
            json!({"kind": "shell", "payload": {"argv": ["sh", "-c", "sleep 1; echo survived"]}}),
        )
        .await;
    let id = id_of(&job);
    stack.wait_for_status(&id, "running", WAIT).await;
    pg.cut();
    // The job finishes while its worker cannot reach Postgres.
    tokio::time::sleep(Duration::from_millis(1800)).await;
    assert_eq!(stack.job(&id).await["status"], "running");
    pg.restore();
    let done = stack.wait_for_status(&id, "succeeded", WAIT).await;
    assert_eq!(done["attempt"], 1);
    assert!(done["attempts"][0]["output"]
        .as_str()
        .unwrap_or_default()
        .contains("survived"));

    // An api whose Postgres is gone answers 503 with a clear error.
    let api_pg = Proxy::start(stack.env.postgres_addr()).await;
    let api_url = api_pg.url_for(&stack.env.database_url);
    let api = common::ExtraApi::start(&stack.env, &[("DATABASE_URL", api_url.as_str())]).await;
    let base = api.base.clone();
    wait_until("the second api", || async {
        stack
            .http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok()
    })
    .await;
    api_pg.cut();
    let response = stack
        .http
        .post(format!("{base}/api/v1/jobs"))
        .json(&json!({"kind": "noop"}))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "unavailable");
    let ready = stack
        .http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    api_pg.restore();
    wait_until("the api to recover", || async {
        stack
            .http
            .get(format!("{base}/api/v1/jobs"))
            .send()
            .await
            .is_ok_and(|r| r.status() == StatusCode::OK)
    })
    .await;
    api.stop().await;
    stack.stop().await;
}

#[tokio::test]
async fn finished_jobs_are_deleted_after_their_retention_age() {
    let mut stack = Stack::api_only().await;
    let pool = stack.env.pool.clone();
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(id_of(&stack.submit(json!({"kind": "noop"})).await));
    }
    // Each job is aged as if submitted the day before it finished: its
    // UUIDv7 id carries that time too (retention scans by id).
    let age = |status: &'static str, days: i32, id: String| {
        let pool = pool.clone();
        async move {
            sqlx::query(
                "update jobs set status = $2::job_status, attempt = 1,
                        finished_at = now() - $3 * interval '1 day',
                        created_at = now() - ($3 + 1) * interval '1 day'
                 where id = $1::uuid",
            )
            .bind(&id)
            .bind(status)
            .bind(days)
            .execute(&pool)
            .await
            .expect("age");
            sqlx::query_scalar::<_, String>(
                "update jobs set
                        id = (lpad(to_hex((extract(epoch from created_at) * 1000)::int8), 12, '0')
                              || substr(replace(id::text, '-', ''), 13))::uuid
                 where id = $1::uuid returning id::text",
            )
            .bind(&id)
            .fetch_one(&pool)
            .await
            .expect("age the id")
        }
    };
    let ids = [
        age("succeeded", 8, ids[0].clone()).await, // past 7 days: deleted
        age("succeeded", 2, ids[1].clone()).await, // recent: kept
        age("dead", 8, ids[2].clone()).await,      // dead are kept 30 days
        age("dead", 31, ids[3].clone()).await,     // deleted
    ];
    stack.add_worker(&FAST).await;
    wait_until("retention", || async { stack.job_count().await == 2 }).await;
    let (status, _) = stack.get(&format!("/api/v1/jobs/{}", ids[0])).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(stack.job(&ids[1]).await["status"], "succeeded");
    assert_eq!(stack.job(&ids[2]).await["status"], "dead");
    stack.stop().await;
}

#[tokio::test]
async fn a_running_attempt_is_listed_from_the_job_row_until_its_outcome_is_written() {
    let stack = Stack::api_only().await;
    let pool = &stack.env.pool;
    let job = stack.submit(json!({"kind": "noop"})).await;
    let id = uuid::Uuid::parse_str(&id_of(&job)).expect("uuid");
    let claimed = claims::claim(pool, &[id], "worker-a", 30_000)
        .await
        .expect("claim");
    assert_eq!(
        attempt_rows(pool, id).await,
        0,
        "a claim writes no attempt row"
    );
    let running = stack.job(&id.to_string()).await;
    assert_eq!(running["attempts"].as_array().map(Vec::len), Some(1));
    assert_eq!(running["attempts"][0]["outcome"], "running");
    assert_eq!(running["attempts"][0]["worker_id"], "worker-a");
    assert_eq!(running["attempts"][0]["attempt"], 1);

    let mut done = outcome(id, 1, AttemptOutcome::Succeeded, JobStatus::Succeeded);
    done.started_at = claimed[0].started_at.expect("started_at");
    done.output = Some("out".into());
    let accepted = claims::finish(pool, "worker-a", &[done])
        .await
        .expect("finish");
    assert_eq!(accepted, vec![id]);
    let after = stack.job(&id.to_string()).await;
    assert_eq!(after["attempts"].as_array().map(Vec::len), Some(1));
    assert_eq!(after["attempts"][0]["outcome"], "succeeded");
    assert_eq!(after["attempts"][0]["worker_id"], "worker-a");
    assert_eq!(after["attempts"][0]["output"], "out");
    stack.stop().await;
}

#[tokio::test]
async fn a_plain_success_writes_no_attempt_row_and_is_listed_from_the_job_row() {
    let stack = Stack::api_only().await;
    let pool = &stack.env.pool;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let job = stack.submit(json!({"kind": "noop"})).await;
        ids.push(uuid::Uuid::parse_str(&id_of(&job)).expect("uuid"));
    }
    let claimed = claims::claim(pool, &ids, "worker-a", 30_000)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 2);
    let started = |id: uuid::Uuid| {
        claimed
            .iter()
            .find(|j| j.id == id)
            .and_then(|j| j.started_at)
            .expect("started_at")
    };

    // The first succeeds without output: no row; the job row describes it.
    let mut plain = outcome(ids[0], 1, AttemptOutcome::Succeeded, JobStatus::Succeeded);
    plain.started_at = started(ids[0]);
    // The second is cancelled while it runs; its success is refused, and
    // its attempt still gets a row, since the job row no longer describes it.
    let (status, _) = stack
        .post(&format!("/api/v1/jobs/{}/cancel", ids[1]), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut refused = outcome(ids[1], 1, AttemptOutcome::Succeeded, JobStatus::Succeeded);
    refused.started_at = started(ids[1]);
    let accepted = claims::finish(pool, "worker-a", &[plain, refused])
        .await
        .expect("finish");
    assert_eq!(accepted, vec![ids[0]]);

    assert_eq!(
        attempt_rows(pool, ids[0]).await,
        0,
        "a plain success writes no attempt row"
    );
    let done = stack.job(&ids[0].to_string()).await;
    assert_eq!(done["status"], "succeeded");
    let attempts = done["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1, "{done:#}");
    assert_eq!(attempts[0]["attempt"], 1);
    assert_eq!(attempts[0]["outcome"], "succeeded");
    assert_eq!(attempts[0]["worker_id"], "worker-a");
    assert_eq!(attempts[0]["started_at"], done["started_at"]);
    assert_eq!(attempts[0]["finished_at"], done["finished_at"]);
    assert!(done["finished_at"].is_string(), "{done:#}");

    assert_eq!(
        attempt_rows(pool, ids[1]).await,
        1,
        "a refused success keeps its row"
    );
    let cancelled = stack.job(&ids[1].to_string()).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["attempts"].as_array().map(Vec::len), Some(1));
    assert_eq!(cancelled["attempts"][0]["outcome"], "succeeded");
    stack.stop().await;
}

#[tokio::test]
async fn the_database_refuses_exactly_the_queue_names_the_api_refuses() {
    // Migration 0013 checks the name without a regular expression; it must
    // still be the api's rule (`check_identifier`), character for character.
    let stack = Stack::api_only().await;
    let pool = &stack.env.pool;
    let long = "q".repeat(64);
    let too_long = "q".repeat(65);
    let names = [
        "default",
        "a",
        "Reports.daily:eu-1_x",
        long.as_str(),
        "",
        too_long.as_str(),
        "with space",
        "slash/y",
        "é",
        "tab\t",
        "{braces}",
        "star*",
        "percent%",
        "semi;",
        "ünïcode",
        "dash-",
        ".dot",
        "colon:",
        "under_",
        "0123456789",
    ];
    for name in names {
        let allowed = conveyor_shared::model::QueueName::parse(name).is_ok();
        let inserted = sqlx::query(
            "insert into jobs (id, queue, kind, name, payload, priority, status, max_attempts,
                               backoff_base_ms, backoff_max_ms, run_at)
             values (gen_random_uuid(), $1, 'noop', 'noop', '{}', 5, 'queued', 3, 1000,
                     3600000, now())",
        )
        .bind(name)
        .execute(pool)
        .await;
        assert_eq!(inserted.is_ok(), allowed, "queue {name:?}: {inserted:?}");
    }
    stack.stop().await;
}

#[tokio::test]
async fn folding_the_counters_changes_no_count_and_empties_the_deltas() {
    let stack = Stack::api_only().await;
    let pool = &stack.env.pool;
    for _ in 0..3 {
        stack.submit(json!({"kind": "noop", "queue": "fold"})).await;
    }
    let queued = || async {
        sqlx::query_scalar::<_, i64>(
            "select coalesce(sum(n), 0)::int8 from job_counts where queue = 'fold' and status = 'queued'",
        )
        .fetch_one(pool)
        .await
        .expect("counts")
    };
    assert_eq!(queued().await, 3);
    let deltas: i64 = sqlx::query_scalar("select count(*) from job_count_deltas")
        .fetch_one(pool)
        .await
        .expect("deltas");
    assert!(deltas > 0, "submits append deltas");
    conveyor_shared::db::stats::fold_counters(pool)
        .await
        .expect("fold");
    assert_eq!(queued().await, 3);
    let left: i64 = sqlx::query_scalar("select count(*) from job_count_deltas")
        .fetch_one(pool)
        .await
        .expect("deltas");
    assert_eq!(left, 0);
    let total: i64 = sqlx::query_scalar(
        "select n from job_count_totals where queue = 'fold' and status = 'queued'",
    )
    .fetch_one(pool)
    .await
    .expect("totals");
    assert_eq!(total, 3);
    stack.stop().await;
}

/// Issue #11, item 11: a reconcile that takes many leases (here held up by a
/// lock on the pause flags it reads first) runs beside the housekeeping tick,
/// so the leader keeps renewing its lease and keeps its epoch.
#[tokio::test]
async fn a_long_reconcile_does_not_let_the_leader_lease_lapse() {
    let mut stack = Stack::api_only().await;
    // A lease of 5 ticks of 100 ms: 500 ms.
    stack.add_worker(&FAST).await;
    let pool = stack.env.pool.clone();
    let sentinel = format!("{}:reconciled", stack.env.prefix);
    let mut redis = redis_of(&stack).await;
    let epoch = || async {
        sqlx::query_scalar::<_, i64>(
            "select epoch from housekeeping_leader where holder is not null",
        )
        .fetch_optional(&pool)
        .await
        .expect("leader")
    };
    wait_until("a leader", || async { epoch().await.is_some() }).await;
    let sentinel_set = |mut redis: redis::aio::MultiplexedConnection, key: String| async move {
        redis::cmd("EXISTS")
            .arg(key)
            .query_async::<bool>(&mut redis)
            .await
            .expect("exists")
    };
    wait_until("the first reconcile", || {
        sentinel_set(redis.clone(), sentinel.clone())
    })
    .await;
    let before = epoch().await;

    let mut lock = pool.begin().await.expect("begin");
    sqlx::query("lock table queues in access exclusive mode")
        .execute(&mut *lock)
        .await
        .expect("lock");
    // Without the sentinel the next tick starts a rebuild, which waits on the lock.
    redis::cmd("DEL")
        .arg(&sentinel)
        .query_async::<()>(&mut redis)
        .await
        .expect("del");
    wait_until("the reconcile waiting on the lock", || async {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from pg_stat_activity
             where wait_event_type = 'Lock' and query like '%from queues%'",
        )
        .fetch_one(&stack.env.pool)
        .await
        .expect("activity")
            > 0
    })
    .await;
    // Eight leases long.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(epoch().await, before, "the leader lost its lease meanwhile");
    lock.rollback().await.expect("rollback");

    wait_until("the reconcile to finish", || {
        sentinel_set(redis.clone(), sentinel.clone())
    })
    .await;
    assert_eq!(epoch().await, before);
    let job = stack.submit(json!({"kind": "noop"})).await;
    stack.wait_for_status(&id_of(&job), "succeeded", WAIT).await;
    stack.stop().await;
}

/// A connection to the test's Redis.
async fn redis_of(stack: &Stack) -> redis::aio::MultiplexedConnection {
    redis::Client::open(stack.env.redis_url.as_str())
        .expect("redis url")
        .get_multiplexed_async_connection()
        .await
        .expect("redis")
}

/// The reconcile sentinel of the test's Redis prefix, if any.
async fn sentinel_of(stack: &Stack) -> Option<i64> {
    let mut redis = redis_of(stack).await;
    redis::cmd("GET")
        .arg(format!("{}:reconciled", stack.env.prefix))
        .query_async(&mut redis)
        .await
        .expect("get")
}

/// After Redis lost its data while a job runs, the leader's rebuild puts the
/// running job's in-flight entry back (with its lease deadline) and runs to
/// its end, setting the sentinel, while the job still runs; the job's own
/// worker finishes it, once. (The rebuild once failed on every tick while any
/// job was running: its in-flight writes landed but their reply was misread,
/// so it never reached the settling of expired entries.)
#[tokio::test]
async fn a_rebuild_beside_a_running_job_restores_its_entry_and_completes() {
    let mut stack = Stack::api_only().await;
    stack.add_worker(&FAST).await;
    let job = stack
        .submit(json!({"kind": "sleep", "max_attempts": 1, "payload": {"ms": 8000}}))
        .await;
    let id = id_of(&job);
    stack.wait_for_status(&id, "running", WAIT).await;
    stack.env.flush_redis().await;
    let stack_ref = &stack;
    wait_until("the rebuild's sentinel", || async move {
        sentinel_of(stack_ref).await.is_some()
    })
    .await;
    assert_eq!(
        stack.job(&id).await["status"],
        "running",
        "the rebuild completed only once the job had ended"
    );
    let mut redis = redis_of(&stack).await;
    let deadline: Option<f64> = redis::cmd("ZSCORE")
        .arg(Keys::new(stack.env.prefix.clone()).inflight("default"))
        .arg(&id)
        .query_async(&mut redis)
        .await
        .expect("zscore");
    assert!(deadline.is_some(), "the running job is not in flight again");
    let done = stack.wait_for_status(&id, "succeeded", WAIT).await;
    assert_eq!(
        done["attempts"].as_array().map(Vec::len),
        Some(1),
        "{done:#}"
    );
    stack.stop().await;
}

/// Workers that start on a backlog submitted through the api of a fresh
/// install run it without reading it back from PostgreSQL: the api found no
/// live job and vouched for Redis, and the new leader's first reconcile waits
/// one interval instead of reading every waiting job at once. Any reconcile
/// would have moved the sentinel.
#[tokio::test]
async fn workers_starting_on_a_fresh_backlog_do_not_read_it_back_into_redis() {
    let mut stack = Stack::api_only().await;
    let vouched = sentinel_of(&stack).await;
    assert!(
        vouched.is_some(),
        "the api did not vouch for an empty Redis"
    );
    let mut ids = Vec::new();
    for _ in 0..30 {
        ids.push(id_of(&stack.submit(json!({"kind": "noop"})).await));
    }
    stack
        .add_worker(&[
            ("HOUSEKEEPING_INTERVAL_MS", "100"),
            ("RECONCILE_INTERVAL_SECS", "3600"),
        ])
        .await;
    for id in &ids {
        stack.wait_for_status(id, "succeeded", WAIT).await;
    }
    let pool = stack.env.pool.clone();
    wait_until("a leader", || async {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from housekeeping_leader where holder is not null",
        )
        .fetch_one(&pool)
        .await
        .expect("leader")
            > 0
    })
    .await;
    // Ten housekeeping ticks as leader.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(sentinel_of(&stack).await, vouched, "a reconcile ran");
    stack.stop().await;
}

/// An api that starts while PostgreSQL holds a live job does not vouch for a
/// Redis that lost its data: the leader rebuilds it, and the job runs.
#[tokio::test]
async fn an_api_starting_beside_live_jobs_leaves_a_lost_redis_to_the_rebuild() {
    let mut stack = Stack::api_only().await;
    let job = stack.submit(json!({"kind": "noop"})).await;
    stack.env.flush_redis().await;
    let second = common::ExtraApi::start(&stack.env, &[]).await;
    let base = second.base.clone();
    wait_until("the second api", || async {
        reqwest::get(format!("{base}/readyz"))
            .await
            .is_ok_and(|r| r.status() == StatusCode::OK)
    })
    .await;
    assert_eq!(
        sentinel_of(&stack).await,
        None,
        "the api vouched for a Redis that lost a job"
    );
    stack.add_worker(&FAST).await;
    stack.wait_for_status(&id_of(&job), "succeeded", WAIT).await;
    second.stop().await;
    stack.stop().await;
}
