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

/// What a [`Proxy`] does to the traffic it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forwards both ways.
    Pass,
    /// Holds every byte (new connections too) and delivers it once the
    /// proxy passes again: a server that stalls, or a network that drops
    /// packets for a while and retransmits.
    Pause,
    /// Accepts connections and reads, never forwards or answers: a peer
    /// that went silent without closing anything (a dead host, a dropped NAT
    /// entry). Connections that saw the blackhole stay silent after it ends
    /// (until a cut): only a client with its own timeouts notices; new
    /// connections pass again.
    Blackhole,
    /// Closes every connection at once and closes new ones as they come: a
    /// server that went away.
    Cut,
}

/// A TCP proxy between a binary under test and Postgres or Redis, to stand
/// in for an outage without touching the shared servers. Switched at run
/// time with [`Proxy::set`] (or [`Proxy::cut`], [`Proxy::pause`],
/// [`Proxy::blackhole`], [`Proxy::restore`]). Dropping it cuts everything.
pub struct Proxy {
    pub addr: std::net::SocketAddr,
    /// The current fault and how many cuts there have been: a connection
    /// closes at the first cut after its start, even one followed at once
    /// by a restore.
    mode: tokio::sync::watch::Sender<(Fault, u64)>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free port of 127.0.0.1 and forwards to `target`.
    pub async fn start(target: std::net::SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let (mode, watcher) = tokio::sync::watch::channel((Fault::Pass, 0u64));
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let mode = watcher.clone();
                if mode.borrow().0 == Fault::Cut {
                    drop(inbound);
                    continue;
                }
                tokio::spawn(proxy_connection(inbound, target, mode));
            }
        });
        Self { addr, mode, accept }
    }

    /// Switches what the proxy does from now on.
    pub fn set(&self, fault: Fault) {
        self.mode.send_modify(|(now, cuts)| {
            *now = fault;
            if fault == Fault::Cut {
                *cuts += 1;
            }
        });
    }

    /// Drops every connection and refuses new ones.
    pub fn cut(&self) {
        self.set(Fault::Cut);
    }

    /// Holds all traffic until [`Proxy::restore`].
    pub fn pause(&self) {
        self.set(Fault::Pause);
    }

    /// Swallows all traffic; connections alive meanwhile stay silent.
    pub fn blackhole(&self) {
        self.set(Fault::Blackhole);
    }

    /// Forwards again (held bytes of a pause are delivered).
    pub fn restore(&self) {
        self.set(Fault::Pass);
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

type Mode = tokio::sync::watch::Receiver<(Fault, u64)>;

/// Waits while the proxy pauses. Returns whether the connection may go on
/// (false: it was cut since `born`, the cut count at its start). A
/// connection that sees a blackhole waits here until the proxy cuts it.
async fn wait_while_held(mode: &mut Mode, born: u64) -> bool {
    let mut silent = false;
    loop {
        let (now, cuts) = *mode.borrow_and_update();
        if cuts != born || now == Fault::Cut {
            return false;
        }
        match now {
            Fault::Pass if !silent => return true,
            Fault::Blackhole => silent = true,
            _ => {}
        }
        if mode.changed().await.is_err() {
            return false;
        }
    }
}

/// One client connection: connects to `target` once the proxy lets it, then
/// pumps both ways until either side closes or the proxy cuts it.
async fn proxy_connection(
    inbound: tokio::net::TcpStream,
    target: std::net::SocketAddr,
    mut mode: Mode,
) {
    let born = mode.borrow().1;
    if !wait_while_held(&mut mode, born).await {
        return;
    }
    let Ok(outbound) = tokio::net::TcpStream::connect(target).await else {
        return;
    };
    let (client_read, client_write) = inbound.into_split();
    let (server_read, server_write) = outbound.into_split();
    tokio::select! {
        _ = pump(client_read, server_write, mode.clone(), born) => {}
        _ = pump(server_read, client_write, mode, born) => {}
    }
}

/// Copies `from` to `to` while the proxy passes; see [`Fault`].
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: Mode,
    born: u64,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            changed = mode.changed() => {
                if changed.is_err() {
                    return;
                }
                let (now, cuts) = *mode.borrow_and_update();
                if cuts != born || now == Fault::Cut {
                    return;
                }
                if now == Fault::Blackhole {
                    // Silent from now on, until cut.
                    let _ = wait_while_held(&mut mode, born).await;
                    return;
                }
                continue;
            }
        };
        if !wait_while_held(&mut mode, born).await {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
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
