//! `docker` jobs in a real container engine (podman with runc, or Docker):
//! Dockerfiles downloaded, built once and run; failures, cancel and timeout;
//! the limits every container gets; a worker killed mid-container; pruning.
//!
//! The engine is `WORKER_DOCKER_BIN` (default `podman`); `scripts/test`
//! installs podman, writes its `containers.conf` and builds the base image
//! `localhost/conveyor-busybox:latest` (`scripts/lib/base-image.sh`, which
//! these tests also run when the image is missing). Where no engine can run,
//! the tests say so and pass, except under `CI=true`, where they fail.
//!
//! Tests share the engine and run in parallel: each looks only at the
//! containers labelled with its own scope (its Redis prefix), and each
//! Dockerfile carries the test's own id, so no two tests share an image.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use common::{capture_logs, id_of, Stack};
use serde_json::{json, Value};
use uuid::Uuid;

const BASE_IMAGE: &str = "localhost/conveyor-busybox:latest";
const WAIT: Duration = Duration::from_secs(60);

/// The engine's CLI, ready to run containers, or `None` (with a message)
/// when this machine cannot run them and this is not CI.
fn engine() -> Option<String> {
    let bin = std::env::var("WORKER_DOCKER_BIN").unwrap_or_else(|_| "podman".into());
    if bin.contains("podman") && std::env::var_os("CONTAINERS_CONF").is_none() {
        // What scripts/test writes: runc and cgroupfs, no default ulimits
        // (the defaults are refused in unprivileged sandboxes). Set before
        // any worker or engine process starts, so they all inherit it.
        let dir = std::env::temp_dir().join("conveyor-podman");
        std::fs::create_dir_all(&dir).expect("podman config dir");
        let conf = dir.join("containers.conf");
        std::fs::write(
            &conf,
            "[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n",
        )
        .expect("write containers.conf");
        std::env::set_var("CONTAINERS_CONF", &conf);
    }
    let ready = Command::new(&bin)
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    let base = ready
        && Command::new("bash")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../scripts/lib/base-image.sh"
            ))
            .env("WORKER_DOCKER_BIN", &bin)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
    if ready && base {
        return Some(bin);
    }
    let why = format!(
        "no container engine: `{bin} version` or building {BASE_IMAGE} failed \
         (as root on Debian, scripts/test installs podman, runc and busybox-static)"
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why}; docker tests must run in CI");
    }
    eprintln!("SKIPPED: {why}");
    None
}

/// A Dockerfile on the base image, unique to this test (no other test
/// builds or prunes its image).
fn dockerfile(extra: &str) -> String {
    format!("FROM {BASE_IMAGE}\n# test {}\n{extra}", Uuid::new_v4())
}

/// Serves Dockerfiles by path and counts the requests; `/big` is 1 MiB + 1.
#[derive(Default)]
struct Files {
    files: Mutex<HashMap<String, String>>,
    hits: Mutex<Vec<String>>,
}

impl Files {
    async fn start() -> (Arc<Self>, SocketAddr) {
        let files = Arc::new(Self::default());
        let state = files.clone();
        let app = axum::Router::new().fallback(move |uri: Uri| {
            let state = state.clone();
            async move {
                state.hits.lock().unwrap().push(uri.path().to_owned());
                if uri.path() == "/big" {
                    return "#".repeat((1 << 20) + 1).into_response();
                }
                match state.files.lock().unwrap().get(uri.path()) {
                    Some(body) => body.clone().into_response(),
                    None => StatusCode::NOT_FOUND.into_response(),
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        (files, addr)
    }

    fn put(&self, path: &str, body: &str) {
        self.files.lock().unwrap().insert(path.into(), body.into());
    }

    fn hits(&self) -> Vec<String> {
        self.hits.lock().unwrap().clone()
    }
}

/// A folder for the worker's Dockerfile cache, removed on drop.
struct CacheDir(PathBuf);

impl CacheDir {
    fn new() -> Self {
        Self(std::env::temp_dir().join(format!("conveyor-docker-it-{}", Uuid::new_v4())))
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("utf-8 temp dir")
    }

    /// The digest folders in the cache.
    fn digests(&self) -> Vec<String> {
        let mut found: Vec<String> = std::fs::read_dir(&self.0)
            .map(|dir| {
                dir.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.len() == 64)
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        found
    }
}

impl Drop for CacheDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The worker settings of these tests: docker on, this engine, never pull,
/// a sweep every second.
fn settings<'a>(bin: &'a str, cache: &'a CacheDir) -> Vec<(&'a str, &'a str)> {
    vec![
        ("WORKER_ALLOW_DOCKER", "1"),
        ("WORKER_DOCKER_BIN", bin),
        ("WORKER_DOCKER_CACHE_DIR", cache.path()),
        ("WORKER_DOCKER_PULL", "never"),
        ("WORKER_DOCKER_SWEEP_SECS", "1"),
    ]
}

fn cli(bin: &str, args: &[&str]) -> std::process::Output {
    Command::new(bin)
        .args(args)
        .output()
        .expect("run the engine CLI")
}

/// The names of this test's containers, running or not.
fn containers(bin: &str, stack: &Stack) -> Vec<String> {
    let filter = format!("label=conveyor.scope={}", stack.env.prefix);
    let out = cli(
        bin,
        &["ps", "-a", "--filter", &filter, "--format", "{{.Names}}"],
    );
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Processes whose command line mentions `needle` (a container name).
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        if let Ok(raw) = std::fs::read(entry.path().join("cmdline")) {
            let line = String::from_utf8_lossy(&raw).replace('\0', " ");
            if line.contains(needle) {
                found.push(line);
            }
        }
    }
    found
}

async fn wait_until(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn output_of(attempt: &Value) -> &str {
    attempt["output"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_dockerfile_job_is_downloaded_built_once_run_and_recorded() {
    let Some(bin) = engine() else { return };
    let logs = capture_logs();
    let cache = CacheDir::new();
    let (files, addr) = Files::start().await;
    files.put(
        "/build/Dockerfile",
        &dockerfile(
            "RUN echo built > /built\nCMD [\"sh\", \"-c\", \"cat /built; echo to stderr >&2\"]\n",
        ),
    );
    let mut stack = Stack::api_only().await;
    stack.add_worker(&settings(&bin, &cache)).await;
    let url = format!("http://{addr}/build/Dockerfile");

    let first = stack
        .submit(json!({"kind": "docker", "payload": {"dockerfile_url": url}}))
        .await;
    let first = stack
        .wait_for_status(&id_of(&first), "succeeded", WAIT)
        .await;
    let second = stack
        .submit(json!({"kind": "docker", "payload": {"dockerfile_url": url,
                        "command": ["sh", "-c", "cat /built; exit 0"]}}))
        .await;
    let second = stack
        .wait_for_status(&id_of(&second), "succeeded", WAIT)
        .await;

    let digest = first["result"]["dockerfile_sha256"]
        .as_str()
        .expect("digest")
        .to_owned();
    let tag = format!("conveyor-job:{}", &digest[..16]);
    assert_eq!(
        first["result"],
        json!({"exit_code": 0, "image": tag, "dockerfile_sha256": digest})
    );
    assert_eq!(second["result"], first["result"]);
    let out = output_of(&first["attempts"][0]);
    assert!(out.contains("built") && out.contains("to stderr"), "{out}");
    assert!(output_of(&second["attempts"][0]).contains("built"));
    // One build for two jobs: the second found the image of the digest.
    let builds = logs
        .text()
        .matches("building the image of a job's Dockerfile")
        .count();
    assert_eq!(builds, 2, "one build, logged in text and JSON: {builds}");
    assert_eq!(files.hits().len(), 2, "each job asks for the Dockerfile");
    let label = cli(
        &bin,
        &[
            "image",
            "inspect",
            "--format",
            "{{index .Labels \"conveyor.dockerfile\"}}",
            &tag,
        ],
    );
    assert_eq!(String::from_utf8_lossy(&label.stdout).trim(), digest);
    assert_eq!(cache.digests(), vec![digest]);
    assert!(containers(&bin, &stack).is_empty(), "--rm left a container");
    stack.stop().await;
    let _ = cli(&bin, &["rmi", &tag]);
}

#[tokio::test]
async fn an_s3_dockerfile_is_fetched_through_aws_endpoint_url_and_run() {
    let Some(bin) = engine() else { return };
    let cache = CacheDir::new();
    let (files, addr) = Files::start().await;
    files.put(
        "/jobs-bucket/images/Dockerfile",
        &dockerfile("CMD [\"echo\", \"from s3\"]\n"),
    );
    let endpoint = format!("http://{addr}");
    let mut stack = Stack::api_only().await;
    let mut extra = settings(&bin, &cache);
    extra.push(("AWS_ENDPOINT_URL", &endpoint));
    stack.add_worker(&extra).await;
    let job = stack
        .submit(json!({"kind": "docker",
                       "payload": {"dockerfile_url": "s3://jobs-bucket/images/Dockerfile"}}))
        .await;
    let done = stack.wait_for_status(&id_of(&job), "succeeded", WAIT).await;
    assert!(
        output_of(&done["attempts"][0]).contains("from s3"),
        "{done:#}"
    );
    assert_eq!(
        files.hits(),
        vec!["/jobs-bucket/images/Dockerfile".to_string()]
    );
    let tag = done["result"]["image"].as_str().expect("image").to_owned();
    stack.stop().await;
    let _ = cli(&bin, &["rmi", &tag]);
}

#[tokio::test]
async fn a_non_zero_exit_is_retried_then_dead_with_the_output_kept() {
    let Some(bin) = engine() else { return };
    let cache = CacheDir::new();
    let mut stack = Stack::api_only().await;
    stack.add_worker(&settings(&bin, &cache)).await;
    let job = stack
        .submit(json!({
            "kind": "docker",
            "payload": {"image": BASE_IMAGE,
                        "command": ["sh", "-c", "echo out; echo err >&2; exit 3"]},
            "max_attempts": 2,
            "backoff": {"base_ms": 100, "max_ms": 200},
        }))
        .await;
    let dead = stack.wait_for_status(&id_of(&job), "dead", WAIT).await;
    let attempts = dead["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 2, "{dead:#}");
    for attempt in attempts {
        assert_eq!(attempt["outcome"], "failed");
        assert_eq!(attempt["error"], "exited with status 3");
        let out = output_of(attempt);
        assert!(out.contains("out") && out.contains("err"), "{out}");
    }
    assert!(containers(&bin, &stack).is_empty());
    stack.stop().await;
}

#[tokio::test]
async fn cancel_and_timeout_kill_the_container_and_leave_nothing_behind() {
    let Some(bin) = engine() else { return };
    let cache = CacheDir::new();
    let mut stack = Stack::api_only().await;
    // The sweep only at start: what removes these containers is the
    // executor killing them, not the janitor.
    let mut extra = settings(&bin, &cache);
    extra.push(("WORKER_DOCKER_SWEEP_SECS", "3600"));
    stack.add_worker(&extra).await;
    let sleeper =
        json!({"image": BASE_IMAGE, "command": ["sh", "-c", "echo started; exec sleep 300"]});
    let cancelled = id_of(
        &stack
            .submit(json!({"kind": "docker", "payload": sleeper}))
            .await,
    );
    let timed_out = id_of(
        &stack
            .submit(
                json!({"kind": "docker", "payload": sleeper, "timeout_secs": 3, "max_attempts": 1}),
            )
            .await,
    );
    let name = format!("conveyor-{cancelled}-1");
    wait_until("the container to run", WAIT, || {
        containers(&bin, &stack).contains(&name)
    })
    .await;

    let started = Instant::now();
    let (status, body) = stack
        .post(&format!("/api/v1/jobs/{cancelled}/cancel"), json!({}))
        .await;
    assert!(status.is_success(), "{body}");
    stack.wait_for_status(&cancelled, "cancelled", WAIT).await;
    wait_until("the cancelled job's container removed", WAIT, || {
        !containers(&bin, &stack).contains(&name)
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    let dead = stack.wait_for_status(&timed_out, "dead", WAIT).await;
    assert_eq!(dead["attempts"][0]["outcome"], "timed_out", "{dead:#}");
    assert_eq!(dead["last_error"], "timed out after 3 s");

    assert!(
        containers(&bin, &stack).is_empty(),
        "{:?}",
        containers(&bin, &stack)
    );
    for id in [&cancelled, &timed_out] {
        let left = processes_mentioning(&format!("conveyor-{id}-"));
        assert!(left.is_empty(), "processes left behind: {left:?}");
    }
    stack.stop().await;
}

#[tokio::test]
async fn a_bad_dockerfile_an_unreachable_url_an_oversize_file_and_a_missing_image_fail_permanently()
{
    let Some(bin) = engine() else { return };
    let cache = CacheDir::new();
    let (files, addr) = Files::start().await;
    files.put("/broken", &dockerfile("RUN exit 7\n"));
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let mut stack = Stack::api_only().await;
    stack.add_worker(&settings(&bin, &cache)).await;
    let cases = [
        (
            json!({"dockerfile_url": format!("http://{addr}/broken")}),
            "the Dockerfile does not build",
        ),
        (
            json!({"dockerfile_url": format!("http://{closed}/Dockerfile")}),
            "downloading the Dockerfile",
        ),
        (
            json!({"dockerfile_url": format!("http://{addr}/missing")}),
            "HTTP 404",
        ),
        (
            json!({"dockerfile_url": format!("http://{addr}/big")}),
            "larger than the limit",
        ),
        (
            json!({"image": "localhost/conveyor-no-such-image:1"}),
            "is not present on this worker's engine",
        ),
    ];
    let mut ids = Vec::new();
    for (payload, _) in &cases {
        let job = stack
            .submit(json!({"kind": "docker", "payload": payload, "max_attempts": 3}))
            .await;
        ids.push(id_of(&job));
    }
    for (id, (payload, error)) in ids.iter().zip(&cases) {
        let dead = stack.wait_for_status(id, "dead", WAIT).await;
        let attempts = dead["attempts"].as_array().expect("attempts");
        assert_eq!(attempts.len(), 1, "not permanent: {payload} {dead:#}");
        let message = dead["last_error"].as_str().unwrap_or_default();
        assert!(message.contains(error), "{payload}: {message}");
    }
    let broken = stack.job(&ids[0]).await;
    assert!(
        output_of(&broken["attempts"][0]).contains("exit"),
        "the build's output is kept: {broken:#}"
    );
    stack.stop().await;
}

#[tokio::test]
async fn a_container_gets_the_jobs_env_only_and_the_default_limits() {
    let Some(bin) = engine() else { return };
    let cache = CacheDir::new();
    let stack = Stack::api_only().await;
    // A worker process whose own environment holds what must not leak:
    // podman copies proxy variables into containers unless told not to.
    let mut extra = settings(&bin, &cache);
    extra.extend([
        ("ftp_proxy", "http://worker-only.invalid"),
        ("WORKER_SECRET_X", "hush"),
    ]);
    let mut worker = stack.spawn_worker_process(&extra);
    let script = "env; cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null; \
                  cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null; \
                  ls /sys/class/net; touch /root-file 2>&1; touch /tmp/ok && echo tmp-writable";
    let job = stack
        .submit(json!({"kind": "docker",
                       "payload": {"image": BASE_IMAGE, "command": ["sh", "-c", script],
                                   "env": {"GREETING": "hi", "TOKEN": {"secret": "s3cret"}}}}))
        .await;
    let done = stack.wait_for_status(&id_of(&job), "succeeded", WAIT).await;
    let out = output_of(&done["attempts"][0]).to_owned();
    assert!(
        out.contains("GREETING=hi") && out.contains("TOKEN=s3cret"),
        "{out}"
    );
    for leak in [
        "worker-only.invalid",
        "WORKER_SECRET_X",
        "DATABASE_URL",
        "REDIS_URL",
    ] {
        assert!(
            !out.contains(leak),
            "{leak} leaked into the container: {out}"
        );
    }
    assert!(
        out.contains(&(512u64 << 20).to_string()),
        "memory limit: {out}"
    );
    assert!(out.lines().any(|l| l.trim() == "256"), "pids limit: {out}");
    let interfaces: Vec<&str> = out
        .lines()
        .filter(|l| ["lo", "eth0", "tap0"].contains(&l.trim()))
        .collect();
    assert_eq!(interfaces, vec!["lo"], "no network but loopback: {out}");
    assert!(out.contains("Read-only file system"), "{out}");
    assert!(out.contains("tmp-writable"), "{out}");

    let writable = stack
        .submit(json!({"kind": "docker",
                       "payload": {"image": BASE_IMAGE, "read_only": false,
                                   "command": ["sh", "-c", "touch /root-file && echo root-writable"]}}))
        .await;
    let done = stack
        .wait_for_status(&id_of(&writable), "succeeded", WAIT)
        .await;
    assert!(output_of(&done["attempts"][0]).contains("root-writable"));
    worker.start_kill().expect("kill");
    let _ = worker.wait().await;
    stack.stop().await;
}

#[tokio::test]
async fn a_container_left_by_a_killed_worker_is_removed_and_its_job_runs_again() {
    let Some(bin) = engine() else { return };
    let cache = CacheDir::new();
    let stack = Stack::api_only().await;
    let extra = settings(&bin, &cache);
    let mut first = stack.spawn_worker_process(&extra);
    let job = stack
        .submit(json!({"kind": "docker", "max_attempts": 3,
                       "payload": {"image": BASE_IMAGE, "command": ["sleep", "300"]}}))
        .await;
    let id = id_of(&job);
    let orphan = format!("conveyor-{id}-1");
    wait_until("the first container", WAIT, || {
        containers(&bin, &stack).contains(&orphan)
    })
    .await;

    first.start_kill().expect("SIGKILL the worker");
    let _ = first.wait().await;
    // The engine keeps the container running without its worker.
    assert!(containers(&bin, &stack).contains(&orphan));

    let mut second = stack.spawn_worker_process(&extra);
    // The job's lease (3 s) runs out, the leader hands the job back, the new
    // worker runs attempt 2 and sweeps attempt 1's container away.
    let retry = format!("conveyor-{id}-2");
    wait_until("attempt 2's container and no attempt 1", WAIT, || {
        let names = containers(&bin, &stack);
        names.contains(&retry) && !names.contains(&orphan)
    })
    .await;
    let running = stack.wait_for_status(&id, "running", WAIT).await;
    assert_eq!(running["attempt"], 2);
    assert!(
        processes_mentioning(&orphan).is_empty(),
        "{:?}",
        processes_mentioning(&orphan)
    );

    let (status, body) = stack
        .post(&format!("/api/v1/jobs/{id}/cancel"), json!({}))
        .await;
    assert!(status.is_success(), "{body}");
    stack.wait_for_status(&id, "cancelled", WAIT).await;
    wait_until("no container", WAIT, || containers(&bin, &stack).is_empty()).await;
    second.start_kill().expect("kill");
    let _ = second.wait().await;
    stack.stop().await;
}

#[tokio::test]
async fn images_and_dockerfiles_unused_for_the_ttl_are_pruned() {
    let Some(bin) = engine() else { return };
    let cache = CacheDir::new();
    let (files, addr) = Files::start().await;
    files.put("/Dockerfile", &dockerfile("CMD [\"true\"]\n"));
    let mut stack = Stack::api_only().await;
    let mut extra = settings(&bin, &cache);
    extra.push(("WORKER_DOCKER_CACHE_TTL_SECS", "2"));
    stack.add_worker(&extra).await;
    let job = stack
        .submit(json!({"kind": "docker",
                       "payload": {"dockerfile_url": format!("http://{addr}/Dockerfile")}}))
        .await;
    let done = stack.wait_for_status(&id_of(&job), "succeeded", WAIT).await;
    let tag = done["result"]["image"].as_str().expect("image").to_owned();
    assert!(
        cli(&bin, &["image", "inspect", &tag]).status.success(),
        "built"
    );
    assert_eq!(cache.digests().len(), 1);

    wait_until("the image and its Dockerfile pruned", WAIT, || {
        !cli(&bin, &["image", "inspect", &tag]).status.success() && cache.digests().is_empty()
    })
    .await;
    // The base image is not the janitor's: only images it built are pruned.
    assert!(cli(&bin, &["image", "inspect", BASE_IMAGE])
        .status
        .success());
    stack.stop().await;
}
