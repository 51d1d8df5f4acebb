//! The Redis side of the queues: enqueue, claim, acknowledge, wake-ups and
//! status events. Postgres is the truth; this is a fast index of what is ready.

mod keys;
mod maintenance;

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_redis::{Config as PoolConfig, Pool, Runtime};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::sync::Arc;
use uuid::Uuid;

pub use keys::Keys;
pub use maintenance::Leadership;

/// A pooled Redis connection.
pub type RedisConn = deadpool_redis::Connection;

/// Closes a connection instead of returning it to the pool: for one whose
/// blocking command was abandoned mid-flight, whose reply is still due.
pub fn discard(conn: RedisConn) {
    drop(deadpool_redis::Connection::take(conn));
}

use crate::events::StatusEvent;
use crate::model::{Job, JobStatus};

/// The most wake-up tokens one queue's list holds; more would only make idle
/// workers try empty claims.
const WAKE_CAP: isize = 256;

/// The longest a command on a pooled connection may wait for its answer
/// (beyond its own blocking time): a silent Redis (a blackholed connection
/// never errors by itself) must not hang the claim loop. The shared
/// connection has its own response timeout (see [`RedisQueue::shared`]).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// `future`, or an error once `bound` has passed. A connection whose command
/// timed out must be discarded ([`discard`]): its answer may still come.
async fn bounded<T>(
    bound: Duration,
    what: &'static str,
    future: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    match tokio::time::timeout(bound, future).await {
        Ok(result) => result,
        Err(_) => Err(anyhow::anyhow!(
            "Redis did not answer within {} ms ({what})",
            bound.as_millis()
        )),
    }
}

/// The claim script (`claim.lua`; its header says what it does).
const CLAIM_LUA: &str = include_str!("claim.lua");

/// Score of a ready entry: priority first (9 runs first), then due time.
pub fn ready_score(priority: u8, due: DateTime<Utc>) -> f64 {
    f64::from(9 - priority.min(9)) * 1e13 + due.timestamp_millis() as f64
}

/// One change to the Redis index, applied with others in one pipeline.
#[derive(Debug, Clone)]
pub enum QueueOp {
    /// Make a job claimable: into the ready set if due, else the delayed set.
    Enqueue {
        queue: String,
        id: Uuid,
        priority: u8,
        due: DateTime<Utc>,
    },
    /// The job's attempt ended: drop it from in-flight.
    Ack { queue: String, id: Uuid },
    /// Drop the job from every set of its queue (a cancel).
    Remove {
        queue: String,
        id: Uuid,
        priority: u8,
    },
    /// Publish status events (one message).
    Publish(Vec<StatusEvent>),
}

impl QueueOp {
    /// Drop a job from every set of its queue (it was cancelled).
    pub fn remove(job: &Job) -> Self {
        QueueOp::Remove {
            queue: job.queue.clone(),
            id: job.id,
            priority: u8::try_from(job.priority).unwrap_or(5),
        }
    }

    /// Enqueue a job in the set its state calls for.
    pub fn enqueue(job: &Job) -> Self {
        QueueOp::Enqueue {
            queue: job.queue.clone(),
            id: job.id,
            priority: u8::try_from(job.priority).unwrap_or(5),
            due: job.run_at,
        }
    }
}

/// Ids claimed from one queue.
#[derive(Debug, Default)]
pub struct Claimed {
    /// Each id with its ready score, so it can be put back unchanged.
    pub ids: Vec<(Uuid, f64)>,
    /// When the earliest delayed job of the queue is due, if any.
    pub next_due_ms: Option<i64>,
}

impl Claimed {
    /// From the claim script's reply: `{ next due ms or -1, id, score, … }`.
    fn from_reply(reply: Vec<String>) -> Self {
        let mut items = reply.into_iter();
        let next_due_ms = items
            .next()
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|ms| *ms >= 0.0)
            .map(|ms| ms as i64);
        let mut ids = Vec::new();
        while let (Some(id), Some(score)) = (items.next(), items.next()) {
            if let (Ok(id), Ok(score)) = (Uuid::parse_str(&id), score.parse::<f64>()) {
                ids.push((id, score));
            }
        }
        Self { ids, next_due_ms }
    }
}

/// Handle on the Redis side of the queues. Cheap to clone: it holds a
/// connection pool.
#[derive(Clone)]
pub struct RedisQueue {
    pool: Pool,
    /// One multiplexed connection, made at first use, for the short
    /// commands of the hot path (apply, extend, unclaim): callers share it
    /// and their commands are pipelined on it, with no pool check-out and no
    /// PING before each use as the pool does. It reconnects by itself after
    /// a failure. Blocking commands (BLPOP) never go through it.
    shared: Arc<tokio::sync::OnceCell<ConnectionManager>>,
    keys: Keys,
    claim_script: redis::Script,
    scripts: maintenance::Scripts,
    client: redis::Client,
}

impl RedisQueue {
    /// A pool on `url`; no connection is made until first use.
    pub fn new(url: &str, prefix: &str, pool_size: usize) -> anyhow::Result<Self> {
        let mut config = PoolConfig::from_url(url);
        config.pool = Some(deadpool_redis::PoolConfig {
            max_size: pool_size,
            timeouts: deadpool_redis::Timeouts {
                // Short: with Redis down, requests must not hang on it.
                wait: Some(Duration::from_secs(2)),
                create: Some(Duration::from_secs(2)),
                recycle: Some(Duration::from_secs(2)),
            },
            ..Default::default()
        });
        let pool = config
            .create_pool(Some(Runtime::Tokio1))
            .context("REDIS_URL is not a valid Redis URL")?;
        let client = redis::Client::open(url).context("REDIS_URL is not a valid Redis URL")?;
        Ok(Self {
            pool,
            shared: Arc::new(tokio::sync::OnceCell::new()),
            keys: Keys::new(prefix),
            claim_script: redis::Script::new(CLAIM_LUA),
            scripts: maintenance::Scripts::new(),
            client,
        })
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// A client for pub/sub connections.
    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    pub async fn conn(&self) -> anyhow::Result<deadpool_redis::Connection> {
        bounded(COMMAND_TIMEOUT, "connecting", async {
            self.pool.get().await.context("connecting to Redis")
        })
        .await
    }

    /// The shared multiplexed connection (see the field's comment).
    pub async fn shared(&self) -> anyhow::Result<ConnectionManager> {
        let manager = self
            .shared
            .get_or_try_init(|| async {
                // Short: with Redis down, requests must not hang on it.
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Duration::from_secs(2))
                    .set_response_timeout(Duration::from_secs(2))
                    .set_number_of_retries(2)
                    .set_max_delay(1_000);
                ConnectionManager::new_with_config(self.client.clone(), config).await
            })
            .await
            .context("connecting to Redis")?;
        Ok(manager.clone())
    }

    /// Checks that Redis answers.
    pub async fn ping(&self) -> anyhow::Result<()> {
        let mut conn = self.conn().await?;
        let _: String = redis::cmd("PING").query_async(&mut *conn).await?;
        Ok(())
    }

    /// Applies `ops` in one round trip. Events are published before the jobs
    /// they describe become claimable, so a subscriber sees `queued` before
    /// `running`. The ids of cancelled jobs also go to the cancels channel,
    /// the only one workers listen to.
    pub async fn apply(&self, ops: &[QueueOp]) -> anyhow::Result<()> {
        if ops.is_empty() {
            return Ok(());
        }
        let now = Utc::now();
        let mut pipe = redis::pipe();
        let mut wakes: HashMap<&str, isize> = HashMap::new();
        for op in ops {
            if let QueueOp::Publish(events) = op {
                if !events.is_empty() {
                    let body = serde_json::to_string(events)?;
                    pipe.publish(self.keys.events(), body).ignore();
                }
                let cancelled: Vec<Uuid> = events
                    .iter()
                    .filter(|e| e.status == JobStatus::Cancelled)
                    .map(|e| e.job_id)
                    .collect();
                if !cancelled.is_empty() {
                    pipe.publish(self.keys.cancels(), serde_json::to_string(&cancelled)?)
                        .ignore();
                }
            }
        }
        // Consecutive additions to (or removals from) one set go as one
        // command: a batch's acks are one `ZREM`, its enqueues one `ZADD` per
        // set, instead of a command (and a reply) per job.
        let mut runs = SetRuns::default();
        for op in ops {
            match op {
                QueueOp::Enqueue {
                    queue,
                    id,
                    priority,
                    due,
                } => {
                    if *due <= now {
                        runs.add(
                            self.keys.ready(queue),
                            ready_score(*priority, *due),
                            id.to_string(),
                        );
                    } else {
                        runs.add(
                            self.keys.delayed(queue),
                            due.timestamp_millis() as f64,
                            Keys::delayed_member(*priority, id),
                        );
                    }
                    *wakes.entry(queue.as_str()).or_default() += 1;
                }
                QueueOp::Ack { queue, id } => {
                    runs.remove(self.keys.inflight(queue), id.to_string());
                }
                QueueOp::Remove {
                    queue,
                    id,
                    priority,
                } => {
                    runs.remove(self.keys.ready(queue), id.to_string());
                    runs.remove(
                        self.keys.delayed(queue),
                        Keys::delayed_member(*priority, id),
                    );
                    runs.remove(self.keys.inflight(queue), id.to_string());
                }
                QueueOp::Publish(_) => {}
            }
        }
        runs.write_to(&mut pipe);
        for (queue, count) in wakes {
            let key = self.keys.wake(queue);
            let tokens = vec!["1"; count.min(WAKE_CAP) as usize];
            pipe.lpush(&key, tokens).ignore();
            pipe.ltrim(&key, 0, WAKE_CAP - 1).ignore();
            pipe.sadd(self.keys.queues(), queue).ignore();
        }
        let mut conn = self.shared().await?;
        pipe.query_async::<()>(&mut conn)
            .await
            .context("writing to Redis")?;
        Ok(())
    }

    /// The claim script's keys and arguments (its header lists them) for a
    /// claim of at most `max` ids from `queue`.
    fn claim_call(
        &self,
        queue: &str,
        max: usize,
        now: DateTime<Utc>,
        lease_deadline: DateTime<Utc>,
    ) -> ([String; 4], [i64; 4]) {
        let max = i64::try_from(max).unwrap_or(i64::MAX);
        (
            [
                self.keys.ready(queue),
                self.keys.delayed(queue),
                self.keys.inflight(queue),
                self.keys.paused(queue),
            ],
            [
                now.timestamp_millis(),
                max,
                lease_deadline.timestamp_millis(),
                max.max(100),
            ],
        )
    }

    /// Claims up to `max` ids from `queue`, recording them in-flight until
    /// `lease_deadline`.
    pub async fn claim(
        &self,
        conn: &mut deadpool_redis::Connection,
        queue: &str,
        max: usize,
        now: DateTime<Utc>,
        lease_deadline: DateTime<Utc>,
    ) -> anyhow::Result<Claimed> {
        let (keys, args) = self.claim_call(queue, max, now, lease_deadline);
        let mut script = self.claim_script.prepare_invoke();
        script.key(&keys).arg(&args);
        let reply: Vec<String> = bounded(COMMAND_TIMEOUT, "claim", async {
            script
                .invoke_async(&mut **conn)
                .await
                .context("claiming from Redis")
        })
        .await?;
        Ok(Claimed::from_reply(reply))
    }

    /// Puts claimed ids back in the ready set with their old scores (the
    /// claim could not be recorded in Postgres).
    pub async fn unclaim(&self, queue: &str, ids: &[(Uuid, f64)]) -> anyhow::Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut runs = SetRuns::default();
        for (id, _) in ids {
            runs.remove(self.keys.inflight(queue), id.to_string());
        }
        for (id, score) in ids {
            runs.add(self.keys.ready(queue), *score, id.to_string());
        }
        let mut pipe = redis::pipe();
        runs.write_to(&mut pipe);
        let mut conn = self.shared().await?;
        pipe.query_async::<()>(&mut conn).await?;
        Ok(())
    }

    /// Blocks until a wake-up token arrives on one of `wake` or `timeout`
    /// passes, then claims from each of `claims` (a queue, and at most how
    /// many ids) as [`Self::claim`] does, in the same round trip: the claims
    /// are pipelined behind the `BLPOP`, so Redis runs them as soon as the
    /// wait ends, with no reply to the worker and next command in between.
    /// They are built before the wait: due delayed entries are promoted as
    /// of `now` (those falling due during the wait, by the caller's next
    /// claim), and `lease_deadline` must already allow for the wait. Sent as
    /// `EVAL` (the script's text, not its hash), so they run even if Redis
    /// lost its script cache. Returns whether a token arrived, and what each
    /// queue gave.
    ///
    /// A caller that gives up on the wait must drop the connection (see
    /// [`discard`]): Redis then never runs the claims still queued behind it.
    pub async fn wait_then_claim(
        &self,
        conn: &mut deadpool_redis::Connection,
        wake: &[String],
        timeout: Duration,
        claims: &[(String, usize)],
        now: DateTime<Utc>,
        lease_deadline: DateTime<Utc>,
    ) -> anyhow::Result<(bool, Vec<(String, Claimed)>)> {
        let keys: Vec<String> = wake.iter().map(|q| self.keys.wake(q)).collect();
        // BLPOP takes whole or fractional seconds; 0 would block forever.
        let secs = timeout.as_secs_f64().max(0.01);
        let mut pipe = redis::pipe();
        pipe.cmd("BLPOP").arg(keys).arg(secs);
        for (queue, max) in claims {
            let (keys, args) = self.claim_call(queue, *max, now, lease_deadline);
            pipe.cmd("EVAL")
                .arg(CLAIM_LUA)
                .arg(keys.len())
                .arg(&keys)
                .arg(&args);
        }
        let replies: Vec<redis::Value> =
            bounded(timeout + COMMAND_TIMEOUT, "BLPOP and claim", async {
                pipe.query_async(&mut **conn)
                    .await
                    .context("waiting on Redis wake-up list, then claiming")
            })
            .await?;
        let mut replies = replies.iter();
        let woke: Option<(String, String)> = match replies.next() {
            Some(reply) => redis::from_redis_value(reply).context("reading BLPOP's reply")?,
            None => None,
        };
        let mut claimed = Vec::with_capacity(claims.len());
        for ((queue, _), reply) in claims.iter().zip(replies) {
            let reply: Vec<String> =
                redis::from_redis_value(reply).context("reading a claim's reply")?;
            claimed.push((queue.clone(), Claimed::from_reply(reply)));
        }
        Ok((woke.is_some(), claimed))
    }

    /// Pushes a lease deadline forward for ids in flight.
    pub async fn extend(
        &self,
        items: &[(String, Uuid)],
        deadline: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for (queue, id) in items {
            pipe.cmd("ZADD")
                .arg(self.keys.inflight(queue))
                .arg("XX")
                .arg(deadline.timestamp_millis())
                .arg(id.to_string())
                .ignore();
        }
        let mut conn = self.shared().await?;
        pipe.query_async::<()>(&mut conn).await?;
        Ok(())
    }

    /// How many ids each set of `queue` holds: (ready, delayed, inflight).
    pub async fn depth(&self, queue: &str) -> anyhow::Result<(u64, u64, u64)> {
        let mut conn = self.conn().await?;
        let (ready, delayed, inflight): (u64, u64, u64) = redis::pipe()
            .zcard(self.keys.ready(queue))
            .zcard(self.keys.delayed(queue))
            .zcard(self.keys.inflight(queue))
            .query_async(&mut *conn)
            .await?;
        Ok((ready, delayed, inflight))
    }
}

/// One `ZADD` or `ZREM` of several members to one key. Scores are doubles,
/// as Redis stores them (a due time in ms is exact in one).
#[derive(Debug)]
enum SetRun {
    Add(String, Vec<(f64, String)>),
    Remove(String, Vec<String>),
}

/// Sorted-set writes in their order, consecutive ones to the same key with
/// the same verb merged into one command. Only neighbours merge, so the
/// order of writes to any one member is kept.
#[derive(Debug, Default)]
struct SetRuns(Vec<SetRun>);

impl SetRuns {
    fn add(&mut self, key: String, score: f64, member: String) {
        if let Some(SetRun::Add(last, members)) = self.0.last_mut() {
            if *last == key {
                members.push((score, member));
                return;
            }
        }
        self.0.push(SetRun::Add(key, vec![(score, member)]));
    }

    fn remove(&mut self, key: String, member: String) {
        if let Some(SetRun::Remove(last, members)) = self.0.last_mut() {
            if *last == key {
                members.push(member);
                return;
            }
        }
        self.0.push(SetRun::Remove(key, vec![member]));
    }

    fn write_to(self, pipe: &mut redis::Pipeline) {
        for run in self.0 {
            match run {
                SetRun::Add(key, members) => {
                    let mut cmd = redis::cmd("ZADD");
                    cmd.arg(key);
                    for (score, member) in members {
                        cmd.arg(score).arg(member);
                    }
                    pipe.add_command(cmd).ignore();
                }
                SetRun::Remove(key, members) => {
                    pipe.cmd("ZREM").arg(key).arg(members).ignore();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbouring_writes_to_one_set_merge_and_others_keep_their_place() {
        let mut runs = SetRuns::default();
        for member in ["a", "b", "c"] {
            runs.add("ready".into(), 1.0, member.into());
        }
        runs.remove("inflight".into(), "a".into());
        runs.remove("inflight".into(), "b".into());
        runs.add("delayed".into(), 5.0, "d".into());
        runs.add("ready".into(), 2.0, "e".into());
        runs.remove("ready".into(), "e".into());
        let shape: Vec<(&str, &str, usize)> = runs
            .0
            .iter()
            .map(|run| match run {
                SetRun::Add(key, members) => ("add", key.as_str(), members.len()),
                SetRun::Remove(key, members) => ("remove", key.as_str(), members.len()),
            })
            .collect();
        assert_eq!(
            shape,
            [
                ("add", "ready", 3),
                ("remove", "inflight", 2),
                ("add", "delayed", 1),
                ("add", "ready", 1),
                ("remove", "ready", 1),
            ]
        );
    }
}
