//! The executor trait: how a job of one kind is run. Built-in kinds live in
//! the worker; a program adds its own by implementing [`Executor`] and
//! registering it under a kind name.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Largest captured output kept per attempt.
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;

/// What an executor gets to run one attempt.
#[derive(Debug, Clone)]
pub struct JobContext {
    pub id: Uuid,
    pub queue: String,
    pub kind: String,
    pub name: String,
    pub payload: Value,
    /// 1 for the first attempt.
    pub attempt: i32,
    /// The id of the worker running this attempt (fresh at every start), for
    /// executors that label what they start so that a later sweep can find it.
    pub worker: String,
    /// For a job of a workflow run: each parent's node key and result.
    pub parents: std::collections::BTreeMap<String, Value>,
    /// Cancelled when the job is cancelled, times out, or the worker stops
    /// waiting for it at shutdown. Executors that run for long must watch it
    /// and return promptly (killing what they started).
    pub cancel: CancellationToken,
}

/// A successful attempt.
#[derive(Debug, Clone, Default)]
pub struct Success {
    /// Stored as the job's `result`.
    pub result: Option<Value>,
    /// Captured output (bounded by the runner to [`MAX_OUTPUT_BYTES`]).
    pub output: Option<String>,
}

/// A failed attempt. The retry policy decides whether the job runs again.
#[derive(Debug, Clone)]
pub struct Failure {
    pub error: String,
    pub output: Option<String>,
    /// A failure that no retry can fix (a bad payload, a disabled kind):
    /// the job goes straight to dead.
    pub permanent: bool,
}

impl Failure {
    pub fn new(error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            output: None,
            permanent: false,
        }
    }

    pub fn permanent(error: impl Into<String>) -> Self {
        Self {
            permanent: true,
            ..Self::new(error)
        }
    }

    pub fn with_output(mut self, output: Option<String>) -> Self {
        self.output = output;
        self
    }
}

/// Runs jobs of one kind.
#[async_trait::async_trait]
pub trait Executor: Send + Sync + 'static {
    async fn execute(&self, ctx: JobContext) -> Result<Success, Failure>;
}

/// Kind name → executor. The worker registers the built-ins; programs add theirs.
#[derive(Clone, Default)]
pub struct Registry {
    executors: BTreeMap<String, Arc<dyn Executor>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `executor` for `kind`, replacing any earlier one.
    pub fn register(&mut self, kind: impl Into<String>, executor: impl Executor) -> &mut Self {
        self.executors.insert(kind.into(), Arc::new(executor));
        self
    }

    pub fn get(&self, kind: &str) -> Option<Arc<dyn Executor>> {
        self.executors.get(kind).cloned()
    }

    pub fn kinds(&self) -> Vec<String> {
        self.executors.keys().cloned().collect()
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary, noting how
/// much was dropped.
pub fn truncate_output(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let dropped = text.len() - max;
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text.push_str(&format!("\n… [{dropped} bytes truncated]"));
    text
}

/// `text` without NUL characters, which PostgreSQL cannot store in `text` or
/// `jsonb`: each becomes U+FFFD (the replacement character).
pub fn storable_text(text: String) -> String {
    if text.contains('\0') {
        text.replace('\0', "\u{FFFD}")
    } else {
        text
    }
}

/// `value` with NUL characters replaced in every string and key, as
/// [`storable_text`] does.
pub fn storable_json(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(storable_text(s)),
        Value::Array(items) => Value::Array(items.into_iter().map(storable_json).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (storable_text(k), storable_json(v)))
                .collect(),
        ),
        other => other,
    }
}
