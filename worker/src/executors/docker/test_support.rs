//! Test doubles for the docker executor: a scratch folder with a fake Docker
//! CLI that logs its calls, and an HTTP server that serves a Dockerfile.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::http::{header, HeaderMap, StatusCode as AxumStatus, Uri};
use axum::response::{IntoResponse, Response};
use conveyor_shared::executor::JobContext;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::cache::MAX_DOCKERFILE_BYTES;
use super::DockerSettings;

pub(super) fn ctx(payload: Value) -> JobContext {
    JobContext {
        id: Uuid::now_v7(),
        queue: "default".into(),
        kind: "docker".into(),
        name: "t".into(),
        payload,
        attempt: 1,
        worker: "test-worker".into(),
        parents: Default::default(),
        cancel: CancellationToken::new(),
    }
}

/// The default container limits.
pub(super) fn limits() -> conveyor_shared::config::DockerConfig {
    conveyor_shared::config::DockerConfig::from_env(
        &std::collections::HashMap::<String, String>::new(),
    )
    .expect("default docker settings")
}

pub(super) fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// A fresh folder under the system temp dir, removed on drop.
pub(super) struct Scratch(pub(super) PathBuf);

impl Scratch {
    pub(super) fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("conveyor-docker-test-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Self(dir)
    }

    pub(super) fn settings(&self, bin: PathBuf) -> DockerSettings {
        DockerSettings {
            outbound: std::sync::Arc::new(
                conveyor_shared::outbound::OutboundPolicy::parse("127.0.0.0/8,::1")
                    .expect("policy"),
            ),
            bin,
            cache_dir: self.0.join("cache"),
            s3_endpoint: None,
            scope: "test".into(),
            limits: limits(),
        }
    }

    /// Writes an executable script `name` with `body` after a shebang.
    pub(super) fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}")).expect("script");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path
    }

    /// A stand-in for the Docker CLI that logs each call's arguments (one
    /// call per line) and behaves like an engine: `image inspect` finds
    /// only images it has built, and `run` prints to both streams, exits
    /// 3 when given `-e FAIL=1` and runs until killed with `-e SLEEP=1`.
    pub(super) fn fake_docker(&self) -> PathBuf {
        let dir = self.0.display();
        self.script(
            "docker",
            &format!(
                r#"printf '%s\n' "$*" >> {dir}/calls.log
case "$1" in
  version) echo 28.2.2 ;;
  image) [ -e "{dir}/built-$3" ] || {{ echo "Error: No such image: $3" >&2; exit 1; }} ;;
  build)
    prev=""; for a; do [ "$prev" = "-t" ] && tag="$a"; prev="$a"; done
    [ -f "$prev/Dockerfile" ] || exit 1; touch "{dir}/built-$tag"; echo "Successfully tagged $tag" ;;
  run)
    echo "hello from the container"
    echo "a warning" >&2
    case "$*" in *"-e FAIL=1"*) exit 3 ;; *"-e SLEEP=1"*) exec sleep 30 ;; esac ;;
esac
"#
            ),
        )
    }

    pub(super) fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.0.join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One request the Dockerfile server answered.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Hit {
    pub(super) path: String,
    pub(super) conditional: bool,
    pub(super) status: u16,
}

/// Serves a Dockerfile at every path with an ETag that changes with its
/// version, answering 304 to a matching If-None-Match; `/big` is 1 MiB + 1.
#[derive(Default)]
pub(super) struct DockerfileServer {
    content: Mutex<(u32, String)>,
    hits: Mutex<Vec<Hit>>,
}

impl DockerfileServer {
    pub(super) async fn start(content: &str) -> (Arc<Self>, SocketAddr) {
        let server = Arc::new(Self {
            content: Mutex::new((1, content.into())),
            hits: Mutex::default(),
        });
        let app = axum::Router::new()
            .fallback(Self::answer)
            .with_state(server.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        (server, addr)
    }

    async fn answer(
        axum::extract::State(server): axum::extract::State<Arc<Self>>,
        uri: Uri,
        headers: HeaderMap,
    ) -> Response {
        let (version, content) = server.content.lock().unwrap().clone();
        let etag = format!("\"v{version}\"");
        let conditional = headers.contains_key(header::IF_NONE_MATCH);
        let response = if uri.path() == "/big" {
            "x".repeat(MAX_DOCKERFILE_BYTES + 1).into_response()
        } else if headers
            .get(header::IF_NONE_MATCH)
            .is_some_and(|v| v == etag.as_str())
        {
            (AxumStatus::NOT_MODIFIED, [(header::ETAG, etag)]).into_response()
        } else {
            ([(header::ETAG, etag)], content).into_response()
        };
        server.hits.lock().unwrap().push(Hit {
            path: uri.path().into(),
            conditional,
            status: response.status().as_u16(),
        });
        response
    }

    pub(super) fn set_content(&self, content: &str) {
        let mut guard = self.content.lock().unwrap();
        *guard = (guard.0 + 1, content.into());
    }

    pub(super) fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }
}

/// The digest folders of a cache, each with the names of its files.
pub(super) fn cached(cache: &Path) -> Vec<(String, Vec<String>)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(cache).expect("cache dir").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.len() == 64 && name.chars().all(|c| c.is_ascii_hexdigit()) {
            let files = std::fs::read_dir(entry.path())
                .expect("digest dir")
                .flatten()
                .map(|f| f.file_name().to_string_lossy().into_owned())
                .collect();
            found.push((name, files));
        }
    }
    found.sort();
    found
}
