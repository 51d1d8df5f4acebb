//! The Docker CLI command lines the executor runs, and the names and URLs
//! they are built from. Pure functions: the tests below pin every argument.

use std::collections::BTreeMap;
use std::path::Path;

use reqwest::Url;
use uuid::Uuid;

use conveyor_shared::config::DockerConfig;

use super::{Engine, Pull};

/// Labels on every container the executor starts. `scope` keeps apart the
/// deployments (and parallel tests) that share one engine; job, attempt and
/// worker say whose attempt the container is, so a sweep can tell an orphan.
pub(super) const LABEL_SCOPE: &str = "conveyor.scope";
const LABEL_JOB: &str = "conveyor.job";
const LABEL_ATTEMPT: &str = "conveyor.attempt";
const LABEL_WORKER: &str = "conveyor.worker";
/// On images built from a Dockerfile: its SHA-256.
pub(super) const LABEL_DOCKERFILE: &str = "conveyor.dockerfile";

/// `conveyor-<job id>-<attempt>`: unique per attempt, so a retry never meets
/// the container of an earlier attempt that a killed worker left behind.
pub(super) fn container_name(job: Uuid, attempt: i32) -> String {
    format!("conveyor-{job}-{attempt}")
}

/// The job and attempt of a container named by [`container_name`].
pub(super) fn parse_container_name(name: &str) -> Option<(Uuid, i32)> {
    let rest = name
        .trim()
        .trim_start_matches('/')
        .strip_prefix("conveyor-")?;
    let (job, attempt) = rest.rsplit_once('-')?;
    Some((Uuid::parse_str(job).ok()?, attempt.parse().ok()?))
}

/// The tag of the image built from the Dockerfile with this SHA-256.
pub(super) fn image_tag(digest: &str) -> String {
    format!("conveyor-job:{}", &digest[..16])
}

pub(super) fn version_args() -> Vec<String> {
    ["version", "--format", "{{.Server.Version}}"]
        .map(String::from)
        .to_vec()
}

pub(super) fn inspect_args(tag: &str) -> Vec<String> {
    ["image", "inspect", tag].map(String::from).to_vec()
}

/// `podman build --pull=never` keeps a build from reaching for a registry;
/// `docker build` has no such value (it pulls only a missing base image).
pub(super) fn build_args(
    tag: &str,
    digest: &str,
    dir: &Path,
    engine: Engine,
    pull_never: bool,
) -> Vec<String> {
    let mut args = vec![
        "build".into(),
        "--label".into(),
        format!("{LABEL_DOCKERFILE}={digest}"),
    ];
    if pull_never && engine == Engine::Podman {
        args.push("--pull=never".into());
    }
    args.extend(["-t".into(), tag.into(), dir.to_string_lossy().into_owned()]);
    args
}

/// Everything one `docker run` is made of.
pub(super) struct RunSpec<'a> {
    pub job: Uuid,
    pub attempt: i32,
    pub worker: &'a str,
    pub scope: &'a str,
    pub image: &'a str,
    pub env: &'a BTreeMap<String, String>,
    pub command: &'a [String],
    pub pull: Pull,
    /// `none`, or the operator's network for a job that asked for one.
    pub network: &'a str,
    pub read_only: bool,
    pub limits: &'a DockerConfig,
    pub engine: Engine,
}

pub(super) fn run_args(spec: &RunSpec) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "run".into(),
        "--rm".into(),
        "--name".into(),
        container_name(spec.job, spec.attempt),
    ];
    for (label, value) in [
        (LABEL_SCOPE, spec.scope.to_owned()),
        (LABEL_JOB, spec.job.to_string()),
        (LABEL_ATTEMPT, spec.attempt.to_string()),
        (LABEL_WORKER, spec.worker.to_owned()),
    ] {
        args.push("--label".into());
        args.push(format!("{label}={value}"));
    }
    args.extend([
        "--network".into(),
        spec.network.into(),
        "--memory".into(),
        spec.limits.memory.clone(),
        "--pids-limit".into(),
        spec.limits.pids_limit.to_string(),
    ]);
    if let Some(cpus) = &spec.limits.cpus {
        args.extend(["--cpus".into(), cpus.clone()]);
    }
    if spec.read_only {
        // Docker leaves no writable place at all; podman would mount these
        // by itself, and mounting them explicitly is the same for both.
        args.extend(["--read-only".into(), "--tmpfs".into(), "/tmp".into()]);
    }
    args.extend(["--security-opt".into(), "no-new-privileges".into()]);
    if spec.engine == Engine::Podman {
        // Podman copies the worker's proxy variables into the container by
        // default; the container gets the job's `env` and nothing else.
        args.push("--http-proxy=false".into());
    }
    for (key, value) in spec.env {
        args.push("-e".into());
        args.push(format!("{key}={value}"));
    }
    args.extend(["--pull".into(), spec.pull.as_str().into()]);
    // `--` ends the options, so an image name starting with `-` cannot
    // become a flag such as `--privileged` even if it got past validation.
    args.push("--".into());
    args.push(spec.image.into());
    args.extend(spec.command.iter().cloned());
    args
}

pub(super) fn kill_args(name: &str) -> Vec<String> {
    vec!["kill".into(), name.into()]
}

pub(super) fn remove_args(name: &str) -> Vec<String> {
    vec!["rm".into(), "-f".into(), name.into()]
}

/// The names of this scope's containers, running or not, one a line.
pub(super) fn list_args(scope: &str) -> Vec<String> {
    vec![
        "ps".into(),
        "-a".into(),
        "--filter".into(),
        format!("label={LABEL_SCOPE}={scope}"),
        "--format".into(),
        "{{.Names}}".into(),
    ]
}

/// Removes an image by tag; refused (and kept) while a container uses it.
pub(super) fn remove_image_args(tag: &str) -> Vec<String> {
    vec!["rmi".into(), tag.into()]
}

/// Where a Dockerfile URL is downloaded from: an http(s) URL as given;
/// `s3://bucket/key` as `https://bucket.s3.amazonaws.com/key`, or as
/// `<endpoint>/bucket/key` when an endpoint is configured. Requests are not
/// signed, so the object must be readable anonymously.
pub(super) fn download_url(raw: &str, s3_endpoint: Option<&Url>) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("payload.dockerfile_url {raw:?}: {e}"))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        "s3" => {
            let bucket = url.host_str().filter(|b| !b.is_empty());
            let (Some(bucket), key) = (bucket, url.path()) else {
                return Err(format!("payload.dockerfile_url {raw:?}: no bucket"));
            };
            if key.len() <= 1 {
                return Err(format!("payload.dockerfile_url {raw:?}: no key"));
            }
            let base = match s3_endpoint {
                Some(endpoint) => format!("{}/{bucket}", endpoint.as_str().trim_end_matches('/')),
                None => format!("https://{bucket}.s3.amazonaws.com"),
            };
            Url::parse(&format!("{base}{key}"))
                .map_err(|e| format!("payload.dockerfile_url {raw:?}: {e}"))
        }
        other => Err(format!(
            "payload.dockerfile_url {raw:?}: scheme {other} is not http, https or s3"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executors::docker::cache::sha256_hex;
    use crate::executors::docker::test_support::{limits, strings};

    fn spec<'a>(
        job: Uuid,
        image: &'a str,
        env: &'a BTreeMap<String, String>,
        command: &'a [String],
        limits: &'a DockerConfig,
    ) -> RunSpec<'a> {
        RunSpec {
            job,
            attempt: 2,
            worker: "host-1-abc",
            scope: "conveyor",
            image,
            env,
            command,
            pull: Pull::Always,
            network: "none",
            read_only: true,
            limits,
            engine: Engine::Docker,
        }
    }

    #[test]
    fn run_args_name_label_and_limit_the_container_then_end_options_before_the_image() {
        let job = Uuid::parse_str("01936f0e-0000-7000-8000-000000000001").unwrap();
        let env = BTreeMap::from([
            ("GREETING".to_string(), "hi there".to_string()),
            ("A".to_string(), "x=y".to_string()),
        ]);
        let command = strings(&["sh", "-c", "echo $GREETING"]);
        let limits = limits();
        assert_eq!(
            run_args(&spec(job, "alpine:3.20", &env, &command, &limits)),
            strings(&[
                "run",
                "--rm",
                "--name",
                "conveyor-01936f0e-0000-7000-8000-000000000001-2",
                "--label",
                "conveyor.scope=conveyor",
                "--label",
                "conveyor.job=01936f0e-0000-7000-8000-000000000001",
                "--label",
                "conveyor.attempt=2",
                "--label",
                "conveyor.worker=host-1-abc",
                "--network",
                "none",
                "--memory",
                "512m",
                "--pids-limit",
                "256",
                "--cpus",
                "1",
                "--read-only",
                "--tmpfs",
                "/tmp",
                "--security-opt",
                "no-new-privileges",
                "-e",
                "A=x=y",
                "-e",
                "GREETING=hi there",
                "--pull",
                "always",
                "--",
                "alpine:3.20",
                "sh",
                "-c",
                "echo $GREETING",
            ])
        );
        let no_limits = DockerConfig {
            cpus: None,
            ..limits.clone()
        };
        let empty = BTreeMap::new();
        let mut open = spec(job, "alpine", &empty, &[], &no_limits);
        open.network = "bridge";
        open.read_only = false;
        open.pull = Pull::Never;
        open.engine = Engine::Podman;
        let args = run_args(&open);
        assert_eq!(
            args[12..],
            strings(&[
                "--network",
                "bridge",
                "--memory",
                "512m",
                "--pids-limit",
                "256",
                "--security-opt",
                "no-new-privileges",
                "--http-proxy=false",
                "--pull",
                "never",
                "--",
                "alpine",
            ])
        );
    }

    #[test]
    fn a_container_name_gives_back_its_job_and_attempt() {
        let job = Uuid::now_v7();
        let name = container_name(job, 12);
        assert_eq!(parse_container_name(&name), Some((job, 12)));
        assert_eq!(parse_container_name(&format!("/{name}\n")), Some((job, 12)));
        assert_eq!(parse_container_name("conveyor-nope-1"), None);
        assert_eq!(parse_container_name("postgres"), None);
    }

    #[test]
    fn build_list_kill_and_remove_args_name_the_tag_scope_or_container() {
        let digest = sha256_hex(b"FROM alpine\n");
        let tag = image_tag(&digest);
        assert_eq!(tag, format!("conveyor-job:{}", &digest[..16]));
        let dir = Path::new("/cache").join(&digest);
        let label = format!("conveyor.dockerfile={digest}");
        let context = format!("/cache/{digest}");
        assert_eq!(
            build_args(&tag, &digest, &dir, Engine::Docker, true),
            strings(&["build", "--label", &label, "-t", &tag, &context])
        );
        assert_eq!(
            build_args(&tag, &digest, &dir, Engine::Podman, true),
            strings(&[
                "build",
                "--label",
                &label,
                "--pull=never",
                "-t",
                &tag,
                &context
            ])
        );
        assert_eq!(
            build_args(&tag, &digest, &dir, Engine::Podman, false),
            strings(&["build", "--label", &label, "-t", &tag, &context])
        );
        assert_eq!(inspect_args(&tag), strings(&["image", "inspect", &tag]));
        assert_eq!(
            version_args(),
            strings(&["version", "--format", "{{.Server.Version}}"])
        );
        assert_eq!(kill_args("c"), strings(&["kill", "c"]));
        assert_eq!(remove_args("c"), strings(&["rm", "-f", "c"]));
        assert_eq!(remove_image_args(&tag), strings(&["rmi", &tag]));
        assert_eq!(
            list_args("t1"),
            strings(&[
                "ps",
                "-a",
                "--filter",
                "label=conveyor.scope=t1",
                "--format",
                "{{.Names}}"
            ])
        );
    }

    #[test]
    fn s3_urls_are_fetched_from_the_bucket_host_or_path_style_from_the_endpoint() {
        let https = download_url("s3://my-bucket/images/web/Dockerfile", None).unwrap();
        assert_eq!(
            https.as_str(),
            "https://my-bucket.s3.amazonaws.com/images/web/Dockerfile"
        );
        let endpoint = Url::parse("http://minio:9000/").unwrap();
        let minio = download_url("s3://my-bucket/images/Dockerfile", Some(&endpoint)).unwrap();
        assert_eq!(
            minio.as_str(),
            "http://minio:9000/my-bucket/images/Dockerfile"
        );
        let plain = download_url("https://example.com/Dockerfile?v=2", Some(&endpoint)).unwrap();
        assert_eq!(plain.as_str(), "https://example.com/Dockerfile?v=2");
        assert!(download_url("s3://my-bucket", None).is_err());
        assert!(download_url("ftp://example.com/Dockerfile", None).is_err());
    }
}
