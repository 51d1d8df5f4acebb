//! The Conveyor api: REST under `/api/v1`, the WebSocket at `/api/v1/ws`,
//! health checks, the OpenAPI document with Swagger UI, and the dashboard.
//! Holds no state of its own; run as many copies as you like.

mod auth;
pub mod cli;
mod dashboard;
mod deadline;
mod error;
mod extract;
mod limits;
mod metrics;
mod openapi;
mod routes;
mod state;
mod submitter;
mod token_lookup;
mod ws;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, Method};
use axum::Router;
use conveyor_shared::clock::Clock;
use conveyor_shared::config::{ApiConfig, CorsOrigins};
use conveyor_shared::db;
use conveyor_shared::queue::RedisQueue;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

pub use error::ApiError;
pub use state::AppState;

/// Connects to Postgres (creating the database and applying migrations) and
/// Redis, then serves on `listener` until `shutdown` is cancelled.
pub async fn run(
    config: ApiConfig,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let pool = db::connect_and_migrate_within(
        &config.common.database_url,
        config.common.db_max_connections,
        config.common.startup_timeout,
        config.common.db_statement_timeout,
    )
    .await?;
    let queue = RedisQueue::new(&config.common.redis_url, &config.common.redis_prefix, 32)?;
    if let Err(e) = queue.ping().await {
        // Jobs are accepted into Postgres and reach Redis when it returns.
        tracing::warn!(error = %format!("{e:#}"), redis = %conveyor_shared::secrets::redact_url(&config.common.redis_url),
                       "Redis is unreachable; starting degraded");
    } else {
        vouch_for_redis(&pool, &queue).await;
    }
    if config.auth_disabled {
        tracing::warn!(
            "AUTH_DISABLED is set: anyone who can reach this port has admin rights; \
             use it only for local experiments"
        );
    }
    let state = AppState::new(config, pool, queue, Clock::system());
    let relay = tokio::spawn(ws::relay(state.clone(), shutdown.clone()));
    // Serve once the relay listens, so no event published after start-up is missed.
    let _ = tokio::time::timeout(Duration::from_secs(5), state.relay_ready()).await;
    let addr = listener
        .local_addr()
        .context("reading the listening address")?;
    tracing::info!(%addr, "api listening");
    // A make-service: the router is turned into its per-route services once.
    // Served as a bare `Router`, axum does that again for every connection
    // (`Router::with_state` on a clone shared with the server, so a deep
    // copy of every route and its layers): ~2 MB a connection, 146 MB of
    // RSS for 64 keep-alive clients.
    axum::serve(listener, router(state).into_make_service())
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await
        .context("serving HTTP")?;
    shutdown.cancel();
    let _ = relay.await;
    Ok(())
}

/// Tells the workers' leader that Redis lacks no job, when PostgreSQL holds
/// none that is live. Without its sentinel (a fresh install, or a Redis that
/// lost its data) the first leader rebuilds Redis from every waiting job,
/// and on a fresh install those are the jobs this api submitted, already in
/// Redis: a backlog of 200,000 cost PostgreSQL 2 s of reading at the start of
/// the drain. Best effort: without it, the rebuild happens as before.
async fn vouch_for_redis(pool: &sqlx::PgPool, queue: &RedisQueue) {
    // Real time, taken before looking: the reconciler compares it with the
    // time in job ids, which come from the real clock.
    let from = chrono::Utc::now();
    let vouched = match db::housekeeping::nothing_live(pool).await {
        Ok(true) => queue.vouch_for_nothing_live(from).await,
        Ok(false) => return,
        Err(e) => Err(e.into()),
    };
    match vouched {
        Ok(true) => tracing::info!("no live job in Postgres: Redis marked as complete"),
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %format!("{e:#}"), "could not mark Redis as complete"),
    }
}

/// Every route, with the layers they share.
pub fn router(state: Arc<AppState>) -> Router {
    let body_limit = state.config.max_body_bytes;
    let api = routes::api_v1().layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::authenticate,
    ));
    let cors = cors_layer(state.config.cors_origins.as_ref());
    Router::new()
        .nest("/api/v1", api)
        .merge(routes::health::router())
        .merge(metrics::router())
        .merge(openapi::router())
        .merge(dashboard::router(&state.config.frontend_dir))
        .layer(axum::middleware::from_fn(extract::refuse_nul))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limits::limit_body,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            deadline::limit,
        ))
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(TraceLayer::new_for_http())
        .layer(cors)
        .with_state(state)
}

/// CORS for other origins' pages (off unless `CORS_ORIGINS` is set). Browsers
/// on those origins send tokens in `Authorization`; the session cookie is
/// SameSite=Strict and never crosses sites.
fn cors_layer(
    origins: Option<&CorsOrigins>,
) -> tower::util::Either<CorsLayer, tower::layer::util::Identity> {
    let Some(origins) = origins else {
        return tower::util::Either::Right(tower::layer::util::Identity::new());
    };
    let allow = match origins {
        CorsOrigins::Any => AllowOrigin::any(),
        CorsOrigins::List(list) => AllowOrigin::list(
            list.iter()
                .filter_map(|o| axum::http::HeaderValue::from_str(o).ok()),
        ),
    };
    tower::util::Either::Left(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .max_age(Duration::from_secs(600)),
    )
}
