//! Access control: every request under `/api/v1` carries a token
//! (`Authorization: Bearer cvr_…`) or a browser session cookie, whose scope
//! must cover what the request does. `/healthz`, `/readyz`, `/metrics`, the
//! OpenAPI document and the dashboard's files stay open.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;
use conveyor_shared::auth::{self, Scope};
use conveyor_shared::db::tokens::{self, Holder};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::state::AppState;

/// The browser session cookie (HttpOnly, SameSite=Strict).
pub const SESSION_COOKIE: &str = "conveyor_session";

/// How the caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// An `Authorization: Bearer` token.
    Token,
    /// The session cookie of the dashboard.
    Cookie,
    /// `AUTH_DISABLED=1`: nobody is asked.
    Disabled,
}

/// Who is calling; put in the request's extensions by [`authenticate`].
#[derive(Debug, Clone)]
pub struct Principal {
    pub name: Option<String>,
    pub scope: Scope,
    pub via: Via,
}

impl Principal {
    fn from_holder(holder: Holder, via: Via) -> Self {
        Principal {
            name: Some(holder.name),
            scope: holder.scope,
            via,
        }
    }
}

/// The scope a request needs, from its method and its path below `/api/v1`.
/// Reads need `read`; creating jobs and runs needs `submit`; everything else
/// that changes something, and anything about tokens, needs `admin`.
pub fn required_scope(method: &Method, path: &str) -> Scope {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    if segments.first() == Some(&"tokens") {
        return Scope::Admin;
    }
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Scope::Read;
    }
    match (method, segments.as_slice()) {
        // Computes fire times; stores nothing.
        (&Method::POST, ["schedules", "preview"]) => Scope::Read,
        (&Method::POST, ["jobs"] | ["jobs", "batch"] | ["workflows", _, "runs"]) => Scope::Submit,
        _ => Scope::Admin,
    }
}

/// Middleware for everything under `/api/v1`: finds the caller, checks the
/// scope, and puts the [`Principal`] in the request. `/session` is let
/// through without one, so the login page can sign in.
pub async fn authenticate(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let path = request.uri().path().to_owned();
    let is_session_route = path.trim_end_matches('/') == "/session";
    let principal = identify(&state, request.headers()).await;
    let principal = match (principal, is_session_route) {
        (Ok(p), _) => p,
        (Err(ApiError::Unauthorized(_)), true) => return Ok(next.run(request).await),
        (Err(e), _) => return Err(e),
    };
    if !is_session_route {
        let needed = required_scope(request.method(), &path);
        if !principal.scope.allows(needed) {
            return Err(ApiError::Forbidden {
                needed,
                held: principal.scope,
            });
        }
    }
    request.extensions_mut().insert(principal);
    Ok(next.run(request).await)
}

/// The caller of a request, or 401.
pub async fn identify(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    if state.config.auth_disabled {
        return Ok(Principal {
            name: None,
            scope: Scope::Admin,
            via: Via::Disabled,
        });
    }
    let (holder, via) = if let Some(value) = headers.get(header::AUTHORIZATION) {
        // A wrong header is an error even if a cookie would do: a client that
        // sends one means it.
        let secret = value
            .to_str()
            .ok()
            .and_then(auth::bearer_token)
            .ok_or_else(|| unauthorized("the Authorization header must be `Bearer <token>`"))?;
        (
            state.token_lookups.find(&state.pool, secret).await?,
            Via::Token,
        )
    } else if let Some(session) = cookie(headers, SESSION_COOKIE) {
        (
            tokens::find_session(&state.pool, session).await?,
            Via::Cookie,
        )
    } else {
        return Err(unauthorized(
            "a token is required: send `Authorization: Bearer <token>` or sign in",
        ));
    };
    let holder = holder.ok_or_else(|| match via {
        Via::Cookie => unauthorized("the session has ended; sign in again"),
        _ => unauthorized("the token is not valid, or was revoked"),
    })?;
    let stale = holder
        .last_used_at
        .is_none_or(|at| state.clock.now() - at > chrono::Duration::seconds(60));
    // One write at a time per token: until it commits, every request of a
    // busy client finds the token stale and would write again.
    if let Some(touching) = stale.then(|| state.start_touch(holder.token_id)).flatten() {
        let pool = state.pool.clone();
        let id = holder.token_id;
        tokio::spawn(async move {
            if let Err(e) = tokens::touch(&pool, id).await {
                tracing::debug!(error = %e, token_id = %id, "could not record token use");
            }
            drop(touching);
        });
    }
    Ok(Principal::from_holder(holder, via))
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::Unauthorized(message.to_owned())
}

/// The value of cookie `name`, from any `Cookie` header.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, v)| *k == name && !v.is_empty())
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_class_needs_its_scope() {
        let cases = [
            (Method::GET, "/jobs", Scope::Read),
            (Method::GET, "/ws", Scope::Read),
            (Method::GET, "/workflows/x/runs", Scope::Read),
            (Method::POST, "/schedules/preview", Scope::Read),
            (Method::POST, "/jobs", Scope::Submit),
            (Method::POST, "/jobs/batch", Scope::Submit),
            (Method::POST, "/workflows/abc/runs", Scope::Submit),
            (Method::POST, "/jobs/abc/cancel", Scope::Admin),
            (Method::POST, "/jobs/abc/retry", Scope::Admin),
            (Method::POST, "/jobs/bulk", Scope::Admin),
            (Method::DELETE, "/jobs/abc", Scope::Admin),
            (Method::POST, "/queues/q/pause", Scope::Admin),
            (Method::POST, "/schedules", Scope::Admin),
            (Method::PATCH, "/workflows/abc", Scope::Admin),
            (Method::POST, "/webhooks", Scope::Admin),
            (Method::GET, "/tokens", Scope::Admin),
            (Method::POST, "/tokens", Scope::Admin),
        ];
        for (method, path, scope) in cases {
            assert_eq!(required_scope(&method, path), scope, "{method} {path}");
        }
    }

    #[test]
    fn session_cookies_are_found() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "a=1; conveyor_session=xyz; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(&headers, "c"), None);
    }
}
