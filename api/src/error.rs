//! The api's one error type. Every error answers JSON:
//! `{"error": {"code": "...", "message": "...", "details": ...}}`.

use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use conveyor_shared::model::FieldError;
use serde_json::{json, Value};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A field failed validation (422).
    #[error("{0}")]
    Invalid(FieldError),
    /// The body is not JSON, or not the JSON expected (400).
    #[error("{message}")]
    BadRequest {
        message: String,
        field: Option<String>,
    },
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
    #[error("request body is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    /// No route for this path (404), or not for this method (405).
    #[error("no route for {method} {path}")]
    NoRoute {
        method: String,
        path: String,
        status: StatusCode,
    },
    /// No token, or not a valid one (401).
    #[error("{0}")]
    Unauthorized(String),
    /// The token's scope is too small for this request (403).
    #[error("this needs a token of scope {needed}; yours is {held}")]
    Forbidden {
        needed: conveyor_shared::auth::Scope,
        held: conveyor_shared::auth::Scope,
    },
    /// The token's scope may not set this field here (403), e.g. pointing a
    /// definition that holds secrets somewhere else below admin.
    #[error("{message}")]
    ForbiddenField { field: String, message: String },
    /// The request contradicts the current state (409).
    #[error("{message}")]
    Conflict {
        message: String,
        details: Option<Value>,
    },
    /// Postgres is unreachable (503).
    #[error("the database is unavailable; try again shortly")]
    Unavailable(#[source] sqlx::Error),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Invalid(FieldError::new(field, message))
    }

    pub fn not_found(what: &'static str, id: impl ToString) -> Self {
        ApiError::NotFound {
            what,
            id: id.to_string(),
        }
    }

    /// One database error answered to several requests (a group commit, a
    /// shared look-up): 503 when the database is unavailable, 500 otherwise,
    /// as the error itself would map to.
    pub fn shared(e: &std::sync::Arc<sqlx::Error>, doing: &str) -> Self {
        let message = format!("{doing}: {e}");
        if conveyor_shared::db::is_unavailable(e) {
            ApiError::Unavailable(sqlx::Error::Io(std::io::Error::other(message)))
        } else {
            ApiError::Internal(anyhow::anyhow!(message))
        }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        ApiError::Conflict {
            message: message.into(),
            details: None,
        }
    }

    fn parts(&self) -> (StatusCode, &'static str, Value) {
        match self {
            ApiError::Invalid(e) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                json!({ "field": e.field }),
            ),
            ApiError::BadRequest { field, .. } => (
                StatusCode::BAD_REQUEST,
                "bad_request",
                field
                    .as_ref()
                    .map_or(Value::Null, |f| json!({ "field": f })),
            ),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                json!({ "field": "content-type" }),
            ),
            ApiError::TooLarge { limit } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                json!({ "field": "body", "limit": limit }),
            ),
            ApiError::NotFound { .. } => {
                (StatusCode::NOT_FOUND, "not_found", json!({ "field": "id" }))
            }
            ApiError::NoRoute { status, .. } => (
                *status,
                if *status == StatusCode::METHOD_NOT_ALLOWED {
                    "method_not_allowed"
                } else {
                    "no_route"
                },
                Value::Null,
            ),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", Value::Null),
            ApiError::Forbidden { needed, held } => (
                StatusCode::FORBIDDEN,
                "forbidden",
                json!({ "needed_scope": needed, "scope": held }),
            ),
            ApiError::ForbiddenField { field, .. } => (
                StatusCode::FORBIDDEN,
                "forbidden",
                json!({ "field": field, "needed_scope": conveyor_shared::auth::Scope::Admin }),
            ),
            ApiError::Conflict { details, .. } => (
                StatusCode::CONFLICT,
                "conflict",
                details.clone().unwrap_or(Value::Null),
            ),
            ApiError::Unavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable", Value::Null)
            }
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", Value::Null),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        if conveyor_shared::db::is_unavailable(&e) {
            ApiError::Unavailable(e)
        } else if conveyor_shared::db::is_data_exception(&e) {
            // A value PostgreSQL cannot store (the extractors refuse the
            // known ones, such as NUL, with the field named): still bad
            // input, never a 500.
            ApiError::field("body", format!("a value cannot be stored: {e}"))
        } else {
            ApiError::Internal(e.into())
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::Internal(e)
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::Invalid(e)
    }
}

impl From<PathRejection> for ApiError {
    fn from(e: PathRejection) -> Self {
        ApiError::BadRequest {
            message: e.body_text(),
            field: None,
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        ApiError::BadRequest {
            message: e.body_text(),
            field: None,
        }
    }
}

impl From<BytesRejection> for ApiError {
    fn from(e: BytesRejection) -> Self {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge { limit: 0 }
        } else {
            ApiError::BadRequest {
                message: e.body_text(),
                field: None,
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, details) = self.parts();
        match &self {
            ApiError::Internal(e) => tracing::error!(error = ?e, "internal error"),
            ApiError::Unavailable(e) => tracing::warn!(error = %e, "database unavailable"),
            _ => {}
        }
        let message = self.to_string();
        let body = json!({ "error": { "code": code, "message": message, "details": details } });
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"conveyor\""),
            );
        }
        response
    }
}

/// The JSON error body, for the OpenAPI document.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `validation_failed`.
    pub code: String,
    pub message: String,
    /// For validation errors, `{"field": "..."}` naming the offending field;
    /// null when there is nothing to add.
    #[schema(value_type = Option<Object>)]
    pub details: Value,
}
