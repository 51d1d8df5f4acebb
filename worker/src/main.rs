//! `conveyor-worker`: run jobs. `conveyor-worker healthcheck` exits 0 when the
//! heartbeat file was touched recently (30 s, or one lease if longer), for
//! container healthchecks.

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use conveyor_shared::config::{ProcessEnv, WorkerConfig};
use conveyor_shared::telemetry;
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    let config = match WorkerConfig::from_env(&ProcessEnv) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("conveyor-worker: {e}");
            return ExitCode::from(2);
        }
    };
    if std::env::args().nth(1).as_deref() == Some("healthcheck") {
        return healthcheck(&config);
    }
    telemetry::init(config.common.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("conveyor-worker: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let shutdown = CancellationToken::new();
        tokio::spawn(stop_on_signal(shutdown.clone()));
        let registry = conveyor_worker::builtin_registry(&config);
        match conveyor_worker::run(config, registry, shutdown).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("conveyor-worker: {e:#}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Cancels `shutdown` at the first SIGTERM or SIGINT.
async fn stop_on_signal(shutdown: CancellationToken) {
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop with SIGKILL");
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
    shutdown.cancel();
}

fn healthcheck(config: &WorkerConfig) -> ExitCode {
    let Some(path) = &config.heartbeat_file else {
        eprintln!("healthcheck: WORKER_HEARTBEAT_FILE is not set");
        return ExitCode::FAILURE;
    };
    // The heartbeat runs every third of a lease; allow two missed beats.
    let limit = Duration::from_secs(30).max(config.lease);
    let fresh = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age < limit);
    let unhealthy = std::fs::read_to_string(path)
        .ok()
        .filter(|text| text.starts_with(conveyor_worker::UNHEALTHY));
    if let Some(text) = unhealthy {
        eprintln!("healthcheck: {}", text.trim());
        ExitCode::FAILURE
    } else if fresh {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "healthcheck: no heartbeat in {} for {} s",
            path.display(),
            limit.as_secs()
        );
        ExitCode::FAILURE
    }
}
