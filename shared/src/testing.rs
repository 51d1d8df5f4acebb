//! Test support: each test gets its own database and Redis key prefix on the
//! machine's real PostgreSQL and Redis, so tests run in parallel.

use std::collections::HashMap;
use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, PgPool};
use uuid::Uuid;

use crate::config::{ApiConfig, WorkerConfig};
use crate::db;

/// A fresh database (migrated) and Redis prefix. Call [`TestEnv::cleanup`] at
/// the end of a test to drop them; a failing test leaves them for inspection.
pub struct TestEnv {
    pub database_url: String,
    pub redis_url: String,
    pub prefix: String,
    pub pool: PgPool,
    admin_url: String,
    db_name: String,
}

impl TestEnv {
    /// Uses `DATABASE_URL` (any database on the server; default the local
    /// `postgres`) and `REDIS_URL` from the environment.
    pub async fn new() -> Self {
        let admin_url = std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let redis_url =
            std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let id = Uuid::new_v4().simple().to_string();
        let db_name = format!("conveyor_test_{}", &id[..16]);
        let options = PgConnectOptions::from_str(&admin_url)
            .expect("DATABASE_URL")
            .database(&db_name);
        let database_url = options.to_url_lossy().to_string();
        let pool = db::connect_and_migrate(&database_url, 5)
            .await
            .expect("create and migrate the test database");
        Self {
            database_url,
            redis_url,
            prefix: format!("ctest:{}", &id[..16]),
            pool,
            admin_url,
            db_name,
        }
    }

    /// Environment variables that point a binary at this test's database and prefix.
    pub fn env(&self) -> HashMap<String, String> {
        HashMap::from([
            ("DATABASE_URL".into(), self.database_url.clone()),
            ("REDIS_URL".into(), self.redis_url.clone()),
            ("REDIS_PREFIX".into(), self.prefix.clone()),
            // Worker processes of parallel tests must not share port 9464.
            ("WORKER_METRICS_ADDR".into(), "127.0.0.1:0".into()),
            // Tests serve their HTTP targets on loopback, which outbound
            // requests refuse unless allowed; tests of that pass "".
            ("OUTBOUND_ALLOW".into(), "127.0.0.0/8,::1".into()),
        ])
    }

    pub fn api_config(&self, extra: &[(&str, &str)]) -> ApiConfig {
        let mut env = self.env();
        env.insert("LISTEN_ADDR".into(), "127.0.0.1:0".into());
        env.insert("FRONTEND_DIR".into(), "/nonexistent".into());
        for (k, v) in extra {
            env.insert(k.to_string(), v.to_string());
        }
        ApiConfig::from_env(&env).expect("api config")
    }

    pub fn worker_config(&self, extra: &[(&str, &str)]) -> WorkerConfig {
        let mut env = self.env();
        env.insert("WORKER_ALLOW_SHELL".into(), "1".into());
        env.insert("WORKER_LEASE_SECS".into(), "3".into());
        for (k, v) in extra {
            env.insert(k.to_string(), v.to_string());
        }
        WorkerConfig::from_env(&env).expect("worker config")
    }

    /// Drops the database and deletes the Redis keys of this test.
    pub async fn cleanup(self) {
        self.pool.close().await;
        if let Ok(mut admin) = PgConnectOptions::from_str(&self.admin_url)
            .expect("DATABASE_URL")
            .connect()
            .await
        {
            let _ = sqlx::query(&format!(
                "drop database if exists \"{}\" with (force)",
                self.db_name
            ))
            .execute(&mut admin)
            .await;
        }
        if let Ok(client) = redis::Client::open(self.redis_url.as_str()) {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await {
                let keys: Vec<String> = redis::cmd("KEYS")
                    .arg(format!("{}:*", self.prefix))
                    .query_async(&mut conn)
                    .await
                    .unwrap_or_default();
                if !keys.is_empty() {
                    let _: Result<(), _> = redis::cmd("DEL").arg(keys).query_async(&mut conn).await;
                }
            }
        }
    }
}

/// A TCP proxy that a test can cut, to stand in for an outage of Postgres or
/// Redis without touching the shared servers: while down, every open
/// connection is dropped and new ones are closed at once.
pub struct Proxy {
    pub addr: std::net::SocketAddr,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    conns: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free port of 127.0.0.1 and forwards to `target`.
    pub async fn start(target: std::net::SocketAddr) -> Self {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let conns = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (up2, conns2) = (up.clone(), conns.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                conns2.lock().unwrap_or_else(|e| e.into_inner()).push(task);
            }
        });
        Self {
            addr,
            up,
            conns,
            accept,
        }
    }

    /// Drops every connection and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        for task in self
            .conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            task.abort();
        }
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// `url` (postgres:// or redis://) with its host and port replaced by this proxy's.
    pub fn url_for(&self, url: &str) -> String {
        let mut parsed = url::Url::parse(url).expect("url");
        parsed.set_host(Some("127.0.0.1")).expect("host");
        parsed.set_port(Some(self.addr.port())).expect("port");
        parsed.to_string()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

impl TestEnv {
    /// The address of the Postgres server of this environment.
    pub fn postgres_addr(&self) -> std::net::SocketAddr {
        addr_of(&self.database_url, 5432)
    }

    /// The address of the Redis server of this environment.
    pub fn redis_addr(&self) -> std::net::SocketAddr {
        addr_of(&self.redis_url, 6379)
    }

    /// Deletes every Redis key of this test: what FLUSHALL does to a shared
    /// Redis, without disturbing other tests.
    pub async fn flush_redis(&self) {
        let client = redis::Client::open(self.redis_url.as_str()).expect("redis url");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("redis");
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", self.prefix))
            .query_async(&mut conn)
            .await
            .expect("keys");
        if !keys.is_empty() {
            redis::cmd("DEL")
                .arg(keys)
                .query_async::<()>(&mut conn)
                .await
                .expect("del");
        }
    }
}

fn addr_of(url: &str, default_port: u16) -> std::net::SocketAddr {
    use std::net::ToSocketAddrs;
    let parsed = url::Url::parse(url).expect("url");
    let host = parsed.host_str().unwrap_or("127.0.0.1").to_owned();
    let port = parsed.port().unwrap_or(default_port);
    (host.as_str(), port)
        .to_socket_addrs()
        .expect("resolve")
        .next()
        .expect("an address")
}
