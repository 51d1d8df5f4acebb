//! Postgres access. Every SQL statement of the project lives in this module.

pub mod claims;
pub mod definitions;
pub mod housekeeping;
pub mod jobs;
pub mod kinds;
pub mod queues;
pub mod schedules;
pub mod stats;
pub mod tokens;
pub mod webhooks;
pub mod workers;
pub mod workflows;

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

/// The migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Connects to `url`, creating the database when it does not exist, and
/// applies the migrations. Safe when several processes start at once: sqlx
/// takes an advisory lock around migrations, and a concurrent CREATE DATABASE
/// is recognised and ignored.
pub async fn connect_and_migrate(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    connect_and_migrate_within(url, max_connections, Duration::ZERO, Duration::ZERO).await
}

/// [`connect_and_migrate`], waiting up to `patience` for a Postgres that is
/// not reachable yet (starting alongside us); other errors fail at once.
/// Statements of the pool's connections are cancelled by the server after
/// `statement_timeout` (zero: no limit); migrations are not limited.
pub async fn connect_and_migrate_within(
    url: &str,
    max_connections: u32,
    patience: Duration,
    statement_timeout: Duration,
) -> anyhow::Result<PgPool> {
    let started = std::time::Instant::now();
    let mut wait = Duration::from_millis(250);
    loop {
        match connect_once(url, max_connections, statement_timeout).await {
            Ok(pool) => return Ok(pool),
            Err(e) if started.elapsed() + wait < patience && is_unreachable(&e) => {
                tracing::warn!(error = %format!("{e:#}"), "waiting for Postgres");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(2));
            }
            Err(e) => return Err(e),
        }
    }
}

fn is_unreachable(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<sqlx::Error>())
        .any(is_unavailable)
}

async fn connect_once(
    url: &str,
    max_connections: u32,
    statement_timeout: Duration,
) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(url).context("DATABASE_URL is not a valid URL")?;
    create_database_if_missing(&options).await?;
    let cannot_connect = || {
        format!(
            "cannot connect to DATABASE_URL ({})",
            crate::secrets::redact_url(url)
        )
    };
    // Migrations may take long on a large table: their own connection, with
    // no statement timeout.
    let migrating = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options.clone())
        .await
        .with_context(cannot_connect)?;
    MIGRATOR
        .run(&migrating)
        .await
        .context("applying database migrations")?;
    migrating.close().await;
    let options = if statement_timeout.is_zero() {
        options
    } else {
        options.options([(
            "statement_timeout",
            format!("{}ms", statement_timeout.as_millis()),
        )])
    };
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(3))
        // No PING before each use (a round trip per query): a connection
        // that broke while idle fails its next query, which the callers
        // already handle as the database being unavailable.
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .with_context(cannot_connect)?;
    Ok(pool)
}

/// A small pool beside `pool`, to the same database with the same settings,
/// whose connections always use a statement's generic plan
/// (`plan_cache_mode = force_generic_plan`), for the worker's claim and
/// finish. Their plans are the same whatever the batch (a probe of the
/// primary key per id; `docs/performance.md`, "Claims and finishes planned
/// once"), but PostgreSQL's choice between a custom and the generic plan
/// replans them at every call when batches are small: 0.2–0.4 ms each, as
/// much as the statement itself. Other statements keep the default, where a
/// custom plan can matter (ranges, sizes).
///
/// A generic plan is made once per connection, from the table's size at
/// that moment, and kept until the table is next analyzed: made while
/// `jobs` was nearly empty (a new database; for good where autovacuum is
/// off) it read the whole table at every later call. These connections
/// therefore also refuse sequential scans (`enable_seqscan = off`): both
/// statements name their rows by primary key, so a probe of the key is
/// right at any size. A scan that has no
/// other way (a tiny table such as `webhooks`, read by a trigger) is then
/// costed as "disabled", far past `jit_above_cost`, and compiled by the
/// JIT at every execution (~130 ms each, measured): so no JIT here either
/// (`jit = off`). Connects lazily.
pub fn generic_plan_pool(pool: &PgPool, max_connections: u32) -> PgPool {
    let options = (*pool.connect_options()).clone().options([
        ("plan_cache_mode", "force_generic_plan"),
        ("enable_seqscan", "off"),
        ("jit", "off"),
    ]);
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(3))
        .test_before_acquire(false)
        .connect_lazy_with(options)
}

/// One connection of a pool, kept by a task that uses it again and again
/// (the claim loop, the finisher) instead of taking it from the pool for
/// each statement: `sqlx` sends a round trip (a ping) whenever a connection
/// goes back to its pool, which is a wake-up of the server, of the client
/// and of a task per statement. Dropped after an error, so a broken
/// connection is never kept; the next use takes a fresh one.
pub struct Held {
    pool: PgPool,
    conn: Option<sqlx::pool::PoolConnection<sqlx::Postgres>>,
}

impl Held {
    pub fn new(pool: PgPool) -> Self {
        Self { pool, conn: None }
    }

    /// The kept connection, taken from the pool first if there is none.
    pub async fn conn(&mut self) -> sqlx::Result<&mut sqlx::PgConnection> {
        let conn = match self.conn.take() {
            Some(conn) => conn,
            None => self.pool.acquire().await?,
        };
        Ok(&mut **self.conn.insert(conn))
    }

    /// Gives the connection up (after an error): it goes back to the pool,
    /// which closes it if it is broken.
    pub fn release(&mut self) {
        self.conn = None;
    }
}

async fn create_database_if_missing(options: &PgConnectOptions) -> anyhow::Result<()> {
    let Some(name) = options.get_database().map(str::to_owned) else {
        return Ok(());
    };
    match options.connect().await {
        Ok(conn) => {
            let _ = conn.close().await;
            return Ok(());
        }
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("3D000") => {}
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!(
                "cannot connect to DATABASE_URL (postgres at {}:{})",
                options.get_host(),
                options.get_port()
            )))
        }
    }
    let mut admin = options
        .clone()
        .database("postgres")
        .connect()
        .await
        .context("connecting to the postgres database to create ours")?;
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    match sqlx::query(&format!("create database {quoted}"))
        .execute(&mut admin)
        .await
    {
        Ok(_) => tracing::info!(database = %name, "created database"),
        // 42P04: already exists; 23505: another process created it at the same moment.
        Err(sqlx::Error::Database(e)) if matches!(e.code().as_deref(), Some("42P04" | "23505")) => {
        }
        Err(e) => return Err(anyhow::Error::new(e).context(format!("creating database {name}"))),
    }
    let _ = admin.close().await;
    Ok(())
}

/// Whether an error means Postgres is unreachable or going away (so the
/// request may succeed later), rather than a fault of the request.
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        sqlx::Error::Tls(_) | sqlx::Error::WorkerCrashed => true,
        // 08: connection exceptions; 57P: operator intervention (shutdown, restart).
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    }
}

/// Whether PostgreSQL refused a value itself (SQLSTATE class 22, data
/// exception: a NUL in `text` or `jsonb`, an invalid byte sequence, a number
/// out of range). Retrying the same statement can never succeed.
pub fn is_data_exception(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db.code().is_some_and(|c| c.starts_with("22")),
        _ => false,
    }
}
