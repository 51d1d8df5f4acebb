//! Request extractors that fail with [`ApiError`]s naming the field.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::Response;
use serde::de::DeserializeOwned;
use serde_json::Value;

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

/// Parses JSON, naming the field on a type mismatch, and refusing a NUL
/// character (`\u0000`) in any string or key: PostgreSQL stores neither in
/// `text` nor in `jsonb`, so it is bad input (422 naming the field), not a
/// database failure.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // JSON can only spell NUL as an escape; most bodies skip the second parse.
    if contains(bytes, b"u0000") {
        if let Ok(value) = serde_json::from_slice::<Value>(bytes) {
            if let Some(path) = nul_path(&value) {
                return Err(ApiError::field(
                    path,
                    "must not contain a NUL character (\\u0000)",
                ));
            }
        }
    }
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

/// Middleware: a NUL character in the query string or the path is bad input
/// (422 naming the parameter), never a value handed to PostgreSQL.
pub async fn refuse_nul(request: Request, next: Next) -> Result<Response, ApiError> {
    if let Some(query) = request.uri().query().filter(|q| q.contains("%00")) {
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            if key.contains('\0') || value.contains('\0') {
                return Err(ApiError::field(
                    key.replace('\0', "\\u0000"),
                    "must not contain a NUL character (%00)",
                ));
            }
        }
    }
    if request.uri().path().contains("%00") {
        return Err(ApiError::field(
            "path",
            "must not contain a NUL character (%00)",
        ));
    }
    Ok(next.run(request).await)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The path (`payload.argv[1]`, `body` for the top level) of the first string
/// or key in `value` that holds a NUL character.
pub fn nul_path(value: &Value) -> Option<String> {
    fn walk(value: &Value, path: &str) -> Option<String> {
        match value {
            Value::String(s) if s.contains('\0') => Some(path.to_owned()),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, v)| walk(v, &format!("{path}[{i}]"))),
            Value::Object(map) => map.iter().find_map(|(k, v)| {
                // A key holding the NUL is named with it escaped.
                let key = k.replace('\0', "\\u0000");
                let here = if path.is_empty() {
                    key
                } else {
                    format!("{path}.{key}")
                };
                if k.contains('\0') {
                    Some(here)
                } else {
                    walk(v, &here)
                }
            }),
            _ => None,
        }
    }
    walk(value, "").map(|p| if p.is_empty() { "body".to_owned() } else { p })
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
    fn nul_characters_name_the_field() {
        assert_eq!(field_of(r#"{"kind": "noop", "name": "a\u0000b"}"#), "name");
        assert_eq!(
            field_of(r#"{"kind": "shell", "payload": {"argv": ["x", "\u0000"]}}"#),
            "payload.argv[1]"
        );
        assert_eq!(
            field_of(r#"{"kind": "noop", "payload": {"k\u0000": 1}}"#),
            "payload.k\\u0000"
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
