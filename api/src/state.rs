//! What every handler shares.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use conveyor_shared::clock::Clock;
use conveyor_shared::config::ApiConfig;
use conveyor_shared::db;
use conveyor_shared::events::StatusEvent;
use conveyor_shared::model::BUILTIN_KINDS;
use conveyor_shared::queue::RedisQueue;
use sqlx::PgPool;
use tokio::sync::{broadcast, Mutex, Notify};

use crate::submitter::Submitter;
use crate::token_lookup::TokenLookups;

/// How long the cached list of registered kinds is trusted.
const KINDS_TTL: Duration = Duration::from_secs(10);

/// Shared by all handlers: connections, configuration, the event fan-out,
/// the group-commit submitter and a short-lived cache of the kinds workers
/// have registered.
pub struct AppState {
    pub config: ApiConfig,
    pub pool: PgPool,
    pub queue: RedisQueue,
    pub clock: Clock,
    /// Status events from Redis, fanned out to WebSocket clients.
    pub events: broadcast::Sender<Arc<StatusEvent>>,
    relay_ready: Notify,
    relay_is_ready: std::sync::atomic::AtomicBool,
    /// When the cached kinds were read (the start of the read) and them,
    /// built-ins included.
    kinds: RwLock<(Instant, Arc<HashSet<String>>)>,
    /// Held while the kinds are re-read, so concurrent misses read once.
    kinds_refresh: Mutex<()>,
    /// Started at the first single submit (so on the runtime that serves).
    submitter: OnceLock<Submitter>,
    /// Tokens whose `last_used_at` is being written: one write at a time
    /// per token, however many requests find it stale meanwhile.
    touching: Arc<std::sync::Mutex<HashSet<uuid::Uuid>>>,
    /// Concurrent requests with the same token share its next query.
    pub token_lookups: TokenLookups,
}

/// A write of a token's last use under way; ends when dropped.
pub struct Touching {
    token: uuid::Uuid,
    set: Arc<std::sync::Mutex<HashSet<uuid::Uuid>>>,
}

impl Drop for Touching {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.token);
    }
}

impl AppState {
    pub fn new(config: ApiConfig, pool: PgPool, queue: RedisQueue, clock: Clock) -> Arc<Self> {
        let (events, _) = broadcast::channel(config.ws_event_buffer);
        let stale = Instant::now()
            .checked_sub(Duration::from_secs(3600))
            .unwrap_or_else(Instant::now);
        Arc::new(Self {
            config,
            pool,
            queue,
            clock,
            events,
            relay_ready: Notify::new(),
            relay_is_ready: false.into(),
            kinds: RwLock::new((stale, Arc::new(HashSet::new()))),
            kinds_refresh: Mutex::new(()),
            submitter: OnceLock::new(),
            touching: Arc::new(std::sync::Mutex::new(HashSet::new())),
            token_lookups: TokenLookups::default(),
        })
    }

    /// The group-commit submitter of single jobs, started on first use.
    pub fn submitter(&self) -> &Submitter {
        self.submitter.get_or_init(|| {
            // Leave most of the pool to the other requests.
            let in_flight = (self.config.common.db_max_connections as usize / 2).max(1);
            Submitter::start(
                self.pool.clone(),
                self.queue.clone(),
                self.clock.clone(),
                in_flight,
            )
        })
    }

    /// Marks a write of `token`'s last use as started, until the returned
    /// guard is dropped; `None` when one is already under way.
    pub fn start_touch(&self, token: uuid::Uuid) -> Option<Touching> {
        let fresh = self
            .touching
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token);
        fresh.then(|| Touching {
            token,
            set: self.touching.clone(),
        })
    }

    /// Called by the relay once its Redis subscription is active.
    pub fn mark_relay_ready(&self) {
        self.relay_is_ready
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.relay_ready.notify_waiters();
    }

    /// Resolves once the relay listens.
    pub async fn relay_ready(&self) {
        let notified = self.relay_ready.notified();
        if self
            .relay_is_ready
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            return;
        }
        notified.await;
    }

    /// The ids Redis holds in flight in `queue` (or every queue): where the
    /// running jobs are looked up (migration 0015). `None` when Redis does
    /// not answer: the readers then fall back to PostgreSQL alone.
    pub async fn running_ids(&self, queue: Option<&str>) -> Option<Vec<uuid::Uuid>> {
        match self.queue.inflight_ids(queue).await {
            Ok(ids) => Some(ids),
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"),
                               "Redis did not list the jobs in flight; reading PostgreSQL alone");
                None
            }
        }
    }

    /// Kinds a job may have: the built-ins and those registered by workers.
    /// The registered list is cached for a few seconds and re-read at once
    /// when a kind is not in it (a cheap read of a tiny table).
    pub async fn known_kinds(&self, wanted: &[&str]) -> sqlx::Result<Arc<HashSet<String>>> {
        let asked = Instant::now();
        if let Some(kinds) = self.cached_kinds(wanted, None) {
            return Ok(kinds);
        }
        let _reading = self.kinds_refresh.lock().await;
        // A read that started after this request asked is as fresh as one
        // this request would make: use it.
        if let Some(kinds) = self.cached_kinds(wanted, Some(asked)) {
            return Ok(kinds);
        }
        let started = Instant::now();
        let mut kinds: HashSet<String> = db::kinds::all(&self.pool).await?.into_iter().collect();
        kinds.extend(BUILTIN_KINDS.iter().map(|k| k.to_string()));
        let kinds = Arc::new(kinds);
        *self.kinds.write().unwrap_or_else(|e| e.into_inner()) = (started, kinds.clone());
        Ok(kinds)
    }

    /// The cached kinds if they are fresh and hold every wanted kind, or
    /// (with `read_since`) whatever a read started since then found.
    fn cached_kinds(
        &self,
        wanted: &[&str],
        read_since: Option<Instant>,
    ) -> Option<Arc<HashSet<String>>> {
        let (at, kinds) = &*self.kinds.read().unwrap_or_else(|e| e.into_inner());
        if read_since.is_some_and(|since| *at >= since) {
            return Some(kinds.clone());
        }
        let fresh = at.elapsed() < KINDS_TTL;
        let complete = wanted
            .iter()
            .all(|k| BUILTIN_KINDS.contains(k) || kinds.contains(*k));
        (fresh && complete).then(|| kinds.clone())
    }
}
