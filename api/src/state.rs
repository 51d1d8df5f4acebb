//! What every handler shares.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use conveyor_shared::clock::Clock;
use conveyor_shared::config::ApiConfig;
use conveyor_shared::db;
use conveyor_shared::events::StatusEvent;
use conveyor_shared::model::BUILTIN_KINDS;
use conveyor_shared::queue::RedisQueue;
use sqlx::PgPool;
use tokio::sync::{broadcast, Notify, RwLock};

/// Shared by all handlers: connections, configuration, the event fan-out and
/// a short-lived cache of the kinds workers have registered.
pub struct AppState {
    pub config: ApiConfig,
    pub pool: PgPool,
    pub queue: RedisQueue,
    pub clock: Clock,
    /// Status events from Redis, fanned out to WebSocket clients.
    pub events: broadcast::Sender<Arc<StatusEvent>>,
    relay_ready: Notify,
    relay_is_ready: std::sync::atomic::AtomicBool,
    kinds: RwLock<(Instant, HashSet<String>)>,
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
            kinds: RwLock::new((stale, HashSet::new())),
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

    /// Kinds a job may have: the built-ins and those registered by workers.
    /// The registered list is cached for a few seconds and re-read at once
    /// when a kind is not in it (a cheap read of a tiny table).
    pub async fn known_kinds(&self, wanted: &[&str]) -> sqlx::Result<HashSet<String>> {
        {
            let (at, kinds) = &*self.kinds.read().await;
            let fresh = at.elapsed() < Duration::from_secs(10);
            let complete = wanted
                .iter()
                .all(|k| BUILTIN_KINDS.contains(k) || kinds.contains(*k));
            if fresh && complete {
                return Ok(kinds.clone());
            }
        }
        let mut kinds: HashSet<String> = db::kinds::all(&self.pool).await?.into_iter().collect();
        kinds.extend(BUILTIN_KINDS.iter().map(|k| k.to_string()));
        *self.kinds.write().await = (Instant::now(), kinds.clone());
        Ok(kinds)
    }
}
