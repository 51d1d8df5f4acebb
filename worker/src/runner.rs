//! The claim loop and the slots that run jobs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use conveyor_shared::clock::Clock;
use conveyor_shared::config::{QueueOrder, WorkerConfig};
use conveyor_shared::db::claims::{self, Finish};
use conveyor_shared::db::workflows;
use conveyor_shared::events::StatusEvent;
use conveyor_shared::executor::{
    truncate_output, Failure, JobContext, Registry, Success, MAX_OUTPUT_BYTES,
};
use conveyor_shared::model::{backoff_delay, AttemptOutcome, Job, JobStatus};
use conveyor_shared::queue::{QueueOp, RedisQueue};
use rand::Rng;
use sqlx::PgPool;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn, Instrument};
use uuid::Uuid;

use crate::finisher::{self, Finished};
use crate::heartbeat;

/// Most ids claimed in one round trip.
const MAX_CLAIM: usize = 256;
/// How long an idle worker blocks before looking again without a wake-up.
const IDLE_WAIT: Duration = Duration::from_secs(5);
/// How long a stopped executor gets to return after its token is cancelled.
const STOP_WAIT: Duration = Duration::from_secs(10);

/// Parents' results by node key.
type Parents = std::collections::BTreeMap<String, serde_json::Value>;

/// How a claim round ended.
enum Round {
    Done,
    /// Shutdown interrupted a blocking wait; the connection must not be reused.
    Interrupted,
}

/// Why a running job's token was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopReason {
    Cancelled,
    TimedOut,
    Shutdown,
    /// The lease was lost (expired and taken over).
    LeaseLost,
}

/// Which attempt of which job: the key of [`Worker::running`]. Two attempts of
/// one job can be in one worker at once (the first lost its lease and is being
/// stopped while this worker claimed the job again), so the id alone is not
/// enough.
pub(crate) type AttemptKey = (Uuid, i32);

/// An attempt this worker holds a lease for, as the heartbeat and cancel
/// listener see it: from its claim until its outcome is written to Postgres
/// (an attempt that finished but waits in the finisher keeps its lease).
pub(crate) struct Running {
    pub queue: String,
    pub cancel: CancellationToken,
    pub reason: Arc<Mutex<Option<StopReason>>>,
    /// The job's span: lines logged about it elsewhere carry its fields.
    pub span: tracing::Span,
    /// When the lease was last set, by this worker's clock read before the
    /// statement that set it: the lease lasts at least a lease from here.
    pub leased_at: DateTime<Utc>,
}

impl Running {
    /// Stops the job for `reason` unless it was already being stopped.
    pub fn stop(&self, reason: StopReason) {
        let mut slot = self.reason.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(reason);
        }
        self.cancel.cancel();
    }
}

/// One worker process: its identity, connections, executors and the jobs it
/// is running. Shared by the claim loop, the slots, the heartbeat and the
/// finisher; dropping the last handle closes nothing by itself — `run`
/// drains everything before it returns.
pub struct Worker {
    pub(crate) id: String,
    pub(crate) host: String,
    pub(crate) config: WorkerConfig,
    pub(crate) registry: Registry,
    pub(crate) pool: PgPool,
    /// For the claim and finish statements: each planned once per
    /// connection, never by a sequential scan (`db::generic_plan_pool`).
    pub(crate) hot_pool: PgPool,
    pub(crate) queue: RedisQueue,
    /// Redis changes of the claim loop and the finisher, applied in order.
    pub(crate) redis: crate::redis_writer::RedisWriter,
    pub(crate) clock: Clock,
    /// Attempts whose lease this worker holds (running, or finished with
    /// the outcome not yet written), by job id and attempt. The heartbeat
    /// renews exactly these; the finisher removes an entry once the outcome
    /// is in Postgres. Guarded by a std mutex: held only for map operations,
    /// never across an await.
    pub(crate) running: Mutex<HashMap<AttemptKey, Running>>,
    /// Since when (Unix ms) the finisher has failed to record a batch; 0
    /// while it is not failing. The heartbeat stops touching the health
    /// file once this is older than a lease.
    pub(crate) finisher_stuck_since: std::sync::atomic::AtomicI64,
}

impl Worker {
    pub fn new(
        config: WorkerConfig,
        registry: Registry,
        pool: PgPool,
        queue: RedisQueue,
        clock: Clock,
    ) -> Self {
        let host = hostname::get()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "unknown".into());
        let short = Uuid::new_v4().simple().to_string();
        let id = format!("{host}-{}-{}", std::process::id(), &short[..8]);
        let redis = crate::redis_writer::RedisWriter::spawn(queue.clone());
        // The claim loop and the finisher each hold one at a time.
        let hot_pool = conveyor_shared::db::generic_plan_pool(&pool, 2);
        Self {
            id,
            host,
            config,
            registry,
            hot_pool,
            pool,
            queue,
            redis,
            clock,
            running: Mutex::new(HashMap::new()),
            finisher_stuck_since: std::sync::atomic::AtomicI64::new(0),
        }
    }

    /// Marks the finisher as failing to record (from now) or as recording
    /// again.
    pub(crate) fn finisher_stuck(&self, stuck: bool) {
        let since = if stuck {
            self.clock.now().timestamp_millis().max(1)
        } else {
            0
        };
        self.finisher_stuck_since
            .store(since, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether the finisher has failed to record outcomes for longer than a
    /// lease: the worker is then unhealthy, whatever else still works.
    pub(crate) fn finisher_is_stuck(&self) -> bool {
        let since = self
            .finisher_stuck_since
            .load(std::sync::atomic::Ordering::Relaxed);
        let lease_ms = i64::try_from(self.config.lease.as_millis()).unwrap_or(i64::MAX);
        since > 0 && self.clock.now().timestamp_millis() - since > lease_ms
    }

    /// This worker's id (fresh at every start).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// What this worker tells the `workers` table about itself.
    pub(crate) fn registration(&self) -> conveyor_shared::db::workers::Registration {
        conveyor_shared::db::workers::Registration {
            id: self.id.clone(),
            host: self.host.clone(),
            pid: std::process::id() as i32,
            queues: self
                .config
                .queues
                .iter()
                .map(|(q, w)| format!("{q}:{w}"))
                .collect(),
            concurrency: self.config.concurrency as i32,
            kinds: self.registry.kinds(),
            heartbeat_ms: self.config.heartbeat_every().as_millis() as i32,
        }
    }

    fn lease_ms(&self) -> i64 {
        self.config.lease.as_millis() as i64
    }

    /// Runs until `shutdown`; see [`crate::run`].
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) -> anyhow::Result<()> {
        info!(worker = %self.id, concurrency = self.config.concurrency,
              queues = ?self.config.queues.iter().map(|(q, w)| format!("{q}:{w}")).collect::<Vec<_>>(),
              kinds = ?self.registry.kinds(), "worker started");
        crate::metrics::worker_started();
        let (finish_tx, finish_rx) = mpsc::channel::<Finished>(self.config.concurrency * 4 + 64);
        let finisher = tokio::spawn(finisher::run(self.clone(), finish_rx));
        let background = CancellationToken::new();
        let beat = tokio::spawn(heartbeat::run(self.clone(), background.clone()));
        let listener = tokio::spawn(heartbeat::listen_for_cancels(
            self.clone(),
            background.clone(),
        ));
        let housekeeping = tokio::spawn(crate::housekeeping::run(self.clone(), background.clone()));
        let slots = Arc::new(Semaphore::new(self.config.concurrency));

        self.claim_loop(&slots, &finish_tx, &shutdown).await;

        info!(worker = %self.id, "stopped claiming; waiting for running jobs");
        let all = self.config.concurrency as u32;
        let grace = self.config.shutdown_grace;
        if tokio::time::timeout(grace, slots.acquire_many(all))
            .await
            .is_err()
        {
            let count = {
                let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
                for job in running.values() {
                    job.stop(StopReason::Shutdown);
                }
                running.len()
            };
            warn!(worker = %self.id, count, "grace period over; handing running jobs back");
            let _ = tokio::time::timeout(STOP_WAIT, slots.acquire_many(all)).await;
        }
        drop(finish_tx);
        // Bounded: a job task that ignored its cancellation still holds a
        // sender; its job's lease expires and it runs again elsewhere.
        match tokio::time::timeout(STOP_WAIT, finisher).await {
            Ok(Err(e)) => warn!(error = %e, "finisher task failed"),
            Err(_) => warn!("gave up waiting for jobs that ignored cancellation"),
            Ok(Ok(())) => {}
        }
        self.redis.flush().await;
        background.cancel();
        let _ = beat.await;
        let _ = listener.await;
        let _ = housekeeping.await;
        if let Err(e) = conveyor_shared::db::workers::deregister(&self.pool, &self.id).await {
            warn!(error = %e, "could not deregister");
        }
        info!(worker = %self.id, "worker stopped");
        Ok(())
    }

    /// Claims jobs while slots are free, until `shutdown`.
    async fn claim_loop(
        self: &Arc<Self>,
        slots: &Arc<Semaphore>,
        finish_tx: &mpsc::Sender<Finished>,
        shutdown: &CancellationToken,
    ) {
        let mut conn = None;
        let mut db = conveyor_shared::db::Held::new(self.hot_pool.clone());
        let mut failures = 0u32;
        // The ids of a claim whose answer was lost (see `start_claimed`).
        let mut unsure: Vec<(String, Vec<(Uuid, f64)>)> = Vec::new();
        loop {
            let first = tokio::select! {
                biased;
                _ = shutdown.cancelled() => return,
                permit = slots.clone().acquire_owned() => match permit {
                    Ok(p) => p,
                    Err(_) => return,
                },
            };
            let mut permits = vec![first];
            while permits.len() < MAX_CLAIM {
                match slots.clone().try_acquire_owned() {
                    Ok(p) => permits.push(p),
                    Err(_) => break,
                }
            }
            if conn.is_none() {
                match self.queue.conn().await {
                    Ok(c) => conn = Some(c),
                    Err(e) => {
                        failures += 1;
                        warn!(error = %format!("{e:#}"), "Redis unavailable; retrying");
                        drop(permits);
                        backoff(failures, shutdown).await;
                        continue;
                    }
                }
            }
            let Some(c) = conn.as_mut() else { continue };
            match self
                .claim_once(c, &mut db, permits, finish_tx, shutdown, &mut unsure)
                .await
            {
                Ok(Round::Done) => failures = 0,
                Ok(Round::Interrupted) => {
                    // The abandoned BLPOP's reply is still due on this connection.
                    if let Some(c) = conn.take() {
                        conveyor_shared::queue::discard(c);
                    }
                }
                Err(e) => {
                    failures += 1;
                    warn!(error = %format!("{e:#}"), "claim failed; retrying");
                    // Its command may have timed out with the answer still
                    // due: never back to the pool.
                    if let Some(c) = conn.take() {
                        conveyor_shared::queue::discard(c);
                    }
                    backoff(failures, shutdown).await;
                }
            }
        }
    }

    /// One round: claim up to `permits.len()` ids, claim them in Postgres
    /// (on `db`, the claim loop's own connection), start each in a slot.
    /// With nothing to claim, block until woken, and claim again in the same
    /// round trip as the wake-up.
    async fn claim_once(
        self: &Arc<Self>,
        conn: &mut conveyor_shared::queue::RedisConn,
        db: &mut conveyor_shared::db::Held,
        permits: Vec<OwnedSemaphorePermit>,
        finish_tx: &mpsc::Sender<Finished>,
        shutdown: &CancellationToken,
        unsure: &mut Vec<(String, Vec<(Uuid, f64)>)>,
    ) -> anyhow::Result<Round> {
        let want = permits.len();
        if !unsure.is_empty() {
            // A claim that went unanswered first, as many of its ids as
            // there are slots.
            let mut again = Vec::new();
            let mut taken = 0;
            while taken < want {
                let Some((queue, mut ids)) = unsure.pop() else {
                    break;
                };
                if ids.len() > want - taken {
                    unsure.push((queue.clone(), ids.split_off(want - taken)));
                }
                taken += ids.len();
                again.push((queue, ids));
            }
            return self
                .start_claimed(db, again, true, permits, finish_tx, unsure)
                .await;
        }
        let now = self.clock.now();
        let deadline = now + chrono::Duration::milliseconds(self.lease_ms());
        let mut next_due: Option<i64> = None;
        let mut claimed: Vec<(String, Vec<(Uuid, f64)>)> = Vec::new();
        let mut total = 0;
        for queue in self.queue_order() {
            let got = self
                .queue
                .claim(conn, &queue, want - total, now, deadline)
                .await?;
            next_due = match (next_due, got.next_due_ms) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            total += got.ids.len();
            if !got.ids.is_empty() {
                claimed.push((queue, got.ids));
            }
            if total >= want {
                break;
            }
        }
        if total == 0 {
            let wait = next_due
                .map(|due| Duration::from_millis((due - now.timestamp_millis()).max(1) as u64))
                .map_or(IDLE_WAIT, |d| d.min(IDLE_WAIT));
            let queues: Vec<String> = self
                .config
                .queues
                .iter()
                .map(|(q, _)| q.as_str().to_owned())
                .collect();
            // The claims behind the wait run when it ends, up to `wait` from
            // now: their in-flight deadline allows for that, so it is never
            // shorter than a lease from the claim.
            let late_deadline = deadline + chrono::Duration::from_std(wait).unwrap_or_default();
            let shares = shares(self.queue_order(), want);
            let woke = tokio::select! {
                // The answer first: claims Redis has already run are put
                // back below rather than left in flight.
                biased;
                woke = self.queue.wait_then_claim(conn, &queues, wait, &shares, now, late_deadline) => woke?,
                // The caller drops the connection, and with it the claims
                // Redis has not run yet.
                _ = shutdown.cancelled() => return Ok(Round::Interrupted),
            };
            if shutdown.is_cancelled() {
                // Shutdown came while the answer was on its way: a stopping
                // worker starts nothing new, so what the claims took goes
                // back to the ready set for another worker.
                for (queue, got) in &woke.1 {
                    self.queue.unclaim(queue, &got.ids).await?;
                }
                return Ok(Round::Done);
            }
            for (queue, got) in woke.1 {
                total += got.ids.len();
                if !got.ids.is_empty() {
                    claimed.push((queue, got.ids));
                }
            }
            if total == 0 {
                return Ok(Round::Done);
            }
        }
        self.start_claimed(db, claimed, false, permits, finish_tx, unsure)
            .await
    }

    /// Claims in Postgres the ids Redis handed over (`again`: the ids of a
    /// claim that went unanswered, see [`claims::claim_again`]) and starts
    /// each job in a slot. When Postgres refuses the claim, the ids go back
    /// to Redis; when the answer is lost (the connection failed, so the
    /// claim may have been committed), they stay in flight and in `unsure`,
    /// and the next round claims them again before anything else.
    async fn start_claimed(
        self: &Arc<Self>,
        db: &mut conveyor_shared::db::Held,
        claimed: Vec<(String, Vec<(Uuid, f64)>)>,
        again: bool,
        mut permits: Vec<OwnedSemaphorePermit>,
        finish_tx: &mpsc::Sender<Finished>,
        unsure: &mut Vec<(String, Vec<(Uuid, f64)>)>,
    ) -> anyhow::Result<Round> {
        let ids: Vec<Uuid> = claimed
            .iter()
            .flat_map(|(_, ids)| ids.iter().map(|(id, _)| *id))
            .collect();
        let leased_at = self.clock.now();
        let (worker, lease_ms) = (self.id.as_str(), self.lease_ms());
        let claimed_in_pg = async {
            let conn = db.conn().await?;
            if again {
                claims::claim_again(conn, &ids, worker, lease_ms).await
            } else {
                claims::claim(conn, &ids, worker, lease_ms).await
            }
        };
        let jobs = match claimed_in_pg.await {
            Ok(jobs) => jobs,
            Err(e) => {
                db.release();
                if matches!(e, sqlx::Error::Database(_)) {
                    // Refused: nothing was claimed.
                    for (queue, ids) in &claimed {
                        self.queue.unclaim(queue, ids).await?;
                    }
                } else {
                    warn!(
                        count = ids.len(),
                        "a claim went unanswered; claiming the same jobs again"
                    );
                    unsure.extend(claimed);
                }
                return Err(anyhow::Error::new(e).context("claiming jobs in Postgres"));
            }
        };
        // Ids Postgres did not hand over (cancelled meanwhile, or claimed by
        // another worker after a Redis rebuild) leave in-flight now. After a
        // claim that went unanswered they are left to the reconcile, which
        // settles expired entries by the job's state: by now another worker
        // may hold such an id in flight.
        let mut ops: Vec<QueueOp> = Vec::new();
        let handed_over: std::collections::HashSet<Uuid> = jobs.iter().map(|j| j.id).collect();
        let mut refused = Vec::new();
        if !again {
            for (queue, ids) in &claimed {
                for (id, _) in ids {
                    if !handed_over.contains(id) {
                        refused.push(*id);
                        ops.push(QueueOp::Ack {
                            queue: queue.clone(),
                            id: *id,
                        });
                    }
                }
            }
        }
        if !refused.is_empty() {
            ops.extend(self.put_back(&refused).await);
        }
        let now = self.clock.now();
        ops.push(QueueOp::Publish(
            jobs.iter().map(|j| StatusEvent::of(j, now)).collect(),
        ));
        self.redis.send(ops).await;
        let mut parents = self.parent_results(&jobs).await?;
        for job in jobs {
            let Some(permit) = permits.pop() else { break };
            let parents = parents.remove(&job.id).unwrap_or_default();
            let worker = self.clone();
            let finish_tx = finish_tx.clone();
            // Every line about the job carries these fields. ERROR level so
            // the span exists whatever RUST_LOG lets through (a span's level
            // only decides whether it is recorded, not how its lines rank).
            let span = tracing::error_span!("job", job_id = %job.id, queue = %job.queue,
                                            kind = %job.kind, attempt = job.attempt);
            tokio::spawn(
                async move {
                    let _busy = crate::metrics::BusySlot::take();
                    let finished = worker.execute(job, parents, leased_at).await;
                    if finish_tx.send(finished).await.is_err() {
                        warn!("finisher is gone; outcome not recorded");
                    }
                    drop(permit);
                }
                .instrument(span),
            );
        }
        Ok(Round::Done)
    }

    /// Of ids Postgres refused to hand over, those still waiting go back to
    /// Redis: a scheduled job claimed before its `run_at` into the delayed
    /// set, a job of a paused queue into the ready set behind the queue's
    /// pause flag, which is set again here (Redis had lost it). Best effort:
    /// whatever fails here, the reconciler restores.
    async fn put_back(&self, refused: &[Uuid]) -> Vec<QueueOp> {
        let waiting = match claims::still_waiting(&self.pool, refused).await {
            Ok(waiting) => waiting,
            Err(e) => {
                warn!(error = %e, "cannot read refused claims; the reconciler restores them");
                return Vec::new();
            }
        };
        let mut paused: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
        for (job, is_paused) in &waiting {
            if *is_paused {
                paused.insert(&job.queue);
            }
        }
        for queue in paused {
            if let Err(e) = self.queue.set_paused(queue, true).await {
                warn!(error = %format!("{e:#}"), queue, "cannot restore the pause flag");
            }
        }
        waiting
            .iter()
            .map(|(job, _)| QueueOp::enqueue(job))
            .collect()
    }

    /// For jobs of workflow runs: each parent's node key and result. (If this
    /// read fails the claimed jobs are not started; their leases expire and
    /// they run again.)
    async fn parent_results(&self, jobs: &[Job]) -> anyhow::Result<HashMap<Uuid, Parents>> {
        let in_runs: Vec<Uuid> = jobs
            .iter()
            .filter(|j| j.workflow_run_id.is_some())
            .map(|j| j.id)
            .collect();
        let mut out: HashMap<Uuid, Parents> = HashMap::new();
        if in_runs.is_empty() {
            return Ok(out);
        }
        let rows = workflows::parent_results(&self.pool, &in_runs)
            .await
            .map_err(|e| anyhow::Error::new(e).context("reading parents' results"))?;
        for (child, key, result) in rows {
            out.entry(child)
                .or_default()
                .insert(key, result.unwrap_or(serde_json::Value::Null));
        }
        Ok(out)
    }

    /// The queues to try this round, in order.
    fn queue_order(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .config
            .queues
            .iter()
            .map(|(q, _)| q.as_str().to_owned())
            .collect();
        if self.config.queue_order == QueueOrder::Weighted && names.len() > 1 {
            let total: u32 = self.config.queues.iter().map(|(_, w)| *w).sum();
            let mut pick = rand::thread_rng().gen_range(0..total);
            let mut first = 0;
            for (i, (_, w)) in self.config.queues.iter().enumerate() {
                if pick < *w {
                    first = i;
                    break;
                }
                pick -= *w;
            }
            let chosen = names.remove(first);
            names.insert(0, chosen);
        }
        names
    }

    /// Runs one attempt and decides where it leaves the job.
    async fn execute(
        self: &Arc<Self>,
        job: Job,
        parents: Parents,
        leased_at: DateTime<Utc>,
    ) -> Finished {
        let cancel = CancellationToken::new();
        let reason = Arc::new(Mutex::new(None));
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                (job.id, job.attempt),
                Running {
                    queue: job.queue.clone(),
                    cancel: cancel.clone(),
                    reason: reason.clone(),
                    span: tracing::Span::current(),
                    leased_at,
                },
            );
        info!("job started");
        crate::metrics::job_started(&job);
        let ctx = JobContext {
            id: job.id,
            queue: job.queue.clone(),
            kind: job.kind.clone(),
            name: job.name.clone(),
            payload: job.payload.clone(),
            attempt: job.attempt,
            worker: self.id.clone(),
            parents,
            cancel: cancel.clone(),
        };
        let started = std::time::Instant::now();
        let outcome = match self.registry.get(&job.kind) {
            // Retryable: another worker of a mixed fleet may have the kind.
            None => Err(Failure::new(format!(
                "no executor for kind {:?} on worker {}",
                job.kind, self.id
            ))),
            Some(executor) => {
                let run = executor.execute(ctx);
                tokio::pin!(run);
                let limit = job
                    .timeout_secs
                    .map(|s| Duration::from_secs(s as u64))
                    .unwrap_or(Duration::MAX);
                tokio::select! {
                    result = &mut run => result,
                    // Stopped from outside (cancelled, lease lost, shutdown):
                    // an executor that ignores its token is dropped after
                    // STOP_WAIT, so a lost attempt never keeps running.
                    _ = cancel.cancelled() => {
                        match tokio::time::timeout(STOP_WAIT, &mut run).await {
                            Ok(result) => result,
                            Err(_) => Err(Failure::new("executor did not stop when asked")),
                        }
                    }
                    _ = tokio::time::sleep(limit) => {
                        {
                            let mut slot = reason.lock().unwrap_or_else(|e| e.into_inner());
                            slot.get_or_insert(StopReason::TimedOut);
                        }
                        cancel.cancel();
                        match tokio::time::timeout(STOP_WAIT, &mut run).await {
                            Ok(result) => result,
                            Err(_) => Err(Failure::new("executor did not stop after its timeout")),
                        }
                    }
                }
            }
        };
        // The attempt stays in `running` (its lease renewed) until the
        // finisher has written its outcome.
        let stopped = *reason.lock().unwrap_or_else(|e| e.into_inner());
        let took = started.elapsed();
        crate::metrics::job_ran(&job, took);
        // PostgreSQL stores no NUL in text or jsonb; whatever an executor
        // produced, the outcome reaches the finisher storable.
        let finish = self.decide(&job, outcome, stopped, took).storable();
        Finished {
            job,
            finish,
            span: tracing::Span::current(),
        }
    }

    /// Where an attempt's outcome leaves the job.
    fn decide(
        &self,
        job: &Job,
        outcome: Result<Success, Failure>,
        stopped: Option<StopReason>,
        took: Duration,
    ) -> Finish {
        let now = self.clock.now();
        let bound = |o: Option<String>| o.map(|t| truncate_output(t, MAX_OUTPUT_BYTES));
        let mut finish = Finish::succeeded(job, now);
        let failure = match (outcome, stopped) {
            (Ok(success), None) => {
                info!(took_ms = took.as_millis() as u64, "job succeeded");
                finish.result = success.result;
                finish.output = bound(success.output);
                return finish;
            }
            (result, Some(StopReason::Cancelled)) => {
                info!("job cancelled while running");
                finish.outcome = AttemptOutcome::Cancelled;
                finish.status = JobStatus::Cancelled;
                finish.error = Some("cancelled by request".into());
                finish.output = bound(output_of(result));
                return finish;
            }
            (result, Some(StopReason::Shutdown)) => {
                info!("job interrupted by shutdown; handing it back");
                finish.outcome = AttemptOutcome::Interrupted;
                finish.status = JobStatus::Queued;
                // Keeps its due time, and so its place ahead of later jobs.
                finish.run_at = Some(job.run_at);
                finish.error = Some(format!("interrupted: worker {} shut down", self.id));
                finish.output = bound(output_of(result));
                return finish;
            }
            (result, Some(StopReason::LeaseLost)) => {
                warn!("job's lease was lost; its outcome will be refused");
                finish.outcome = AttemptOutcome::Lost;
                finish.status = JobStatus::Queued;
                finish.error = Some("lease lost".into());
                finish.output = bound(output_of(result));
                return finish;
            }
            (result, Some(StopReason::TimedOut)) => {
                finish.outcome = AttemptOutcome::TimedOut;
                let secs = job.timeout_secs.unwrap_or_default();
                Failure::new(format!("timed out after {secs} s")).with_output(output_of(result))
            }
            (Err(failure), None) => {
                finish.outcome = AttemptOutcome::Failed;
                failure
            }
        };
        finish.error = Some(failure.error.clone());
        finish.output = bound(failure.output);
        if failure.permanent || job.attempts_exhausted() {
            warn!(error = %failure.error, "job failed; attempts exhausted, now dead");
            finish.status = JobStatus::Dead;
        } else {
            let delay = backoff_delay(
                job.backoff,
                job.attempt - job.attempt_base,
                rand::thread_rng().gen(),
            );
            let run_at: DateTime<Utc> = now
                + chrono::Duration::from_std(delay).unwrap_or_else(|_| chrono::Duration::zero());
            warn!(error = %failure.error, retry_in_ms = delay.as_millis() as u64,
                  "job failed; will retry");
            finish.status = JobStatus::Scheduled;
            finish.run_at = Some(run_at);
        }
        finish
    }
}

/// How many ids each queue may give the claims that follow a wait: `want`
/// split evenly over the queues in `order` (the first ones get the
/// remainder; with more queues than `want`, only the first `want` queues,
/// one each), so that together they never take more than the free slots.
fn shares(order: Vec<String>, want: usize) -> Vec<(String, usize)> {
    let n = order.len().min(want);
    if n == 0 {
        return Vec::new();
    }
    order
        .into_iter()
        .take(n)
        .enumerate()
        .map(|(i, queue)| (queue, want / n + usize::from(i < want % n)))
        .collect()
}

fn output_of(result: Result<Success, Failure>) -> Option<String> {
    match result {
        Ok(s) => s.output,
        Err(f) => f.output,
    }
}

/// Exponential wait after repeated failures of Redis or Postgres, at most 5 s.
async fn backoff(failures: u32, shutdown: &CancellationToken) {
    let ms = (100u64 << failures.min(6)).min(5_000);
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_millis(ms)) => {}
        _ = shutdown.cancelled() => {}
    }
}

#[cfg(test)]
impl Worker {
    /// A worker (not started) of the test environment `env`, with `extra`
    /// settings, on `pool`, reading `clock`.
    pub(crate) fn for_test(
        env: &conveyor_shared::testing::TestEnv,
        extra: &[(&str, &str)],
        pool: PgPool,
        clock: Clock,
    ) -> Self {
        let config = env.worker_config(extra);
        let queue = RedisQueue::new(&config.common.redis_url, &config.common.redis_prefix, 4)
            .expect("redis");
        Worker::new(config, Registry::new(), pool, queue, clock)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use conveyor_shared::testing::TestEnv;

    /// The claim and the finish go through connections that plan each
    /// statement once (their plans do not depend on the batch), the rest
    /// through the pool the worker was given, with PostgreSQL's default.
    #[tokio::test]
    async fn claims_and_finishes_use_generic_plans_and_nothing_else_does() {
        let env = TestEnv::new().await;
        let worker = Worker::for_test(&env, &[], env.pool.clone(), Clock::system());
        let setting = |pool: PgPool, name: &'static str| async move {
            sqlx::query_scalar::<_, String>("select current_setting($1)")
                .bind(name)
                .fetch_one(&pool)
                .await
                .expect("setting")
        };
        assert_eq!(
            setting(worker.hot_pool.clone(), "plan_cache_mode").await,
            "force_generic_plan"
        );
        assert_eq!(
            setting(worker.pool.clone(), "plan_cache_mode").await,
            "auto"
        );
        // With sequential scans refused, a trigger's scan of a small table
        // would be costed past the JIT's threshold and compiled every call.
        assert_eq!(
            setting(worker.hot_pool.clone(), "enable_seqscan").await,
            "off"
        );
        assert_eq!(setting(worker.hot_pool.clone(), "jit").await, "off");
        env.cleanup().await;
    }

    #[test]
    fn the_claims_after_a_wait_share_the_free_slots_without_exceeding_them() {
        let names = |n: usize| (0..n).map(|i| format!("q{i}")).collect::<Vec<_>>();
        let counts = |order, want| {
            shares(order, want)
                .into_iter()
                .map(|(_, n)| n)
                .collect::<Vec<_>>()
        };
        assert_eq!(counts(names(1), 256), vec![256]);
        assert_eq!(counts(names(3), 10), vec![4, 3, 3]);
        assert_eq!(counts(names(5), 2), vec![1, 1]);
        assert_eq!(counts(names(2), 0), Vec::<usize>::new());
        assert_eq!(counts(names(0), 5), Vec::<usize>::new());
        assert_eq!(
            shares(vec!["b".into(), "a".into()], 3),
            vec![("b".to_owned(), 2), ("a".to_owned(), 1)],
            "the queue first in this round's order comes first"
        );
    }

    /// Claims `ids` and finishes them as succeeded on `conn`, in one
    /// transaction; returns how many were claimed and how many rows of
    /// `jobs` the two statements read by sequential scans.
    async fn claim_and_finish(conn: &mut sqlx::PgConnection, ids: &[Uuid]) -> (usize, i64) {
        use sqlx::Connection;
        let mut tx = conn.begin().await.expect("begin");
        let jobs = claims::claim(&mut *tx, ids, "w", 60_000)
            .await
            .expect("claim");
        let now = Utc::now();
        let finishes: Vec<Finish> = jobs.iter().map(|j| Finish::succeeded(j, now)).collect();
        let finished = claims::finish(&mut *tx, "w", &finishes)
            .await
            .expect("finish");
        assert_eq!(finished.len(), jobs.len(), "every claimed job finishes");
        let read: i64 = sqlx::query_scalar(
            "select coalesce(sum(seq_tup_read), 0)::int8 from pg_stat_xact_user_tables
             where relname = 'jobs'",
        )
        .fetch_one(&mut *tx)
        .await
        .expect("stats");
        tx.commit().await.expect("commit");
        (jobs.len(), read)
    }

    /// A connection keeps a statement's generic plan until the table is
    /// next analyzed (never, with autovacuum off). The claim's and the
    /// finish's, made while `jobs` held one row, must still probe the
    /// primary key once the table is large: a plan that read the whole
    /// table left the workers seconds behind at 50,000 jobs.
    #[tokio::test]
    async fn claims_and_finishes_planned_on_an_empty_table_never_read_the_whole_table() {
        let env = TestEnv::new().await;
        let worker = Worker::for_test(&env, &[], env.pool.clone(), Clock::system());
        let insert = |n: i64| {
            sqlx::query_scalar::<_, Uuid>(
                "insert into jobs (id, queue, kind, name, status, run_at)
                 select conveyor_uuid_v7(), 'default', 'noop', 'noop', 'queued', now()
                 from generate_series(1, $1) returning id",
            )
            .bind(n)
            .fetch_all(&env.pool)
        };
        let mut db = conveyor_shared::db::Held::new(worker.hot_pool.clone());
        let first = insert(1).await.expect("first job");
        let conn = db.conn().await.expect("connection");
        assert_eq!(claim_and_finish(conn, &first).await.0, 1);
        let many = insert(20_000).await.expect("many jobs");
        let conn = db.conn().await.expect("connection");
        let (claimed, read) = claim_and_finish(conn, &many[..10]).await;
        assert_eq!(claimed, 10);
        assert!(
            read < 1_000,
            "the claim and the finish read {read} rows of jobs by sequential scans"
        );
        env.cleanup().await;
    }
}
