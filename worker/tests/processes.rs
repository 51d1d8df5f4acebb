//! Real worker processes: sharing a queue, and stopping gracefully.

mod common;

use std::time::Duration;

use common::{id_of, Stack};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

fn sigterm(child: &tokio::process::Child) {
    let pid = child.id().expect("running child") as i32;
    kill(Pid::from_raw(pid), Signal::SIGTERM).expect("send SIGTERM");
}

#[tokio::test]
async fn two_worker_processes_share_one_queue_and_run_no_job_twice() {
    let stack = Stack::api_only().await;
    let mut a = stack.spawn_worker_process(&[("WORKER_CONCURRENCY", "8")]);
    let mut b = stack.spawn_worker_process(&[("WORKER_CONCURRENCY", "8")]);
    let jobs: Vec<_> = (0..600)
        .map(|i| json!({"kind": "sleep", "payload": {"ms": i % 5}}))
        .collect();
    let (status, body) = stack
        .post("/api/v1/jobs/batch", json!({ "jobs": jobs }))
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{body}");
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let (_, stats) = stack.get("/api/v1/stats").await;
        if stats["counts"]["succeeded"] == 600 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not drained: {stats}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let per_job: Vec<(i64,)> =
        sqlx::query_as("select count(*) from all_attempts group by job_id having count(*) <> 1")
            .fetch_all(&stack.env.pool)
            .await
            .expect("attempts");
    assert!(
        per_job.is_empty(),
        "jobs with more than one attempt: {per_job:?}"
    );
    let workers: Vec<(String, i64)> =
        sqlx::query_as("select worker_id, count(*) from all_attempts group by worker_id")
            .fetch_all(&stack.env.pool)
            .await
            .expect("workers");
    assert_eq!(
        workers.len(),
        2,
        "both processes should have taken jobs: {workers:?}"
    );
    // The trigger-kept counters agree with a real count.
    let drift: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "select coalesce(c.queue, j.queue), coalesce(c.status, j.status)::text,
                coalesce(c.n, 0), coalesce(j.n, 0)
         from job_counts c
         full join (select queue, status, count(*) as n from jobs group by 1, 2) j
           on j.queue = c.queue and j.status = c.status
         where coalesce(c.n, 0) <> coalesce(j.n, 0)",
    )
    .fetch_all(&stack.env.pool)
    .await
    .expect("counters");
    assert!(drift.is_empty(), "counters drifted: {drift:?}");
    sigterm(&a);
    sigterm(&b);
    assert!(a.wait().await.expect("wait a").success());
    assert!(b.wait().await.expect("wait b").success());
    stack.stop().await;
}

#[tokio::test]
async fn sigterm_lets_a_running_job_finish() {
    let stack = Stack::api_only().await;
    let mut worker = stack.spawn_worker_process(&[("WORKER_SHUTDOWN_GRACE_SECS", "20")]);
    let job = stack
        .submit(
            json!({"kind": "shell", "payload": {"argv": ["sh", "-c", "sleep 1.5; echo finished"]}}),
        )
        .await;
    let id = id_of(&job);
    stack.wait_for_status(&id, "running", WAIT).await;
    sigterm(&worker);
    // A job submitted after SIGTERM is not claimed by the stopping worker.
    let late = stack.submit(json!({"kind": "noop"})).await;
    let status = tokio::time::timeout(WAIT, worker.wait())
        .await
        .expect("worker exits")
        .expect("wait");
    assert!(status.success(), "{status:?}");
    let done = stack.job(&id).await;
    assert_eq!(done["status"], "succeeded", "{done:#}");
    assert!(done["attempts"][0]["output"]
        .as_str()
        .unwrap_or_default()
        .contains("finished"));
    assert_eq!(stack.job(&id_of(&late)).await["status"], "queued");
    stack.stop().await;
}

#[tokio::test]
async fn jobs_still_running_after_the_grace_period_go_back_to_the_queue() {
    let stack = Stack::api_only().await;
    let mut worker = stack.spawn_worker_process(&[("WORKER_SHUTDOWN_GRACE_SECS", "1")]);
    let job = stack
        .submit(json!({"kind": "shell", "max_attempts": 1,
                       "payload": {"argv": ["sh", "-c", "sleep 30"]}}))
        .await;
    let id = id_of(&job);
    stack.wait_for_status(&id, "running", WAIT).await;
    sigterm(&worker);
    let status = tokio::time::timeout(WAIT, worker.wait())
        .await
        .expect("worker exits")
        .expect("wait");
    assert!(status.success());
    let back = stack.job(&id).await;
    assert_eq!(back["status"], "queued", "{back:#}");
    assert_eq!(back["attempts"][0]["outcome"], "interrupted");
    // The interruption did not spend the only attempt: another worker runs it.
    let mut replacement = stack.spawn_worker_process(&[]);
    let rerun = stack.wait_for_status(&id, "running", WAIT).await;
    assert_eq!(rerun["attempt"], 2);
    let (code, _) = stack
        .post(&format!("/api/v1/jobs/{id}/cancel"), json!({}))
        .await;
    assert_eq!(code, reqwest::StatusCode::OK);
    sigterm(&replacement);
    let _ = replacement.wait().await;
    stack.stop().await;
}

#[tokio::test]
async fn a_bad_or_unreachable_setting_stops_start_up_with_one_line_naming_it() {
    let stack = Stack::api_only().await;
    let run = |extra: Vec<(&'static str, String)>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_conveyor-worker"));
        command
            .envs(stack.env.env())
            .env("STARTUP_TIMEOUT_SECS", "1");
        for (k, v) in extra {
            command.env(k, v);
        }
        command.output().expect("run conveyor-worker")
    };
    let out = run(vec![("WORKER_CONCURRENCY", "lots".into())]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("WORKER_CONCURRENCY=\"lots\""), "{stderr}");

    // Nothing listens on this port: start-up gives up after its timeout.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let out = run(vec![("REDIS_URL", format!("redis://127.0.0.1:{port}"))]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.contains("REDIS_URL"), "{stderr}");
    stack.stop().await;
}
