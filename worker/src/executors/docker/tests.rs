//! The executor end to end against a fake Docker CLI (and, for Dockerfile
//! jobs, a local Dockerfile server): which CLI calls it makes, in what order,
//! and what the job's outcome is.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use conveyor_shared::executor::Executor;
use serde_json::json;

use super::args::{
    build_args, container_name, image_tag, inspect_args, kill_args, remove_args, run_args,
    version_args, RunSpec,
};
use super::cache::sha256_hex;
use super::test_support::{ctx, limits, strings, DockerfileServer, Scratch};
use super::{DockerExecutor, Engine, Pull};

/// The `run` command line the executor builds for a test job with the
/// default limits, through the fake (a Docker CLI).
fn run_line(
    job: uuid::Uuid,
    image: &str,
    env: &BTreeMap<String, String>,
    command: &[String],
    pull: Pull,
) -> String {
    run_args(&RunSpec {
        job,
        attempt: 1,
        worker: "test-worker",
        scope: "test",
        image,
        env,
        command,
        pull,
        network: "none",
        read_only: true,
        limits: &limits(),
        engine: Engine::Docker,
    })
    .join(" ")
}

#[tokio::test]
async fn disabled_docker_fails_permanently_naming_the_variable() {
    let scratch = Scratch::new();
    let fake = scratch.fake_docker();
    let err = DockerExecutor::new(false, scratch.settings(fake))
        .execute(ctx(json!({"image": "alpine:3.20"})))
        .await
        .expect_err("refused");
    assert!(err.permanent);
    assert!(err.error.contains("WORKER_ALLOW_DOCKER=1"), "{}", err.error);
    assert!(
        scratch.calls().is_empty(),
        "the CLI was called: {:?}",
        scratch.calls()
    );
}

#[tokio::test]
async fn a_missing_docker_cli_means_no_engine_is_reachable() {
    let scratch = Scratch::new();
    let err = DockerExecutor::new(true, scratch.settings("/no/such/docker".into()))
        .execute(ctx(json!({"image": "alpine:3.20"})))
        .await
        .expect_err("no engine");
    assert!(
        err.error
            .starts_with("no Docker engine is reachable from this worker"),
        "{}",
        err.error
    );
    assert!(err.error.contains("/no/such/docker"), "{}", err.error);
    assert!(!err.permanent, "another worker may have an engine");
}

#[tokio::test]
async fn a_failing_version_means_no_engine_is_reachable_and_nothing_else_runs() {
    let scratch = Scratch::new();
    let (server, addr) = DockerfileServer::start("FROM alpine\n").await;
    let log = scratch.0.join("calls.log");
    let cli = scratch.script(
        "docker",
        &format!(
            "printf '%s\\n' \"$*\" >> {}\n\
             echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' >&2\n\
             echo 'second line' >&2\n\
             exit 1\n",
            log.display()
        ),
    );
    let err = DockerExecutor::new(true, scratch.settings(cli))
        .execute(ctx(
            json!({"dockerfile_url": format!("http://{addr}/Dockerfile")}),
        ))
        .await
        .expect_err("no engine");
    assert!(
        err.error
            .starts_with("no Docker engine is reachable from this worker"),
        "{}",
        err.error
    );
    assert!(
        err.error.contains("Cannot connect to the Docker daemon")
            && !err.error.contains("second line"),
        "{}",
        err.error
    );
    assert!(!err.permanent);
    assert_eq!(scratch.calls(), vec![version_args().join(" ")]);
    assert!(
        server.hits().is_empty(),
        "downloaded before checking the engine"
    );
}

#[tokio::test]
async fn a_dockerfile_job_builds_its_image_once_then_runs_it() {
    let scratch = Scratch::new();
    let (_server, addr) = DockerfileServer::start("FROM alpine:3.20\n").await;
    let executor = DockerExecutor::new(true, scratch.settings(scratch.fake_docker()));
    let payload = json!({
        "dockerfile_url": format!("http://{addr}/Dockerfile"),
        "command": ["echo", "hi"],
        "env": {"GREETING": "hello"},
    });
    let (first, second) = (ctx(payload.clone()), ctx(payload));
    let (first_id, second_id) = (first.id, second.id);

    let out = executor.execute(first).await.expect("first job");
    executor.execute(second).await.expect("second job");

    let digest = sha256_hex(b"FROM alpine:3.20\n");
    let tag = image_tag(&digest);
    let env = BTreeMap::from([("GREETING".to_string(), "hello".to_string())]);
    let command = strings(&["echo", "hi"]);
    let context = scratch.0.join("cache").join(&digest);
    assert_eq!(
        scratch.calls(),
        vec![
            version_args().join(" "),
            "--version".to_string(),
            inspect_args(&tag).join(" "),
            build_args(&tag, &digest, &context, Engine::Docker, false).join(" "),
            run_line(first_id, &tag, &env, &command, Pull::Never),
            version_args().join(" "),
            inspect_args(&tag).join(" "),
            run_line(second_id, &tag, &env, &command, Pull::Never),
        ]
    );
    assert_eq!(
        out.result,
        Some(json!({"exit_code": 0, "image": tag, "dockerfile_sha256": digest}))
    );
    let text = out.output.expect("output");
    assert!(
        text.contains("hello from the container") && text.contains("a warning"),
        "{text}"
    );
}

#[tokio::test]
async fn an_image_job_runs_the_image_with_pull_always() {
    let scratch = Scratch::new();
    let context = ctx(json!({"image": "alpine:3.20", "command": ["true"], "pull": "always"}));
    let id = context.id;
    let out = DockerExecutor::new(true, scratch.settings(scratch.fake_docker()))
        .execute(context)
        .await
        .expect("success");
    assert_eq!(
        out.result,
        Some(json!({"exit_code": 0, "image": "alpine:3.20"}))
    );
    assert_eq!(
        scratch.calls(),
        vec![
            version_args().join(" "),
            "--version".to_string(),
            run_line(
                id,
                "alpine:3.20",
                &BTreeMap::new(),
                &strings(&["true"]),
                Pull::Always
            ),
        ]
    );
}

#[tokio::test]
async fn a_non_zero_exit_fails_with_its_status_and_output() {
    let scratch = Scratch::new();
    let err = DockerExecutor::new(true, scratch.settings(scratch.fake_docker()))
        .execute(ctx(json!({"image": "alpine:3.20", "env": {"FAIL": "1"}})))
        .await
        .expect_err("failure");
    assert_eq!(err.error, "exited with status 3");
    assert!(!err.permanent);
    assert!(err
        .output
        .unwrap_or_default()
        .contains("hello from the container"));
}

#[tokio::test]
async fn cancel_kills_and_removes_the_container() {
    let scratch = Scratch::new();
    let context = ctx(json!({"image": "alpine:3.20", "env": {"SLEEP": "1"}}));
    let id = context.id;
    let token = context.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel();
    });
    let started = Instant::now();
    let err = DockerExecutor::new(true, scratch.settings(scratch.fake_docker()))
        .execute(context)
        .await
        .expect_err("stopped");
    assert_eq!(err.error, "stopped: container killed");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(err
        .output
        .unwrap_or_default()
        .contains("hello from the container"));
    let calls = scratch.calls();
    assert_eq!(
        calls[calls.len() - 2..],
        [
            kill_args(&container_name(id, 1)).join(" "),
            remove_args(&container_name(id, 1)).join(" ")
        ],
        "{calls:?}"
    );
    assert!(calls[2].starts_with("run "), "{calls:?}");
}

#[tokio::test]
async fn a_job_asking_for_a_network_fails_permanently_on_a_worker_that_gives_none() {
    let scratch = Scratch::new();
    let mut settings = scratch.settings(scratch.fake_docker());
    settings.limits.network = "none".into();
    let err = DockerExecutor::new(true, settings)
        .execute(ctx(json!({"image": "alpine:3.20", "network": true})))
        .await
        .expect_err("refused");
    assert!(err.permanent);
    assert!(
        err.error.contains("WORKER_DOCKER_NETWORK=none"),
        "{}",
        err.error
    );
    assert!(!scratch.calls().iter().any(|c| c.starts_with("run ")));
}

#[tokio::test]
async fn a_worker_that_never_pulls_refuses_pull_always_and_a_missing_image() {
    let scratch = Scratch::new();
    let mut settings = scratch.settings(scratch.fake_docker());
    settings.limits.pull_never = true;
    let executor = DockerExecutor::new(true, settings);
    let always = executor
        .execute(ctx(json!({"image": "alpine:3.20", "pull": "always"})))
        .await
        .expect_err("refused");
    assert!(always.permanent);
    assert!(
        always.error.contains("WORKER_DOCKER_PULL=never"),
        "{}",
        always.error
    );
    let missing = executor
        .execute(ctx(json!({"image": "alpine:3.20"})))
        .await
        .expect_err("not present");
    assert!(missing.permanent);
    assert_eq!(
        missing.error,
        "the image alpine:3.20 is not present on this worker's engine, and it is not pulled (pull: never)"
    );
    assert!(!scratch.calls().iter().any(|c| c.starts_with("run ")));
}
