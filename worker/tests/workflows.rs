//! Workflows: DAG checks, runs that release children when all parents
//! succeed, skipping, retries, parents' results, and definitions.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::{id_of, Stack};
use reqwest::StatusCode;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(60);

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("not a time: {v}"))
}

async fn create(stack: &Stack, body: Value) -> Value {
    let (status, wf) = stack.post("/api/v1/workflows", body).await;
    assert_eq!(status, StatusCode::CREATED, "{wf}");
    wf
}

async fn start(stack: &Stack, workflow: &Value) -> String {
    let (status, run) = stack
        .post(
            &format!("/api/v1/workflows/{}/runs", id_of(workflow)),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    id_of(run.as_object().map(|_| &run).expect("run"))
}

/// Polls the run until its derived status is `status`; returns it with nodes by key.
async fn wait_run(stack: &Stack, run: &str, status: &str) -> (Value, HashMap<String, Value>) {
    let deadline = Instant::now() + WAIT;
    let run_id = uuid::Uuid::parse_str(run).expect("run id");
    loop {
        // Cheap check first; the full detail once every job has finished.
        let unfinished: i64 = sqlx::query_scalar(
            "select count(*) from jobs where workflow_run_id = $1
             and status in ('blocked', 'scheduled', 'queued', 'running')",
        )
        .bind(run_id)
        .fetch_one(&stack.env.pool)
        .await
        .expect("count");
        if unfinished > 0 && status != "running" {
            assert!(
                Instant::now() < deadline,
                "run {run} still has {unfinished} unfinished jobs"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        let (_, detail) = stack.get(&format!("/api/v1/workflow-runs/{run}")).await;
        if detail["status"] == status {
            let nodes = detail["nodes"]
                .as_array()
                .expect("nodes")
                .iter()
                .map(|n| {
                    (
                        n["key"].as_str().unwrap_or_default().to_owned(),
                        n["job"].clone(),
                    )
                })
                .collect();
            return (detail, nodes);
        }
        assert!(Instant::now() < deadline, "run not {status}: {detail:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn sleep_node(key: &str, ms: u64) -> Value {
    json!({"key": key, "job": {"kind": "sleep", "payload": {"ms": ms}}})
}

#[tokio::test]
async fn diamond_runs_d_only_after_b_and_c_and_each_node_once() {
    let mut stack = Stack::api_only().await;
    stack.add_worker(&[("WORKER_CONCURRENCY", "4")]).await;
    let wf = create(&stack, json!({
        "name": "diamond",
        "nodes": [sleep_node("a", 20), sleep_node("b", 150), sleep_node("c", 50), sleep_node("d", 10)],
        "edges": [["a", "b"], ["a", "c"], ["b", "d"], ["c", "d"]],
    }))
    .await;
    assert_eq!(wf["topological_order"], json!(["a", "b", "c", "d"]));
    let d = wf["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["key"] == "d")
        .cloned()
        .expect("d");
    assert_eq!(d["parents"], json!(["b", "c"]));
    let run = start(&stack, &wf).await;
    let (_, nodes) = wait_run(&stack, &run, "succeeded").await;
    for job in nodes.values() {
        assert_eq!(job["attempt"], 1, "{job}");
    }
    let d_started = time(&nodes["d"]["started_at"]);
    assert!(d_started >= time(&nodes["b"]["finished_at"]));
    assert!(d_started >= time(&nodes["c"]["finished_at"]));
    assert!(time(&nodes["b"]["started_at"]) >= time(&nodes["a"]["finished_at"]));
    let attempts: i64 = sqlx::query_scalar("select count(*) from all_attempts")
        .fetch_one(&stack.env.pool)
        .await
        .expect("count");
    assert_eq!(attempts, 4);
    stack.stop().await;
}

#[tokio::test]
async fn fan_out_to_100_children_and_back_in_to_one() {
    let mut stack = Stack::api_only().await;
    stack.add_worker(&[("WORKER_CONCURRENCY", "32")]).await;
    let mut nodes = vec![sleep_node("root", 1), sleep_node("sink", 1)];
    let mut edges = Vec::new();
    for i in 0..100 {
        let key = format!("leaf{i:03}");
        nodes.push(json!({"key": key, "job": {"kind": "noop"}}));
        edges.push(json!(["root", key]));
        edges.push(json!([key, "sink"]));
    }
    let wf = create(
        &stack,
        json!({"name": "fan", "nodes": nodes, "edges": edges}),
    )
    .await;
    let run = start(&stack, &wf).await;
    let (detail, nodes) = wait_run(&stack, &run, "succeeded").await;
    assert_eq!(detail["nodes"].as_array().map(Vec::len), Some(102));
    let sink_started = time(&nodes["sink"]["started_at"]);
    let root_finished = time(&nodes["root"]["finished_at"]);
    for (key, job) in &nodes {
        if key.starts_with("leaf") {
            assert!(time(&job["started_at"]) >= root_finished);
            assert!(time(&job["finished_at"]) <= sink_started);
        }
    }
    stack.stop().await;
}

#[tokio::test]
async fn an_edge_closing_a_cycle_is_rejected_with_its_path_and_the_graph_is_unchanged() {
    let stack = Stack::api_only().await;
    let noop = |k: &str| json!({"key": k, "job": {"kind": "noop"}});
    let wf = create(
        &stack,
        json!({
            "name": "chain", "nodes": [noop("a"), noop("b"), noop("c")],
            "edges": [["a", "b"], ["b", "c"]],
        }),
    )
    .await;
    let (status, error) = stack
        .post(
            &format!("/api/v1/workflows/{}/edges", id_of(&wf)),
            json!({"parent": "c", "child": "a"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
    assert_eq!(
        error["error"]["details"]["cycle"],
        json!(["a", "b", "c", "a"])
    );
    assert!(error["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("a → b → c → a"));
    let (_, after) = stack
        .get(&format!("/api/v1/workflows/{}", id_of(&wf)))
        .await;
    assert_eq!(after["edges"], json!([["a", "b"], ["b", "c"]]));

    // A cycle in a new workflow is refused the same way, and nothing is stored.
    let (status, error) = stack
        .post(
            "/api/v1/workflows",
            json!({
                "name": "loop", "nodes": [noop("x"), noop("y")], "edges": [["x", "y"], ["y", "x"]],
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error["error"]["details"]["cycle"], json!(["x", "y", "x"]));
    let (_, list) = stack.get("/api/v1/workflows").await;
    assert_eq!(list["workflows"].as_array().map(Vec::len), Some(1));

    // Edits that keep the graph acyclic work.
    let (status, _) = stack
        .post(
            &format!("/api/v1/workflows/{}/edges", id_of(&wf)),
            json!({"parent": "a", "child": "c"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, added) = stack
        .post(
            &format!("/api/v1/workflows/{}/nodes", id_of(&wf)),
            noop("d"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(added["nodes"].as_array().map(Vec::len), Some(4));
    let (status, _) = stack
        .delete(&format!("/api/v1/workflows/{}/edges/a/b", id_of(&wf)))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, after) = stack
        .get(&format!("/api/v1/workflows/{}", id_of(&wf)))
        .await;
    assert_eq!(after["edges"], json!([["a", "c"], ["b", "c"]]));
    stack.stop().await;
}

#[tokio::test]
async fn bad_graph_input_answers_422_and_stores_nothing() {
    let stack = Stack::api_only().await;
    let noop = |k: &str| json!({"key": k, "job": {"kind": "noop"}});
    let cases = [
        (
            json!({"name": "w", "nodes": [noop("a")], "edges": [["a", "a"]]}),
            "edges[0]",
        ),
        (
            json!({"name": "w", "nodes": [noop("a"), noop("b")], "edges": [["a", "b"], ["a", "b"]]}),
            "edges[1]",
        ),
        (
            json!({"name": "w", "nodes": [noop("a")], "edges": [["a", "ghost"]]}),
            "edges[0]",
        ),
        (
            json!({"name": "w", "nodes": [noop("a"), noop("a")]}),
            "nodes",
        ),
        (
            json!({"name": "w", "nodes": [noop("has space")]}),
            "nodes[0].key",
        ),
        (json!({"name": "w", "nodes": []}), "nodes"),
        (
            json!({"name": "w", "nodes": [{"key": "a", "job": {"kind": "nope"}}]}),
            "nodes[0].job.kind",
        ),
        (
            json!({"name": "w", "nodes": [{"key": "a", "job": {"kind": "noop", "delay_ms": 5}}]}),
            "nodes[0].job.delay_ms",
        ),
        (
            json!({"name": "w", "nodes": [{"key": "a", "job": {"definition": "missing"}}]}),
            "nodes[0].job.definition",
        ),
    ];
    for (body, field) in cases {
        let (status, error) = stack.post("/api/v1/workflows", body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {error}");
        assert_eq!(error["error"]["details"]["field"], field, "{body}: {error}");
    }
    let count: i64 = sqlx::query_scalar("select count(*) from workflows")
        .fetch_one(&stack.env.pool)
        .await
        .expect("count");
    assert_eq!(count, 0);
    stack.stop().await;
}

#[tokio::test]
async fn a_failing_node_skips_its_descendants_and_retrying_the_run_reruns_only_those() {
    let mut stack = Stack::api_only().await;
    stack.add_worker(&[("WORKER_CONCURRENCY", "4")]).await;
    let marker = std::env::temp_dir().join(format!("conveyor-wf-{}", uuid::Uuid::new_v4()));
    let flaky = json!({"kind": "shell", "max_attempts": 2, "backoff": {"base_ms": 10, "max_ms": 10},
                       "payload": {"argv": ["test", "-f", marker.to_string_lossy()]}});
    let wf = create(
        &stack,
        json!({
            "name": "pipeline",
            "nodes": [sleep_node("a", 1), {"key": "b", "job": flaky}, sleep_node("c", 1),
                      sleep_node("d", 1), sleep_node("e", 1)],
            "edges": [["a", "b"], ["b", "c"], ["c", "d"], ["a", "e"]],
        }),
    )
    .await;
    let run = start(&stack, &wf).await;
    let (_, nodes) = wait_run(&stack, &run, "failed").await;
    assert_eq!(nodes["b"]["status"], "dead");
    assert_eq!(nodes["b"]["attempt"], 2);
    assert_eq!(nodes["c"]["status"], "skipped");
    assert_eq!(nodes["d"]["status"], "skipped");
    assert_eq!(nodes["e"]["status"], "succeeded");
    assert_eq!(nodes["a"]["status"], "succeeded");

    std::fs::write(&marker, b"now it works").expect("marker");
    let (status, retried) = stack
        .post(&format!("/api/v1/workflow-runs/{run}/retry"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{retried}");
    let (_, nodes) = wait_run(&stack, &run, "succeeded").await;
    let _ = std::fs::remove_file(&marker);
    assert_eq!(
        nodes["a"]["attempt"], 1,
        "a succeeded before and must not rerun"
    );
    assert_eq!(nodes["e"]["attempt"], 1);
    assert_eq!(nodes["b"]["attempt"], 3);
    assert_eq!(nodes["c"]["attempt"], 1);
    assert_eq!(nodes["d"]["attempt"], 1);
    let (status, _) = stack
        .post(&format!("/api/v1/workflow-runs/{run}/retry"), json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    stack.stop().await;
}

#[tokio::test]
async fn a_child_receives_its_parents_results() {
    let mut stack = Stack::api_only().await;
    stack.add_worker(&[]).await;
    let wf = create(&stack, json!({
        "name": "results",
        "nodes": [sleep_node("left", 7), sleep_node("right", 3),
                  {"key": "join", "job": {"kind": "shell",
                      "payload": {"argv": ["sh", "-c", "cat; echo; cat \"$CONVEYOR_PARENTS_FILE\""]}}}],
        "edges": [["left", "join"], ["right", "join"]],
    }))
    .await;
    let run = start(&stack, &wf).await;
    let (_, nodes) = wait_run(&stack, &run, "succeeded").await;
    let job = stack.job(&id_of(&nodes["join"])).await;
    let output = job["attempts"][0]["output"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let first_line = output.lines().next().unwrap_or_default();
    let parents: Value = serde_json::from_str(first_line).expect("JSON on stdin");
    assert_eq!(
        parents,
        json!({"left": {"slept_ms": 7}, "right": {"slept_ms": 3}})
    );
    assert_eq!(
        output.lines().nth(1),
        Some(first_line),
        "the file holds the same"
    );
    stack.stop().await;
}

#[tokio::test]
async fn a_random_dag_of_1000_nodes_runs_in_topological_order() {
    let mut stack = Stack::api_only().await;
    stack.add_worker(&[("WORKER_CONCURRENCY", "64")]).await;
    // A deterministic pseudo-random DAG: edges only from lower to higher index.
    let mut seed: u64 = 0x5eed_cafe;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let n = 1000;
    let nodes: Vec<Value> = (0..n)
        .map(|i| json!({"key": format!("n{i:04}"), "job": {"kind": "noop"}}))
        .collect();
    let mut edges = Vec::new();
    for child in 1..n {
        let parents = 1 + next() % 3;
        let mut chosen = std::collections::BTreeSet::new();
        for _ in 0..parents {
            let window = child.min(50) as u64;
            chosen.insert(child - 1 - (next() % window) as usize);
        }
        for parent in chosen {
            edges.push(json!([format!("n{parent:04}"), format!("n{child:04}")]));
        }
    }
    let wf = create(
        &stack,
        json!({"name": "random", "nodes": nodes, "edges": edges}),
    )
    .await;
    assert_eq!(wf["topological_order"].as_array().map(Vec::len), Some(n));
    let run = start(&stack, &wf).await;
    let (_, jobs) = wait_run(&stack, &run, "succeeded").await;
    assert_eq!(jobs.len(), n);
    for edge in &edges {
        let (parent, child) = (
            edge[0].as_str().unwrap_or_default(),
            edge[1].as_str().unwrap_or_default(),
        );
        assert!(
            time(&jobs[child]["started_at"]) >= time(&jobs[parent]["finished_at"]),
            "{child} started before its parent {parent} finished"
        );
    }
    stack.stop().await;
}

#[tokio::test]
async fn cancelling_a_run_cancels_what_has_not_finished() {
    let mut stack = Stack::api_only().await;
    stack.add_worker(&[]).await;
    let wf = create(&stack, json!({
        "name": "long",
        "nodes": [{"key": "slow", "job": {"kind": "shell", "payload": {"argv": ["sleep", "30"]}}},
                  sleep_node("after", 1)],
        "edges": [["slow", "after"]],
    }))
    .await;
    let run = start(&stack, &wf).await;
    let deadline = Instant::now() + WAIT;
    loop {
        let (_, detail) = stack.get(&format!("/api/v1/workflow-runs/{run}")).await;
        if detail["nodes"]
            .as_array()
            .is_some_and(|n| n.iter().any(|x| x["job"]["status"] == "running"))
        {
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let (status, detail) = stack
        .post(&format!("/api/v1/workflow-runs/{run}/cancel"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(detail["status"], "cancelled");
    let (_, nodes) = wait_run(&stack, &run, "cancelled").await;
    assert_eq!(nodes["slow"]["status"], "cancelled");
    assert_eq!(nodes["after"]["status"], "cancelled");
    stack.stop().await;
}

#[tokio::test]
async fn definitions_fill_in_jobs_and_nodes() {
    let mut stack = Stack::api_only().await;
    stack.add_worker(&[]).await;
    let (status, def) = stack
        .post(
            "/api/v1/definitions",
            json!({"name": "nap", "description": "a short sleep",
            "template": {"kind": "sleep", "priority": 8, "payload": {"ms": 5}, "max_attempts": 5}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{def}");
    let (status, _) = stack
        .post(
            "/api/v1/definitions",
            json!({"name": "nap", "template": {"kind": "noop"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, error) = stack
        .post(
            "/api/v1/definitions",
            json!({"name": "bad", "template": {"kind": "sleep"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["error"]["details"]["field"], "template.payload.ms");

    let job = stack
        .submit(json!({"definition": "nap", "payload": {"ms": 9}}))
        .await;
    assert_eq!(job["kind"], "sleep");
    assert_eq!(job["priority"], 8);
    assert_eq!(job["max_attempts"], 5);
    let done = stack.wait_for_status(&id_of(&job), "succeeded", WAIT).await;
    assert_eq!(done["result"]["slept_ms"], 9);

    let wf = create(
        &stack,
        json!({"name": "uses-def",
        "nodes": [{"key": "one", "job": {"definition": "nap", "name": "first nap"}}]}),
    )
    .await;
    let run = start(&stack, &wf).await;
    let (_, nodes) = wait_run(&stack, &run, "succeeded").await;
    assert_eq!(nodes["one"]["name"], "first nap");
    assert_eq!(nodes["one"]["result"]["slept_ms"], 5);

    let (status, error) = stack
        .post("/api/v1/jobs", json!({"definition": "ghost"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["error"]["details"]["field"], "definition");
    stack.stop().await;
}

#[tokio::test]
async fn retrying_a_skipped_node_names_its_dead_parent_and_retrying_the_parent_releases_it() {
    let mut stack = Stack::api_only().await;
    stack.add_worker(&[("WORKER_CONCURRENCY", "4")]).await;
    let marker = std::env::temp_dir().join(format!("conveyor-wf-{}", uuid::Uuid::new_v4()));
    let flaky = json!({"kind": "shell", "max_attempts": 1,
                       "payload": {"argv": ["test", "-f", marker.to_string_lossy()]}});
    let wf = create(
        &stack,
        json!({
            "name": "graph-aware-retry",
            "nodes": [sleep_node("a", 1), {"key": "b", "job": flaky}, sleep_node("c", 1),
                      sleep_node("d", 1)],
            "edges": [["a", "b"], ["b", "c"], ["c", "d"]],
        }),
    )
    .await;
    let run = start(&stack, &wf).await;
    let (_, nodes) = wait_run(&stack, &run, "failed").await;
    assert_eq!(nodes["b"]["status"], "dead");
    assert_eq!(nodes["c"]["status"], "skipped");
    assert_eq!(nodes["d"]["status"], "skipped");

    // The skipped child would run without its parent's result: refused.
    let c = id_of(&nodes["c"]);
    let (status, body) = stack
        .post(&format!("/api/v1/jobs/{c}/retry"), json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["details"]["parent"], "b", "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("\"b\""));
    assert_eq!(stack.job(&c).await["status"], "skipped");

    // Retrying the dead parent re-runs it; when it succeeds the skipped
    // descendants run, in order, and the run ends succeeded.
    std::fs::write(&marker, b"now it works").expect("marker");
    let b = id_of(&nodes["b"]);
    let (status, body) = stack
        .post(&format!("/api/v1/jobs/{b}/retry"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // No longer skipped: blocked on b, or already released if the worker
    // ran b (a quick `test -f`) before this read.
    let c_now = stack.job(&c).await["status"].clone();
    assert!(
        ["blocked", "queued", "running", "succeeded"].contains(&c_now.as_str().unwrap_or("")),
        "c is {c_now} after its parent's retry"
    );
    let (_, nodes) = wait_run(&stack, &run, "succeeded").await;
    let _ = std::fs::remove_file(&marker);
    for key in ["a", "b", "c", "d"] {
        assert_eq!(nodes[key]["status"], "succeeded", "{key}: {nodes:#?}");
    }
    assert_eq!(nodes["a"]["attempt"], 1);
    assert_eq!(nodes["c"]["attempt"], 1);
    assert_eq!(nodes["d"]["attempt"], 1);
    stack.stop().await;
}
