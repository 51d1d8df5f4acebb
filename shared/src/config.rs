//! Configuration from the environment, with defaults that work for a local run.
//!
//! Every value is parsed once, at start-up; a bad value stops the binary with
//! one line that names the variable.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::model::QueueName;

/// A configuration value that could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("invalid {var}={value:?}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub value: String,
    pub reason: String,
}

/// Where the environment comes from; tests pass a map instead of the process env.
pub trait Env {
    fn get(&self, key: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.is_empty())
    }
}

impl Env for HashMap<String, String> {
    fn get(&self, key: &str) -> Option<String> {
        HashMap::get(self, key).cloned()
    }
}

fn parse<T: std::str::FromStr>(
    env: &dyn Env,
    var: &'static str,
    default: T,
    expected: &str,
) -> Result<T, ConfigError> {
    match env.get(var) {
        None => Ok(default),
        Some(value) => value.trim().parse().map_err(|_| ConfigError {
            var,
            reason: format!("expected {expected}"),
            value,
        }),
    }
}

/// `value` if it is from `min` to `max`, else an error naming `var`.
fn in_range(var: &'static str, value: u64, min: u64, max: u64) -> Result<u64, ConfigError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError {
            var,
            value: value.to_string(),
            reason: format!("expected {min} to {max}"),
        })
    }
}

fn positive<T: PartialEq + Default + ToString>(
    value: T,
    var: &'static str,
) -> Result<T, ConfigError> {
    if value == T::default() {
        Err(ConfigError {
            var,
            value: value.to_string(),
            reason: "expected a positive integer".into(),
        })
    } else {
        Ok(value)
    }
}

fn parse_bool(env: &dyn Env, var: &'static str, default: bool) -> Result<bool, ConfigError> {
    match env.get(var).as_deref().map(str::trim) {
        None => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(other) => Err(ConfigError {
            var,
            value: other.to_owned(),
            reason: "expected 1 or 0".into(),
        }),
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Settings both binaries share. Its `Debug` masks the passwords in the
/// URLs and the metrics token, so printing a config cannot leak them.
#[derive(Clone)]
pub struct CommonConfig {
    pub database_url: String,
    pub redis_url: String,
    /// Prefix of every Redis key and channel; tests use a fresh one each.
    pub redis_prefix: String,
    pub log_format: LogFormat,
    pub db_max_connections: u32,
    /// How long start-up waits for Postgres and Redis to become reachable.
    pub startup_timeout: Duration,
    /// `METRICS_TOKEN`: when set, `/metrics` (api and worker) answers only
    /// requests with `Authorization: Bearer <token>`. A secret: never log it.
    pub metrics_token: Option<String>,
    /// `OUTBOUND_ALLOW`: internal networks and hosts that outbound requests
    /// (the `http` kind, webhooks, Dockerfile downloads) may reach anyway;
    /// the host of `AWS_ENDPOINT_URL` is allowed implicitly.
    pub outbound: crate::outbound::OutboundPolicy,
    /// `DB_STATEMENT_TIMEOUT_SECS`: PostgreSQL cancels a statement running
    /// longer (zero: no limit). Migrations at start-up are not limited.
    pub db_statement_timeout: Duration,
    /// `REQUEST_TIMEOUT_SECS` (api): a request not answered within this
    /// (PostgreSQL or Redis silent) gets a JSON 503 instead of hanging.
    pub request_timeout: Duration,
}

impl std::fmt::Debug for CommonConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommonConfig")
            .field(
                "database_url",
                &crate::secrets::redact_url(&self.database_url),
            )
            .field("redis_url", &crate::secrets::redact_url(&self.redis_url))
            .field("redis_prefix", &self.redis_prefix)
            .field("log_format", &self.log_format)
            .field("db_max_connections", &self.db_max_connections)
            .field("startup_timeout", &self.startup_timeout)
            .field("db_statement_timeout", &self.db_statement_timeout)
            .field("request_timeout", &self.request_timeout)
            .field(
                "metrics_token",
                &self.metrics_token.as_ref().map(|_| crate::secrets::MASK),
            )
            .finish()
    }
}

impl CommonConfig {
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let database_url = env
            .get("DATABASE_URL")
            .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/conveyor".into());
        if !database_url.starts_with("postgres://") && !database_url.starts_with("postgresql://") {
            return Err(ConfigError {
                var: "DATABASE_URL",
                value: crate::secrets::redact_url(&database_url),
                reason: "expected a postgres:// URL".into(),
            });
        }
        let redis_url = env
            .get("REDIS_URL")
            .unwrap_or_else(|| "redis://127.0.0.1:6379".into());
        if !redis_url.starts_with("redis://") && !redis_url.starts_with("rediss://") {
            return Err(ConfigError {
                var: "REDIS_URL",
                value: crate::secrets::redact_url(&redis_url),
                reason: "expected a redis:// URL".into(),
            });
        }
        let redis_prefix = env.get("REDIS_PREFIX").unwrap_or_else(|| "conveyor".into());
        if redis_prefix.contains(['{', '}', ' ']) {
            return Err(ConfigError {
                var: "REDIS_PREFIX",
                value: redis_prefix,
                reason: "must not contain braces or spaces".into(),
            });
        }
        let log_format = match env.get("LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError {
                    var: "LOG_FORMAT",
                    value: other.into(),
                    reason: "expected text or json".into(),
                })
            }
        };
        let db_max_connections = positive(
            parse(env, "DB_MAX_CONNECTIONS", 10u32, "a positive integer")?,
            "DB_MAX_CONNECTIONS",
        )?;
        let startup: u64 = parse(env, "STARTUP_TIMEOUT_SECS", 30, "a number of seconds")?;
        let allow = env.get("OUTBOUND_ALLOW").unwrap_or_default();
        let mut outbound =
            crate::outbound::OutboundPolicy::parse(&allow).map_err(|reason| ConfigError {
                var: "OUTBOUND_ALLOW",
                value: allow.clone(),
                reason,
            })?;
        // The operator's own object store is a target they chose.
        if let Some(host) = env
            .get("AWS_ENDPOINT_URL")
            .and_then(|u| url::Url::parse(&u).ok())
            .and_then(|u| u.host_str().map(str::to_owned))
        {
            outbound.allow_host(&host);
        }
        let statement: u64 = parse(env, "DB_STATEMENT_TIMEOUT_SECS", 30, "a number of seconds")?;
        let statement = in_range("DB_STATEMENT_TIMEOUT_SECS", statement, 0, 86_400)?;
        let request: u64 = parse(env, "REQUEST_TIMEOUT_SECS", 30, "a number of seconds")?;
        let request = in_range("REQUEST_TIMEOUT_SECS", request, 1, 3_600)?;
        Ok(Self {
            database_url,
            redis_url,
            redis_prefix,
            log_format,
            db_max_connections,
            startup_timeout: Duration::from_secs(startup),
            db_statement_timeout: Duration::from_secs(statement),
            request_timeout: Duration::from_secs(request),
            metrics_token: env
                .get("METRICS_TOKEN")
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty()),
            outbound,
        })
    }
}

/// Settings of the api binary.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub common: CommonConfig,
    pub listen_addr: SocketAddr,
    /// Largest accepted `payload`, in bytes.
    pub max_payload_bytes: usize,
    /// Largest accepted request body, in bytes (a batch of jobs is one body).
    pub max_body_bytes: usize,
    pub max_batch: usize,
    pub max_page: u32,
    /// Folder of the built dashboard.
    pub frontend_dir: std::path::PathBuf,
    /// Status events buffered per api for WebSocket clients; a client
    /// further behind is told to resynchronise.
    pub ws_event_buffer: usize,
    /// Jobs, queues and runs one WebSocket client may subscribe to.
    pub max_ws_subscriptions: usize,
    /// `AUTH_DISABLED=1`: every request acts as an admin (local experiments).
    pub auth_disabled: bool,
    /// How long a browser session lasts.
    pub session_ttl: Duration,
    /// Mark the session cookie `Secure` (serve over HTTPS).
    pub cookie_secure: bool,
    /// Origins allowed by CORS; `None` turns CORS off (the default).
    pub cors_origins: Option<CorsOrigins>,
}

/// `CORS_ORIGINS`: `*` or a comma-separated list of origins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    Any,
    List(Vec<String>),
}

fn parse_cors(env: &dyn Env) -> Result<Option<CorsOrigins>, ConfigError> {
    let Some(raw) = env.get("CORS_ORIGINS") else {
        return Ok(None);
    };
    if raw.trim() == "*" {
        return Ok(Some(CorsOrigins::Any));
    }
    let mut origins = Vec::new();
    for origin in raw.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let ok = url::Url::parse(origin).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https")
                && u.host().is_some()
                && u.path() == "/"
                && !origin.ends_with('/')
        });
        if !ok {
            return Err(ConfigError {
                var: "CORS_ORIGINS",
                value: raw.clone(),
                reason: format!(
                    "{origin:?} is not an origin; expected * or a list such as https://ops.example.com,http://localhost:5173"
                ),
            });
        }
        origins.push(origin.to_owned());
    }
    Ok((!origins.is_empty()).then_some(CorsOrigins::List(origins)))
}

impl ApiConfig {
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let common = CommonConfig::from_env(env)?;
        let listen_addr = parse(
            env,
            "LISTEN_ADDR",
            SocketAddr::from(([127, 0, 0, 1], 8080)),
            "an address such as 127.0.0.1:8080",
        )?;
        let max_payload_bytes = parse(env, "MAX_PAYLOAD_BYTES", 1 << 20, "a number of bytes")?;
        let max_body_bytes = parse(env, "MAX_BODY_BYTES", 64 << 20, "a number of bytes")?;
        let max_batch = positive(
            parse(env, "MAX_BATCH", 1000, "a positive integer")?,
            "MAX_BATCH",
        )?;
        let max_page = positive(
            parse(env, "MAX_PAGE", 500u32, "a positive integer")?,
            "MAX_PAGE",
        )?;
        let ws_event_buffer = positive(
            parse(env, "WS_EVENT_BUFFER", 8192usize, "a positive integer")?,
            "WS_EVENT_BUFFER",
        )?;
        let max_ws_subscriptions = positive(
            parse(env, "MAX_WS_SUBSCRIPTIONS", 1000usize, "a positive integer")?,
            "MAX_WS_SUBSCRIPTIONS",
        )?;
        let session_hours = positive(
            parse(env, "SESSION_TTL_HOURS", 12u64, "a number of hours")?,
            "SESSION_TTL_HOURS",
        )?;
        let frontend_dir = env
            .get("FRONTEND_DIR")
            .unwrap_or_else(|| "frontend/dist".into())
            .into();
        Ok(Self {
            common,
            listen_addr,
            max_payload_bytes,
            max_body_bytes,
            max_batch,
            max_page,
            frontend_dir,
            ws_event_buffer,
            max_ws_subscriptions,
            auth_disabled: parse_bool(env, "AUTH_DISABLED", false)?,
            session_ttl: Duration::from_secs(session_hours * 3600),
            cookie_secure: parse_bool(env, "SESSION_COOKIE_SECURE", false)?,
            cors_origins: parse_cors(env)?,
        })
    }
}

/// How a worker chooses among its queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueOrder {
    /// Always drain earlier queues first.
    Strict,
    /// Pick the first queue to try at random, in proportion to its weight.
    Weighted,
}

/// Settings of the worker binary.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub common: CommonConfig,
    pub concurrency: usize,
    /// Queues with their weights, in the order given.
    pub queues: Vec<(QueueName, u32)>,
    pub queue_order: QueueOrder,
    pub allow_shell: bool,
    /// `WORKER_SHELL_UID` (`uid` or `uid:gid`): the user shell jobs run as.
    /// Unset: a worker running as root runs them as 65534:65534 (nobody),
    /// any other worker as itself.
    pub shell_user: Option<(u32, u32)>,
    /// Whether this worker runs `docker` jobs (`WORKER_ALLOW_DOCKER`).
    pub allow_docker: bool,
    /// The Docker CLI: `docker` on `PATH` unless `WORKER_DOCKER_BIN` names another.
    pub docker_bin: std::path::PathBuf,
    /// Where downloaded Dockerfiles are kept, one folder per SHA-256
    /// (`WORKER_DOCKER_CACHE_DIR`).
    pub docker_cache_dir: std::path::PathBuf,
    /// Where `s3://bucket/key` Dockerfile URLs are fetched from
    /// (`AWS_ENDPOINT_URL`, path-style: `<endpoint>/bucket/key`); unset means
    /// `https://bucket.s3.amazonaws.com/key`.
    pub docker_s3_endpoint: Option<url::Url>,
    /// Container limits and the image cache's upkeep (`WORKER_DOCKER_*`).
    pub docker: DockerConfig,
    pub shutdown_grace: Duration,
    pub lease: Duration,
    pub heartbeat_file: Option<std::path::PathBuf>,
    pub housekeeping: HousekeepingConfig,
    /// The webhook delivery loop (`WORKER_WEBHOOKS`, `WEBHOOK_*`).
    pub webhooks: WebhookConfig,
    /// Where the worker serves `/metrics` (`WORKER_METRICS_ADDR`, default
    /// `0.0.0.0:9464`); `None` when set to `off`.
    pub metrics_addr: Option<SocketAddr>,
}

/// Settings of a worker's webhook delivery loop. Every worker may run one;
/// they share the due deliveries through `for update skip locked`.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Whether this worker sends webhook deliveries (`WORKER_WEBHOOKS`).
    pub enabled: bool,
    /// Limit of one attempt, connecting included (`WEBHOOK_TIMEOUT_SECS`).
    pub timeout: Duration,
    /// Attempts before a delivery fails for good (`WEBHOOK_MAX_ATTEMPTS`).
    pub max_attempts: i32,
    /// First retry delay; it doubles per attempt, with jitter, up to an hour
    /// (`WEBHOOK_BACKOFF_BASE_MS`).
    pub backoff_base: Duration,
    /// How often the loop looks for due deliveries (`WEBHOOK_POLL_MS`).
    pub poll_interval: Duration,
    /// Deliveries in flight at once in this worker (`WEBHOOK_CONCURRENCY`).
    pub concurrency: usize,
}

impl WebhookConfig {
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let range = |var: &'static str, value: u64, min: u64, max: u64| {
            if (min..=max).contains(&value) {
                Ok(value)
            } else {
                Err(ConfigError {
                    var,
                    value: value.to_string(),
                    reason: format!("expected {min} to {max}"),
                })
            }
        };
        let timeout = parse(env, "WEBHOOK_TIMEOUT_SECS", 10u64, "a number of seconds")?;
        let timeout = range("WEBHOOK_TIMEOUT_SECS", timeout, 1, 300)?;
        let attempts = parse(env, "WEBHOOK_MAX_ATTEMPTS", 8u64, "a positive integer")?;
        let attempts = range("WEBHOOK_MAX_ATTEMPTS", attempts, 1, 100)?;
        let base = parse(
            env,
            "WEBHOOK_BACKOFF_BASE_MS",
            10_000u64,
            "a number of milliseconds",
        )?;
        let base = range("WEBHOOK_BACKOFF_BASE_MS", base, 1, 3_600_000)?;
        let poll = parse(env, "WEBHOOK_POLL_MS", 1000u64, "a number of milliseconds")?;
        let poll = range("WEBHOOK_POLL_MS", poll, 10, 60_000)?;
        let concurrency = parse(env, "WEBHOOK_CONCURRENCY", 16u64, "a positive integer")?;
        let concurrency = range("WEBHOOK_CONCURRENCY", concurrency, 1, 1000)?;
        Ok(Self {
            enabled: parse_bool(env, "WORKER_WEBHOOKS", true)?,
            timeout: Duration::from_secs(timeout),
            max_attempts: attempts as i32,
            backoff_base: Duration::from_millis(base),
            poll_interval: Duration::from_millis(poll),
            concurrency: concurrency as usize,
        })
    }
}

/// Settings of the housekeeping loops (run by one worker at a time).
#[derive(Debug, Clone)]
pub struct HousekeepingConfig {
    /// Whether this worker competes for the housekeeping lease.
    pub enabled: bool,
    /// Tick of the leader: promote due jobs, reclaim expired leases.
    pub interval: Duration,
    /// Period of the quick Redis/Postgres reconcile (new jobs, expired
    /// in-flight entries).
    pub reconcile_every: Duration,
    /// Period of the full reconcile (every waiting job, stale ids dropped).
    pub reconcile_full_every: Duration,
    /// Age after which finished jobs are deleted, in days.
    pub keep_succeeded_days: i64,
    pub keep_dead_days: i64,
}

impl HousekeepingConfig {
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let interval: u64 = parse(
            env,
            "HOUSEKEEPING_INTERVAL_MS",
            1000,
            "a number of milliseconds",
        )?;
        if !(50..=60_000).contains(&interval) {
            return Err(ConfigError {
                var: "HOUSEKEEPING_INTERVAL_MS",
                value: interval.to_string(),
                reason: "expected 50 to 60000".into(),
            });
        }
        let reconcile: u64 = parse(env, "RECONCILE_INTERVAL_SECS", 30, "a number of seconds")?;
        let reconcile_full: u64 = parse(
            env,
            "RECONCILE_FULL_INTERVAL_SECS",
            600,
            "a number of seconds",
        )?;
        let keep_succeeded_days = positive(
            parse(env, "RETENTION_SUCCEEDED_DAYS", 7i64, "a number of days")?,
            "RETENTION_SUCCEEDED_DAYS",
        )?;
        let keep_dead_days = positive(
            parse(env, "RETENTION_DEAD_DAYS", 30i64, "a number of days")?,
            "RETENTION_DEAD_DAYS",
        )?;
        Ok(Self {
            enabled: parse_bool(env, "WORKER_HOUSEKEEPING", true)?,
            interval: Duration::from_millis(interval),
            reconcile_every: Duration::from_secs(reconcile.max(1)),
            reconcile_full_every: Duration::from_secs(reconcile_full.max(reconcile).max(1)),
            keep_succeeded_days,
            keep_dead_days,
        })
    }
}

impl WorkerConfig {
    /// How often this worker heartbeats (extends leases, refreshes its row).
    pub fn heartbeat_every(&self) -> Duration {
        (self.lease / 3).max(Duration::from_millis(500))
    }
}

impl WorkerConfig {
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let common = CommonConfig::from_env(env)?;
        let concurrency: usize = parse(env, "WORKER_CONCURRENCY", 10, "a positive integer")?;
        if concurrency == 0 || concurrency > 10_000 {
            return Err(ConfigError {
                var: "WORKER_CONCURRENCY",
                value: concurrency.to_string(),
                reason: "expected an integer from 1 to 10000".into(),
            });
        }
        let raw_queues = env.get("WORKER_QUEUES").unwrap_or_else(|| "default".into());
        let queues = parse_queues(&raw_queues).map_err(|reason| ConfigError {
            var: "WORKER_QUEUES",
            value: raw_queues.clone(),
            reason,
        })?;
        let queue_order = if parse_bool(env, "WORKER_STRICT_ORDER", false)? {
            QueueOrder::Strict
        } else {
            QueueOrder::Weighted
        };
        let allow_shell = parse_bool(env, "WORKER_ALLOW_SHELL", false)?;
        let allow_docker = parse_bool(env, "WORKER_ALLOW_DOCKER", false)?;
        let shell_user = match env.get("WORKER_SHELL_UID") {
            None => None,
            Some(raw) => {
                let (uid, gid) = match raw.trim().split_once(':') {
                    Some((u, g)) => (u.parse::<u32>().ok(), g.parse::<u32>().ok()),
                    None => (
                        raw.trim().parse::<u32>().ok(),
                        raw.trim().parse::<u32>().ok(),
                    ),
                };
                match (uid, gid) {
                    (Some(uid), Some(gid)) => Some((uid, gid)),
                    _ => {
                        return Err(ConfigError {
                            var: "WORKER_SHELL_UID",
                            value: raw,
                            reason: "expected a numeric uid or uid:gid".into(),
                        })
                    }
                }
            }
        };
        let docker_bin = env
            .get("WORKER_DOCKER_BIN")
            .unwrap_or_else(|| "docker".into())
            .into();
        let docker_cache_dir = env
            .get("WORKER_DOCKER_CACHE_DIR")
            .map(Into::into)
            .unwrap_or_else(|| std::env::temp_dir().join("conveyor-docker-cache"));
        let docker_s3_endpoint = match env.get("AWS_ENDPOINT_URL") {
            None => None,
            Some(raw) => match url::Url::parse(&raw) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
                _ => {
                    return Err(ConfigError {
                        var: "AWS_ENDPOINT_URL",
                        value: raw,
                        reason: "expected an http(s) URL".into(),
                    })
                }
            },
        };
        let grace: u64 = parse(env, "WORKER_SHUTDOWN_GRACE_SECS", 30, "a number of seconds")?;
        let lease: u64 = parse(env, "WORKER_LEASE_SECS", 30, "a number of seconds")?;
        if lease < 2 {
            return Err(ConfigError {
                var: "WORKER_LEASE_SECS",
                value: lease.to_string(),
                reason: "expected at least 2 seconds".into(),
            });
        }
        Ok(Self {
            common,
            concurrency,
            queues,
            queue_order,
            allow_shell,
            shell_user,
            allow_docker,
            docker_bin,
            docker_cache_dir,
            docker_s3_endpoint,
            docker: DockerConfig::from_env(env)?,
            shutdown_grace: Duration::from_secs(grace),
            lease: Duration::from_secs(lease),
            heartbeat_file: env.get("WORKER_HEARTBEAT_FILE").map(Into::into),
            housekeeping: HousekeepingConfig::from_env(env)?,
            webhooks: WebhookConfig::from_env(env)?,
            metrics_addr: parse_metrics_addr(env)?,
        })
    }
}

/// What every container of a `docker` job is held to, and how the worker
/// keeps its engine tidy. The defaults are what a careful operator would
/// choose: no network, bounded memory, processes and CPU, a read-only root.
#[derive(Debug, Clone, PartialEq)]
pub struct DockerConfig {
    /// `--memory` (`WORKER_DOCKER_MEMORY`, default `512m`): a number with an
    /// optional unit b, k, m or g.
    pub memory: String,
    /// `--pids-limit` (`WORKER_DOCKER_PIDS_LIMIT`, default 256).
    pub pids_limit: u32,
    /// `--cpus` (`WORKER_DOCKER_CPUS`, default `1`); `off` for no limit.
    pub cpus: Option<String>,
    /// `--read-only` root filesystem unless the job asks for a writable one
    /// (`WORKER_DOCKER_READ_ONLY`, default on; `/tmp` stays writable).
    pub read_only: bool,
    /// The network of jobs that ask for one with `"network": true`
    /// (`WORKER_DOCKER_NETWORK`, default `bridge`); `none` refuses them.
    /// Every other job runs with `--network none`.
    pub network: String,
    /// `WORKER_DOCKER_PULL=never`: never pull, neither for `image` jobs nor
    /// for a Dockerfile's `FROM` (for engines without a registry); default
    /// `missing`.
    pub pull_never: bool,
    /// How often the worker removes containers whose attempt is over
    /// (`WORKER_DOCKER_SWEEP_SECS`, default 60; it also sweeps at start).
    pub sweep_every: Duration,
    /// Images built from Dockerfiles and the cached Dockerfiles unused for
    /// this long are removed (`WORKER_DOCKER_CACHE_TTL_SECS`, default 7 days).
    pub cache_ttl: Duration,
}

impl DockerConfig {
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        let memory = env
            .get("WORKER_DOCKER_MEMORY")
            .unwrap_or_else(|| "512m".into());
        let digits = memory.trim_end_matches(['b', 'k', 'm', 'g', 'B', 'K', 'M', 'G']);
        if digits.is_empty()
            || !digits.chars().all(|c| c.is_ascii_digit())
            || memory.len() > digits.len() + 1
        {
            return Err(ConfigError {
                var: "WORKER_DOCKER_MEMORY",
                value: memory,
                reason: "expected a size such as 512m or 2g".into(),
            });
        }
        let pids_limit = positive(
            parse(
                env,
                "WORKER_DOCKER_PIDS_LIMIT",
                256u32,
                "a positive integer",
            )?,
            "WORKER_DOCKER_PIDS_LIMIT",
        )?;
        let cpus = match env.get("WORKER_DOCKER_CPUS").as_deref().map(str::trim) {
            None => Some("1".to_owned()),
            Some("off") => None,
            Some(raw) => match raw.parse::<f64>() {
                Ok(n) if n > 0.0 && n.is_finite() => Some(raw.to_owned()),
                _ => {
                    return Err(ConfigError {
                        var: "WORKER_DOCKER_CPUS",
                        value: raw.to_owned(),
                        reason: "expected a positive number such as 1.5, or off".into(),
                    })
                }
            },
        };
        let network = env
            .get("WORKER_DOCKER_NETWORK")
            .unwrap_or_else(|| "bridge".into());
        let network_ok = !network.is_empty()
            && !network.starts_with('-')
            && network
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | ':'));
        if !network_ok {
            return Err(ConfigError {
                var: "WORKER_DOCKER_NETWORK",
                value: network,
                reason: "expected a network name such as bridge, or none".into(),
            });
        }
        let pull_never = match env.get("WORKER_DOCKER_PULL").as_deref().map(str::trim) {
            None | Some("missing") => false,
            Some("never") => true,
            Some(other) => {
                return Err(ConfigError {
                    var: "WORKER_DOCKER_PULL",
                    value: other.to_owned(),
                    reason: "expected missing or never".into(),
                })
            }
        };
        let sweep = positive(
            parse(
                env,
                "WORKER_DOCKER_SWEEP_SECS",
                60u64,
                "a number of seconds",
            )?,
            "WORKER_DOCKER_SWEEP_SECS",
        )?;
        let ttl = positive(
            parse(
                env,
                "WORKER_DOCKER_CACHE_TTL_SECS",
                7 * 24 * 3600u64,
                "a number of seconds",
            )?,
            "WORKER_DOCKER_CACHE_TTL_SECS",
        )?;
        Ok(Self {
            memory,
            pids_limit,
            cpus,
            read_only: parse_bool(env, "WORKER_DOCKER_READ_ONLY", true)?,
            network,
            pull_never,
            sweep_every: Duration::from_secs(sweep),
            cache_ttl: Duration::from_secs(ttl),
        })
    }
}

/// `WORKER_METRICS_ADDR`: an address to serve `/metrics` on, or `off`.
fn parse_metrics_addr(env: &dyn Env) -> Result<Option<SocketAddr>, ConfigError> {
    const VAR: &str = "WORKER_METRICS_ADDR";
    match env.get(VAR).as_deref().map(str::trim) {
        None => Ok(Some(SocketAddr::from(([0, 0, 0, 0], 9464)))),
        Some("off") => Ok(None),
        Some(raw) => raw.parse().map(Some).map_err(|_| ConfigError {
            var: VAR,
            value: raw.to_owned(),
            reason: "expected an address such as 0.0.0.0:9464, or off".into(),
        }),
    }
}

/// Parses `critical:6,default:3,low` (weight 1 when omitted).
fn parse_queues(raw: &str) -> Result<Vec<(QueueName, u32)>, String> {
    let mut queues: Vec<(QueueName, u32)> = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, weight) = match part.split_once(':') {
            Some((name, weight)) => {
                let weight: u32 = weight
                    .parse()
                    .ok()
                    .filter(|w| *w > 0)
                    .ok_or_else(|| format!("weight of {name:?} must be a positive integer"))?;
                (name, weight)
            }
            None => (part, 1),
        };
        let name = QueueName::parse(name).map_err(|e| e.to_string())?;
        if queues.iter().any(|(q, _)| *q == name) {
            return Err(format!("queue {name} is listed twice"));
        }
        queues.push((name, weight));
    }
    if queues.is_empty() {
        return Err("expected at least one queue".into());
    }
    Ok(queues)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_work_for_a_local_run() {
        let config = WorkerConfig::from_env(&env(&[])).expect("defaults");
        assert_eq!(config.concurrency, 10);
        assert_eq!(config.queues.len(), 1);
        assert_eq!(config.queues[0].0.as_str(), "default");
        assert!(!config.allow_shell);
        let api = ApiConfig::from_env(&env(&[
            ("DATABASE_URL", "postgres://app:pw-123@db/conveyor"),
            ("METRICS_TOKEN", "mt-456"),
        ]))
        .expect("api with secrets");
        let printed = format!("{api:?}");
        assert!(
            !printed.contains("pw-123") && !printed.contains("mt-456"),
            "{printed}"
        );
        let api = ApiConfig::from_env(&env(&[])).expect("api defaults");
        assert!(!api.auth_disabled, "access control is on by default");
        assert_eq!(api.cors_origins, None, "CORS is off by default");
        let api = ApiConfig::from_env(&env(&[(
            "CORS_ORIGINS",
            "https://ops.example.com, http://localhost:5173",
        )]))
        .expect("origins");
        assert_eq!(
            api.cors_origins,
            Some(CorsOrigins::List(vec![
                "https://ops.example.com".into(),
                "http://localhost:5173".into()
            ]))
        );
    }

    #[test]
    fn weighted_queues_are_parsed_in_order() {
        let config =
            WorkerConfig::from_env(&env(&[("WORKER_QUEUES", "critical:6, default:3,low")]))
                .expect("queues");
        let parsed: Vec<(&str, u32)> = config
            .queues
            .iter()
            .map(|(q, w)| (q.as_str(), *w))
            .collect();
        assert_eq!(parsed, vec![("critical", 6), ("default", 3), ("low", 1)]);
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let err = WorkerConfig::from_env(&env(&[("WORKER_CONCURRENCY", "lots")])).unwrap_err();
        assert_eq!(err.var, "WORKER_CONCURRENCY");
        assert!(err.to_string().starts_with("invalid WORKER_CONCURRENCY="));
        let err = WorkerConfig::from_env(&env(&[("WORKER_QUEUES", "a b")])).unwrap_err();
        assert_eq!(err.var, "WORKER_QUEUES");
        let err =
            ApiConfig::from_env(&env(&[("CORS_ORIGINS", "https://a.example/x")])).unwrap_err();
        assert_eq!(err.var, "CORS_ORIGINS");
        let err = ApiConfig::from_env(&env(&[("AUTH_DISABLED", "perhaps")])).unwrap_err();
        assert_eq!(err.var, "AUTH_DISABLED");
        let err = ApiConfig::from_env(&env(&[("LISTEN_ADDR", "nowhere")])).unwrap_err();
        assert_eq!(err.var, "LISTEN_ADDR");
        let err = ApiConfig::from_env(&env(&[("DATABASE_URL", "mysql://x")])).unwrap_err();
        assert_eq!(err.var, "DATABASE_URL");
    }

    #[test]
    fn docker_is_off_by_default_and_configurable() {
        let config = WorkerConfig::from_env(&env(&[])).expect("defaults");
        assert!(!config.allow_docker);
        assert_eq!(config.docker_bin, std::path::Path::new("docker"));
        assert_eq!(
            config.docker_cache_dir,
            std::env::temp_dir().join("conveyor-docker-cache")
        );
        assert_eq!(config.docker_s3_endpoint, None);

        let config = WorkerConfig::from_env(&env(&[
            ("WORKER_ALLOW_DOCKER", "1"),
            ("WORKER_DOCKER_BIN", "/opt/bin/podman"),
            ("WORKER_DOCKER_CACHE_DIR", "/var/cache/conveyor"),
            ("AWS_ENDPOINT_URL", "http://minio:9000"),
        ]))
        .expect("docker settings");
        assert!(config.allow_docker);
        assert_eq!(config.docker_bin, std::path::Path::new("/opt/bin/podman"));
        assert_eq!(
            config.docker_cache_dir,
            std::path::Path::new("/var/cache/conveyor")
        );
        assert_eq!(
            config.docker_s3_endpoint.map(String::from).as_deref(),
            Some("http://minio:9000/")
        );
    }

    #[test]
    fn metrics_settings_have_defaults_and_name_their_variable() {
        let config = WorkerConfig::from_env(&env(&[])).expect("defaults");
        assert_eq!(
            config.metrics_addr,
            Some(SocketAddr::from(([0, 0, 0, 0], 9464)))
        );
        assert_eq!(config.common.metrics_token, None);
        let config = WorkerConfig::from_env(&env(&[
            ("WORKER_METRICS_ADDR", "127.0.0.1:9465"),
            ("METRICS_TOKEN", "s3cret"),
        ]))
        .expect("metrics settings");
        assert_eq!(
            config.metrics_addr,
            Some(SocketAddr::from(([127, 0, 0, 1], 9465)))
        );
        assert_eq!(config.common.metrics_token.as_deref(), Some("s3cret"));
        let config = WorkerConfig::from_env(&env(&[("WORKER_METRICS_ADDR", "off")])).expect("off");
        assert_eq!(config.metrics_addr, None);
        let err = WorkerConfig::from_env(&env(&[("WORKER_METRICS_ADDR", "9464")])).unwrap_err();
        assert_eq!(err.var, "WORKER_METRICS_ADDR");
    }

    #[test]
    fn bad_docker_settings_name_their_variable() {
        let err = WorkerConfig::from_env(&env(&[("WORKER_ALLOW_DOCKER", "maybe")])).unwrap_err();
        assert_eq!(err.var, "WORKER_ALLOW_DOCKER");
        let err = WorkerConfig::from_env(&env(&[("AWS_ENDPOINT_URL", "minio:9000")])).unwrap_err();
        assert_eq!(err.var, "AWS_ENDPOINT_URL");
        for (var, value) in [
            ("WORKER_DOCKER_MEMORY", "lots"),
            ("WORKER_DOCKER_MEMORY", "512mb"),
            ("WORKER_DOCKER_PIDS_LIMIT", "0"),
            ("WORKER_DOCKER_CPUS", "-1"),
            ("WORKER_DOCKER_NETWORK", "--privileged"),
            ("WORKER_DOCKER_PULL", "always"),
            ("WORKER_DOCKER_SWEEP_SECS", "0"),
            ("WORKER_DOCKER_CACHE_TTL_SECS", "soon"),
        ] {
            let err = WorkerConfig::from_env(&env(&[(var, value)])).unwrap_err();
            assert_eq!(err.var, var, "{value}");
        }
    }

    #[test]
    fn containers_are_limited_by_default_and_the_limits_can_change() {
        let config = WorkerConfig::from_env(&env(&[])).expect("defaults").docker;
        assert_eq!(
            config,
            DockerConfig {
                memory: "512m".into(),
                pids_limit: 256,
                cpus: Some("1".into()),
                read_only: true,
                network: "bridge".into(),
                pull_never: false,
                sweep_every: Duration::from_secs(60),
                cache_ttl: Duration::from_secs(7 * 24 * 3600),
            }
        );
        let config = WorkerConfig::from_env(&env(&[
            ("WORKER_DOCKER_MEMORY", "2g"),
            ("WORKER_DOCKER_PIDS_LIMIT", "64"),
            ("WORKER_DOCKER_CPUS", "off"),
            ("WORKER_DOCKER_READ_ONLY", "0"),
            ("WORKER_DOCKER_NETWORK", "none"),
            ("WORKER_DOCKER_PULL", "never"),
            ("WORKER_DOCKER_SWEEP_SECS", "5"),
            ("WORKER_DOCKER_CACHE_TTL_SECS", "3600"),
        ]))
        .expect("settings")
        .docker;
        assert_eq!(
            config,
            DockerConfig {
                memory: "2g".into(),
                pids_limit: 64,
                cpus: None,
                read_only: false,
                network: "none".into(),
                pull_never: true,
                sweep_every: Duration::from_secs(5),
                cache_ttl: Duration::from_secs(3600),
            }
        );
    }

    #[test]
    fn webhook_settings_have_defaults_and_name_their_variable() {
        let config = WorkerConfig::from_env(&env(&[]))
            .expect("defaults")
            .webhooks;
        assert!(config.enabled);
        assert_eq!(config.timeout, Duration::from_secs(10));
        assert_eq!(config.max_attempts, 8);
        assert_eq!(config.backoff_base, Duration::from_secs(10));
        let config = WorkerConfig::from_env(&env(&[
            ("WORKER_WEBHOOKS", "0"),
            ("WEBHOOK_BACKOFF_BASE_MS", "50"),
        ]))
        .expect("webhook settings")
        .webhooks;
        assert!(!config.enabled);
        assert_eq!(config.backoff_base, Duration::from_millis(50));
        for (var, bad) in [
            ("WORKER_WEBHOOKS", "maybe"),
            ("WEBHOOK_TIMEOUT_SECS", "0"),
            ("WEBHOOK_MAX_ATTEMPTS", "many"),
            ("WEBHOOK_BACKOFF_BASE_MS", "0"),
        ] {
            let err = WorkerConfig::from_env(&env(&[(var, bad)])).unwrap_err();
            assert_eq!(err.var, var);
        }
    }
}
