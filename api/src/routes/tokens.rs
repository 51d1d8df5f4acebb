//! `/tokens`: API tokens (admin only). A token's secret is answered once,
//! when it is created; only its hash is kept.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use conveyor_shared::auth::Scope;
use conveyor_shared::db::tokens::{self, Token};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::routes::parse_id;
use crate::state::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/tokens", get(list).post(create))
        .route("/tokens/{id}", delete(revoke))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<Token>,
}

/// A token to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// A label for people: who or what uses it (1-100 characters).
    pub name: String,
    /// `read`, `submit` or `admin`.
    pub scope: String,
}

/// A created token and its secret, which is not shown again.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    pub token: Token,
    /// Send as `Authorization: Bearer <secret>`. Shown only now.
    pub secret: String,
}

/// List tokens, newest first, revoked ones included (never their secrets).
#[utoipa::path(operation_id = "tokens_list", get, path = "/api/v1/tokens", tag = "tokens",
    responses((status = 200, description = "Every token", body = TokenList)))]
pub async fn list(State(state): State<Arc<AppState>>) -> Result<Json<TokenList>, ApiError> {
    Ok(Json(TokenList {
        tokens: tokens::list(&state.pool).await?,
    }))
}

/// Create a token. The answer holds its secret, shown this once.
#[utoipa::path(operation_id = "tokens_create", post, path = "/api/v1/tokens", tag = "tokens",
    request_body = NewToken,
    responses(
        (status = 201, description = "Created; the secret is shown once", body = CreatedToken),
        (status = 422, description = "A field is invalid", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    ApiJson(spec): ApiJson<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let name = spec.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::field("name", "must be 1 to 100 characters"));
    }
    let scope: Scope = spec
        .scope
        .parse()
        .map_err(|e: String| ApiError::field("scope", e))?;
    let (token, secret) = tokens::create(&state.pool, name, scope).await?;
    tracing::info!(token_id = %token.id, name = %token.name, %scope, "token created");
    Ok((StatusCode::CREATED, Json(CreatedToken { token, secret })))
}

/// Revoke a token: it and its browser sessions stop working at once. It
/// stays listed, with `revoked_at`.
#[utoipa::path(operation_id = "tokens_revoke", delete, path = "/api/v1/tokens/{id}", tag = "tokens",
    params(("id" = uuid::Uuid, Path, description = "Token id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such token", body = ErrorBody),
    ))]
pub async fn revoke(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    let token = tokens::revoke(&state.pool, id)
        .await?
        .ok_or_else(|| ApiError::not_found("token", id))?;
    tracing::info!(token_id = %token.id, name = %token.name, "token revoked");
    Ok(StatusCode::NO_CONTENT)
}
