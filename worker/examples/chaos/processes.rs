//! The api and worker child processes: where their binaries are, and
//! starting one with its output going to the log.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{anyhow, bail, Context, Result};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::log::Log;

/// A release binary beside this example (`target/release/examples/chaos`).
pub fn release_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    exe.parent()
        .and_then(|examples| examples.parent())
        .map(Path::to_path_buf)
        .ok_or_else(|| anyhow!("cannot locate target/release from {}", exe.display()))
}

pub fn binary(release: &Path, name: &str) -> Result<PathBuf> {
    let path = release.join(name);
    if !path.is_file() {
        bail!(
            "{} is missing: run scripts/chaos (it builds the release binaries)",
            path.display()
        );
    }
    Ok(path)
}

/// An api or worker process whose output goes to the log.
pub struct Proc {
    pub name: String,
    pub pid: u32,
    pub child: tokio::process::Child,
    /// Set when the driver killed it or it exited on its own.
    pub gone: bool,
}

pub fn spawn_logged(log: &Log, name: &str, program: &Path, env: &[(&str, String)]) -> Result<Proc> {
    let mut command = tokio::process::Command::new(program);
    command
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for var in ["PATH", "HOME", "LANG", "TMPDIR"] {
        if let Ok(v) = std::env::var(var) {
            command.env(var, v);
        }
    }
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start {}", program.display()))?;
    let pid = child.id().unwrap_or(0);
    if let Some(out) = child.stdout.take() {
        let (log, name) = (log.clone(), name.to_owned());
        tokio::spawn(async move {
            let mut lines = BufReader::new(out).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                log.line(&name, &line);
            }
        });
    }
    if let Some(err) = child.stderr.take() {
        let (log, name) = (log.clone(), name.to_owned());
        tokio::spawn(async move {
            let mut lines = BufReader::new(err).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                log.line(&name, &line);
            }
        });
    }
    log.line("chaos", &format!("started {name} (pid {pid})"));
    Ok(Proc {
        name: name.to_owned(),
        pid,
        child,
        gone: false,
    })
}
