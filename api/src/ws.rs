//! Live status over WebSocket.
//!
//! Each api subscribes once to the Redis channel of status events and fans
//! them out to its clients through a tokio broadcast channel. A client
//! chooses what it sees with the query string (`?queue=a&job=<id>&run=<id>`,
//! nothing for everything) or later with a `subscribe` message. A client that falls
//! further behind than the buffer gets `{"type": "resync"}` and should
//! re-read what it shows; it is never dropped silently.
//!
//! Client → server:
//! `{"type": "subscribe", "all": true}` or
//! `{"type": "subscribe", "queues": ["emails"], "jobs": ["<uuid>"], "runs": ["<uuid>"]}`.
//!
//! Server → client: `{"type": "subscribed", ...}` (once the subscription is
//! active), `{"type": "job", ...StatusEvent}`, `{"type": "resync", "missed": n}`,
//! `{"type": "error", "message": "..."}`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use conveyor_shared::events::StatusEvent;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

/// How often the relay publishes a pulse to itself on its subscription; a
/// subscription that has heard nothing (no event, no pulse) for
/// [`SILENT_LIMIT`] is taken for dead — a silent Redis does not close the
/// connection by itself — and made again.
const PULSE: Duration = Duration::from_secs(2);
const SILENT_LIMIT: Duration = Duration::from_secs(6);

/// Forwards Redis status events to the broadcast channel until `shutdown`,
/// reconnecting with backoff when Redis goes away or goes silent.
pub async fn relay(state: Arc<AppState>, shutdown: CancellationToken) {
    let channel = state.queue.keys().events();
    // Only this api listens here: its pulses reach nobody else.
    let pulse_channel = format!("{channel}:pulse:{}", Uuid::new_v4().simple());
    let mut failures = 0u32;
    loop {
        let session = async {
            let mut pubsub = tokio::time::timeout(SILENT_LIMIT, async {
                let mut pubsub = state.queue.client().get_async_pubsub().await?;
                pubsub.subscribe(&channel).await?;
                pubsub.subscribe(&pulse_channel).await?;
                anyhow::Ok(pubsub)
            })
            .await
            .map_err(|_| anyhow::anyhow!("Redis did not answer the subscription"))??;
            state.mark_relay_ready();
            failures = 0;
            let mut messages = pubsub.on_message();
            let mut pulse = tokio::time::interval(PULSE);
            let mut heard = tokio::time::Instant::now();
            loop {
                let msg = tokio::select! {
                    msg = messages.next() => match msg {
                        Some(msg) => msg,
                        None => return anyhow::Ok(()),
                    },
                    _ = pulse.tick() => {
                        if heard.elapsed() > SILENT_LIMIT {
                            anyhow::bail!("nothing heard on the event subscription for {} s",
                                          heard.elapsed().as_secs());
                        }
                        send_pulse(&state, &pulse_channel);
                        continue;
                    }
                };
                heard = tokio::time::Instant::now();
                if msg.get_channel_name() == pulse_channel {
                    continue;
                }
                // Nobody is watching: nothing to parse (a client that
                // connects now sees the events published from now on).
                if state.events.receiver_count() == 0 {
                    continue;
                }
                let Ok(body) = msg.get_payload::<String>() else {
                    continue;
                };
                match serde_json::from_str::<Vec<StatusEvent>>(&body) {
                    Ok(events) => {
                        for event in events {
                            // No receivers is fine: nobody is watching.
                            let _ = state.events.send(Arc::new(event));
                        }
                    }
                    Err(e) => warn!(error = %e, "unreadable status event"),
                }
            }
        };
        tokio::select! {
            result = session => {
                failures += 1;
                if let Err(e) = result {
                    warn!(error = %format!("{e:#}"), "event relay lost Redis; reconnecting");
                }
            }
            _ = shutdown.cancelled() => return,
        }
        let wait = Duration::from_millis((100u64 << failures.min(6)).min(5_000));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// Publishes one pulse on `channel`, in the background (the shared
/// connection has its own response timeout).
fn send_pulse(state: &AppState, channel: &str) {
    let queue = state.queue.clone();
    let channel = channel.to_owned();
    tokio::spawn(async move {
        if let Ok(mut conn) = queue.shared().await {
            let _: Result<(), _> = redis::cmd("PUBLISH")
                .arg(&channel)
                .arg("pulse")
                .query_async(&mut conn)
                .await;
        }
    });
}

/// What a client has asked to see.
#[derive(Debug, Clone, Default, PartialEq)]
struct Filter {
    queues: HashSet<String>,
    jobs: HashSet<Uuid>,
    runs: HashSet<Uuid>,
}

impl Filter {
    /// How many subscriptions this is (limited by `MAX_WS_SUBSCRIPTIONS`).
    fn len(&self) -> usize {
        self.queues.len() + self.jobs.len() + self.runs.len()
    }

    fn is_all(&self) -> bool {
        self.queues.is_empty() && self.jobs.is_empty() && self.runs.is_empty()
    }

    fn wants(&self, event: &StatusEvent) -> bool {
        self.is_all()
            || self.queues.contains(&event.queue)
            || self.jobs.contains(&event.job_id)
            || event
                .workflow_run_id
                .is_some_and(|run| self.runs.contains(&run))
    }

    /// From the decoded query string: `queue=` and `job=`, each repeatable.
    fn from_query(pairs: &[(String, String)]) -> Result<Self, String> {
        let mut filter = Filter::default();
        for (key, value) in pairs {
            let value = value.as_str();
            match key.as_str() {
                "queue" => {
                    filter.queues.insert(value.to_owned());
                }
                "job" => {
                    let id = Uuid::parse_str(value)
                        .map_err(|_| format!("job {value:?} is not a UUID"))?;
                    filter.jobs.insert(id);
                }
                "run" => {
                    let id = Uuid::parse_str(value)
                        .map_err(|_| format!("run {value:?} is not a UUID"))?;
                    filter.runs.insert(id);
                }
                "all" => {}
                other => {
                    return Err(format!(
                        "unknown parameter {other:?}; use queue=, job= or run="
                    ))
                }
            }
        }
        Ok(filter)
    }
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    Subscribe {
        #[serde(default)]
        all: bool,
        #[serde(default)]
        queues: Vec<String>,
        #[serde(default)]
        jobs: Vec<Uuid>,
        #[serde(default)]
        runs: Vec<Uuid>,
    },
}

/// Status events over WebSocket (see the module documentation for the protocol).
pub async fn handler(
    State(state): State<Arc<AppState>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    ws: WebSocketUpgrade,
) -> Response {
    let limit = state.config.max_ws_subscriptions;
    let filter = match query {
        Ok(Query(pairs)) => Filter::from_query(&pairs),
        Err(e) => Err(e.body_text()),
    };
    if let Ok(f) = &filter {
        if f.len() > limit {
            return ApiError::field(
                "query",
                format!(
                    "{} subscriptions is more than the limit of {limit}",
                    f.len()
                ),
            )
            .into_response();
        }
    }
    // A client sends only subscriptions: one of the largest allowed fits.
    let max_message = (limit.saturating_mul(64) + 4096).max(MAX_CLIENT_MESSAGE_BYTES);
    ws.max_message_size(max_message)
        .max_frame_size(max_message)
        // Unsent events are held per client up to this, then the client is
        // dropped (sends also time out, below).
        .max_write_buffer_size(MAX_WRITE_BUFFER_BYTES)
        .on_upgrade(move |socket| serve(socket, state, filter))
}

/// Largest message or frame a client may send, at the least.
const MAX_CLIENT_MESSAGE_BYTES: usize = 64 * 1024;

/// Most bytes queued for one client that has stopped reading.
const MAX_WRITE_BUFFER_BYTES: usize = 1 << 20;

/// How long one send may wait for a client to read; a client slower than
/// this is disconnected rather than holding its events in memory.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

async fn serve(mut socket: WebSocket, state: Arc<AppState>, filter: Result<Filter, String>) {
    let mut filter = match filter {
        Ok(f) => f,
        Err(message) => {
            let _ = send_json(&mut socket, json!({"type": "error", "message": message})).await;
            let _ = socket.send(Message::Close(None)).await;
            return;
        }
    };
    let mut events = state.events.subscribe();
    if send_json(&mut socket, subscribed(&filter)).await.is_err() {
        return;
    }
    let mut ping = tokio::time::interval(Duration::from_secs(30));
    ping.tick().await;
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => {
                    if filter.wants(&event) {
                        let mut body = serde_json::to_value(&*event).unwrap_or_default();
                        body["type"] = json!("job");
                        if send_json(&mut socket, body).await.is_err() {
                            return;
                        }
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    debug!(missed, "WebSocket client lagged; asking it to resync");
                    if send_json(&mut socket, json!({"type": "resync", "missed": missed})).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    match serde_json::from_str::<ClientMessage>(text.as_str()) {
                        Ok(ClientMessage::Subscribe { all, queues, jobs, runs }) => {
                            let wanted = if all {
                                Filter::default()
                            } else {
                                Filter {
                                    queues: queues.into_iter().collect(),
                                    jobs: jobs.into_iter().collect(),
                                    runs: runs.into_iter().collect(),
                                }
                            };
                            let limit = state.config.max_ws_subscriptions;
                            let reply = if wanted.len() > limit {
                                // Refused whole; the previous subscription stays.
                                json!({"type": "error", "code": "too_many_subscriptions", "limit": limit,
                                       "message": format!("{} subscriptions is more than the limit of {limit}", wanted.len())})
                            } else {
                                filter = wanted;
                                subscribed(&filter)
                            };
                            if send_json(&mut socket, reply).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            let message = format!("unreadable message: {e}");
                            if send_json(&mut socket, json!({"type": "error", "message": message})).await.is_err() {
                                return;
                            }
                        }
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => {
                if send(&mut socket, Message::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
        }
    }
}

fn subscribed(filter: &Filter) -> serde_json::Value {
    json!({
        "type": "subscribed",
        "all": filter.is_all(),
        "queues": filter.queues,
        "jobs": filter.jobs,
        "runs": filter.runs,
    })
}

async fn send_json(socket: &mut WebSocket, value: serde_json::Value) -> Result<(), axum::Error> {
    send(socket, Message::Text(value.to_string().into())).await
}

/// Sends within [`SEND_TIMEOUT`]; a client that does not read in that time is
/// answered with an error, and its connection ends.
async fn send(socket: &mut WebSocket, message: Message) -> Result<(), axum::Error> {
    match tokio::time::timeout(SEND_TIMEOUT, socket.send(message)).await {
        Ok(sent) => sent,
        Err(_) => {
            debug!("WebSocket client too slow to read; disconnecting it");
            Err(axum::Error::new("the client did not read in time"))
        }
    }
}
