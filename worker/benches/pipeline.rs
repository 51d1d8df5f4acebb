//! End-to-end benchmark: the release api and worker binaries against the
//! machine's Postgres and Redis (a fresh database and key prefix). Prints
//! figures; asserts nothing about speed.
//!
//! 1. submit: N `noop` jobs through `POST /jobs/batch` (1,000 per request,
//!    4 requests in flight) with no worker running;
//! 2. drain: start W worker processes and time until no job is left
//!    (polling `GET /queues`), from the first job's `started_at`; RSS of the
//!    api and the workers is sampled meanwhile, and the CPU time every process
//!    on the machine used is divided by the jobs (steadier than the rate on
//!    a shared machine);
//! 3. single: S jobs through `POST /jobs`, one per request, from K
//!    concurrent keep-alive clients, workers running;
//! 4. pickup: L jobs sent to idle workers one per request, open loop at R per
//!    second; latency from the client's send to the job's `started_at`.
//!
//! At the end one line starting with `{"bench":` holds every figure as JSON.
//!
//! `scripts/bench [--jobs N] [--workers W] [--concurrency C] [--latency-jobs L]
//!  [--rate R] [--single-jobs S] [--clients K] [--skip submit,drain,single,pickup]`

use std::collections::{BTreeSet, HashMap};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use conveyor_shared::testing::TestEnv;
use futures::{stream, StreamExt};
use serde_json::{json, Value};

const USAGE: &str = "usage: scripts/bench [--jobs N] [--workers W] [--concurrency C] \
[--latency-jobs L] [--rate R] [--single-jobs S] [--clients K] [--history H] \
[--skip submit,drain,single,pickup]";
const PHASES: [&str; 4] = ["submit", "drain", "single", "pickup"];
/// Jobs per `POST /jobs/batch` request, and such requests in flight.
const BATCH: usize = 1000;
const BATCHES_IN_FLIGHT: usize = 4;
/// Pickup phase: warm-up jobs, and the most submits in flight.
const WARMUP_JOBS: usize = 20;
const PICKUP_IN_FLIGHT: usize = 64;
/// Guard against a hang (not a timing assertion).
const IDLE_LIMIT: Duration = Duration::from_secs(900);

struct Options {
    jobs: usize,
    workers: usize,
    concurrency: usize,
    latency_jobs: usize,
    rate: f64,
    single_jobs: usize,
    clients: usize,
    /// Succeeded jobs (one attempt each) written before anything else, their
    /// ids and times spread over the day before: a day of history.
    history: usize,
    skip: BTreeSet<String>,
}

impl Options {
    fn runs(&self, phase: &str) -> bool {
        !self.skip.contains(phase)
    }
}

fn usage_error(message: &str) -> ! {
    eprintln!("{message}\n{USAGE}");
    std::process::exit(2);
}

fn options() -> Options {
    let mut o = Options {
        jobs: 200_000,
        workers: 2,
        concurrency: 256,
        latency_jobs: 2000,
        rate: 500.0,
        single_jobs: 50_000,
        clients: 64,
        history: 0,
        skip: BTreeSet::new(),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        match flag {
            // cargo bench passes --bench to harness = false targets.
            "--bench" => {
                i += 1;
                continue;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            _ => {}
        }
        let Some(value) = args.get(i + 1) else {
            usage_error(&format!("{flag} needs a value"));
        };
        let count = || value.parse::<usize>().ok();
        let ok = match flag {
            "--jobs" => count().map(|v| o.jobs = v).is_some(),
            "--workers" => count().filter(|v| *v > 0).map(|v| o.workers = v).is_some(),
            "--concurrency" => count()
                .filter(|v| *v > 0)
                .map(|v| o.concurrency = v)
                .is_some(),
            "--latency-jobs" => count().map(|v| o.latency_jobs = v).is_some(),
            "--single-jobs" => count().map(|v| o.single_jobs = v).is_some(),
            "--clients" => count().filter(|v| *v > 0).map(|v| o.clients = v).is_some(),
            "--history" => count().map(|v| o.history = v).is_some(),
            "--rate" => value
                .parse::<f64>()
                .ok()
                .filter(|r| r.is_finite() && *r > 0.0)
                .map(|r| o.rate = r)
                .is_some(),
            "--skip" => {
                for phase in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    if !PHASES.contains(&phase) {
                        usage_error(&format!(
                            "unknown phase {phase:?} in --skip (phases: {})",
                            PHASES.join(",")
                        ));
                    }
                    o.skip.insert(phase.to_owned());
                }
                true
            }
            _ => usage_error(&format!("unknown option {flag}")),
        };
        if !ok {
            usage_error(&format!("bad value {value:?} for {flag}"));
        }
        i += 2;
    }
    o
}

/// Nearest-rank percentile of ascending `sorted`; NaN when empty.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Two decimals, for the JSON line (NaN becomes null there).
/// Says how many submits of a phase failed, if any, with the first error.
fn warn_failures(phase: &str, failures: &[String]) {
    if let Some(first) = failures.first() {
        println!(
            "WARNING: {phase}: {} submits failed (first: {first})",
            failures.len()
        );
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A `/proc/PID/status` field given in kB (`VmRSS:`, `VmHWM:`), in MiB.
fn status_mib(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn mib_list(names: &[String], values: &[f64]) -> String {
    names
        .iter()
        .zip(values)
        .map(|(n, v)| format!("{n} {v:.1} MiB"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// CPU time (user + system, in clock ticks) each process on the machine has
/// used so far, by pid, with its command name: read from `/proc/<pid>/stat`.
fn cpu_ticks() -> HashMap<u32, (String, u64)> {
    let mut out = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": utime and stime are the 14th and 15th
        // fields, the 12th and 13th after the closing parenthesis.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_owned();
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        out.insert(pid, (comm, ticks(11) + ticks(12)));
    }
    out
}

/// The CPU time every process used between two [`cpu_ticks`] readings, in
/// seconds, grouped: PostgreSQL (every `postgres` process), Redis, the api,
/// the workers, and everything else (this benchmark included). Processes
/// that exited in between are missed; those that started are counted whole.
fn cpu_used(
    before: &HashMap<u32, (String, u64)>,
    after: &HashMap<u32, (String, u64)>,
    api: Option<u32>,
    workers: &[Option<u32>],
) -> Vec<(&'static str, f64)> {
    let tick = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    let mut groups: Vec<(&'static str, f64)> = ["postgres", "redis", "api", "workers", "other"]
        .into_iter()
        .map(|g| (g, 0.0))
        .collect();
    for (pid, (comm, ticks)) in after {
        let used = ticks.saturating_sub(before.get(pid).map_or(0, |(_, t)| *t));
        let group = if comm == "postgres" {
            0
        } else if comm.starts_with("redis-server") {
            1
        } else if Some(*pid) == api {
            2
        } else if workers.contains(&Some(*pid)) {
            3
        } else {
            4
        };
        groups[group].1 += used as f64 / tick;
    }
    groups
}

/// Samples VmRSS of some processes every 200 ms and keeps each one's peak.
struct RssSampler {
    peaks: Arc<Mutex<Vec<f64>>>,
    pids: Vec<Option<u32>>,
    task: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    fn sample(pids: &[Option<u32>], peaks: &Mutex<Vec<f64>>) {
        let now: Vec<Option<f64>> = pids
            .iter()
            .map(|p| p.and_then(|pid| status_mib(pid, "VmRSS:")))
            .collect();
        let mut peaks = peaks.lock().expect("rss peaks");
        for (peak, rss) in peaks.iter_mut().zip(now) {
            if let Some(rss) = rss {
                *peak = if peak.is_nan() { rss } else { peak.max(rss) };
            }
        }
    }

    fn start(pids: Vec<Option<u32>>) -> Self {
        let peaks = Arc::new(Mutex::new(vec![f64::NAN; pids.len()]));
        let (p, k) = (pids.clone(), peaks.clone());
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                Self::sample(&p, &k);
            }
        });
        Self { peaks, pids, task }
    }

    /// Stops sampling (after a last sample); the peaks in start's order.
    fn finish(self) -> Vec<f64> {
        self.task.abort();
        Self::sample(&self.pids, &self.peaks);
        let peaks = self.peaks.lock().expect("rss peaks");
        peaks.clone()
    }
}

/// A release binary beside this benchmark (scripts/bench builds them first).
fn binary(name: &str) -> String {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/release");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/bench",
        path.display()
    );
    path.to_string_lossy().into_owned()
}

fn spawn(binary: &str, env: &TestEnv, extra: &[(&str, String)]) -> tokio::process::Child {
    let mut command = tokio::process::Command::new(binary);
    command
        .envs(env.env())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true);
    for (k, v) in extra {
        command.env(k, v);
    }
    command.spawn().expect("spawn")
}

fn spawn_workers(o: &Options, env: &TestEnv) -> Vec<tokio::process::Child> {
    (0..o.workers)
        .map(|_| {
            spawn(
                &binary("conveyor-worker"),
                env,
                &[
                    ("WORKER_CONCURRENCY", o.concurrency.to_string()),
                    ("DB_MAX_CONNECTIONS", "8".into()),
                    // Several workers must not clash on the metrics port.
                    ("WORKER_METRICS_ADDR", "off".into()),
                ],
            )
        })
        .collect()
}

/// The api as a client sees it.
#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    async fn get(&self, path: &str) -> Option<Value> {
        let response = self.http.get(self.url(path)).send().await.ok()?;
        response.error_for_status().ok()?.json().await.ok()
    }

    /// Submits one noop job; its id.
    async fn submit_one(&self) -> Result<String, String> {
        let response = self
            .http
            .post(self.url("/jobs"))
            .json(&json!({"kind": "noop"}))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        if status.as_u16() != 201 {
            return Err(format!("status {status}"));
        }
        let job: Value = response.json().await.map_err(|e| e.to_string())?;
        job["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "no id in the answer".into())
    }

    /// Jobs scheduled, queued, running or blocked over all queues, from
    /// `GET /queues` (counters, no `count(*)`).
    async fn pending(&self) -> Option<i64> {
        let list = self.get("/queues").await?;
        let queues = list["queues"].as_array()?;
        let field = |q: &Value, name: &str| q[name].as_i64().unwrap_or(0);
        Some(
            queues
                .iter()
                .map(|q| {
                    field(q, "scheduled")
                        + field(q, "queued")
                        + field(q, "running")
                        + field(q, "blocked")
                })
                .sum(),
        )
    }

    /// Polls `/queues` every 50 ms (every 5 ms once fewer than 2% of
    /// `total` are left) until no job is pending; the wall clock when that
    /// was seen.
    async fn wait_idle(&self, total: usize, what: &str) -> DateTime<Utc> {
        let start = Instant::now();
        loop {
            let mut pause = Duration::from_millis(50);
            if let Some(left) = self.pending().await {
                if left <= 0 {
                    return Utc::now();
                }
                if (left as f64) < 0.02 * total as f64 {
                    pause = Duration::from_millis(5);
                }
            }
            assert!(
                start.elapsed() < IDLE_LIMIT,
                "{what}: jobs still pending after {} s",
                IDLE_LIMIT.as_secs()
            );
            tokio::time::sleep(pause).await;
        }
    }

    /// When the job's insert and its claim began (`created_at`, `started_at`:
    /// each its transaction's start in PostgreSQL).
    async fn created_and_started(&self, id: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let job = self.get(&format!("/jobs/{id}")).await?;
        let at = |field: &str| {
            DateTime::parse_from_rfc3339(job[field].as_str()?)
                .ok()
                .map(|t| t.with_timezone(&Utc))
        };
        Some((at("created_at")?, at("started_at")?))
    }

    /// `counts` of `GET /stats`: jobs per status.
    async fn counts(&self) -> Option<Value> {
        Some(self.get("/stats").await?["counts"].clone())
    }

    /// Waits (up to 30 s) until `n` workers are listed live.
    async fn wait_workers(&self, n: usize) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            let live = self
                .get("/workers")
                .await
                .and_then(|w| w["workers"].as_array().map(Vec::len));
            if live.unwrap_or(0) >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        println!("WARNING: fewer than {n} workers listed live after 30 s");
    }
}

/// Writes `n` succeeded jobs with one attempt each, submitted over the day
/// before now (UUIDv7 ids of their time), then folds the counters and
/// analyzes, as a running system would have.
async fn seed_history(pool: &sqlx::PgPool, n: usize) {
    let started = Instant::now();
    let n = n as i64;
    sqlx::query(
        "insert into jobs (id, queue, kind, name, payload, priority, status, attempt,
                           run_at, created_at, updated_at, started_at, finished_at)
         select (lpad(to_hex((extract(epoch from t) * 1000)::int8), 12, '0') || '7'
                 || substr(md5(i::text), 1, 3) || '8' || substr(md5(i::text || 'x'), 1, 15))::uuid,
                'default', 'noop', 'history-' || i, '{}', 5, 'succeeded', 1,
                t, t, t, t, t + interval '1 millisecond'
         from (select i, now() - interval '1 day' + (i * interval '1 day' / $1) - interval '1 minute' as t
               from generate_series(1, $1) as i) g",
    )
    .bind(n)
    .execute(pool)
    .await
    .expect("seed history");
    sqlx::query(
        "insert into job_attempts (job_id, attempt, worker_id, outcome, started_at, finished_at)
         select id, 1, 'history', 'succeeded', started_at, finished_at from jobs",
    )
    .execute(pool)
    .await
    .expect("seed attempts");
    for statement in [
        "select job_counts_fold()",
        "vacuum analyze jobs",
        "vacuum analyze job_attempts",
    ] {
        sqlx::query(statement)
            .execute(pool)
            .await
            .expect("fold and analyze");
    }
    println!(
        "history: {n} succeeded jobs over the day before, written in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let o = options();
    let env = TestEnv::new().await;
    if o.history > 0 {
        seed_history(&env.pool, o.history).await;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut api_process = spawn(
        &binary("conveyor-api"),
        &env,
        &[
            ("LISTEN_ADDR", format!("127.0.0.1:{port}")),
            ("DB_MAX_CONNECTIONS", "16".into()),
            ("FRONTEND_DIR", "/nonexistent".into()),
        ],
    );
    // Requests carry a token, as in production: the bench measures the
    // token check too.
    let (_, token) = conveyor_shared::db::tokens::create(
        &env.pool,
        "bench",
        conveyor_shared::auth::Scope::Admin,
    )
    .await
    .expect("create a token");
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().expect("header"),
    );
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .pool_max_idle_per_host(o.clients.max(PICKUP_IN_FLIGHT))
        .build()
        .expect("client");
    let api = Api { http, base };
    let ready = Instant::now();
    while api
        .http
        .get(format!("{}/readyz", api.base))
        .send()
        .await
        .map(|r| r.status().is_success())
        .ok()
        != Some(true)
    {
        assert!(
            ready.elapsed() < Duration::from_secs(30),
            "api did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "conveyor bench: {} batch jobs, {} workers x {} slots, {} single jobs by {} clients, \
         {} pickup samples at {}/s",
        o.jobs, o.workers, o.concurrency, o.single_jobs, o.clients, o.latency_jobs, o.rate
    );
    if !o.skip.is_empty() {
        let skipped: Vec<&str> = o.skip.iter().map(String::as_str).collect();
        println!("skipping: {}", skipped.join(", "));
    }

    let mut submitted: usize = 0;
    let mut workers: Vec<tokio::process::Child> = Vec::new();
    let mut worker_names: Vec<String> = Vec::new();
    let mut submit_rate = None;
    let (mut drain_rate, mut drain_span, mut drain_wall) = (None, None, None);
    let mut drain_rss: Option<Vec<f64>> = None;
    let mut drain_cpu: Option<Vec<(&str, f64)>> = None;
    let (mut single_rate, mut single_p50, mut single_p99) = (None, None, None);
    let mut pickup: Option<[f64; 4]> = None;

    // 1. submit
    let mut first_id: Option<String> = None;
    let mut batch_jobs = 0;
    if o.runs("submit") && o.jobs > 0 {
        let batches: Vec<(usize, usize)> = (0..o.jobs)
            .step_by(BATCH)
            .map(|s| (s, (o.jobs - s).min(BATCH)))
            .collect();
        let started = Instant::now();
        let results: Vec<Result<(usize, Option<String>), String>> = stream::iter(batches)
            .map(|(start, n)| {
                let api = api.clone();
                async move {
                    let jobs: Vec<Value> = (0..n).map(|_| json!({"kind": "noop"})).collect();
                    let response = api
                        .http
                        .post(api.url("/jobs/batch"))
                        .json(&json!({ "jobs": jobs }))
                        .send()
                        .await
                        .map_err(|e| e.to_string())?;
                    if response.status().as_u16() != 201 {
                        return Err(format!("status {}", response.status()));
                    }
                    // Only the first batch's answer is needed (its first job).
                    if start > 0 {
                        let _ = response.bytes().await;
                        return Ok((start, None));
                    }
                    let body: Value = response.json().await.map_err(|e| e.to_string())?;
                    Ok((start, body["jobs"][0]["id"].as_str().map(str::to_owned)))
                }
            })
            .buffer_unordered(BATCHES_IN_FLIGHT)
            .collect()
            .await;
        let took = started.elapsed().as_secs_f64();
        for result in results {
            match result {
                Ok((0, id)) => first_id = id,
                Ok(_) => {}
                Err(e) => panic!("a batch failed: {e}"),
            }
        }
        batch_jobs = o.jobs;
        submitted += o.jobs;
        let rate = o.jobs as f64 / took;
        submit_rate = Some(rate);
        println!(
            "submit:  {rate:>9.0} jobs/s  ({} jobs in {took:.2} s, batch endpoint, \
             {BATCH} per request, {BATCHES_IN_FLIGHT} in flight)",
            o.jobs
        );
    } else {
        println!("submit:  skipped");
    }

    // 2. drain
    if o.runs("drain") {
        let wall = Instant::now();
        let cpu_before = cpu_ticks();
        workers = spawn_workers(&o, &env);
        worker_names = (1..=workers.len()).map(|i| format!("worker{i}")).collect();
        let mut pids = vec![api_process.id()];
        pids.extend(workers.iter().map(|w| w.id()));
        let sampler = RssSampler::start(pids);
        if batch_jobs == 0 {
            api.wait_workers(o.workers).await;
        }
        let done = api.wait_idle(batch_jobs, "drain").await;
        let wall_s = wall.elapsed().as_secs_f64();
        let worker_pids: Vec<Option<u32>> = workers.iter().map(|w| w.id()).collect();
        let cpu = cpu_used(&cpu_before, &cpu_ticks(), api_process.id(), &worker_pids);
        let peaks = sampler.finish();
        drain_wall = Some(wall_s);
        if batch_jobs == 0 {
            println!("drain:   nothing to drain (submit skipped); workers up in {wall_s:.2} s");
        } else {
            let first = match &first_id {
                Some(id) => api
                    .created_and_started(id)
                    .await
                    .map(|(_, started)| started),
                None => None,
            };
            match first {
                Some(first) => {
                    let span = (done - first).num_microseconds().unwrap_or(0) as f64 / 1e6;
                    let rate = batch_jobs as f64 / span;
                    drain_span = Some(span);
                    drain_rate = Some(rate);
                    println!(
                        "drain:   {rate:>9.0} jobs/s  (first start -> all done {span:.2} s; \
                         wall {wall_s:.2} s incl. worker start)"
                    );
                }
                None => println!(
                    "drain:   WARNING: no started_at for the first job {first_id:?}; \
                     wall {wall_s:.2} s incl. worker start"
                ),
            }
            let succeeded = api
                .counts()
                .await
                .and_then(|c| c["succeeded"].as_i64())
                .unwrap_or(-1);
            if succeeded != batch_jobs as i64 {
                println!(
                    "WARNING: after the drain /stats counts {succeeded} succeeded jobs, \
                     expected {batch_jobs}"
                );
            }
        }
        if batch_jobs > 0 {
            let total: f64 = cpu.iter().map(|(_, s)| s).sum();
            let per_job = |s: f64| s * 1e6 / batch_jobs as f64;
            let split: Vec<String> = cpu
                .iter()
                .map(|(group, s)| format!("{group} {:.0}", per_job(*s)))
                .collect();
            println!(
                "drain CPU: {:.0} µs a job on all cores ({}; user + system of every process \
                 from the workers' start to the end, whatever the machine's other tenants do)",
                per_job(total),
                split.join(", ")
            );
            drain_cpu = Some(cpu.iter().map(|(g, s)| (*g, per_job(*s))).collect());
        }
        let mut names = vec!["api".to_owned()];
        names.extend(worker_names.iter().cloned());
        println!(
            "drain RSS (VmRSS every 200 ms, peak): {}",
            mib_list(&names, &peaks)
        );
        drain_rss = Some(peaks);
    } else {
        println!("drain:   skipped");
    }

    let needs_workers =
        (o.runs("single") && o.single_jobs > 0) || (o.runs("pickup") && o.latency_jobs > 0);
    if workers.is_empty() && needs_workers {
        workers = spawn_workers(&o, &env);
        worker_names = (1..=workers.len()).map(|i| format!("worker{i}")).collect();
        api.wait_workers(o.workers).await;
        if batch_jobs > 0 {
            println!(
                "note:    drain skipped: the {batch_jobs} submitted jobs run during the next phase"
            );
        }
    }

    // 3. single submits, workers running
    if o.runs("single") && o.single_jobs > 0 {
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let tasks: Vec<_> = (0..o.clients)
            .map(|_| {
                let (api, next, total) = (api.clone(), next.clone(), o.single_jobs);
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    let mut failures: Vec<String> = Vec::new();
                    while next.fetch_add(1, Ordering::Relaxed) < total {
                        let sent = Instant::now();
                        let result = api
                            .http
                            .post(api.url("/jobs"))
                            .json(&json!({"kind": "noop"}))
                            .send()
                            .await;
                        match result {
                            Ok(r) if r.status().as_u16() == 201 => {
                                // Read the body so that the connection is reused.
                                let _ = r.bytes().await;
                                latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                            }
                            Ok(r) => failures.push(format!("status {}", r.status())),
                            Err(e) => failures.push(e.to_string()),
                        }
                    }
                    (latencies, failures)
                })
            })
            .collect();
        let mut latencies = Vec::with_capacity(o.single_jobs);
        let mut failures = Vec::new();
        for task in tasks {
            let (l, f) = task.await.expect("client task");
            latencies.extend(l);
            failures.extend(f);
        }
        let took = started.elapsed().as_secs_f64();
        let ok = latencies.len();
        submitted += ok;
        latencies.sort_by(|a, b| a.total_cmp(b));
        let rate = ok as f64 / took;
        let (p50, p99) = (percentile(&latencies, 50.0), percentile(&latencies, 99.0));
        let last_sent = Instant::now();
        api.wait_idle(ok + batch_jobs, "single").await;
        println!(
            "single:  {rate:>9.0} jobs/s  ({ok} jobs in {took:.2} s, one per request, {} clients; \
             request p50 {p50:.2} ms, p99 {p99:.2} ms; all ran {:.2} s after the last)",
            o.clients,
            last_sent.elapsed().as_secs_f64()
        );
        warn_failures("single", &failures);
        single_rate = Some(rate);
        single_p50 = Some(p50);
        single_p99 = Some(p99);
    } else {
        println!("single:  skipped");
    }

    // 4. pickup latency on idle workers, open loop
    if o.runs("pickup") && o.latency_jobs > 0 {
        for _ in 0..WARMUP_JOBS {
            match api.submit_one().await {
                Ok(_) => submitted += 1,
                Err(e) => println!("WARNING: pickup warm-up submit failed: {e}"),
            }
        }
        api.wait_idle(WARMUP_JOBS + batch_jobs, "pickup warm-up")
            .await;
        tokio::time::sleep(Duration::from_secs(1)).await;

        let in_flight = Arc::new(tokio::sync::Semaphore::new(PICKUP_IN_FLIGHT));
        let t0 = tokio::time::Instant::now();
        let mut tasks = Vec::with_capacity(o.latency_jobs);
        for i in 0..o.latency_jobs {
            let due = t0 + Duration::from_secs_f64(i as f64 / o.rate);
            tokio::time::sleep_until(due).await;
            let permit = in_flight.clone().acquire_owned().await.expect("semaphore");
            let api = api.clone();
            tasks.push(tokio::spawn(async move {
                let lag = due.elapsed();
                let sent = Utc::now();
                let result = api.submit_one().await;
                drop(permit);
                (sent, lag, result)
            }));
        }
        let mut sent_jobs: Vec<(DateTime<Utc>, String)> = Vec::with_capacity(o.latency_jobs);
        let mut failures = Vec::new();
        let mut max_lag = Duration::ZERO;
        for task in tasks {
            let (sent, lag, result) = task.await.expect("pickup task");
            max_lag = max_lag.max(lag);
            match result {
                Ok(id) => sent_jobs.push((sent, id)),
                Err(e) => failures.push(e),
            }
        }
        let send_span = t0.elapsed().as_secs_f64();
        submitted += sent_jobs.len();
        api.wait_idle(sent_jobs.len() + batch_jobs, "pickup").await;
        let ms = |d: chrono::Duration| d.num_microseconds().unwrap_or(0) as f64 / 1000.0;
        // (send -> claim, send -> insert, insert -> claim) of each job.
        let splits: Vec<(f64, f64, f64)> = stream::iter(sent_jobs)
            .map(|(sent, id)| {
                let api = api.clone();
                async move {
                    let (created, started) = api.created_and_started(&id).await?;
                    Some((
                        ms(started - sent),
                        ms(created - sent),
                        ms(started - created),
                    ))
                }
            })
            .buffer_unordered(16)
            .filter_map(|l| async move { l })
            .collect()
            .await;
        let sorted = |pick: fn(&(f64, f64, f64)) -> f64| {
            let mut v: Vec<f64> = splits.iter().map(pick).collect();
            v.sort_by(|a, b| a.total_cmp(b));
            v
        };
        let latencies = sorted(|s| s.0);
        let to_insert = sorted(|s| s.1);
        let to_claim = sorted(|s| s.2);
        let figures = [
            percentile(&latencies, 50.0),
            percentile(&latencies, 90.0),
            percentile(&latencies, 99.0),
            latencies.last().copied().unwrap_or(f64::NAN),
        ];
        println!(
            "pickup:  p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms  ({} jobs at {}/s \
             open loop in {send_span:.2} s, max send lag {:.1} ms; client send -> started, \
             idle workers)",
            figures[0],
            figures[1],
            figures[2],
            figures[3],
            latencies.len(),
            o.rate,
            max_lag.as_secs_f64() * 1000.0
        );
        println!(
            "pickup split: client send -> the insert's transaction p50 {:.2} / p90 {:.2} ms; \
             -> the claim's transaction p50 {:.2} / p90 {:.2} ms",
            percentile(&to_insert, 50.0),
            percentile(&to_insert, 90.0),
            percentile(&to_claim, 50.0),
            percentile(&to_claim, 90.0)
        );
        warn_failures("pickup", &failures);
        pickup = Some(figures);
    } else {
        println!("pickup:  skipped");
    }

    let mut names = vec!["api".to_owned()];
    names.extend(worker_names.iter().cloned());
    let mut hwm = vec![api_process
        .id()
        .and_then(|pid| status_mib(pid, "VmHWM:"))
        .unwrap_or(f64::NAN)];
    hwm.extend(workers.iter().map(|w| {
        w.id()
            .and_then(|pid| status_mib(pid, "VmHWM:"))
            .unwrap_or(f64::NAN)
    }));
    println!("peak RSS: {} (VmHWM)", mib_list(&names, &hwm));
    let counts = api.counts().await.unwrap_or(Value::Null);
    let count = |status: &str| counts[status].as_i64().unwrap_or(-1);
    let (succeeded, dead) = (count("succeeded"), count("dead"));
    println!("check:   {succeeded} succeeded, {dead} dead ({submitted} submitted)");
    if !workers.is_empty() && succeeded != submitted as i64 {
        println!("WARNING: {succeeded} jobs succeeded, but {submitted} were submitted");
    }

    let r2 = |x: Option<f64>| x.map(round2);
    let rss_json = |values: Option<&Vec<f64>>| match values {
        Some(v) => json!({
            "api": round2(v[0]),
            "workers": v[1..].iter().map(|x| round2(*x)).collect::<Vec<_>>(),
        }),
        None => Value::Null,
    };
    let figures = json!({
        "options": {
            "jobs": o.jobs,
            "workers": o.workers,
            "concurrency": o.concurrency,
            "latency_jobs": o.latency_jobs,
            "rate": o.rate,
            "single_jobs": o.single_jobs,
            "clients": o.clients,
            "skip": o.skip,
        },
        "submit_rate": r2(submit_rate),
        "drain_rate": r2(drain_rate),
        "drain_span_s": r2(drain_span),
        "drain_wall_s": r2(drain_wall),
        "single_rate": r2(single_rate),
        "single_p50_ms": r2(single_p50),
        "single_p99_ms": r2(single_p99),
        "pickup_p50_ms": pickup.map(|p| round2(p[0])),
        "pickup_p90_ms": pickup.map(|p| round2(p[1])),
        "pickup_p99_ms": pickup.map(|p| round2(p[2])),
        "pickup_max_ms": pickup.map(|p| round2(p[3])),
        "peak_rss_mib": rss_json(Some(&hwm)),
        "drain_rss_mib": rss_json(drain_rss.as_ref()),
        "drain_cpu_us_per_job": drain_cpu.map(|groups| {
            groups
                .into_iter()
                .map(|(g, us)| (g.to_owned(), json!(round2(us))))
                .collect::<serde_json::Map<String, Value>>()
        }),
        "succeeded": succeeded,
        "dead": dead,
        "submitted": submitted,
    });
    // `{"bench":` first whatever order the map keeps its keys in.
    let rest = figures.to_string();
    println!("{{\"bench\":\"pipeline\",{}", &rest[1..]);

    for w in workers.iter_mut() {
        let _ = w.start_kill();
        let _ = w.wait().await;
    }
    let _ = api_process.start_kill();
    let _ = api_process.wait().await;
    env.cleanup().await;
}
