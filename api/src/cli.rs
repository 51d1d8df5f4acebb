//! `conveyor-api token …`: create, list, revoke and check API tokens without
//! a running api (the first admin token has to come from somewhere).

use std::io::Read;
use std::process::ExitCode;

use clap::Subcommand;
use conveyor_shared::auth::Scope;
use conveyor_shared::config::ApiConfig;
use conveyor_shared::db::{self, tokens};

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print its secret (on stdout, once; keep it).
    Create {
        /// read, submit or admin.
        #[arg(long, value_parser = parse_scope)]
        scope: Scope,
        /// Who or what uses it.
        #[arg(long)]
        name: String,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by id: it stops working at once.
    Revoke { id: uuid::Uuid },
    /// Read a secret on stdin; exit 0 if it is a valid, unrevoked token.
    Verify,
}

fn parse_scope(raw: &str) -> Result<Scope, String> {
    raw.parse()
}

/// Runs a token command; messages go to stderr, the secret alone to stdout.
pub async fn token(config: &ApiConfig, command: TokenCommand) -> ExitCode {
    match run(config, command).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("conveyor-api: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: &ApiConfig, command: TokenCommand) -> anyhow::Result<ExitCode> {
    let pool = db::connect_and_migrate_within(
        &config.common.database_url,
        2,
        config.common.startup_timeout,
        config.common.db_statement_timeout,
    )
    .await?;
    match command {
        TokenCommand::Create { scope, name } => {
            let name = name.trim();
            if name.is_empty() || name.chars().count() > 100 {
                eprintln!("conveyor-api: --name must be 1 to 100 characters");
                return Ok(ExitCode::from(2));
            }
            let (token, secret) = tokens::create(&pool, name, scope).await?;
            eprintln!(
                "created token {} ({}, scope {}); its secret is shown only now:",
                token.id, token.name, token.scope
            );
            println!("{secret}");
        }
        TokenCommand::List => {
            println!(
                "{:<36}  {:<6}  {:<10}  {:<20}  NAME",
                "ID", "SCOPE", "PREFIX", "STATE"
            );
            for t in tokens::list(&pool).await? {
                let state = match (t.revoked_at, t.last_used_at) {
                    (Some(at), _) => format!("revoked {}", at.format("%Y-%m-%d")),
                    (None, Some(at)) => format!("used {}", at.format("%Y-%m-%d %H:%M")),
                    (None, None) => "never used".into(),
                };
                println!(
                    "{:<36}  {:<6}  {:<10}  {:<20}  {}",
                    t.id, t.scope, t.prefix, state, t.name
                );
            }
        }
        TokenCommand::Revoke { id } => match tokens::revoke(&pool, id).await? {
            Some(t) => eprintln!("revoked token {} ({})", t.id, t.name),
            None => {
                eprintln!("conveyor-api: no token {id}");
                return Ok(ExitCode::FAILURE);
            }
        },
        TokenCommand::Verify => {
            let mut secret = String::new();
            std::io::stdin()
                .read_to_string(&mut secret)
                .map_err(|e| anyhow::anyhow!("reading the token on stdin: {e}"))?;
            if tokens::find_by_secret(&pool, secret.trim())
                .await?
                .is_none()
            {
                eprintln!("conveyor-api: the token is not valid, or was revoked");
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
