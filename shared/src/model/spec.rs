//! What a client submits (`JobSpec`) and the validated job it becomes (`NewJob`).

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Backoff, JobStatus, Priority, QueueName};
use crate::secrets;

/// Kinds every worker knows. Custom kinds are registered by workers at start.
pub const BUILTIN_KINDS: [&str; 5] = ["noop", "sleep", "shell", "http", "docker"];

/// A validation failure that names the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, ToSchema)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Prefixes the field, as in `jobs[3].priority`.
    pub fn within(mut self, prefix: &str) -> Self {
        self.field = format!("{prefix}.{}", self.field);
        self
    }
}

/// Retry backoff as submitted.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BackoffSpec {
    /// Smallest delay before a retry, in milliseconds (default 1000).
    pub base_ms: Option<i64>,
    /// Largest delay before a retry, in milliseconds (default 3600000).
    pub max_ms: Option<i64>,
}

/// A job as a client submits it (`POST /api/v1/jobs`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// Queue name (default `default`): letters, digits, `_ . : -`.
    pub queue: Option<String>,
    /// The executor: `noop`, `sleep`, `shell`, `http`, or a registered custom
    /// kind. Required unless `definition` gives it.
    pub kind: Option<String>,
    /// Name of a job definition whose fields fill in those not given here
    /// (`payload` is merged key by key, the fields here winning).
    pub definition: Option<String>,
    /// A label for people (default: the kind).
    pub name: Option<String>,
    /// Input for the executor; a JSON object. Any string in it may be given
    /// as `{"secret": "…"}`: executors see the value, responses show it
    /// masked (this type is also what templates are stored as, so the
    /// masking is done by the answers that hold it).
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Value>,
    /// 0-9, higher runs first (default 5).
    pub priority: Option<i64>,
    /// Attempts before the job is dead (default 3).
    pub max_attempts: Option<i64>,
    pub backoff: Option<BackoffSpec>,
    /// Each attempt is stopped after this many seconds.
    pub timeout_secs: Option<i64>,
    /// When to run, ISO 8601 / RFC 3339 (mutually exclusive with `delay_ms`).
    pub run_at: Option<String>,
    /// Run this many milliseconds from now.
    pub delay_ms: Option<i64>,
    /// Unique per queue: the same key and body again returns the first job.
    pub idempotency_key: Option<String>,
}

/// Limits applied while validating.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_payload_bytes: usize,
}

/// A validated job, ready to insert.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: Uuid,
    pub queue: QueueName,
    pub kind: String,
    pub name: String,
    pub payload: Value,
    pub priority: Priority,
    pub max_attempts: i32,
    pub backoff: Backoff,
    pub timeout_secs: Option<i32>,
    pub run_at: DateTime<Utc>,
    pub status: JobStatus,
    pub idempotency_key: Option<String>,
    /// Hash of the submitted spec, to tell a replay from a conflicting reuse of a key.
    /// Only with an idempotency key: nothing else compares it.
    pub request_hash: Option<String>,
    /// Set for jobs created by a schedule or a workflow run.
    pub origin: Origin,
}

/// What created a job besides a direct submission.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Origin {
    /// (schedule id, fire time): unique, so a fire creates at most one job.
    pub schedule: Option<(Uuid, DateTime<Utc>)>,
    /// (workflow run id, node key).
    pub workflow: Option<(Uuid, String)>,
}

impl JobSpec {
    /// Checks every field; `is_known_kind` says whether some worker runs a kind.
    pub fn validate(
        &self,
        now: DateTime<Utc>,
        limits: Limits,
        is_known_kind: &dyn Fn(&str) -> bool,
    ) -> Result<NewJob, FieldError> {
        let queue = match &self.queue {
            Some(q) => QueueName::parse(q)?,
            None => QueueName::default_queue(),
        };
        let Some(kind) = self.kind.clone() else {
            return Err(FieldError::new(
                "kind",
                "is required (or a definition that gives it)",
            ));
        };
        if kind.is_empty() || !is_known_kind(&kind) {
            return Err(FieldError::new(
                "kind",
                format!(
                    "unknown kind {kind:?}: expected one of {} or a kind registered by a worker",
                    BUILTIN_KINDS.join(", ")
                ),
            ));
        }
        let name = self.name.clone().unwrap_or_else(|| kind.clone());
        if name.is_empty() || name.len() > 200 {
            return Err(FieldError::new("name", "must be 1-200 characters"));
        }
        let payload = self
            .payload
            .clone()
            .unwrap_or_else(|| Value::Object(Default::default()));
        if !payload.is_object() {
            return Err(FieldError::new("payload", "must be a JSON object"));
        }
        let size = serde_json::to_vec(&payload).map(|v| v.len()).unwrap_or(0);
        if size > limits.max_payload_bytes {
            return Err(FieldError::new(
                "payload",
                format!(
                    "is {size} bytes; the limit is {} bytes",
                    limits.max_payload_bytes
                ),
            ));
        }
        if let Some(path) = secrets::find_masked(&payload) {
            return Err(FieldError::new(
                format!("payload.{path}"),
                format!(
                    "is the mask {{\"secret\": \"{}\"}} that responses show; send the secret itself",
                    secrets::MASK
                ),
            ));
        }
        validate_payload(&kind, &payload)?;
        let priority = match self.priority {
            Some(p) => Priority::try_from(p)?,
            None => Priority::DEFAULT,
        };
        let max_attempts = match self.max_attempts {
            None => 3,
            Some(n @ 1..=1000) => n as i32,
            Some(_) => {
                return Err(FieldError::new(
                    "max_attempts",
                    "must be an integer from 1 to 1000",
                ))
            }
        };
        let mut backoff = Backoff::default();
        if let Some(spec) = &self.backoff {
            const DAY_MS: i64 = 86_400_000;
            if let Some(base) = spec.base_ms {
                if !(0..=DAY_MS).contains(&base) {
                    return Err(FieldError::new("backoff.base_ms", "must be 0 to 86400000"));
                }
                backoff.base_ms = base as i32;
                backoff.max_ms = backoff.max_ms.max(backoff.base_ms);
            }
            if let Some(max) = spec.max_ms {
                if !(0..=DAY_MS).contains(&max) {
                    return Err(FieldError::new("backoff.max_ms", "must be 0 to 86400000"));
                }
                if max < i64::from(backoff.base_ms) {
                    return Err(FieldError::new(
                        "backoff.max_ms",
                        "must be at least backoff.base_ms",
                    ));
                }
                backoff.max_ms = max as i32;
            }
        }
        let timeout_secs = match self.timeout_secs {
            None => None,
            Some(t @ 1..=604_800) => Some(t as i32),
            Some(_) => {
                return Err(FieldError::new(
                    "timeout_secs",
                    "must be an integer from 1 to 604800",
                ))
            }
        };
        let run_at = match (&self.run_at, self.delay_ms) {
            (Some(_), Some(_)) => {
                return Err(FieldError::new(
                    "run_at",
                    "give either run_at or delay_ms, not both",
                ))
            }
            (Some(raw), None) => DateTime::parse_from_rfc3339(raw)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| {
                    FieldError::new(
                        "run_at",
                        format!(
                            "must be an ISO 8601 time with offset, e.g. 2030-01-01T09:00:00Z ({e})"
                        ),
                    )
                })?,
            (None, Some(ms)) if (0..=31_536_000_000).contains(&ms) => {
                now + ChronoDuration::milliseconds(ms)
            }
            (None, Some(_)) => {
                return Err(FieldError::new(
                    "delay_ms",
                    "must be an integer from 0 to 31536000000 (one year)",
                ))
            }
            (None, None) => now,
        };
        let status = if run_at > now {
            JobStatus::Scheduled
        } else {
            JobStatus::Queued
        };
        if let Some(key) = &self.idempotency_key {
            if key.is_empty() || key.len() > 200 {
                return Err(FieldError::new(
                    "idempotency_key",
                    "must be 1-200 characters",
                ));
            }
        }
        Ok(NewJob {
            id: Uuid::now_v7(),
            queue,
            kind,
            name,
            payload,
            priority,
            max_attempts,
            backoff,
            timeout_secs,
            run_at,
            status,
            idempotency_key: self.idempotency_key.clone(),
            request_hash: self
                .idempotency_key
                .is_some()
                .then(|| canonical_hash(&serde_json::to_value(self).unwrap_or(Value::Null))),
            origin: Origin::default(),
        })
    }
}

impl JobSpec {
    /// Checks that this spec can serve as a template (of a definition, a
    /// workflow node or a schedule): timing and idempotency belong to each
    /// job made from it, not to the template.
    pub fn check_template(&self) -> Result<(), FieldError> {
        let reason = "is not allowed in a template";
        if self.run_at.is_some() {
            return Err(FieldError::new("run_at", reason));
        }
        if self.delay_ms.is_some() {
            return Err(FieldError::new("delay_ms", reason));
        }
        if self.idempotency_key.is_some() {
            return Err(FieldError::new("idempotency_key", reason));
        }
        Ok(())
    }

    /// This spec with the fields it leaves out taken from `definition`; the
    /// payloads are merged key by key (recursively), this spec winning.
    pub fn with_definition(&self, definition: &JobSpec) -> JobSpec {
        let payload = match (&definition.payload, &self.payload) {
            (Some(base), Some(over)) => Some(merge(base, over)),
            (base, over) => over.clone().or_else(|| base.clone()),
        };
        let backoff = match (&definition.backoff, &self.backoff) {
            (Some(base), Some(over)) => Some(BackoffSpec {
                base_ms: over.base_ms.or(base.base_ms),
                max_ms: over.max_ms.or(base.max_ms),
            }),
            (base, over) => over.clone().or_else(|| base.clone()),
        };
        JobSpec {
            queue: self.queue.clone().or_else(|| definition.queue.clone()),
            kind: self.kind.clone().or_else(|| definition.kind.clone()),
            definition: None,
            name: self.name.clone().or_else(|| definition.name.clone()),
            payload,
            priority: self.priority.or(definition.priority),
            max_attempts: self.max_attempts.or(definition.max_attempts),
            backoff,
            timeout_secs: self.timeout_secs.or(definition.timeout_secs),
            run_at: self.run_at.clone(),
            delay_ms: self.delay_ms,
            idempotency_key: self.idempotency_key.clone(),
        }
    }
}

/// Payload fields that decide where a definition's secret headers or
/// environment end up: the target of an `http` request, the program a `shell`
/// job runs and how it finds it, the image or Dockerfile and the command of a
/// `docker` job.
pub const ROUTING_FIELDS: &[&str] = &[
    "url",
    "argv",
    "cwd",
    "env",
    "image",
    "dockerfile_url",
    "command",
];

impl JobSpec {
    /// The first field (`kind`, `payload.url` …) by which this spec, used as
    /// an override of `definition`, would send the definition's secrets
    /// somewhere else; `None` when the definition holds no secret or the
    /// spec changes none of those fields. Tokens below admin may not do this.
    pub fn redirects_secrets_of(&self, definition: &JobSpec) -> Option<String> {
        if !definition
            .payload
            .as_ref()
            .is_some_and(secrets::has_secrets)
        {
            return None;
        }
        if self.kind.is_some() && self.kind != definition.kind {
            return Some("kind".to_owned());
        }
        let over = self.payload.as_ref()?.as_object()?;
        let base = definition.payload.as_ref().and_then(Value::as_object);
        ROUTING_FIELDS
            .iter()
            .find(|name| {
                over.get(**name)
                    .is_some_and(|v| base.and_then(|b| b.get(**name)) != Some(v))
            })
            .map(|name| format!("payload.{name}"))
    }
}

/// `over` laid on `base`: objects merge key by key, anything else replaces.
fn merge(base: &Value, over: &Value) -> Value {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            let mut out = b.clone();
            for (key, value) in o {
                let merged = match b.get(key) {
                    Some(existing) => merge(existing, value),
                    None => value.clone(),
                };
                out.insert(key.clone(), merged);
            }
            Value::Object(out)
        }
        (_, over) => over.clone(),
    }
}

/// Checks the payload fields the built-in kinds need.
fn validate_payload(kind: &str, payload: &Value) -> Result<(), FieldError> {
    let field = |name: &str| payload.get(name);
    match kind {
        "sleep" => match field("ms") {
            Some(Value::Number(n)) if n.as_u64().is_some_and(|ms| ms <= 86_400_000) => Ok(()),
            _ => Err(FieldError::new(
                "payload.ms",
                "sleep needs ms, an integer from 0 to 86400000",
            )),
        },
        "shell" => {
            let argv = field("argv").and_then(Value::as_array);
            let ok = argv.is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string));
            if !ok {
                return Err(FieldError::new(
                    "payload.argv",
                    "shell needs argv, a non-empty array of strings",
                ));
            }
            if let Some(env) = field("env") {
                let ok = env
                    .as_object()
                    .is_some_and(|m| m.values().all(|v| secrets::reveal(v).is_some()));
                if !ok {
                    return Err(FieldError::new(
                        "payload.env",
                        "must be an object of strings or {\"secret\": \"…\"} values",
                    ));
                }
            }
            if field("cwd").is_some_and(|c| !c.is_string()) {
                return Err(FieldError::new("payload.cwd", "must be a string"));
            }
            Ok(())
        }
        "http" => {
            let url = field("url").and_then(Value::as_str).unwrap_or_default();
            match url::Url::parse(url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => {
                    return Err(FieldError::new(
                        "payload.url",
                        "http needs url, an absolute http(s) URL",
                    ))
                }
            }
            if let Some(method) = field("method") {
                let ok = method.as_str().is_some_and(|m| {
                    matches!(
                        m.to_ascii_uppercase().as_str(),
                        "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS"
                    )
                });
                if !ok {
                    return Err(FieldError::new(
                        "payload.method",
                        "must be GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS",
                    ));
                }
            }
            if let Some(headers) = field("headers") {
                let ok = headers
                    .as_object()
                    .is_some_and(|m| m.values().all(|v| secrets::reveal(v).is_some()));
                if !ok {
                    return Err(FieldError::new(
                        "payload.headers",
                        "must be an object of strings or {\"secret\": \"…\"} values",
                    ));
                }
            }
            Ok(())
        }
        "docker" => validate_docker_payload(payload),
        _ => Ok(()),
    }
}

/// `docker`: exactly one of `image` and `dockerfile_url`, then the optional
/// `command`, `env`, `pull`, `network` and `read_only`.
fn validate_docker_payload(payload: &Value) -> Result<(), FieldError> {
    let field = |name: &str| payload.get(name);
    match (field("image"), field("dockerfile_url")) {
        (Some(_), Some(_)) => {
            return Err(FieldError::new(
                "payload.image",
                "give either image or dockerfile_url, not both",
            ))
        }
        (None, None) => {
            return Err(FieldError::new(
                "payload.image",
                "docker needs image (e.g. \"alpine:3.20\") or dockerfile_url",
            ))
        }
        (Some(image), None) => {
            if !image.as_str().is_some_and(is_image_reference) {
                return Err(FieldError::new(
                    "payload.image",
                    "must be an image reference such as \"alpine:3.20\" or \"ghcr.io/org/app@sha256:…\"",
                ));
            }
        }
        (None, Some(url)) => {
            let ok = url
                .as_str()
                .and_then(|u| url::Url::parse(u).ok())
                .is_some_and(|u| match u.scheme() {
                    "http" | "https" => u.host_str().is_some(),
                    // s3://bucket/key: both parts are needed to fetch it.
                    "s3" => {
                        u.host_str().is_some_and(|b| !b.is_empty())
                            && u.path().len() > 1
                            && u.query().is_none()
                    }
                    _ => false,
                });
            if !ok {
                return Err(FieldError::new(
                    "payload.dockerfile_url",
                    "must be an http(s) URL or s3://bucket/key of a Dockerfile",
                ));
            }
            if field("pull").is_some() {
                return Err(FieldError::new(
                    "payload.pull",
                    "applies only to payload.image; an image built from dockerfile_url is local",
                ));
            }
        }
    }
    if let Some(command) = field("command") {
        let ok = command
            .as_array()
            .is_some_and(|a| a.iter().all(Value::is_string));
        if !ok {
            return Err(FieldError::new(
                "payload.command",
                "must be an array of strings (arguments after the image)",
            ));
        }
    }
    if let Some(env) = field("env") {
        let ok = env.as_object().is_some_and(|m| {
            m.iter().all(|(k, v)| {
                secrets::reveal(v).is_some() && !k.is_empty() && !k.contains(['=', '\0'])
            })
        });
        if !ok {
            return Err(FieldError::new(
                "payload.env",
                "must be an object of strings or {\"secret\": \"…\"} values whose names are non-empty and hold no '='",
            ));
        }
    }
    if let Some(pull) = field("pull") {
        if !matches!(pull.as_str(), Some("missing" | "always" | "never")) {
            return Err(FieldError::new(
                "payload.pull",
                "must be \"missing\" (the default), \"always\" or \"never\"",
            ));
        }
    }
    for flag in ["network", "read_only"] {
        if field(flag).is_some_and(|v| !v.is_boolean()) {
            return Err(FieldError::new(
                format!("payload.{flag}"),
                "must be true or false",
            ));
        }
    }
    Ok(())
}

/// `[registry[:port]/]name[:tag][@digest]`, loosely: the engine has the last
/// word, this only keeps out what the command line could misread (a leading
/// `-`, spaces, control characters).
fn is_image_reference(image: &str) -> bool {
    (1..=512).contains(&image.len())
        && image.starts_with(|c: char| c.is_ascii_alphanumeric())
        && image
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | ':' | '@'))
}

/// SHA-256 of a JSON value with object keys sorted, so that key order in a
/// request does not change the hash.
pub fn canonical_hash(value: &Value) -> String {
    fn write(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, key) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(key.clone()).to_string());
                    out.push(':');
                    write(&map[key], out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut text = String::new();
    write(value, &mut text);
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(value: Value) -> JobSpec {
        serde_json::from_value(value).expect("spec")
    }

    fn validate(value: Value) -> Result<NewJob, FieldError> {
        let limits = Limits {
            max_payload_bytes: 1024,
        };
        spec(value).validate(Utc::now(), limits, &|k| BUILTIN_KINDS.contains(&k))
    }

    #[test]
    fn defaults_fill_every_optional_field() {
        let job = validate(json!({"kind": "noop"})).expect("valid");
        assert_eq!(job.queue.as_str(), "default");
        assert_eq!(job.name, "noop");
        assert_eq!(job.priority, Priority::DEFAULT);
        assert_eq!(job.max_attempts, 3);
        assert_eq!(job.status, JobStatus::Queued);
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases = [
            (json!({"kind": "nope"}), "kind"),
            (json!({"kind": "noop", "priority": 10}), "priority"),
            (json!({"kind": "noop", "queue": "a b"}), "queue"),
            (json!({"kind": "noop", "payload": [1]}), "payload"),
            (
                json!({"kind": "noop", "payload": {"x": "y".repeat(2000)}}),
                "payload",
            ),
            (json!({"kind": "noop", "run_at": "tomorrow"}), "run_at"),
            (json!({"kind": "noop", "delay_ms": -1}), "delay_ms"),
            (json!({"kind": "noop", "max_attempts": 0}), "max_attempts"),
            (json!({"kind": "noop", "timeout_secs": 0}), "timeout_secs"),
            (
                json!({"kind": "noop", "backoff": {"base_ms": 10, "max_ms": 5}}),
                "backoff.max_ms",
            ),
            (json!({"kind": "sleep", "payload": {}}), "payload.ms"),
            (
                json!({"kind": "shell", "payload": {"argv": "ls"}}),
                "payload.argv",
            ),
            (
                json!({"kind": "http", "payload": {"url": "ftp://x"}}),
                "payload.url",
            ),
            (json!({"kind": "docker", "payload": {}}), "payload.image"),
        ];
        for (input, field) in cases {
            let err = validate(input.clone()).expect_err(&input.to_string());
            assert_eq!(err.field, field, "for {input}");
        }
    }

    #[test]
    fn a_definition_fills_in_what_the_spec_leaves_out() {
        let definition = spec(json!({"kind": "http", "queue": "hooks", "priority": 7,
            "payload": {"url": "http://x/", "headers": {"a": "1", "b": "2"}},
            "backoff": {"base_ms": 10, "max_ms": 100}}));
        let own = spec(json!({"definition": "hook", "priority": 2,
            "payload": {"headers": {"b": "3"}}, "backoff": {"max_ms": 50}}));
        let merged = own.with_definition(&definition);
        assert_eq!(merged.kind.as_deref(), Some("http"));
        assert_eq!(merged.queue.as_deref(), Some("hooks"));
        assert_eq!(merged.priority, Some(2));
        assert_eq!(
            merged.payload,
            Some(json!({"url": "http://x/", "headers": {"a": "1", "b": "3"}}))
        );
        let backoff = merged.backoff.expect("backoff");
        assert_eq!((backoff.base_ms, backoff.max_ms), (Some(10), Some(50)));
        assert!(merged.definition.is_none());
    }

    #[test]
    fn templates_refuse_timing_and_idempotency() {
        for field in ["run_at", "delay_ms", "idempotency_key"] {
            let value = if field == "delay_ms" {
                json!(5)
            } else {
                json!("2030-01-01T00:00:00Z")
            };
            let mut body = json!({"kind": "noop"});
            body[field] = value;
            assert_eq!(spec(body).check_template().unwrap_err().field, field);
        }
    }

    fn docker(payload: Value) -> Result<NewJob, FieldError> {
        validate(json!({"kind": "docker", "payload": payload}))
    }

    #[test]
    fn a_docker_job_names_an_image_or_a_dockerfile_url() {
        for payload in [
            json!({"image": "alpine:3.20"}),
            json!({"image": "ghcr.io/org/app@sha256:0123abcd", "pull": "always"}),
            json!({"image": "localhost:5000/tools", "command": ["sh", "-c", "echo hi"],
                   "env": {"GREETING": "hi", "EMPTY": ""}, "pull": "missing"}),
            json!({"dockerfile_url": "https://example.com/build/Dockerfile"}),
            json!({"dockerfile_url": "s3://my-bucket/images/Dockerfile", "command": []}),
            json!({"image": "localhost/tools", "pull": "never", "network": true, "read_only": false}),
        ] {
            docker(payload.clone()).unwrap_or_else(|e| panic!("{payload}: {e}"));
        }
    }

    #[test]
    fn each_bad_docker_field_is_named() {
        let cases = [
            (json!({}), "payload.image"),
            (
                json!({"image": "alpine", "dockerfile_url": "https://x/Dockerfile"}),
                "payload.image",
            ),
            (json!({"image": ""}), "payload.image"),
            (json!({"image": 3}), "payload.image"),
            (json!({"image": "--privileged"}), "payload.image"),
            (json!({"image": "alpine latest"}), "payload.image"),
            (
                json!({"dockerfile_url": "ftp://x/Dockerfile"}),
                "payload.dockerfile_url",
            ),
            (
                json!({"dockerfile_url": "s3://bucket"}),
                "payload.dockerfile_url",
            ),
            (
                json!({"dockerfile_url": "Dockerfile"}),
                "payload.dockerfile_url",
            ),
            (
                json!({"dockerfile_url": "https://x/Dockerfile", "pull": "always"}),
                "payload.pull",
            ),
            (
                json!({"image": "alpine", "pull": "sometimes"}),
                "payload.pull",
            ),
            (
                json!({"image": "alpine", "network": "host"}),
                "payload.network",
            ),
            (
                json!({"image": "alpine", "read_only": 0}),
                "payload.read_only",
            ),
            (
                json!({"image": "alpine", "command": "ls"}),
                "payload.command",
            ),
            (
                json!({"image": "alpine", "command": ["ls", 1]}),
                "payload.command",
            ),
            (json!({"image": "alpine", "env": {"N": 1}}), "payload.env"),
            (
                json!({"image": "alpine", "env": {"A=B": "c"}}),
                "payload.env",
            ),
            (json!({"image": "alpine", "env": {"": "c"}}), "payload.env"),
            (json!({"image": "alpine", "env": ["A=B"]}), "payload.env"),
            (json!({"image": "alpine", "pull": "newer"}), "payload.pull"),
        ];
        for (payload, field) in cases {
            let err = docker(payload.clone()).expect_err(&payload.to_string());
            assert_eq!(err.field, field, "for {payload}: {}", err.message);
        }
    }

    #[test]
    fn future_run_at_is_scheduled() {
        let job = validate(json!({"kind": "noop", "delay_ms": 60_000})).expect("valid");
        assert_eq!(job.status, JobStatus::Scheduled);
        let job = validate(json!({"kind": "noop", "run_at": "2001-01-01T00:00:00Z"})).expect("ok");
        assert_eq!(job.status, JobStatus::Queued);
    }

    #[test]
    fn hash_ignores_key_order_but_not_values() {
        let a = canonical_hash(&json!({"a": 1, "b": {"c": 2, "d": 3}}));
        let b = canonical_hash(&json!({"b": {"d": 3, "c": 2}, "a": 1}));
        let c = canonical_hash(&json!({"b": {"d": 3, "c": 2}, "a": 2}));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
