//! A job's life through the real api and worker: run, retry, dead, retry by
//! hand, cancel, delay, priority, idempotency, batches.

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{id_of, Stack};
use conveyor_shared::testing::TestEnv;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::Connection;

const WAIT: Duration = Duration::from_secs(15);

fn time(v: &serde_json::Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("not a time: {v}"))
}

#[tokio::test]
async fn submitted_job_runs_and_succeeds_with_one_attempt() {
    let stack = Stack::start().await;
    let job = stack.submit(json!({"kind": "noop", "name": "hello"})).await;
    assert_eq!(job["status"], "queued");
    let done = stack.wait_for_status(&id_of(&job), "succeeded", WAIT).await;
    assert_eq!(done["attempt"], 1);
    let attempts = done["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["outcome"], "succeeded");
    assert!(attempts[0]["worker_id"]
        .as_str()
        .is_some_and(|w| !w.is_empty()));
    assert!(done["finished_at"].is_string());
    stack.stop().await;
}

#[tokio::test]
async fn failing_job_is_retried_with_backoff_then_dead_then_retried_by_hand() {
    let stack = Stack::start().await;
    let job = stack
        .submit(json!({
            "kind": "shell",
            "payload": {"argv": ["sh", "-c", "echo attempt $CONVEYOR_ATTEMPT; exit 7"]},
            "max_attempts": 3,
            "backoff": {"base_ms": 200, "max_ms": 400},
        }))
        .await;
    let id = id_of(&job);
    let dead = stack.wait_for_status(&id, "dead", WAIT).await;
    let attempts = dead["attempts"].as_array().expect("attempts").clone();
    assert_eq!(attempts.len(), 3);
    for (i, a) in attempts.iter().enumerate() {
        assert_eq!(a["outcome"], "failed");
        assert_eq!(a["error"], "exited with status 7");
        assert!(a["output"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("attempt {}", i + 1)));
    }
    // Each retry waited at least base_ms after the failure before it.
    for pair in attempts.windows(2) {
        let gap = time(&pair[1]["started_at"]) - time(&pair[0]["finished_at"]);
        assert!(gap.num_milliseconds() >= 200, "retried after only {gap}");
    }
    assert_eq!(dead["last_error"], "exited with status 7");

    let (status, dead_list) = stack.get("/api/v1/jobs?status=dead").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(dead_list["jobs"][0]["id"], id.as_str());

    let (status, retried) = stack
        .post(&format!("/api/v1/jobs/{id}/retry"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{retried}");
    assert_eq!(retried["status"], "queued");
    let dead_again = stack.wait_for_status(&id, "dead", WAIT).await;
    assert_eq!(dead_again["attempts"].as_array().map(Vec::len), Some(6));

    let (status, _) = stack
        .post(&format!("/api/v1/jobs/{id}/cancel"), json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    stack.stop().await;
}

#[tokio::test]
async fn retry_of_a_job_that_is_not_finished_is_a_conflict() {
    let stack = Stack::api_only().await;
    let job = stack.submit(json!({"kind": "noop"})).await;
    let (status, body) = stack
        .post(&format!("/api/v1/jobs/{}/retry", id_of(&job)), json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "conflict");
    stack.stop().await;
}

#[tokio::test]
async fn cancelled_job_is_never_started() {
    let mut stack = Stack::api_only().await;
    let queued = stack.submit(json!({"kind": "noop"})).await;
    let delayed = stack.submit(json!({"kind": "noop", "delay_ms": 300})).await;
    assert_eq!(delayed["status"], "scheduled");
    for job in [&queued, &delayed] {
        let (status, body) = stack
            .post(&format!("/api/v1/jobs/{}/cancel", id_of(job)), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "cancelled");
    }
    stack.add_worker(&[]).await;
    let witness = stack.submit(json!({"kind": "noop"})).await;
    stack
        .wait_for_status(&id_of(&witness), "succeeded", WAIT)
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for job in [&queued, &delayed] {
        let after = stack.job(&id_of(job)).await;
        assert_eq!(after["status"], "cancelled");
        assert_eq!(after["attempts"].as_array().map(Vec::len), Some(0));
        assert!(after["started_at"].is_null());
    }
    stack.stop().await;
}

#[tokio::test]
async fn cancelling_a_running_job_stops_it_at_once_not_at_the_next_heartbeat() {
    // A 60 s lease: the heartbeat comes every 20 s, so only the cancels
    // channel can stop the job within the few seconds allowed here.
    let mut stack = Stack::api_only().await;
    stack.add_worker(&[("WORKER_LEASE_SECS", "60")]).await;
    let job = stack
        .submit(json!({"kind": "shell", "payload": {"argv": ["sleep", "30"]}}))
        .await;
    let id = id_of(&job);
    stack.wait_for_status(&id, "running", WAIT).await;
    let (status, body) = stack
        .post(&format!("/api/v1/jobs/{id}/cancel"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The worker records the attempt as cancelled once the process is gone.
    let deadline = std::time::Instant::now() + Duration::from_secs(4);
    loop {
        let now = stack.job(&id).await;
        assert_eq!(now["status"], "cancelled");
        if now["attempts"][0]["outcome"] == "cancelled" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the worker did not stop the cancelled job: {now:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stack.stop().await;
}

#[tokio::test]
async fn delayed_job_is_not_started_early() {
    let stack = Stack::start().await;
    let job = stack.submit(json!({"kind": "noop", "delay_ms": 800})).await;
    let run_at = time(&job["run_at"]);
    let done = stack.wait_for_status(&id_of(&job), "succeeded", WAIT).await;
    let started = time(&done["started_at"]);
    assert!(started >= run_at, "started {started} before {run_at}");
    // And it was picked up promptly once due.
    assert!((started - run_at).num_milliseconds() < 2_000);
    stack.stop().await;
}

#[tokio::test]
async fn higher_priority_runs_first_when_both_are_ready() {
    let mut stack = Stack::api_only().await;
    let low = stack.submit(json!({"kind": "noop", "priority": 1})).await;
    let mid = stack.submit(json!({"kind": "noop", "priority": 5})).await;
    let high = stack.submit(json!({"kind": "noop", "priority": 9})).await;
    stack.add_worker(&[("WORKER_CONCURRENCY", "1")]).await;
    let mut started = Vec::new();
    for job in [&low, &mid, &high] {
        let done = stack.wait_for_status(&id_of(job), "succeeded", WAIT).await;
        started.push(time(&done["started_at"]));
    }
    assert!(started[2] < started[1], "priority 9 did not run before 5");
    assert!(started[1] < started[0], "priority 5 did not run before 1");
    stack.stop().await;
}

#[tokio::test]
async fn idempotency_key_returns_the_same_job_and_rejects_a_different_body() {
    let stack = Stack::api_only().await;
    let spec = json!({"kind": "noop", "idempotency_key": "order-42", "payload": {"a": 1, "b": 2}});
    let first = stack.submit(spec.clone()).await;
    // Same body (keys in another order): 200 with the same job.
    let (status, again) = stack
        .post(
            "/api/v1/jobs",
            json!({"payload": {"b": 2, "a": 1}, "idempotency_key": "order-42", "kind": "noop"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["id"], first["id"]);
    // Different body: 409 naming the key.
    let (status, conflict) = stack
        .post(
            "/api/v1/jobs",
            json!({"kind": "noop", "idempotency_key": "order-42", "payload": {"a": 2}}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{conflict}");
    assert_eq!(conflict["error"]["details"]["field"], "idempotency_key");
    // The same key in another queue is another job.
    let other = stack
        .submit(json!({"kind": "noop", "idempotency_key": "order-42", "queue": "other"}))
        .await;
    assert_ne!(other["id"], first["id"]);
    assert_eq!(stack.job_count().await, 2);
    stack.stop().await;
}

#[tokio::test]
async fn batch_submits_all_jobs_in_one_transaction() {
    let stack = Stack::start().await;
    let jobs: Vec<_> = (0..500)
        .map(|i| json!({"kind": "noop", "name": format!("batch-{i}")}))
        .collect();
    let (status, body) = stack
        .post("/api/v1/jobs/batch", json!({ "jobs": jobs }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let created = body["jobs"].as_array().expect("jobs");
    assert_eq!(created.len(), 500);
    assert_eq!(created[7]["name"], "batch-7");
    let last = id_of(&created[499]);
    stack.wait_for_status(&last, "succeeded", WAIT).await;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let (_, stats) = stack.get("/api/v1/stats").await;
        if stats["counts"]["succeeded"] == 500 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{stats}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // One bad job rejects the whole batch and writes nothing.
    let before = stack.job_count().await;
    let (status, body) = stack
        .post(
            "/api/v1/jobs/batch",
            json!({"jobs": [{"kind": "noop"}, {"kind": "noop", "priority": 11}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["details"]["field"], "jobs[1].priority");
    let too_many: Vec<_> = (0..1001).map(|_| json!({"kind": "noop"})).collect();
    let (status, body) = stack
        .post("/api/v1/jobs/batch", json!({ "jobs": too_many }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["details"]["field"], "jobs");
    assert_eq!(stack.job_count().await, before);
    stack.stop().await;
}

#[tokio::test]
async fn list_filters_and_pages_newest_first() {
    let stack = Stack::api_only().await;
    for i in 0..7 {
        let queue = if i % 2 == 0 { "even" } else { "odd" };
        stack
            .submit(json!({"kind": "noop", "queue": queue, "name": format!("report-{i}")}))
            .await;
    }
    stack
        .submit(json!({"kind": "sleep", "payload": {"ms": 1}, "name": "other"}))
        .await;
    let (_, page1) = stack.get("/api/v1/jobs?limit=3&kind=noop").await;
    let names: Vec<&str> = page1["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter_map(|j| j["name"].as_str())
        .collect();
    assert_eq!(names, ["report-6", "report-5", "report-4"]);
    let cursor = page1["next_cursor"].as_str().expect("cursor");
    let (_, page2) = stack
        .get(&format!("/api/v1/jobs?limit=3&kind=noop&cursor={cursor}"))
        .await;
    assert_eq!(page2["jobs"][0]["name"], "report-3");
    let (_, page3) = stack
        .get(&format!(
            "/api/v1/jobs?limit=3&kind=noop&cursor={}",
            page2["next_cursor"].as_str().expect("cursor")
        ))
        .await;
    assert_eq!(page3["jobs"].as_array().map(Vec::len), Some(1));
    assert!(page3["next_cursor"].is_null());

    let (_, odd) = stack.get("/api/v1/jobs?queue=odd").await;
    assert_eq!(odd["jobs"].as_array().map(Vec::len), Some(3));
    let (_, named) = stack.get("/api/v1/jobs?name=PORT-5").await;
    assert_eq!(named["jobs"].as_array().map(Vec::len), Some(1));
    let (_, queued) = stack.get("/api/v1/jobs?status=queued&limit=100").await;
    assert_eq!(queued["jobs"].as_array().map(Vec::len), Some(8));

    let (_, queues) = stack.get("/api/v1/queues").await;
    let even = queues["queues"]
        .as_array()
        .expect("queues")
        .iter()
        .find(|q| q["queue"] == "even")
        .cloned()
        .expect("even queue");
    assert_eq!(even["queued"], 4);
    stack.stop().await;
}

/// The name search matches `name ilike '%…%'` whether the name is the
/// job's own or its kind's (the default): the trigram index holds only the
/// former (migration 0018), the kinds' index serves the latter, and a job
/// whose kind matches but whose own name does not stays out.
#[tokio::test]
async fn the_name_search_finds_default_and_own_names_alike() {
    let stack = Stack::api_only().await;
    let mut ids = std::collections::HashMap::new();
    for (name, spec) in [
        ("noop", json!({"kind": "noop"})),
        (
            "nightly-noop-report",
            json!({"kind": "sleep", "payload": {"ms": 1}, "name": "nightly-noop-report"}),
        ),
        ("sleep", json!({"kind": "sleep", "payload": {"ms": 1}})),
        ("billing", json!({"kind": "noop", "name": "billing"})),
        ("100%_done", json!({"kind": "noop", "name": "100%_done"})),
    ] {
        ids.insert(name, id_of(&stack.submit(spec).await));
    }
    let found = |query: &'static str| {
        let stack = &stack;
        async move {
            let (status, page) = stack.get(&format!("/api/v1/jobs?name={query}")).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let mut names: Vec<String> = page["jobs"]
                .as_array()
                .expect("jobs")
                .iter()
                .filter_map(|j| j["name"].as_str().map(str::to_owned))
                .collect();
            names.sort();
            names
        }
    };
    assert_eq!(found("NOO").await, ["nightly-noop-report", "noop"]);
    assert_eq!(found("leep").await, ["sleep"]);
    assert_eq!(found("bill").await, ["billing"]);
    assert_eq!(found("0%25_d").await, ["100%_done"]);
    assert!(found("zzz").await.is_empty());
    // The bulk selection reads the same filter.
    let (status, selected) = stack
        .post(
            "/api/v1/jobs/bulk",
            json!({"action": "cancel", "filter": {"name": "noo"}}),
        )
        .await;
    assert!(status.is_success(), "{selected}");
    assert_eq!(selected["matched"], 2, "{selected}");
    for name in ["noop", "nightly-noop-report"] {
        assert_eq!(stack.job(&ids[name]).await["status"], "cancelled", "{name}");
    }
    assert_eq!(stack.job(&ids["billing"]).await["status"], "queued");
    let definition: String =
        sqlx::query_scalar("select pg_get_indexdef('jobs_name_trgm'::regclass)")
            .fetch_one(&stack.env.pool)
            .await
            .expect("index");
    assert!(definition.ends_with("WHERE (name <> kind)"), "{definition}");
    stack.stop().await;
}

#[tokio::test]
async fn a_paused_queue_keeps_its_jobs_until_resumed() {
    let stack = Stack::start().await;
    let (status, paused) = stack.post("/api/v1/queues/default/pause", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{paused}");
    assert_eq!(paused["paused"], true);
    let job = stack.submit(json!({"kind": "noop"})).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(stack.job(&id_of(&job)).await["status"], "queued");
    let (_, queues) = stack.get("/api/v1/queues").await;
    assert_eq!(queues["queues"][0]["queue"], "default");
    assert_eq!(queues["queues"][0]["paused"], true);
    assert_eq!(queues["queues"][0]["queued"], 1);

    let (status, resumed) = stack.post("/api/v1/queues/default/resume", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(resumed["paused"], false);
    stack.wait_for_status(&id_of(&job), "succeeded", WAIT).await;
    let (status, error) = stack
        .post("/api/v1/queues/bad%20name/pause", json!({}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["error"]["details"]["field"], "name");
    stack.stop().await;
}

#[tokio::test]
async fn the_list_sorts_by_priority_across_pages() {
    let stack = Stack::api_only().await;
    for (i, p) in [3, 9, 1, 9, 5, 3, 7].iter().enumerate() {
        stack
            .submit(json!({"kind": "noop", "priority": p, "name": format!("j{i}")}))
            .await;
    }
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = stack
            .get(&format!(
                "/api/v1/jobs?sort=priority&limit=3&cursor={cursor}"
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for job in page["jobs"].as_array().expect("jobs") {
            seen.push(format!(
                "{}:{}",
                job["priority"],
                job["name"].as_str().unwrap_or("")
            ));
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ["9:j3", "9:j1", "7:j6", "5:j4", "3:j5", "3:j0", "1:j2"]
    );
    let (status, error) = stack.get("/api/v1/jobs?sort=size").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["error"]["details"]["field"], "sort");
    stack.stop().await;
}

#[tokio::test]
async fn bulk_actions_apply_to_ids_or_a_filter_and_skip_what_does_not_fit() {
    let stack = Stack::api_only().await;
    let mut ids = Vec::new();
    for i in 0..6 {
        let queue = if i < 4 { "bulk" } else { "other" };
        ids.push(id_of(
            &stack.submit(json!({"kind": "noop", "queue": queue})).await,
        ));
    }
    // Cancel everything in the `bulk` queue by filter.
    let (status, result) = stack
        .post(
            "/api/v1/jobs/bulk",
            json!({"action": "cancel", "filter": {"queue": "bulk"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_eq!(
        result,
        json!({"matched": 4, "changed": 4, "skipped": 0, "more": false})
    );
    // Retry two of them and one queued job (skipped: it is not finished).
    let (_, result) = stack
        .post(
            "/api/v1/jobs/bulk",
            json!({"action": "retry", "ids": [ids[0], ids[1], ids[4]]}),
        )
        .await;
    assert_eq!(result["changed"], 2);
    assert_eq!(result["skipped"], 1);
    assert_eq!(stack.job(&ids[0]).await["status"], "queued");
    // Delete the finished ones among all.
    let (_, result) = stack
        .post("/api/v1/jobs/bulk", json!({"action": "delete", "ids": ids}))
        .await;
    assert_eq!(result["changed"], 2, "{result}");
    assert_eq!(stack.job_count().await, 4);
    let (status, _) = stack.get(&format!("/api/v1/jobs/{}", ids[2])).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, error) = stack
        .post("/api/v1/jobs/bulk", json!({"action": "retry"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["error"]["details"]["field"], "ids");

    // DELETE one: a queued job is refused, a cancelled one goes.
    let (status, _) = stack.delete(&format!("/api/v1/jobs/{}", ids[4])).await;
    assert_eq!(status, StatusCode::CONFLICT);
    stack
        .post(&format!("/api/v1/jobs/{}/cancel", ids[4]), json!({}))
        .await;
    let (status, _) = stack.delete(&format!("/api/v1/jobs/{}", ids[4])).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, stats) = stack.get("/api/v1/stats").await;
    assert_eq!(stats["total"], 3, "{stats}");
    stack.stop().await;
}

/// The triggers of `jobs` never join the statement's two transition tables
/// with a plan cached from an earlier, smaller statement (migration 0016).
/// On one connection, with a webhook that wants `job.dead`: one job dies,
/// then 15,000 in one statement; one is retried, then the 15,000. With the
/// plans the single-row statements left (a nested loop over every pair of
/// old and new rows) the big ones took about 17 s (the webhook's) and 30 s
/// (the retry's) on the development machine, against about 1 s each now;
/// the connection gives each statement 8 s.
#[tokio::test]
async fn a_big_statement_after_a_small_one_never_compares_every_pair_of_rows() {
    let env = TestEnv::new().await;
    sqlx::query(
        "insert into webhooks (id, url, events, secret)
         values (gen_random_uuid(), 'http://127.0.0.1:9/hook', array['job.dead'], 's')",
    )
    .execute(&env.pool)
    .await
    .expect("webhook");
    sqlx::query(
        "insert into jobs (id, queue, kind, name, status, run_at)
         select conveyor_uuid_v7(), 'default', 'noop', 'noop', 'queued', now()
         from generate_series(1, 15001)",
    )
    .execute(&env.pool)
    .await
    .expect("jobs");
    let mut conn = sqlx::PgConnection::connect(&env.database_url)
        .await
        .expect("connection");
    let statements = [
        "set statement_timeout = '8s'",
        "update jobs set status = 'dead', finished_at = now()
         where id = (select id from jobs where status = 'queued' order by id limit 1)",
        "update jobs set status = 'dead', finished_at = now() where status = 'queued'",
        "update jobs set status = 'queued', finished_at = null
         where id = (select id from jobs where status = 'dead' order by id limit 1)",
        "update jobs set status = 'queued', finished_at = null where status = 'dead'",
    ];
    for statement in statements {
        sqlx::query(statement)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    let deliveries: i64 = sqlx::query_scalar("select count(*) from webhook_deliveries")
        .fetch_one(&env.pool)
        .await
        .expect("deliveries");
    assert_eq!(deliveries, 15_001, "one job.dead delivery a job");
    let live: i64 = sqlx::query_scalar("select count(*) from live_jobs where status = 'queued'")
        .fetch_one(&env.pool)
        .await
        .expect("live");
    assert_eq!(live, 15_001, "every retried job is live again");
    let _ = conn.close().await;
    env.cleanup().await;
}

/// `live_jobs` (migration 0011) holds exactly the jobs that are not final,
/// with their status and due time, whatever moved them: submit, a delay, a
/// claim, a finish, a failure with retry, dead, cancel, a retry by hand. A
/// running job keeps its `queued` entry untouched (migration 0015: a claim
/// writes nothing there). Each status is listed through whichever index
/// holds it, running jobs through Redis's in-flight ids.
#[tokio::test]
async fn live_jobs_mirrors_every_job_not_final_and_each_status_lists() {
    let mut stack = Stack::api_only().await;
    let pool = stack.env.pool.clone();
    let mismatches = || async {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from (
                 select id, live_status(status) as status, run_at from jobs
                 where status in ('blocked', 'scheduled', 'queued', 'running')
             ) j full join live_jobs l using (id)
             where j.id is null or l.id is null
                or (j.status, j.run_at) is distinct from (l.status, l.run_at)",
        )
        .fetch_one(&pool)
        .await
        .expect("compare")
    };
    let ok = id_of(&stack.submit(json!({"kind": "noop"})).await);
    let later = id_of(
        &stack
            .submit(json!({"kind": "noop", "delay_ms": 3_600_000}))
            .await,
    );
    let cancelled = id_of(
        &stack
            .submit(json!({"kind": "noop", "delay_ms": 3_600_000}))
            .await,
    );
    let failing = id_of(
        &stack
            .submit(json!({
                "kind": "shell",
                "payload": {"argv": ["sh", "-c", "exit 3"]},
                "max_attempts": 2,
                "backoff": {"base_ms": 100, "max_ms": 100},
            }))
            .await,
    );
    let long = id_of(
        &stack
            .submit(json!({"kind": "sleep", "payload": {"ms": 60_000}}))
            .await,
    );
    assert_eq!(mismatches().await, 0, "after submits");
    // The row version of `long`'s entry: a claim must not write a new one.
    let version = || async {
        sqlx::query_scalar::<_, String>(
            "select status::text || ' ' || xmin::text from live_jobs where id = $1::uuid",
        )
        .bind(&long)
        .fetch_one(&pool)
        .await
        .expect("live entry")
    };
    let submitted = version().await;
    stack.add_worker(&[("WORKER_ALLOW_SHELL", "1")]).await;
    stack.wait_for_status(&ok, "succeeded", WAIT).await;
    stack.wait_for_status(&failing, "dead", WAIT).await;
    stack.wait_for_status(&long, "running", WAIT).await;
    assert_eq!(version().await, submitted, "a claim rewrote the live entry");
    let (status, _) = stack
        .post(&format!("/api/v1/jobs/{cancelled}/cancel"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mismatches().await, 0, "after runs, a death and a cancel");

    let listed = |status: &'static str| {
        let stack = &stack;
        async move {
            let (code, page) = stack.get(&format!("/api/v1/jobs?status={status}")).await;
            assert_eq!(code, StatusCode::OK, "{page}");
            page["jobs"]
                .as_array()
                .expect("jobs")
                .iter()
                .map(id_of)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed("succeeded").await, vec![ok.clone()]);
    assert_eq!(listed("scheduled").await, vec![later.clone()]);
    assert_eq!(listed("running").await, vec![long.clone()]);
    assert_eq!(listed("dead").await, vec![failing.clone()]);
    assert_eq!(listed("cancelled").await, vec![cancelled.clone()]);
    assert!(listed("queued").await.is_empty());

    // A retry by hand brings the dead job back (into live_jobs), and it dies again.
    let (status, _) = stack
        .post(&format!("/api/v1/jobs/{failing}/retry"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mismatches().await, 0, "after a retry");
    tokio::time::sleep(Duration::from_millis(100)).await;
    stack.wait_for_status(&failing, "dead", WAIT).await;
    let (status, _) = stack
        .post(&format!("/api/v1/jobs/{long}/cancel"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mismatches().await, 0, "after a second death and a cancel");
    let left: Vec<String> = sqlx::query_scalar("select id::text from live_jobs")
        .fetch_all(&pool)
        .await
        .expect("live");
    assert_eq!(left, vec![later]);
    stack.stop().await;
}

/// The per-minute throughput counts each finish once, by the minute it was
/// committed: claims and retries by hand add nothing and take nothing away.
#[tokio::test]
async fn finished_per_minute_counts_each_finish_once() {
    let stack = Stack::start().await;
    let totals = || async {
        let (_, stats) = stack.get("/api/v1/stats").await;
        let minutes = stats["finished_per_minute"]
            .as_array()
            .expect("minutes")
            .clone();
        let sum = |field: &str| -> i64 {
            minutes
                .iter()
                .map(|m| m[field].as_i64().unwrap_or_default())
                .sum()
        };
        (sum("succeeded"), sum("dead"))
    };
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(id_of(&stack.submit(json!({"kind": "noop"})).await));
    }
    let failing = id_of(
        &stack
            .submit(json!({
                "kind": "shell",
                "payload": {"argv": ["sh", "-c", "exit 3"]},
                "max_attempts": 1,
            }))
            .await,
    );
    for id in &ids {
        stack.wait_for_status(id, "succeeded", WAIT).await;
    }
    stack.wait_for_status(&failing, "dead", WAIT).await;
    assert_eq!(totals().await, (3, 1));
    // Paused, so the retried job waits while the totals are read.
    let (status, _) = stack.post("/api/v1/queues/default/pause", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = stack
        .post(&format!("/api/v1/jobs/{failing}/retry"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stack.job(&failing).await["status"], "queued");
    assert_eq!(totals().await, (3, 1), "a retry takes nothing away");
    let (status, _) = stack.post("/api/v1/queues/default/resume", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    stack.wait_for_status(&failing, "dead", WAIT).await;
    assert_eq!(totals().await, (3, 2), "its second death counts again");
    stack.stop().await;
}

/// Running jobs are found among the ids Redis holds in flight, and without
/// them (Redis did not answer) by reading `live_jobs`' queued entries: both
/// find a running job and only it, in the list, the bulk selection and the
/// workers page (migration 0015).
#[tokio::test]
async fn running_jobs_are_found_with_and_without_the_ids_in_flight() {
    use conveyor_shared::db::jobs::{self, JobFilter, JobSort};
    use conveyor_shared::db::{claims, workers};
    use conveyor_shared::model::JobStatus;

    let stack = Stack::api_only().await;
    let pool = &stack.env.pool;
    let running =
        uuid::Uuid::parse_str(&id_of(&stack.submit(json!({"kind": "noop"})).await)).expect("uuid");
    let queued =
        uuid::Uuid::parse_str(&id_of(&stack.submit(json!({"kind": "noop"})).await)).expect("uuid");
    claims::claim(pool, &[running], "worker-a", 30_000)
        .await
        .expect("claim");
    let filter = JobFilter {
        status: Some(JobStatus::Running),
        queue: None,
        kind: None,
        name: None,
    };
    let eligible = [JobStatus::Queued, JobStatus::Running];
    let all = JobFilter {
        status: None,
        ..filter.clone()
    };
    // In flight: the running job, and the queued one (a claim not yet in
    // PostgreSQL): only the running one is listed.
    for among in [Some(&[running, queued][..]), None] {
        let listed = jobs::list(pool, &filter, JobSort::Created, None, 10, among)
            .await
            .expect("list");
        assert_eq!(
            listed.iter().map(|j| j.id).collect::<Vec<_>>(),
            vec![running],
            "{among:?}"
        );
        let matching = jobs::matching_ids(pool, &all, &eligible, 10, among)
            .await
            .expect("matching");
        assert_eq!(matching, vec![queued, running], "{among:?}");
        assert!(
            jobs::list(pool, &filter, JobSort::Priority, None, 10, among)
                .await
                .expect("list")
                .iter()
                .all(|j| j.id == running)
        );
    }
    // Among ids that do not include it, the running job is not found.
    let listed = jobs::list(pool, &filter, JobSort::Created, None, 10, Some(&[queued]))
        .await
        .expect("list");
    assert!(listed.is_empty());
    // The workers page, with and without the ids.
    workers::heartbeat(
        pool,
        &workers::Registration {
            id: "worker-a".into(),
            host: "test".into(),
            pid: 1,
            queues: vec!["default".into()],
            concurrency: 1,
            kinds: vec!["noop".into()],
            heartbeat_ms: 10_000,
        },
    )
    .await
    .expect("heartbeat");
    for among in [Some(&[running, queued][..]), None] {
        let live = workers::live_with_jobs(pool, among).await.expect("workers");
        let held: Vec<uuid::Uuid> = live
            .iter()
            .filter(|w| w.id == "worker-a")
            .flat_map(|w| w.running.iter().map(|r| r.id))
            .collect();
        assert_eq!(held, vec![running], "{among:?}");
    }
    stack.stop().await;
}

/// The spec's checks (migration 0017) run when the spec is written: an
/// insert with a bad spec fails as a CHECK did (SQLSTATE 23514, naming the
/// constraint) and writes nothing of its statement; an UPDATE that sets a
/// spec column is checked the same way; status changes are not.
#[tokio::test]
async fn a_bad_spec_is_refused_on_insert_and_on_update_as_by_a_check() {
    let env = TestEnv::new().await;
    let id: uuid::Uuid = sqlx::query_scalar(
        "insert into jobs (id, queue, kind, name, status, run_at)
         values (conveyor_uuid_v7(), 'default', 'noop', 'noop', 'queued', now())
         returning id",
    )
    .fetch_one(&env.pool)
    .await
    .expect("a good job");
    // The constraint a statement (given the good job as $1, if it names
    // it) violated, if it failed with SQLSTATE 23514; panics on any other
    // error.
    let violated = |sql: String| {
        let pool = env.pool.clone();
        async move {
            let query = sqlx::query(&sql);
            let query = if sql.contains("$1") {
                query.bind(id)
            } else {
                query
            };
            match query.execute(&pool).await {
                Ok(_) => None,
                Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("23514") => {
                    db.constraint().map(str::to_owned)
                }
                Err(e) => panic!("{sql}: {e}"),
            }
        }
    };
    // (column, a bad value, a good one, the constraint named)
    let cases = [
        ("queue", "'no spaces'", "'default'", "jobs_queue_check"),
        ("queue", "''", "'default'", "jobs_queue_check"),
        ("priority", "10", "9", "jobs_priority_check"),
        ("max_attempts", "0", "1", "jobs_max_attempts_check"),
        ("backoff_base_ms", "-1", "0", "jobs_backoff_base_ms_check"),
        ("backoff_max_ms", "1", "5000", "jobs_check"),
        ("timeout_secs", "0", "1", "jobs_timeout_secs_check"),
        // (jobs_fire_has_time and a run without a node need a schedule or a
        // run to exist: their foreign keys are checked first.)
        ("node_key", "'a node'", "default", "jobs_node_has_run"),
    ];
    for (column, bad, good, constraint) in cases {
        // The queue is always named; the column under test, if not it, after.
        let (columns, before) = if column == "queue" {
            ("queue".to_owned(), "")
        } else {
            (format!("queue, {column}"), "'default', ")
        };
        let values = |value: &str| {
            format!("(conveyor_uuid_v7(), 'noop', 'noop', 'queued', now(), {before}{value})")
        };
        // A good row and a bad one in one statement: neither is written.
        let insert = format!(
            "insert into jobs (id, kind, name, status, run_at, {columns}) values {}, {}",
            values(good),
            values(bad)
        );
        assert_eq!(
            violated(insert.clone()).await.as_deref(),
            Some(constraint),
            "{insert}"
        );
    }
    let jobs: i64 = sqlx::query_scalar("select count(*) from jobs")
        .fetch_one(&env.pool)
        .await
        .expect("count");
    assert_eq!(jobs, 1, "a refused statement wrote nothing");

    for (set, constraint) in [
        ("priority = 42", Some("jobs_priority_check")),
        ("queue = 'a queue'", Some("jobs_queue_check")),
        ("node_key = 'n'", Some("jobs_node_has_run")),
        // A valid change of the spec is accepted.
        ("priority = 9, queue = 'other'", None),
        // The state's checks are still constraints.
        ("status = 'running'", Some("jobs_lease_iff_running")),
    ] {
        let update = format!("update jobs set {set} where id = $1");
        assert_eq!(violated(update).await.as_deref(), constraint, "set {set}");
    }
    env.cleanup().await;
}

/// A claim moves queued jobs to running and changes no `live_jobs` entry
/// (migration 0015), so its statement must not read `live_jobs` at all
/// (migration 0017: it probed every entry before). A claim of a due
/// scheduled job still moves its entry to queued.
#[tokio::test]
async fn a_claim_of_queued_jobs_never_reads_live_jobs() {
    let env = TestEnv::new().await;
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar(
        "insert into jobs (id, queue, kind, name, status, run_at)
         select conveyor_uuid_v7(), 'default', 'noop', 'noop', 'queued', now()
         from generate_series(1, 50) returning id",
    )
    .fetch_all(&env.pool)
    .await
    .expect("jobs");
    let mut tx = env.pool.begin().await.expect("transaction");
    let claimed = conveyor_shared::db::claims::claim(&mut *tx, &ids, "w", 60_000)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 50);
    let reads: i64 = sqlx::query_scalar(
        "select (coalesce(seq_scan, 0) + coalesce(idx_scan, 0))::int8
         from pg_stat_xact_user_tables where relname = 'live_jobs'",
    )
    .fetch_one(&mut *tx)
    .await
    .expect("stats");
    tx.commit().await.expect("commit");
    assert_eq!(reads, 0, "the claim read live_jobs {reads} times");

    let due: uuid::Uuid = sqlx::query_scalar(
        "insert into jobs (id, queue, kind, name, status, run_at)
         values (conveyor_uuid_v7(), 'default', 'noop', 'noop', 'scheduled',
                 now() - interval '1 second')
         returning id",
    )
    .fetch_one(&env.pool)
    .await
    .expect("a due scheduled job");
    let claimed = conveyor_shared::db::claims::claim(&env.pool, &[due], "w", 60_000)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    let entry: String = sqlx::query_scalar("select status::text from live_jobs where id = $1")
        .bind(due)
        .fetch_one(&env.pool)
        .await
        .expect("entry");
    assert_eq!(entry, "queued", "a running job's entry is queued");
    env.cleanup().await;
}
