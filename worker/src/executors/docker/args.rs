//! The Docker CLI command lines the executor runs, and the names and URLs
//! they are built from. Pure functions: the tests below pin every argument.

use std::collections::BTreeMap;
use std::path::Path;

use reqwest::Url;
use uuid::Uuid;

use super::Pull;

fn container_name(job: Uuid) -> String {
    format!("conveyor-{job}")
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

pub(super) fn build_args(tag: &str, dir: &Path) -> Vec<String> {
    vec![
        "build".into(),
        "-t".into(),
        tag.into(),
        dir.to_string_lossy().into_owned(),
    ]
}

pub(super) fn run_args(
    job: Uuid,
    image: &str,
    env: &BTreeMap<String, String>,
    command: &[String],
    pull: Pull,
) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "run".into(),
        "--rm".into(),
        "--name".into(),
        container_name(job),
        "--label".into(),
        format!("conveyor.job={job}"),
    ];
    for (key, value) in env {
        args.push("-e".into());
        args.push(format!("{key}={value}"));
    }
    if pull == Pull::Always {
        args.extend(["--pull".into(), "always".into()]);
    }
    // `--` ends the options, so an image name starting with `-` cannot
    // become a flag such as `--privileged` even if it got past validation.
    args.push("--".into());
    args.push(image.into());
    args.extend(command.iter().cloned());
    args
}

pub(super) fn kill_args(job: Uuid) -> Vec<String> {
    vec!["kill".into(), container_name(job)]
}

pub(super) fn remove_args(job: Uuid) -> Vec<String> {
    vec!["rm".into(), "-f".into(), container_name(job)]
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
    use crate::executors::docker::test_support::strings;

    #[test]
    fn run_args_name_and_label_the_container_then_end_options_before_the_image() {
        let job = Uuid::parse_str("01936f0e-0000-7000-8000-000000000001").unwrap();
        let env = BTreeMap::from([
            ("GREETING".to_string(), "hi there".to_string()),
            ("A".to_string(), "x=y".to_string()),
        ]);
        let command = strings(&["sh", "-c", "echo $GREETING"]);
        assert_eq!(
            run_args(job, "alpine:3.20", &env, &command, Pull::Always),
            strings(&[
                "run",
                "--rm",
                "--name",
                "conveyor-01936f0e-0000-7000-8000-000000000001",
                "--label",
                "conveyor.job=01936f0e-0000-7000-8000-000000000001",
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
        assert_eq!(
            run_args(job, "alpine", &BTreeMap::new(), &[], Pull::Missing),
            strings(&[
                "run",
                "--rm",
                "--name",
                "conveyor-01936f0e-0000-7000-8000-000000000001",
                "--label",
                "conveyor.job=01936f0e-0000-7000-8000-000000000001",
                "--",
                "alpine",
            ])
        );
    }

    #[test]
    fn build_inspect_kill_and_remove_args_name_the_tag_or_container() {
        let digest = sha256_hex(b"FROM alpine\n");
        let tag = image_tag(&digest);
        assert_eq!(tag, format!("conveyor-job:{}", &digest[..16]));
        assert_eq!(
            build_args(&tag, &Path::new("/cache").join(&digest)),
            strings(&["build", "-t", &tag, &format!("/cache/{digest}")])
        );
        assert_eq!(inspect_args(&tag), strings(&["image", "inspect", &tag]));
        assert_eq!(
            version_args(),
            strings(&["version", "--format", "{{.Server.Version}}"])
        );
        let job = Uuid::now_v7();
        assert_eq!(
            kill_args(job),
            strings(&["kill", &format!("conveyor-{job}")])
        );
        assert_eq!(
            remove_args(job),
            strings(&["rm", "-f", &format!("conveyor-{job}")])
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
