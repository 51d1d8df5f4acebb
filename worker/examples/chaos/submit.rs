//! The jobs: the seeded mix of `noop`, `sleep` and failing-once `shell`
//! specs (only `noop` at full speed), and their submission in batches.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::log::Log;

const BATCH: usize = 1000;

/// How many specs of each kind the mix holds.
#[derive(Default)]
pub struct Mix {
    pub noop: usize,
    pub sleep: usize,
    pub shell: usize,
}

/// The job specs, fixed up front so that a retried batch has the very same
/// bodies (and idempotency keys) as the first try; `noop` only at full speed.
pub fn job_specs(n: usize, seed: u64, full_speed: bool) -> (Vec<Value>, Mix) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut mix = Mix::default();
    let backoff = json!({"base_ms": 100, "max_ms": 500});
    let specs = (0..n)
        .map(|i| {
            let name = format!("chaos-{i}");
            let mut spec = json!({
                "name": name,
                "idempotency_key": name,
                "max_attempts": 3,
                "backoff": backoff,
            });
            if full_speed {
                mix.noop += 1;
                spec["kind"] = json!("noop");
            } else if i % 20 == 0 {
                mix.shell += 1;
                spec["kind"] = json!("shell");
                spec["payload"] = json!({
                    "argv": ["sh", "-c", "test \"$CONVEYOR_ATTEMPT\" -gt 1"]
                });
            } else if rng.gen_range(0..95) < 50 {
                mix.sleep += 1;
                spec["kind"] = json!("sleep");
                spec["payload"] = json!({"ms": rng.gen_range(1..=50)});
            } else {
                mix.noop += 1;
                spec["kind"] = json!("noop");
            }
            spec
        })
        .collect();
    (specs, mix)
}

/// The finished submission: the ids in the order of the specs, when it
/// started, how many batch tries failed and how long it took.
pub struct Submitted {
    pub ids: Vec<Uuid>,
    pub first_submit: DateTime<Utc>,
    pub retries: usize,
    pub took: Duration,
}

/// Submits every spec in batches, retrying a batch on a connection error or
/// a 5xx (the idempotency keys make a retry safe).
pub async fn submit_all(
    http: reqwest::Client,
    base: String,
    specs: Arc<Vec<Value>>,
    log: Log,
    deadline: Instant,
) -> Result<Submitted> {
    let url = format!("{base}/api/v1/jobs/batch");
    let started = Instant::now();
    let first_submit = Utc::now();
    let mut ids = Vec::with_capacity(specs.len());
    let mut retries = 0;
    for (b, chunk) in specs.chunks(BATCH).enumerate() {
        let body = json!({ "jobs": chunk });
        let mut tries = 0u32;
        loop {
            let problem = match http.post(&url).json(&body).send().await {
                Ok(response) => {
                    let status = response.status();
                    let text = response.text().await;
                    match (status.as_u16(), text) {
                        (201, Ok(text)) => {
                            let answer: Value = serde_json::from_str(&text)
                                .with_context(|| format!("batch {b}: bad JSON answer"))?;
                            let jobs = answer["jobs"]
                                .as_array()
                                .ok_or_else(|| anyhow!("batch {b}: no jobs in the answer"))?;
                            if jobs.len() != chunk.len() {
                                bail!(
                                    "batch {b}: sent {} jobs, got {} back",
                                    chunk.len(),
                                    jobs.len()
                                );
                            }
                            for (job, spec) in jobs.iter().zip(chunk) {
                                if job["name"] != spec["name"] {
                                    bail!(
                                        "batch {b}: answer out of order ({} for {})",
                                        job["name"],
                                        spec["name"]
                                    );
                                }
                                let id = job["id"].as_str().and_then(|s| Uuid::parse_str(s).ok());
                                ids.push(id.ok_or_else(|| anyhow!("batch {b}: a job without id"))?);
                            }
                            break;
                        }
                        (code, Ok(text)) if code >= 500 => format!("HTTP {code}: {text}"),
                        (code, Err(e)) if code >= 500 || code == 201 => {
                            format!("HTTP {code}, body unreadable: {e}")
                        }
                        (code, text) => {
                            bail!("batch {b}: HTTP {code}: {}", text.unwrap_or_default())
                        }
                    }
                }
                Err(e) => format!("request failed: {e}"),
            };
            tries += 1;
            retries += 1;
            log.note(&format!(
                "submit: batch {b} try {tries} failed ({problem}); retrying"
            ));
            if Instant::now() > deadline {
                bail!("batch {b} still failing at the timeout: {problem}");
            }
            let wait = Duration::from_millis(200u64 << tries.min(4)).min(Duration::from_secs(2));
            tokio::time::sleep(wait).await;
        }
    }
    Ok(Submitted {
        ids,
        first_submit,
        retries,
        took: started.elapsed(),
    })
}
