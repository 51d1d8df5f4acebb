//! `conveyor-api`: parse configuration, start tracing, serve until SIGTERM/SIGINT.
//! `conveyor-api token …` manages API tokens from the command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use conveyor_shared::config::{ApiConfig, ProcessEnv};
use conveyor_shared::telemetry;
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

/// Conveyor's api: REST, WebSocket and the dashboard. Configured by
/// environment variables (see the README); with no command it serves.
#[derive(Parser)]
#[command(name = "conveyor-api", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP on LISTEN_ADDR (the default).
    Serve,
    /// Manage API tokens in the database named by DATABASE_URL.
    #[command(subcommand)]
    Token(conveyor_api::cli::TokenCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match ApiConfig::from_env(&ProcessEnv) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("conveyor-api: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(config.common.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("conveyor-api: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Some(Command::Token(command)) => {
            runtime.block_on(conveyor_api::cli::token(&config, command))
        }
        Some(Command::Serve) | None => runtime.block_on(serve(config)),
    }
}

async fn serve(config: ApiConfig) -> ExitCode {
    let listener = match tokio::net::TcpListener::bind(config.listen_addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "conveyor-api: cannot listen on LISTEN_ADDR={}: {e}",
                config.listen_addr
            );
            return ExitCode::FAILURE;
        }
    };
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    match conveyor_api::run(config, listener, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("conveyor-api: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn stop_on_signal(shutdown: CancellationToken) {
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers");
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!("shutting down");
    shutdown.cancel();
}
