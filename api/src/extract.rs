//! Request extractors that fail with [`ApiError`]s naming the field.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body. Wrong content type: 415; not JSON: 400; JSON of the wrong
/// shape: 422 naming the path of the offending field (`jobs[2].priority`).
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json" || mime.ends_with("+json")
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await?;
        parse(&bytes).map(ApiJson)
    }
}

/// Parses JSON, naming the field on a type mismatch.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = serde_path_to_error::deserialize::<_, T>(&mut de);
    if parsed.is_ok() {
        if let Err(e) = de.end() {
            return Err(ApiError::BadRequest {
                message: format!("malformed JSON: {e}"),
                field: None,
            });
        }
    }
    match parsed {
        Ok(value) => Ok(value),
        Err(e) => {
            let inner = e.inner();
            let path = e.path().to_string();
            if inner.is_syntax() || inner.is_eof() {
                return Err(ApiError::BadRequest {
                    message: format!("malformed JSON: {inner}"),
                    field: None,
                });
            }
            let message = inner.to_string();
            // serde_path_to_error already ends the path with an unknown
            // field's name, but stops at the parent for a missing one.
            let missing = message
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split('`').next());
            let field = match (path.as_str(), missing) {
                (".", Some(name)) => name.to_owned(),
                (parent, Some(name)) => format!("{parent}.{name}"),
                (".", None) => "body".to_owned(),
                (path, None) => path.to_owned(),
            };
            Err(ApiError::field(field, message))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use conveyor_shared::model::JobSpec;

    fn field_of(body: &str) -> String {
        match parse::<JobSpec>(body.as_bytes()) {
            Err(ApiError::Invalid(e)) => e.field,
            other => panic!("expected a field error, got {:?}", other.err()),
        }
    }

    #[test]
    fn type_errors_name_the_field() {
        assert_eq!(
            field_of(r#"{"kind": "noop", "priority": "high"}"#),
            "priority"
        );
        assert_eq!(field_of(r#"{"kind": "noop", "colour": 1}"#), "colour");
        assert_eq!(field_of(r#"{"kind": 5}"#), "kind");
        assert_eq!(
            field_of(r#"{"kind": "noop", "backoff": {"base_ms": "x"}}"#),
            "backoff.base_ms"
        );
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        assert!(matches!(
            parse::<JobSpec>(b"{\"kind\": "),
            Err(ApiError::BadRequest { .. })
        ));
    }
}
