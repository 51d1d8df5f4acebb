//! The driver's own PostgreSQL cluster and Redis server: started on free
//! ports in a temporary directory, restarted and flushed on cue, stopped and
//! removed at the end (or on drop), so the machine's shared servers are never
//! touched.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use uuid::Uuid;

/// The effective uid, from /proc (nix's `geteuid` needs a feature the
/// workspace does not enable).
fn euid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(u32::MAX)
}

/// A free port on 127.0.0.1 (bound, then released for the server to take).
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The driver's own PostgreSQL cluster and Redis server, removed on drop.
pub struct Services {
    pub dir: PathBuf,
    log_dir: PathBuf,
    pg_bin: PathBuf,
    as_postgres: bool,
    pub pg_port: u16,
    pg_running: bool,
    pub redis_port: u16,
    redis: Option<std::process::Child>,
}

fn find_pg_bin() -> Result<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    if let Some((_, bin)) = found.pop() {
        return Ok(bin);
    }
    // Elsewhere than Debian: initdb on the PATH.
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .find(|dir| dir.join("initdb").is_file())
        .ok_or_else(|| anyhow!("initdb not found under /usr/lib/postgresql/*/bin or on PATH"))
}

impl Services {
    /// A command for a PostgreSQL tool, run as `postgres` when we are root
    /// (initdb and pg_ctl refuse to run as root).
    fn pg_command(&self, tool: &str) -> std::process::Command {
        let program = self.pg_bin.join(tool);
        let mut command = if self.as_postgres {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            std::process::Command::new(program)
        };
        command.stdin(Stdio::null());
        command
    }

    fn pgdata(&self) -> PathBuf {
        self.dir.join("pgdata")
    }

    fn pg_log(&self) -> PathBuf {
        self.dir.join("postgres.log")
    }

    /// Runs a PostgreSQL tool to completion off the async runtime.
    async fn pg_run(&self, tool: &str, args: Vec<String>) -> Result<()> {
        let mut command = self.pg_command(tool);
        command.args(&args);
        let what = format!("{tool} {}", args.join(" "));
        let output = tokio::task::spawn_blocking(move || command.output())
            .await?
            .with_context(|| format!("cannot run {what}"))?;
        if !output.status.success() {
            bail!(
                "{what} failed ({}): {}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }

    pub async fn start(log_dir: &Path) -> Result<Self> {
        let dir = std::env::temp_dir().join(format!(
            "conveyor-chaos-{}-{}",
            std::process::id(),
            &Uuid::new_v4().simple().to_string()[..8]
        ));
        std::fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut services = Self {
            dir,
            log_dir: log_dir.to_path_buf(),
            pg_bin: find_pg_bin()?,
            as_postgres: euid() == 0,
            pg_port: free_port()?,
            pg_running: false,
            redis_port: free_port()?,
            redis: None,
        };
        if services.as_postgres {
            let status = std::process::Command::new("chown")
                .args(["-R", "postgres:"])
                .arg(&services.dir)
                .status()
                .context("cannot run chown")?;
            if !status.success() {
                bail!("chown postgres {} failed", services.dir.display());
            }
        }

        // PostgreSQL: a fresh cluster, trust authentication, no fsync.
        let pgdata = services.pgdata().to_string_lossy().into_owned();
        services
            .pg_run(
                "initdb",
                vec![
                    "-D".into(),
                    pgdata,
                    "-A".into(),
                    "trust".into(),
                    "-U".into(),
                    "postgres".into(),
                    "-E".into(),
                    "UTF8".into(),
                    "--no-locale".into(),
                    "--no-sync".into(),
                ],
            )
            .await?;
        services.pg_running = true;
        services.pg_ctl_start("start").await?;

        // Redis: no persistence, a child of ours.
        let redis = std::process::Command::new("redis-server")
            .args(["--port", &services.redis_port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--daemonize", "no", "--dir"])
            .arg(&services.dir)
            .arg("--logfile")
            .arg(services.dir.join("redis.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .context("cannot start redis-server")?;
        services.redis = Some(redis);
        let client = redis::Client::open(services.redis_url())?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ping = async {
                let mut c = client.get_multiplexed_async_connection().await?;
                redis::cmd("PING").query_async::<String>(&mut c).await
            };
            if ping.await.is_ok() {
                break;
            }
            if let Some(r) = services.redis.as_mut() {
                if let Ok(Some(status)) = r.try_wait() {
                    bail!("redis-server exited at start-up ({status})");
                }
            }
            if Instant::now() > deadline {
                bail!("redis-server did not answer within 20 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(services)
    }

    /// `pg_ctl start` or `pg_ctl restart`, waiting until the server accepts
    /// connections.
    pub async fn pg_ctl_start(&self, action: &str) -> Result<()> {
        let options = format!(
            "-p {} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.pg_port
        );
        let mut args: Vec<String> = vec!["-D".into(), self.pgdata().to_string_lossy().into()];
        if action == "restart" {
            args.extend(["-m".into(), "fast".into()]);
        }
        args.extend([
            "-o".into(),
            options,
            "-l".into(),
            self.pg_log().to_string_lossy().into(),
            "-w".into(),
            "-t".into(),
            "60".into(),
            action.into(),
        ]);
        self.pg_run("pg_ctl", args).await
    }

    pub fn database_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/conveyor", self.pg_port)
    }

    pub fn redis_url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.redis_port)
    }

    pub async fn flushall(&self) -> Result<()> {
        let client = redis::Client::open(self.redis_url())?;
        let mut c = client.get_multiplexed_async_connection().await?;
        redis::cmd("FLUSHALL").query_async::<()>(&mut c).await?;
        Ok(())
    }

    /// Stops both servers and removes the directory, keeping copies of the
    /// server logs in `target/chaos/`. Best effort; safe to call twice.
    pub fn stop(&mut self) {
        if self.pg_running {
            self.pg_running = false;
            let _ = self
                .pg_command("pg_ctl")
                .arg("-D")
                .arg(self.pgdata())
                .args(["-m", "immediate", "-w", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        if let Some(mut redis) = self.redis.take() {
            let _ = redis.kill();
            let _ = redis.wait();
        }
        if self.dir.exists() {
            for name in ["postgres.log", "redis.log"] {
                let _ = std::fs::copy(self.dir.join(name), self.log_dir.join(name));
            }
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        self.stop();
    }
}
