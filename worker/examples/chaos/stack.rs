//! The running system under test: the own servers, the api and the workers,
//! with what the faults and the shutdown do to the processes.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::log::Log;
use crate::processes::{spawn_logged, Proc};
use crate::servers::{free_port, Services};
use crate::LEASE_SECS;

/// The servers, the api and the workers of one run. Dropping it kills the
/// processes (`kill_on_drop`) and stops the servers.
pub struct Stack {
    pub log: Log,
    pub services: Services,
    worker_bin: PathBuf,
    worker_env: Vec<(&'static str, String)>,
    api: Option<Proc>,
    pub workers: Vec<Proc>,
    next_worker: usize,
    pub unexpected_exits: Vec<String>,
}

/// A started stack, with what the run needs to talk to it.
pub struct Running {
    pub stack: Stack,
    /// A small pool on the chaos database, for the progress and the checks.
    pub pool: PgPool,
    pub http: reqwest::Client,
    /// The api's base URL, `http://127.0.0.1:<port>`.
    pub base: String,
}

impl Stack {
    /// Starts the servers and the api (waiting until it has migrated the
    /// database); the workers, of `slots` each, come with [`Self::start_workers`].
    pub async fn start(
        log: &Log,
        log_dir: &Path,
        api_bin: &Path,
        worker_bin: PathBuf,
        slots: usize,
        stop: &CancellationToken,
    ) -> Result<Running> {
        let services = Services::start(log_dir).await?;
        log.note(&format!(
            "own PostgreSQL on 127.0.0.1:{} ({}), Redis on 127.0.0.1:{}",
            services.pg_port,
            services.dir.display(),
            services.redis_port
        ));
        let database_url = services.database_url();
        let common: Vec<(&'static str, String)> = vec![
            ("DATABASE_URL", database_url.clone()),
            ("REDIS_URL", services.redis_url()),
            ("REDIS_PREFIX", "chaos".into()),
            ("RUST_LOG", "warn".into()),
            ("LOG_FORMAT", "text".into()),
        ];
        let api_port = free_port()?;
        let base = format!("http://127.0.0.1:{api_port}");
        let mut api_env = common.clone();
        api_env.push(("LISTEN_ADDR", format!("127.0.0.1:{api_port}")));
        api_env.push(("FRONTEND_DIR", "/nonexistent".into()));
        // The chaos run tests recovery, not access control (which has its
        // own tests); its requests go without a token.
        api_env.push(("AUTH_DISABLED", "1".into()));
        let mut worker_env = common.clone();
        worker_env.extend([
            ("WORKER_ALLOW_SHELL", "1".into()),
            ("WORKER_CONCURRENCY", slots.to_string()),
            ("WORKER_LEASE_SECS", LEASE_SECS.to_string()),
            ("HOUSEKEEPING_INTERVAL_MS", "500".into()),
            ("RECONCILE_INTERVAL_SECS", "2".into()),
            // Several workers on one machine: an ephemeral metrics port each.
            ("WORKER_METRICS_ADDR", "127.0.0.1:0".into()),
        ]);

        let mut stack = Stack {
            log: log.clone(),
            services,
            worker_bin,
            worker_env,
            api: None,
            workers: Vec::new(),
            next_worker: 0,
            unexpected_exits: Vec::new(),
        };
        stack.api = Some(spawn_logged(log, "api", api_bin, &api_env)?);

        // The api answers, and has created and migrated the database.
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        let deadline = Instant::now() + Duration::from_secs(60);
        for path in ["healthz", "readyz"] {
            while !http_ok(&http, &format!("{base}/{path}")).await {
                stack.reap();
                if !stack.unexpected_exits.is_empty() || Instant::now() > deadline {
                    bail!("the api did not answer /{path}");
                }
                if stop.is_cancelled() {
                    bail!("interrupted");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let pool = PgPoolOptions::new()
            .max_connections(3)
            .acquire_timeout(Duration::from_secs(3))
            .connect(&database_url)
            .await
            .context("connect to the chaos database")?;
        log.note(&format!("api on {base}; submitting"));
        Ok(Running {
            stack,
            pool,
            http,
            base,
        })
    }

    /// Starts `n` workers.
    pub fn start_workers(&mut self, n: usize) -> Result<()> {
        for _ in 0..n {
            self.spawn_worker()?;
        }
        Ok(())
    }

    fn spawn_worker(&mut self) -> Result<()> {
        self.next_worker += 1;
        let name = format!("worker-{}", self.next_worker);
        let proc = spawn_logged(&self.log, &name, &self.worker_bin, &self.worker_env)?;
        self.workers.push(proc);
        Ok(())
    }

    /// Notes any api or worker that exited without being asked to.
    pub fn reap(&mut self) {
        for p in self.api.iter_mut().chain(self.workers.iter_mut()) {
            if p.gone {
                continue;
            }
            if let Ok(Some(status)) = p.child.try_wait() {
                p.gone = true;
                let what = format!("{} (pid {}) exited unexpectedly: {status}", p.name, p.pid);
                self.log.note(&what);
                self.unexpected_exits.push(what);
            }
        }
    }

    /// SIGKILLs the i-th worker started (0-based) and starts a replacement.
    pub async fn kill_worker(&mut self, index: usize) -> Result<(String, u32)> {
        let p = self
            .workers
            .get_mut(index)
            .ok_or_else(|| anyhow!("no worker {index}"))?;
        if p.gone {
            bail!("{} had already exited", p.name);
        }
        kill(Pid::from_raw(p.pid as i32), Signal::SIGKILL)
            .with_context(|| format!("SIGKILL {}", p.name))?;
        p.gone = true;
        let _ = p.child.wait().await;
        let killed = (p.name.clone(), p.pid);
        self.spawn_worker()?;
        Ok(killed)
    }

    /// SIGTERM to the workers, then the api; waits for each. Returns the
    /// processes that did not exit cleanly.
    pub async fn shutdown(&mut self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut all: Vec<&mut Proc> = self.workers.iter_mut().collect();
        all.extend(self.api.iter_mut());
        for p in all.iter_mut().filter(|p| !p.gone) {
            let _ = kill(Pid::from_raw(p.pid as i32), Signal::SIGTERM);
        }
        for p in all.iter_mut().filter(|p| !p.gone) {
            p.gone = true;
            match tokio::time::timeout(Duration::from_secs(60), p.child.wait()).await {
                Ok(Ok(status)) if status.success() => {}
                Ok(Ok(status)) => problems.push(format!("{} exited with {status}", p.name)),
                Ok(Err(e)) => problems.push(format!("{}: {e}", p.name)),
                Err(_) => {
                    let _ = p.child.kill().await;
                    problems.push(format!("{} ignored SIGTERM for 60 s (killed)", p.name));
                }
            }
        }
        problems
    }

    /// The workers still running, by name and pid.
    pub fn alive_workers(&self) -> Vec<(String, u32)> {
        self.workers
            .iter()
            .filter(|p| !p.gone)
            .map(|p| (p.name.clone(), p.pid))
            .collect()
    }
}

async fn http_ok(http: &reqwest::Client, url: &str) -> bool {
    http.get(url)
        .send()
        .await
        .map(|r| r.status().is_success())
        .unwrap_or(false)
}
