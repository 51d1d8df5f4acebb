//! `shell`: runs a program. Payload: `argv` (array of strings, no shell
//! involved), `env` (object of strings), `cwd`. Exit status 0 is success;
//! stdout and stderr are captured together, up to 64 KiB. The program runs in
//! its own process group, which is killed when the job is cancelled or times
//! out, and after the program exits (so no stray child outlives its job).
//!
//! In a workflow run, the parents' results (`{"<node key>": <result>, …}`)
//! arrive as JSON on stdin and in a file named by `CONVEYOR_PARENTS_FILE`.
//!
//! Runs only on workers started with `WORKER_ALLOW_SHELL=1`.
//!
//! A job must not learn the worker's secrets (`DATABASE_URL`, …). It starts
//! with a cleared environment; the worker makes itself non-dumpable at
//! start-up, so a job of the same user cannot read `/proc/<worker>/environ`
//! or its memory; and a worker running as root runs jobs as another user
//! (`WORKER_SHELL_UID`, default nobody), since root reads any process.

use std::process::Stdio;

use conveyor_shared::executor::{Executor, Failure, JobContext, Success};
use serde_json::{json, Value};
use tokio::process::Command;

use super::capture::{kill_group, Capture, Keep};

/// Variables of the worker's environment that a shell job inherits.
const INHERITED: [&str; 8] = [
    "PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER", "SHELL", "TMPDIR",
];

pub struct ShellExecutor {
    allowed: bool,
    /// The uid and gid jobs run as; `None`: the worker's own.
    run_as: Option<(u32, u32)>,
}

impl ShellExecutor {
    pub fn new(allowed: bool) -> Self {
        Self {
            allowed,
            run_as: None,
        }
    }

    /// Runs jobs as `uid`:`gid` (supplementary groups dropped).
    pub fn run_as(mut self, user: Option<(u32, u32)>) -> Self {
        self.run_as = user;
        self
    }
}

/// Deletes a file when dropped (the parents' results of one attempt).
struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[async_trait::async_trait]
impl Executor for ShellExecutor {
    async fn execute(&self, ctx: JobContext) -> Result<Success, Failure> {
        if !self.allowed {
            return Err(Failure::permanent(
                "shell jobs are disabled on this worker; start it with WORKER_ALLOW_SHELL=1",
            ));
        }
        let argv: Vec<String> = ctx
            .payload
            .get("argv")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let Some((program, args)) = argv.split_first() else {
            return Err(Failure::permanent("payload.argv must be a non-empty array"));
        };
        let mut command = Command::new(program);
        let parents = if ctx.parents.is_empty() {
            None
        } else {
            let json = serde_json::to_vec(&ctx.parents).unwrap_or_default();
            let path = std::env::temp_dir().join(format!("conveyor-parents-{}.json", ctx.id));
            tokio::fs::write(&path, &json)
                .await
                .map_err(|e| Failure::new(format!("cannot write {}: {e}", path.display())))?;
            Some((path, json))
        };
        let _cleanup = parents.as_ref().map(|(path, _)| RemoveOnDrop(path.clone()));
        command
            .args(args)
            .stdin(if parents.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            // The worker's own environment holds secrets (DATABASE_URL, …):
            // a job sees only a few harmless variables and its own `env`.
            .env_clear()
            .envs(
                INHERITED
                    .iter()
                    .filter_map(|k| std::env::var(k).ok().map(|v| (*k, v))),
            )
            .env("CONVEYOR_JOB_ID", ctx.id.to_string())
            .env("CONVEYOR_ATTEMPT", ctx.attempt.to_string());
        if let Some(env) = ctx.payload.get("env").and_then(Value::as_object) {
            for (key, value) in env {
                if let Some(value) = conveyor_shared::secrets::reveal(value) {
                    command.env(key, value);
                }
            }
        }
        if let Some(cwd) = ctx.payload.get("cwd").and_then(Value::as_str) {
            command.current_dir(cwd);
        }
        if let Some((path, _)) = &parents {
            command.env("CONVEYOR_PARENTS_FILE", path);
        }
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid).gid(gid);
        }
        let mut child = command.spawn().map_err(|e| {
            let message = format!("cannot start {program:?}: {e}");
            // A missing or forbidden program will not appear by retrying.
            match e.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
                    Failure::permanent(message)
                }
                _ => Failure::new(message),
            }
        })?;
        let pid = child.id();
        if let (Some(mut stdin), Some((_, json))) = (child.stdin.take(), parents) {
            // A program that never reads stdin must not block the job.
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let _ = stdin.write_all(&json).await;
            });
        }
        let mut capture = Capture::new(Keep::Head);
        if let Some(out) = child.stdout.take() {
            capture.spawn_pump(out);
        }
        if let Some(err) = child.stderr.take() {
            capture.spawn_pump(err);
        }
        let status = tokio::select! {
            status = child.wait() => status,
            _ = ctx.cancel.cancelled() => {
                kill_group(pid);
                let _ = child.wait().await;
                let output = capture.finish().await;
                return Err(Failure::new("stopped: process group killed").with_output(output));
            }
        };
        kill_group(pid);
        let output = capture.finish().await;
        let status = status.map_err(|e| Failure::new(format!("waiting for {program:?}: {e}")))?;
        match status.code() {
            Some(0) => Ok(Success {
                result: Some(json!({ "exit_code": 0 })),
                output,
            }),
            Some(code) => {
                Err(Failure::new(format!("exited with status {code}")).with_output(output))
            }
            None => {
                use std::os::unix::process::ExitStatusExt;
                let signal = status.signal().unwrap_or_default();
                Err(Failure::new(format!("killed by signal {signal}")).with_output(output))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use conveyor_shared::executor::MAX_OUTPUT_BYTES;
    use std::time::{Duration, Instant};
    use tokio_util::sync::CancellationToken;

    fn ctx(payload: Value) -> JobContext {
        JobContext {
            id: uuid::Uuid::now_v7(),
            queue: "default".into(),
            kind: "shell".into(),
            name: "t".into(),
            payload,
            attempt: 1,
            worker: "test-worker".into(),
            parents: Default::default(),
            cancel: CancellationToken::new(),
        }
    }

    #[tokio::test]
    async fn exit_zero_succeeds_with_captured_output() {
        let out = ShellExecutor::new(true)
            .execute(ctx(
                json!({"argv": ["sh", "-c", "echo hello; echo oops >&2"],}),
            ))
            .await
            .expect("success");
        let text = out.output.expect("output");
        assert!(text.contains("hello") && text.contains("oops"), "{text}");
    }

    #[tokio::test]
    async fn non_zero_exit_fails_with_its_status_and_output() {
        let err = ShellExecutor::new(true)
            .execute(ctx(json!({"argv": ["sh", "-c", "echo bad; exit 3"]})))
            .await
            .expect_err("failure");
        assert_eq!(err.error, "exited with status 3");
        assert!(err.output.unwrap_or_default().contains("bad"));
    }

    #[tokio::test]
    async fn env_and_cwd_are_applied() {
        let out = ShellExecutor::new(true)
            .execute(ctx(json!({"argv": ["sh", "-c", "echo $GREETING; pwd"],
                                "env": {"GREETING": "hi there"}, "cwd": "/tmp"})))
            .await
            .expect("success");
        let text = out.output.unwrap_or_default();
        assert!(text.contains("hi there") && text.contains("/tmp"), "{text}");
    }

    #[tokio::test]
    async fn the_workers_secrets_are_not_passed_to_the_job() {
        std::env::set_var("CONVEYOR_TEST_SECRET", "hunter2");
        let out = ShellExecutor::new(true)
            .execute(ctx(json!({"argv": ["sh", "-c", "env"]})))
            .await
            .expect("success");
        let text = out.output.unwrap_or_default();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("PATH="), "{text}");
    }

    #[tokio::test]
    async fn parents_results_arrive_on_stdin_and_in_a_file() {
        let mut context =
            ctx(json!({"argv": ["sh", "-c", "cat; echo; cat \"$CONVEYOR_PARENTS_FILE\""]}));
        context.parents.insert("a".into(), json!({"rows": 3}));
        let out = ShellExecutor::new(true)
            .execute(context)
            .await
            .expect("success");
        let text = out.output.unwrap_or_default();
        assert_eq!(text.matches(r#"{"a":{"rows":3}}"#).count(), 2, "{text}");
    }

    #[tokio::test]
    async fn a_missing_program_fails_permanently() {
        let err = ShellExecutor::new(true)
            .execute(ctx(json!({"argv": ["/no/such/program"]})))
            .await
            .expect_err("failure");
        assert!(err.permanent);
    }

    #[tokio::test]
    async fn output_is_bounded_to_64_kib() {
        let out = ShellExecutor::new(true)
            .execute(ctx(
                json!({"argv": ["sh", "-c", "head -c 200000 /dev/zero | tr '\\0' x"]}),
            ))
            .await
            .expect("success");
        let text = out.output.unwrap_or_default();
        assert!(text.len() < MAX_OUTPUT_BYTES + 100, "{}", text.len());
        assert!(text.contains("bytes truncated"));
    }

    #[tokio::test]
    async fn cancel_kills_the_whole_process_group() {
        let marker = std::env::temp_dir().join(format!("conveyor-pg-{}", uuid::Uuid::new_v4()));
        let script = format!("(sleep 2; touch {}) & sleep 30", marker.display());
        let context = ctx(json!({"argv": ["sh", "-c", script]}));
        let token = context.cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            token.cancel();
        });
        let started = Instant::now();
        let err = ShellExecutor::new(true)
            .execute(context)
            .await
            .expect_err("stopped");
        assert!(err.error.contains("killed"), "{}", err.error);
        assert!(started.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert!(!marker.exists(), "the background child outlived its job");
    }

    #[tokio::test]
    async fn disabled_shell_fails_permanently_with_a_clear_error() {
        let err = ShellExecutor::new(false)
            .execute(ctx(json!({"argv": ["true"]})))
            .await
            .expect_err("refused");
        assert!(err.permanent);
        assert!(err.error.contains("WORKER_ALLOW_SHELL=1"));
    }
}
