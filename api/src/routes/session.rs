//! `/session`: the dashboard's sign-in. A token is exchanged for a random
//! session id in an HttpOnly, SameSite=Strict cookie, so the page's scripts
//! never hold a secret and other sites cannot ride on it.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use conveyor_shared::auth::Scope;
use conveyor_shared::db::tokens;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{cookie, Principal, Via, SESSION_COOKIE};
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::state::AppState;

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/session", get(show).post(sign_in).delete(sign_out))
}

/// Who the caller is.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionInfo {
    /// How the caller proved it: `token`, `cookie`, or `disabled` when
    /// access control is off.
    pub auth: Via,
    /// The token's name (none when access control is off).
    pub name: Option<String>,
    pub scope: Scope,
}

impl SessionInfo {
    fn of(principal: &Principal) -> Self {
        SessionInfo {
            auth: principal.via,
            name: principal.name.clone(),
            scope: principal.scope,
        }
    }
}

/// A token to sign in with.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    pub token: String,
}

/// Who is signed in.
#[utoipa::path(operation_id = "session_show", get, path = "/api/v1/session", tag = "session",
    responses(
        (status = 200, description = "The caller", body = SessionInfo),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn show(principal: Option<Extension<Principal>>) -> Result<Json<SessionInfo>, ApiError> {
    let Extension(principal) =
        principal.ok_or_else(|| ApiError::Unauthorized("not signed in".into()))?;
    Ok(Json(SessionInfo::of(&principal)))
}

/// Sign in: exchanges a token for a session cookie (HttpOnly,
/// SameSite=Strict) that lasts `SESSION_TTL_HOURS`.
#[utoipa::path(operation_id = "session_sign_in", post, path = "/api/v1/session", tag = "session",
    request_body = SignIn,
    responses(
        (status = 200, description = "Signed in; the cookie is set", body = SessionInfo),
        (status = 401, description = "The token is not valid", body = ErrorBody),
    ))]
pub async fn sign_in(
    State(state): State<Arc<AppState>>,
    ApiJson(body): ApiJson<SignIn>,
) -> Result<Response, ApiError> {
    if state.config.auth_disabled {
        let info = SessionInfo {
            auth: Via::Disabled,
            name: None,
            scope: Scope::Admin,
        };
        return Ok(Json(info).into_response());
    }
    let holder = tokens::find_by_secret(&state.pool, body.token.trim())
        .await?
        .ok_or_else(|| ApiError::Unauthorized("the token is not valid, or was revoked".into()))?;
    let session =
        tokens::create_session(&state.pool, holder.token_id, state.config.session_ttl).await?;
    tracing::info!(token_id = %holder.token_id, name = %holder.name, "signed in");
    let info = SessionInfo {
        auth: Via::Cookie,
        name: Some(holder.name),
        scope: holder.scope,
    };
    let max_age = state.config.session_ttl.as_secs();
    let cookie = session_cookie(&session, max_age, state.config.cookie_secure)?;
    Ok(([(header::SET_COOKIE, cookie)], Json(info)).into_response())
}

/// Sign out: ends the session and clears the cookie.
#[utoipa::path(operation_id = "session_sign_out", delete, path = "/api/v1/session", tag = "session",
    responses((status = 204, description = "Signed out")))]
pub async fn sign_out(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(session) = cookie(&headers, SESSION_COOKIE) {
        tokens::delete_session(&state.pool, session).await?;
    }
    let cleared = session_cookie("", 0, state.config.cookie_secure)?;
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cleared)]).into_response())
}

fn session_cookie(value: &str, max_age: u64, secure: bool) -> Result<HeaderValue, ApiError> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    ))
    .map_err(|e| ApiError::Internal(e.into()))
}
