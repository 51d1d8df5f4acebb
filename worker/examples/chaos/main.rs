//! Chaos test: no job is lost or run twice when workers are SIGKILLed, Redis
//! is flushed and PostgreSQL restarts.
//!
//! The driver starts its own PostgreSQL cluster (`initdb` in a temporary
//! directory, on a free port) and its own `redis-server` (free port, no
//! persistence), so it never touches the machine's shared servers. It runs
//! the release binaries `conveyor-api` and three `conveyor-worker`s against
//! them, submits N jobs (45% `noop`, 50% `sleep` 1–50 ms, 5% `shell` jobs
//! that fail on their first attempt), and while they drain it:
//!
//! * at 20% of jobs final: SIGKILLs worker 1 and starts a replacement;
//! * at 40%: `FLUSHALL` on Redis;
//! * at 60%: restarts PostgreSQL (`pg_ctl restart -m fast`);
//! * at 80%: SIGKILLs worker 2 and starts a replacement.
//!
//! At the end it checks with SQL that every job succeeded exactly once and
//! that the counts add up, prints the figures, and ends with the line
//! `chaos: N passed, M failed`. The exit status is 0 only if every check
//! passed. The api's and workers' output goes to `target/chaos/chaos.log`
//! (the server logs to `postgres.log` and `redis.log` beside it); its tail is
//! printed when something fails.
//!
//! `--full-speed` runs the same faults through a drain at full speed
//! instead (issue #10): N `noop` jobs (200,000; 50,000 with `--short`), all
//! submitted before the workers start, drained by two workers of 256 slots
//! each, as `scripts/bench` runs them. Its progress is read from the
//! counters, and it prints the drain's rate with the faults.
//!
//! `scripts/chaos [--short] [--full-speed] [--jobs N] [--timeout SECS] [--seed S]`
//!
//! The rooms: `options` (arguments), `log` (chaos.log and its tails),
//! `servers` (the own PostgreSQL and Redis), `processes` and `stack` (the api
//! and workers), `submit` (the job mix), `drain` (waiting for every job while
//! `faults` fires the schedule), `diagnose` (what a stalled run waits for),
//! `report` and `recovery` (the figures), `checks` (the verdict).

mod checks;
mod diagnose;
mod drain;
mod faults;
mod log;
mod options;
mod processes;
mod recovery;
mod report;
mod servers;
mod stack;
mod submit;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, Result};
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

use checks::Checks;
use drain::Drained;
use log::Log;
use options::Options;
use stack::{Running, Stack};

const LEASE_SECS: u64 = 4;

async fn run(
    o: &Options,
    stop: &CancellationToken,
    checks: &mut Checks,
    log_dir_out: &mut Option<PathBuf>,
) -> Result<bool> {
    let release = processes::release_dir()?;
    let api_bin = processes::binary(&release, "conveyor-api")?;
    let worker_bin = processes::binary(&release, "conveyor-worker")?;
    let log_dir = release
        .parent()
        .map(|target| target.join("chaos"))
        .ok_or_else(|| anyhow!("no target directory"))?;
    std::fs::create_dir_all(&log_dir)?;
    for stale in ["postgres.log", "redis.log"] {
        let _ = std::fs::remove_file(log_dir.join(stale));
    }
    *log_dir_out = Some(log_dir.clone());
    let log = Log::create(log_dir.join("chaos.log"))?;

    let (specs, mix) = submit::job_specs(o.jobs, o.seed, o.full_speed);
    let (workers, slots) = o.shape();
    println!(
        "chaos: {} jobs ({} noop, {} sleep 1-50 ms, {} shell failing once), {workers} workers x {slots} slots, lease {LEASE_SECS} s, seed {}, timeout {} s{}",
        o.jobs,
        mix.noop,
        mix.sleep,
        mix.shell,
        o.seed,
        o.timeout.as_secs(),
        if o.full_speed {
            "; full speed: every job submitted before the workers start"
        } else {
            ""
        }
    );
    println!("logs:  {}", log_dir.display());

    let Running {
        mut stack,
        pool,
        http,
        base,
    } = Stack::start(&log, &log_dir, &api_bin, worker_bin, slots, stop).await?;

    let started = Instant::now();
    let run_deadline = started + o.timeout;
    let submit = tokio::spawn(submit::submit_all(
        http.clone(),
        base.clone(),
        Arc::new(specs),
        log.clone(),
        run_deadline,
    ));
    if o.full_speed {
        // The whole backlog first, so that the faults hit a drain at full
        // speed; the drain collects the submission's outcome.
        while !submit.is_finished() && Instant::now() < run_deadline && !stop.is_cancelled() {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    let workers_started = Instant::now();
    stack.start_workers(workers)?;
    log.note(&format!("{workers} workers started"));
    let Drained {
        result: drained,
        submitted,
        events,
        wall: drain_wall,
    } = drain::drive(&mut stack, &pool, submit, o, stop, started).await;

    let mut show_logs = false;
    match &drained {
        Ok(()) => {
            log.note(&format!(
                "every job is final after {:.2} s",
                drain_wall.as_secs_f64()
            ));
            if o.full_speed {
                let took = workers_started.elapsed().as_secs_f64();
                println!(
                    "drain: {} jobs in {took:.2} s from the workers' start, {:.0} jobs/s with the faults",
                    o.jobs,
                    o.jobs as f64 / took
                );
            }
        }
        Err(e) => {
            show_logs = true;
            log.note(&format!("FAILED: {e:#}"));
            diagnose::diagnose(&pool, &stack.services.redis_url(), &stack.alive_workers()).await;
        }
    }
    checks.check(
        drained.is_ok(),
        match &drained {
            Ok(()) => "drained: every job reached a final state".to_owned(),
            Err(e) => format!("drained: {e:#}"),
        },
    );

    // Stop the processes before checking, so that nothing changes underneath.
    log.note("SIGTERM to the workers and the api");
    stack.reap();
    let exits = std::mem::take(&mut stack.unexpected_exits);
    let shutdown_problems = stack.shutdown().await;

    if let Some(figures) = report::report(o, &pool, submitted.as_ref(), &events, checks).await {
        checks.judge(&figures, &exits, &shutdown_problems);
    }
    pool.close().await;
    stack.services.stop();
    Ok(show_logs)
}

#[tokio::main]
async fn main() -> ExitCode {
    let o = options::options();
    // SIGINT or SIGTERM: stop the run, then clean up as after a failure.
    let stop = CancellationToken::new();
    if let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            println!("chaos: interrupted; stopping and cleaning up");
            stop.cancel();
        });
    }
    let mut checks = Checks::default();
    let mut log_dir = None;
    let show_logs = match run(&o, &stop, &mut checks, &mut log_dir).await {
        Ok(show) => show,
        Err(e) => {
            println!("chaos: setup failed: {e:#}");
            checks.check(false, format!("setup: {e:#}"));
            true
        }
    };
    let show_logs = show_logs || checks.failed() > 0;
    if let Some(dir) = &log_dir {
        let summary = log::warn_error_summary(&dir.join("chaos.log"));
        println!("  log lines (besides the driver's): {summary}");
        if show_logs {
            log::print_tails(dir);
        }
    }
    checks.print()
}
