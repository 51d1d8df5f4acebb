//! Downloading a job's Dockerfile into the worker's cache, keyed by its
//! SHA-256, with conditional requests so an unchanged file is not transferred
//! again.

use crate::executors::error_chain;
use std::path::{Path, PathBuf};

use conveyor_shared::executor::Failure;
use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::args::download_url;
use super::DockerExecutor;

/// Largest Dockerfile downloaded.
pub(super) const MAX_DOCKERFILE_BYTES: usize = 1 << 20;

pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// What the cache remembers about a URL, so that the next download can be a
/// conditional request the server answers with 304 and no body.
#[derive(Debug, Serialize, Deserialize)]
struct UrlEntry {
    url: String,
    digest: String,
    etag: Option<String>,
    last_modified: Option<String>,
}

/// The Dockerfile cache: `<dir>/<sha256>/Dockerfile` (each folder is a build
/// context holding only its Dockerfile), `<dir>/by-url/<sha256 of the
/// URL>.json` (a [`UrlEntry`]) and `<dir>/used/<sha256>`, an empty file
/// rewritten at each use: its modification time is when the digest (and its
/// image) was last used, which the janitor's pruning reads.
pub(super) struct Cache<'a> {
    dir: &'a Path,
}

impl<'a> Cache<'a> {
    pub(super) fn new(dir: &'a Path) -> Self {
        Self { dir }
    }

    /// The build context of the Dockerfile with this digest.
    pub(super) fn context(&self, digest: &str) -> PathBuf {
        self.dir.join(digest)
    }

    fn entry_path(&self, url: &Url) -> PathBuf {
        self.dir
            .join("by-url")
            .join(format!("{}.json", sha256_hex(url.as_str().as_bytes())))
    }

    /// The entry for `url`, if its Dockerfile is still there and unchanged
    /// (the cache lives in a shared temp folder by default, so it is checked
    /// rather than trusted).
    async fn entry(&self, url: &Url) -> Option<UrlEntry> {
        let raw = tokio::fs::read(self.entry_path(url)).await.ok()?;
        let entry: UrlEntry = serde_json::from_slice(&raw).ok()?;
        let file = self.context(&entry.digest).join("Dockerfile");
        let bytes = tokio::fs::read(file).await.ok()?;
        (entry.url == url.as_str() && sha256_hex(&bytes) == entry.digest).then_some(entry)
    }

    async fn store(&self, body: &[u8]) -> std::io::Result<String> {
        let digest = sha256_hex(body);
        let context = self.context(&digest);
        tokio::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&context)
            .await?;
        self.write_atomically(&context.join("Dockerfile"), body)
            .await?;
        Ok(digest)
    }

    fn used_path(&self, digest: &str) -> PathBuf {
        self.dir.join("used").join(digest)
    }

    /// Records that `digest` is used now. Best effort: a digest whose mark
    /// could not be written is pruned by its folder's age instead.
    pub(super) async fn touch(&self, digest: &str) {
        let path = self.used_path(digest);
        if let Some(parent) = path.parent() {
            let _ = tokio::fs::create_dir_all(parent).await;
        }
        if let Err(e) = tokio::fs::write(&path, b"").await {
            tracing::warn!(path = %path.display(), error = %e, "cannot mark a cached Dockerfile used");
        }
    }

    /// The cached digests last used longer than `ttl` ago.
    pub(super) async fn unused_for(&self, ttl: std::time::Duration) -> Vec<String> {
        let mut stale = Vec::new();
        let Ok(mut entries) = tokio::fs::read_dir(self.dir).await else {
            return stale;
        };
        while let Ok(Some(entry)) = entries.next_entry().await {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.len() != 64 || !name.chars().all(|c| c.is_ascii_hexdigit()) {
                continue;
            }
            let used = match tokio::fs::metadata(self.used_path(&name)).await {
                Ok(meta) => meta.modified(),
                Err(_) => entry.metadata().await.and_then(|m| m.modified()),
            };
            let age = used
                .ok()
                .and_then(|t| std::time::SystemTime::now().duration_since(t).ok());
            if age.is_some_and(|age| age >= ttl) {
                stale.push(name);
            }
        }
        stale
    }

    /// Removes a digest's folder, its use mark and the URL entries that
    /// point at it.
    pub(super) async fn forget(&self, digest: &str) -> std::io::Result<()> {
        if let Ok(mut entries) = tokio::fs::read_dir(self.dir.join("by-url")).await {
            while let Ok(Some(entry)) = entries.next_entry().await {
                let points_here = tokio::fs::read(entry.path())
                    .await
                    .ok()
                    .and_then(|raw| serde_json::from_slice::<UrlEntry>(&raw).ok())
                    .is_some_and(|e| e.digest == digest);
                if points_here {
                    let _ = tokio::fs::remove_file(entry.path()).await;
                }
            }
        }
        let _ = tokio::fs::remove_file(self.used_path(digest)).await;
        match tokio::fs::remove_dir_all(self.context(digest)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    async fn remember(&self, url: &Url, entry: &UrlEntry) -> std::io::Result<()> {
        let path = self.entry_path(url);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        let json = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
        self.write_atomically(&path, &json).await
    }

    /// Writes beside the cache's folders, then renames: concurrent jobs and
    /// builds never see a half-written file, and no stray file lands in a
    /// build context.
    async fn write_atomically(&self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        let tmp = self.dir.join(format!(".tmp-{}", Uuid::new_v4()));
        tokio::fs::write(&tmp, bytes).await?;
        let renamed = tokio::fs::rename(&tmp, path).await;
        if renamed.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        renamed
    }
}

impl DockerExecutor {
    /// Downloads the Dockerfile into the cache and returns its SHA-256. A URL
    /// seen before is asked for with its validators (ETag, Last-Modified), so
    /// an unchanged file is not transferred again; a server that sends none
    /// is downloaded each time, and the digest still decides the build.
    pub(super) async fn fetch_dockerfile(&self, raw_url: &str) -> Result<String, Failure> {
        let url = download_url(raw_url, self.settings.s3_endpoint.as_ref())
            .map_err(Failure::permanent)?;
        self.settings
            .outbound
            .check_url(&url)
            .map_err(|e| Failure::permanent(format!("downloading the Dockerfile: {e}")))?;
        let cache = Cache::new(&self.settings.cache_dir);
        let known = cache.entry(&url).await;
        let mut request = self.client.get(url.clone());
        if let Some(entry) = &known {
            if let Some(etag) = &entry.etag {
                request = request.header(IF_NONE_MATCH, etag);
            }
            if let Some(date) = &entry.last_modified {
                request = request.header(IF_MODIFIED_SINCE, date);
            }
        }
        let failed =
            |what: String| Failure::new(format!("downloading the Dockerfile {url}: {what}"));
        // A refused target, a server that cannot be reached or one that
        // refuses the request (4xx) will do the same at the next attempt:
        // permanent, as the URL is the job's own. A timeout or a 5xx may
        // pass: retried.
        let mut response = request.send().await.map_err(|e| {
            if let Some(refused) = crate::outbound::refusal(&e) {
                return Failure::permanent(format!("downloading the Dockerfile: {refused}"));
            }
            let failure = failed(error_chain(&e));
            if e.is_connect() || e.is_builder() || e.is_redirect() {
                Failure::permanent(failure.error)
            } else {
                failure
            }
        })?;
        let status = response.status();
        if let (StatusCode::NOT_MODIFIED, Some(entry)) = (status, &known) {
            return Ok(entry.digest.clone());
        }
        if status.is_client_error() {
            return Err(Failure::permanent(failed(format!("HTTP {status}")).error));
        }
        if !status.is_success() {
            return Err(failed(format!("HTTP {status}")));
        }
        let too_big = || {
            Failure::permanent(format!(
                "the Dockerfile {url} is larger than the limit of {MAX_DOCKERFILE_BYTES} bytes"
            ))
        };
        if response
            .content_length()
            .is_some_and(|n| n > MAX_DOCKERFILE_BYTES as u64)
        {
            return Err(too_big());
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let (etag, last_modified) = (header(ETAG), header(LAST_MODIFIED));
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| failed(error_chain(&e)))?
        {
            if body.len() + chunk.len() > MAX_DOCKERFILE_BYTES {
                return Err(too_big());
            }
            body.extend_from_slice(&chunk);
        }
        let cache_error = |e: std::io::Error| {
            Failure::new(format!(
                "writing to the Dockerfile cache {}: {e}",
                cache.dir.display()
            ))
        };
        let digest = cache.store(&body).await.map_err(cache_error)?;
        if etag.is_some() || last_modified.is_some() {
            let entry = UrlEntry {
                url: url.to_string(),
                digest: digest.clone(),
                etag,
                last_modified,
            };
            cache.remember(&url, &entry).await.map_err(cache_error)?;
        }
        Ok(digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executors::docker::test_support::{cached, DockerfileServer, Scratch};

    #[tokio::test]
    async fn a_dockerfile_is_downloaded_once_and_cached_by_its_digest() {
        let scratch = Scratch::new();
        let (server, addr) = DockerfileServer::start("FROM alpine:3.20\n").await;
        let executor = DockerExecutor::new(true, scratch.settings(scratch.fake_docker()));
        let url = format!("http://{addr}/build/Dockerfile");

        let first = executor
            .fetch_dockerfile(&url)
            .await
            .expect("first download");
        let second = executor
            .fetch_dockerfile(&url)
            .await
            .expect("second download");

        assert_eq!(first, sha256_hex(b"FROM alpine:3.20\n"));
        assert_eq!(second, first);
        let cache = scratch.0.join("cache");
        assert_eq!(
            cached(&cache),
            vec![(first.clone(), vec!["Dockerfile".to_string()])]
        );
        assert_eq!(
            std::fs::read_to_string(cache.join(&first).join("Dockerfile")).unwrap(),
            "FROM alpine:3.20\n"
        );
        let hits = server.hits();
        assert_eq!(hits.len(), 2, "{hits:?}");
        assert_eq!((hits[0].conditional, hits[0].status), (false, 200));
        assert_eq!(
            (hits[1].conditional, hits[1].status),
            (true, 304),
            "the second call transferred the file again"
        );

        server.set_content("FROM alpine:3.21\n");
        let changed = executor.fetch_dockerfile(&url).await.expect("changed file");
        assert_eq!(changed, sha256_hex(b"FROM alpine:3.21\n"));
        assert_eq!(server.hits()[2].status, 200);
        assert_eq!(cached(&cache).len(), 2, "one folder per digest");
    }

    #[tokio::test]
    async fn an_s3_dockerfile_is_fetched_from_the_configured_endpoint() {
        let scratch = Scratch::new();
        let (server, addr) = DockerfileServer::start("FROM busybox\n").await;
        let mut settings = scratch.settings(scratch.fake_docker());
        settings.s3_endpoint = Some(Url::parse(&format!("http://{addr}")).unwrap());
        let digest = DockerExecutor::new(true, settings)
            .fetch_dockerfile("s3://my-bucket/images/Dockerfile")
            .await
            .expect("download");
        assert_eq!(digest, sha256_hex(b"FROM busybox\n"));
        assert_eq!(server.hits()[0].path, "/my-bucket/images/Dockerfile");
    }

    #[tokio::test]
    async fn a_dockerfile_over_1_mib_is_refused_permanently_and_not_cached() {
        let scratch = Scratch::new();
        let (_server, addr) = DockerfileServer::start("FROM alpine\n").await;
        let err = DockerExecutor::new(true, scratch.settings(scratch.fake_docker()))
            .fetch_dockerfile(&format!("http://{addr}/big"))
            .await
            .expect_err("too big");
        assert!(err.permanent);
        assert!(err.error.contains("larger than the limit"), "{}", err.error);
        assert!(!scratch.0.join("cache").exists());
    }
}
