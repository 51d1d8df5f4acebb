//! `docker`: runs a container through the Docker CLI (or podman's, which
//! takes the same arguments). Payload: `image` (a reference such as
//! `alpine:3.20`) or `dockerfile_url` (http(s), or `s3://bucket/key`), then
//! `command` (arguments after the image), `env` (object of strings), `pull`
//! (`missing`, `always` or `never`, with `image` only), `network` (true for a
//! network; none by default) and `read_only` (false for a writable root).
//!
//! A Dockerfile is downloaded (at most 1 MiB), kept at
//! `<cache dir>/<sha256>/Dockerfile` and built once per digest as
//! `conveyor-job:<first 16 hex of the digest>`, labelled with the digest. The
//! container is named `conveyor-<job id>-<attempt>`, labelled with the scope
//! (`REDIS_PREFIX`), job, attempt and worker, held to the limits of
//! [`DockerConfig`], and removed when it exits (`--rm`); on cancel or
//! timeout it is killed and removed. stdout and stderr are captured
//! together, up to 64 KiB.
//!
//! Runs only on workers started with `WORKER_ALLOW_DOCKER=1`. Each attempt
//! first asks the engine for its version, so a worker without a reachable
//! engine fails the attempt with an error that says so.
//!
//! This file runs the CLI (engine check, build if missing, run, cancel);
//! [`args`] builds its command lines, [`cache`] downloads Dockerfiles
//! (`DockerExecutor::fetch_dockerfile`) and [`janitor`] removes orphaned
//! containers and prunes unused images.

mod args;
mod cache;
pub(crate) mod janitor;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use conveyor_shared::executor::{Executor, Failure, JobContext, Success};
use reqwest::Url;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use conveyor_shared::config::DockerConfig;

use self::args::{
    build_args, container_name, image_tag, inspect_args, kill_args, remove_args, run_args,
    version_args, RunSpec,
};
use self::cache::Cache;
use super::capture::{kill_group, Capture, Keep};

/// How long `docker version` may take before the engine counts as unreachable.
const ENGINE_CHECK_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound on the small commands: `image inspect`, `kill`, `rm`.
const QUICK_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the executor finds the Docker CLI and keeps downloaded Dockerfiles.
#[derive(Debug, Clone)]
pub struct DockerSettings {
    /// The CLI (`WORKER_DOCKER_BIN`, default `docker` on `PATH`).
    pub bin: PathBuf,
    /// `WORKER_DOCKER_CACHE_DIR`.
    pub cache_dir: PathBuf,
    /// `AWS_ENDPOINT_URL`: `s3://bucket/key` is fetched as `<endpoint>/bucket/key`.
    pub s3_endpoint: Option<Url>,
    /// Where Dockerfile downloads may go (`OUTBOUND_ALLOW`).
    pub outbound: Arc<conveyor_shared::outbound::OutboundPolicy>,
    /// The `conveyor.scope` label of every container (`REDIS_PREFIX`): the
    /// deployments, or parallel tests, that share one engine never touch
    /// each other's containers.
    pub scope: String,
    /// Container limits and pull policy (`WORKER_DOCKER_*`).
    pub limits: DockerConfig,
}

/// Which CLI the worker talks to; they differ in a few flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Engine {
    Docker,
    Podman,
}

pub struct DockerExecutor {
    allowed: bool,
    settings: DockerSettings,
    client: reqwest::Client,
    /// One lock per image tag: jobs of this worker that share a Dockerfile
    /// wait for one build instead of each starting their own. Entries are a
    /// few bytes per distinct Dockerfile and are never removed.
    builds: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// The CLI's flavour, asked once (`<bin> --version`) when first reachable.
    engine: tokio::sync::OnceCell<Engine>,
}

impl DockerExecutor {
    pub fn new(allowed: bool, settings: DockerSettings) -> Self {
        let client = crate::outbound::client_builder(&settings.outbound)
            .redirect(crate::outbound::follow_redirects(&settings.outbound))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("conveyor-worker/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self {
            allowed,
            settings,
            client,
            builds: Mutex::default(),
            engine: tokio::sync::OnceCell::new(),
        }
    }
}

/// The payload; `validate_payload` in conveyor-shared has checked it at
/// submission, so a failure here is permanent.
#[derive(Debug, Deserialize)]
struct Payload {
    image: Option<String>,
    dockerfile_url: Option<String>,
    #[serde(default)]
    command: Vec<String>,
    /// Strings or `{"secret": "…"}` values (validated at submission).
    #[serde(default)]
    env: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pull: Pull,
    /// A network (the operator's `WORKER_DOCKER_NETWORK`) instead of none.
    #[serde(default)]
    network: bool,
    /// Overrides `WORKER_DOCKER_READ_ONLY` for an image that must write.
    read_only: Option<bool>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Pull {
    #[default]
    Missing,
    Always,
    Never,
}

impl Pull {
    fn as_str(self) -> &'static str {
        match self {
            Pull::Missing => "missing",
            Pull::Always => "always",
            Pull::Never => "never",
        }
    }
}

/// How a captured CLI command ended.
enum Ended {
    Exited(ExitStatus, Option<String>),
    Cancelled(Option<String>),
}

/// Runs a CLI command in its own process group, capturing its output, until
/// it exits or `cancel` fires; the group is killed either way, so nothing the
/// CLI started keeps the pipes open.
async fn run_captured(
    mut command: Command,
    cancel: &CancellationToken,
    keep: Keep,
) -> std::io::Result<Ended> {
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = command.spawn()?;
    let pid = child.id();
    let mut capture = Capture::new(keep);
    if let Some(out) = child.stdout.take() {
        capture.spawn_pump(out);
    }
    if let Some(err) = child.stderr.take() {
        capture.spawn_pump(err);
    }
    let status = tokio::select! {
        status = child.wait() => Some(status),
        _ = cancel.cancelled() => None,
    };
    kill_group(pid);
    if status.is_none() {
        let _ = child.wait().await;
    }
    let output = capture.finish().await;
    Ok(match status {
        Some(status) => Ended::Exited(status?, output),
        None => Ended::Cancelled(output),
    })
}

fn first_line(bytes: &[u8]) -> Option<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_owned)
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("status {code}"),
        (None, Some(signal)) => format!("signal {signal}"),
        (None, None) => "an unknown status".into(),
    }
}

/// The last line of a build's output that reads like an error, for the
/// attempt's error message (the whole tail is in its output).
fn last_error_line(output: &str) -> Option<String> {
    output
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.to_ascii_lowercase().contains("error"))
        .map(|l| l.chars().take(300).collect())
}

/// Kills and removes a container; either may find it gone.
async fn remove_container(bin: &std::path::Path, name: &str) {
    for args in [kill_args(name), remove_args(name)] {
        let mut command = Command::new(bin);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let _ = tokio::time::timeout(QUICK_COMMAND_TIMEOUT, command.status()).await;
    }
}

fn no_engine(detail: String) -> Failure {
    // Not permanent: another worker, or this one a bit later, may reach one.
    Failure::new(format!(
        "no Docker engine is reachable from this worker: {detail}"
    ))
}

impl DockerExecutor {
    /// A CLI command. It inherits the worker's environment on purpose:
    /// `DOCKER_HOST`, `DOCKER_CONFIG`, contexts and credential helpers live
    /// there. The container does not: it gets only the `-e KEY=VALUE` pairs of
    /// the payload (a bare `-e KEY` would copy the worker's value, and is
    /// never passed).
    fn docker(&self, args: Vec<String>) -> Command {
        let mut command = Command::new(&self.settings.bin);
        command.args(args).stdin(Stdio::null()).kill_on_drop(true);
        command
    }

    /// Asks the engine for its version (is it reachable?) and, the first
    /// time, the CLI for its flavour.
    async fn check_engine(&self) -> Result<Engine, Failure> {
        let bin = self.settings.bin.display();
        let mut command = self.docker(version_args());
        command.stdout(Stdio::null()).stderr(Stdio::piped());
        match tokio::time::timeout(ENGINE_CHECK_TIMEOUT, command.output()).await {
            Err(_) => Err(no_engine(format!(
                "`{bin} version` did not answer within {} s",
                ENGINE_CHECK_TIMEOUT.as_secs()
            ))),
            Ok(Err(e)) => Err(no_engine(format!(
                "cannot run the Docker CLI {bin:?} ({e}); install it or set WORKER_DOCKER_BIN"
            ))),
            Ok(Ok(out)) if out.status.success() => Ok(*self
                .engine
                .get_or_init(|| async {
                    let mut command = self.docker(vec!["--version".into()]);
                    command.stderr(Stdio::null());
                    match tokio::time::timeout(QUICK_COMMAND_TIMEOUT, command.output()).await {
                        Ok(Ok(out))
                            if String::from_utf8_lossy(&out.stdout)
                                .to_ascii_lowercase()
                                .contains("podman") =>
                        {
                            Engine::Podman
                        }
                        _ => Engine::Docker,
                    }
                })
                .await),
            Ok(Ok(out)) => Err(no_engine(format!(
                "`{bin} version` failed with {}: {}",
                describe(out.status),
                first_line(&out.stderr).unwrap_or_else(|| "no error message".into())
            ))),
        }
    }

    async fn image_exists(&self, tag: &str) -> bool {
        let mut command = self.docker(inspect_args(tag));
        command.stdout(Stdio::null()).stderr(Stdio::null());
        matches!(
            tokio::time::timeout(QUICK_COMMAND_TIMEOUT, command.status()).await,
            Ok(Ok(status)) if status.success()
        )
    }

    /// Builds the image of the cached Dockerfile `digest` unless the engine
    /// already has it, and returns its tag.
    async fn ensure_image(
        &self,
        digest: &str,
        engine: Engine,
        cancel: &CancellationToken,
    ) -> Result<String, Failure> {
        let tag = image_tag(digest);
        let lock = self
            .builds
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(tag.clone())
            .or_default()
            .clone();
        let _building = tokio::select! {
            guard = lock.lock() => guard,
            _ = cancel.cancelled() => {
                return Err(Failure::new("stopped: cancelled while waiting for the image build"));
            }
        };
        let cache = Cache::new(&self.settings.cache_dir);
        // Marks the digest used, so the janitor keeps it for another TTL.
        cache.touch(digest).await;
        if self.image_exists(&tag).await {
            return Ok(tag);
        }
        tracing::info!(%tag, "building the image of a job's Dockerfile");
        let context = cache.context(digest);
        let args = build_args(
            &tag,
            digest,
            &context,
            engine,
            self.settings.limits.pull_never,
        );
        let ended = run_captured(self.docker(args), cancel, Keep::Tail)
            .await
            .map_err(|e| Failure::new(format!("starting docker build: {e}")))?;
        match ended {
            Ended::Exited(status, _) if status.success() => Ok(tag),
            // Permanent: a retry would build the same Dockerfile again.
            Ended::Exited(status, output) => Err(Failure::permanent(format!(
                "the Dockerfile does not build: docker build of {tag} failed with {}{}",
                describe(status),
                output
                    .as_deref()
                    .and_then(last_error_line)
                    .map(|l| format!(": {l}"))
                    .unwrap_or_default()
            ))
            .with_output(output)),
            Ended::Cancelled(output) => {
                Err(Failure::new("stopped: image build cancelled").with_output(output))
            }
        }
    }

    /// Kills and removes a container; either may find it gone.
    async fn remove_container(&self, name: &str) {
        remove_container(&self.settings.bin, name).await;
    }
}

#[async_trait::async_trait]
impl Executor for DockerExecutor {
    async fn execute(&self, ctx: JobContext) -> Result<Success, Failure> {
        if !self.allowed {
            return Err(Failure::permanent(
                "docker jobs are disabled on this worker; start it with WORKER_ALLOW_DOCKER=1",
            ));
        }
        let payload: Payload = serde_json::from_value(ctx.payload.clone())
            .map_err(|e| Failure::permanent(format!("invalid docker payload: {e}")))?;
        let engine = self.check_engine().await?;
        let limits = &self.settings.limits;
        let (image, dockerfile_digest, pull) = match (&payload.image, &payload.dockerfile_url) {
            (Some(image), None) => {
                let pull = match (payload.pull, limits.pull_never) {
                    (Pull::Always, true) => {
                        return Err(Failure::permanent(
                            "payload.pull is always, but this worker never pulls (WORKER_DOCKER_PULL=never)",
                        ))
                    }
                    (_, true) => Pull::Never,
                    (pull, false) => pull,
                };
                if pull == Pull::Never && !self.image_exists(image).await {
                    return Err(Failure::permanent(format!(
                        "the image {image} is not present on this worker's engine, and it is not pulled (pull: never)"
                    )));
                }
                (image.clone(), None, pull)
            }
            (None, Some(url)) => {
                let digest = tokio::select! {
                    digest = self.fetch_dockerfile(url) => digest?,
                    _ = ctx.cancel.cancelled() => {
                        return Err(Failure::new("stopped: cancelled while downloading the Dockerfile"));
                    }
                };
                let tag = self.ensure_image(&digest, engine, &ctx.cancel).await?;
                // Built here: the tag is local, never a registry's.
                (tag, Some(digest), Pull::Never)
            }
            _ => {
                return Err(Failure::permanent(
                    "payload needs exactly one of image and dockerfile_url",
                ))
            }
        };
        let network = match (payload.network, limits.network.as_str()) {
            (false, _) => "none",
            (true, "none") => {
                return Err(Failure::permanent(
                    "the job asks for a network, and this worker gives none (WORKER_DOCKER_NETWORK=none)",
                ))
            }
            (true, network) => network,
        };
        let env: BTreeMap<String, String> = payload
            .env
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), conveyor_shared::secrets::reveal(v)?.to_owned())))
            .collect();
        let args = run_args(&RunSpec {
            job: ctx.id,
            attempt: ctx.attempt,
            worker: &ctx.worker,
            scope: &self.settings.scope,
            image: &image,
            env: &env,
            command: &payload.command,
            pull,
            network,
            read_only: payload.read_only.unwrap_or(limits.read_only),
            limits,
            engine,
        });
        let ended = run_captured(self.docker(args), &ctx.cancel, Keep::Head)
            .await
            .map_err(|e| Failure::new(format!("starting docker run: {e}")))?;
        match ended {
            Ended::Cancelled(output) => {
                self.remove_container(&container_name(ctx.id, ctx.attempt))
                    .await;
                Err(Failure::new("stopped: container killed").with_output(output))
            }
            Ended::Exited(status, output) => {
                match status.code() {
                    Some(0) => {
                        let mut result = json!({ "exit_code": 0, "image": image });
                        if let Some(digest) = dockerfile_digest {
                            result["dockerfile_sha256"] = Value::String(digest);
                        }
                        Ok(Success {
                            result: Some(result),
                            output,
                        })
                    }
                    // The CLI's own failure (bad image, name in use, engine error),
                    // as opposed to the container's status.
                    Some(125) => Err(Failure::new(
                        "docker run failed before the container ran (status 125)",
                    )
                    .with_output(output)),
                    _ => Err(Failure::new(format!("exited with {}", describe(status)))
                        .with_output(output)),
                }
            }
        }
    }
}
