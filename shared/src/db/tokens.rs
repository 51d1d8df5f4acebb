//! `api_tokens` and `api_sessions`: who may call the api.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{self, Scope};

/// A token as listed; its secret is never stored, only its hash.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Token {
    pub id: Uuid,
    pub name: String,
    pub scope: Scope,
    /// The first characters of the secret (`cvr_ab12cd`).
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Who a valid token or session belongs to.
#[derive(Debug, Clone)]
pub struct Holder {
    pub token_id: Uuid,
    pub name: String,
    pub scope: Scope,
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: Uuid,
    name: String,
    scope: String,
    prefix: String,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl TokenRow {
    fn into_token(self) -> sqlx::Result<Token> {
        Ok(Token {
            scope: parse_scope(&self.scope)?,
            id: self.id,
            name: self.name,
            prefix: self.prefix,
            created_at: self.created_at,
            last_used_at: self.last_used_at,
            revoked_at: self.revoked_at,
        })
    }
}

fn parse_scope(raw: &str) -> sqlx::Result<Scope> {
    raw.parse()
        .map_err(|e: String| sqlx::Error::Decode(e.into()))
}

/// Creates a token and returns it with its secret, which is not kept.
pub async fn create(pool: &PgPool, name: &str, scope: Scope) -> sqlx::Result<(Token, String)> {
    let secret = auth::generate_secret(auth::TOKEN_PREFIX);
    let row: TokenRow = sqlx::query_as(
        "insert into api_tokens (id, name, scope, secret_hash, prefix)
         values ($1, $2, $3, $4, $5)
         returning id, name, scope, prefix, created_at, last_used_at, revoked_at",
    )
    .bind(Uuid::now_v7())
    .bind(name)
    .bind(scope.as_str())
    .bind(auth::hash_secret(&secret))
    .bind(auth::shown_prefix(&secret))
    .fetch_one(pool)
    .await?;
    Ok((row.into_token()?, secret))
}

/// Every token, newest first, revoked ones included.
pub async fn list(pool: &PgPool) -> sqlx::Result<Vec<Token>> {
    let rows: Vec<TokenRow> = sqlx::query_as(
        "select id, name, scope, prefix, created_at, last_used_at, revoked_at
         from api_tokens order by created_at desc, id desc",
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(TokenRow::into_token).collect()
}

/// Revokes a token (its sessions end with it). `None` when there is no such
/// token; revoking twice keeps the first time.
pub async fn revoke(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<Token>> {
    let row: Option<TokenRow> = sqlx::query_as(
        "update api_tokens set revoked_at = coalesce(revoked_at, now()) where id = $1
         returning id, name, scope, prefix, created_at, last_used_at, revoked_at",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.map(TokenRow::into_token).transpose()
}

#[derive(sqlx::FromRow)]
struct HolderRow {
    id: Uuid,
    name: String,
    scope: String,
    last_used_at: Option<DateTime<Utc>>,
}

impl HolderRow {
    fn into_holder(self) -> sqlx::Result<Holder> {
        Ok(Holder {
            scope: parse_scope(&self.scope)?,
            token_id: self.id,
            name: self.name,
            last_used_at: self.last_used_at,
        })
    }
}

/// The holder of an unrevoked token with this secret.
pub async fn find_by_secret(pool: &PgPool, secret: &str) -> sqlx::Result<Option<Holder>> {
    let row: Option<HolderRow> = sqlx::query_as(
        "select id, name, scope, last_used_at from api_tokens
         where secret_hash = $1 and revoked_at is null",
    )
    .bind(auth::hash_secret(secret))
    .fetch_optional(pool)
    .await?;
    row.map(HolderRow::into_holder).transpose()
}

/// Records that a token was used, at most once a minute per token, so a busy
/// client does not turn every read into a write.
pub async fn touch(pool: &PgPool, token_id: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "update api_tokens set last_used_at = now()
         where id = $1 and (last_used_at is null or last_used_at < now() - interval '1 minute')",
    )
    .bind(token_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Opens a browser session for a token; returns the session secret for the
/// cookie (only its hash is stored).
pub async fn create_session(
    pool: &PgPool,
    token_id: Uuid,
    ttl: std::time::Duration,
) -> sqlx::Result<String> {
    let secret = auth::generate_secret("");
    sqlx::query(
        "insert into api_sessions (id_hash, token_id, expires_at)
         values ($1, $2, now() + make_interval(secs => $3))",
    )
    .bind(auth::hash_secret(&secret))
    .bind(token_id)
    .bind(ttl.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(secret)
}

/// The holder of a live session whose token is not revoked.
pub async fn find_session(pool: &PgPool, secret: &str) -> sqlx::Result<Option<Holder>> {
    let row: Option<HolderRow> = sqlx::query_as(
        "select t.id, t.name, t.scope, t.last_used_at
         from api_sessions s join api_tokens t on t.id = s.token_id
         where s.id_hash = $1 and s.expires_at > now() and t.revoked_at is null",
    )
    .bind(auth::hash_secret(secret))
    .fetch_optional(pool)
    .await?;
    row.map(HolderRow::into_holder).transpose()
}

/// Ends a session (signing out).
pub async fn delete_session(pool: &PgPool, secret: &str) -> sqlx::Result<()> {
    sqlx::query("delete from api_sessions where id_hash = $1")
        .bind(auth::hash_secret(secret))
        .execute(pool)
        .await?;
    Ok(())
}

/// Deletes expired sessions, at most `limit`; returns how many.
pub async fn delete_expired_sessions(pool: &PgPool, limit: i64) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "delete from api_sessions where id_hash in (
             select id_hash from api_sessions where expires_at < now() limit $1)",
    )
    .bind(limit)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
