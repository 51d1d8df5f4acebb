//! Secret values in payloads, and keeping secrets out of logs.
//!
//! Any string in a job payload (or a stored template) may be written as
//! `{"secret": "value"}`. Executors see the value (shell and docker `env`,
//! http `headers`); the api, events and logs show [`MASK`] instead.

use serde::Serializer;
use serde_json::{Map, Value};

/// What a secret looks like from outside.
pub const MASK: &str = "********";

/// The string a payload value stands for: a plain string, or the value of a
/// `{"secret": "…"}` object.
pub fn reveal(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s),
        Value::Object(map) => secret_of(map),
        _ => None,
    }
}

fn secret_of(map: &Map<String, Value>) -> Option<&str> {
    match (map.len(), map.get("secret")) {
        (1, Some(Value::String(s))) => Some(s),
        _ => None,
    }
}

/// A copy of `value` with every secret masked.
pub fn redacted(value: &Value) -> Value {
    match value {
        Value::Object(map) if secret_of(map).is_some() => {
            Value::Object(Map::from_iter([("secret".to_owned(), MASK.into())]))
        }
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), redacted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(redacted).collect()),
        other => other.clone(),
    }
}

/// Whether `value` holds a secret anywhere.
pub fn has_secrets(value: &Value) -> bool {
    match value {
        Value::Object(map) => secret_of(map).is_some() || map.values().any(has_secrets),
        Value::Array(items) => items.iter().any(has_secrets),
        _ => false,
    }
}

/// The path (`env.API_KEY`) of the first secret in `value` that is the mask
/// itself: a client sent back what it was shown, not a value.
pub fn find_masked(value: &Value) -> Option<String> {
    match value {
        Value::Object(map) if secret_of(map) == Some(MASK) => Some(String::new()),
        Value::Object(map) => map
            .iter()
            .find_map(|(k, v)| find_masked(v).map(|rest| join_path(k, &rest))),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| find_masked(v).map(|rest| join_path(&i.to_string(), &rest))),
        _ => None,
    }
}

fn join_path(head: &str, rest: &str) -> String {
    if rest.is_empty() {
        head.to_owned()
    } else {
        format!("{head}.{rest}")
    }
}

/// Puts back, from `stored`, every secret that `edited` holds masked at the
/// same place: editing a stored template keeps the secrets it was shown
/// masked. A mask with no stored secret under it is left (and refused by
/// validation).
pub fn restore_masked(edited: &mut Value, stored: &Value) {
    match edited {
        Value::Object(map) if secret_of(map) == Some(MASK) => {
            if let Value::Object(old) = stored {
                if secret_of(old).is_some() {
                    *edited = stored.clone();
                }
            }
        }
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if let Some(old) = stored.get(k) {
                    restore_masked(v, old);
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                if let Some(old) = stored.get(i) {
                    restore_masked(v, old);
                }
            }
        }
        _ => {}
    }
}

/// `serialize_with` for payload fields answered by the api.
pub fn serialize_redacted<S: Serializer>(value: &Value, s: S) -> Result<S::Ok, S::Error> {
    if has_secrets(value) {
        s.serialize_some(&redacted(value))
    } else {
        s.serialize_some(value)
    }
}

/// `serialize_with` for answers that hold stored templates (definitions,
/// workflow nodes, schedule targets): their own `Serialize` writes them to
/// the database whole, so the masking happens here, at the answer.
pub fn serialize_masked<T: serde::Serialize, S: Serializer>(
    value: &T,
    s: S,
) -> Result<S::Ok, S::Error> {
    let value = serde_json::to_value(value).map_err(serde::ser::Error::custom)?;
    serialize_redacted(&value, s)
}

/// A URL with its password masked, for logs and error lines
/// (`postgres://app:********@db/conveyor`).
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some(MASK));
            url.to_string()
        }
        Ok(_) => raw.to_owned(),
        // Unparseable: it may still hold a password, so show only the scheme.
        Err(_) => match raw.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://{MASK}"),
            None => MASK.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_revealed_to_executors_and_masked_elsewhere() {
        let payload = json!({"argv": ["env"], "env": {"TOKEN": {"secret": "hunter2"}, "MODE": "fast"},
                             "list": [{"secret": "x"}], "not_secret": {"secret": "a", "other": 1}});
        assert_eq!(reveal(&payload["env"]["TOKEN"]), Some("hunter2"));
        assert_eq!(reveal(&payload["env"]["MODE"]), Some("fast"));
        assert_eq!(reveal(&payload["not_secret"]), None);
        let shown = redacted(&payload);
        assert!(!shown.to_string().contains("hunter2"));
        assert_eq!(shown["env"]["TOKEN"], json!({"secret": MASK}));
        assert_eq!(shown["env"]["MODE"], "fast");
        assert_eq!(shown["list"][0], json!({"secret": MASK}));
        assert_eq!(shown["not_secret"], payload["not_secret"]);
        assert!(has_secrets(&payload));
        assert!(!has_secrets(&shown["env"]["MODE"]));
    }

    #[test]
    fn masks_sent_back_are_found_and_restored_from_what_is_stored() {
        let stored =
            json!({"env": {"A": {"secret": "one"}, "B": "plain"}, "h": [{"secret": "two"}]});
        let mut edited = redacted(&stored);
        edited["env"]["B"] = json!("changed");
        assert_eq!(find_masked(&edited).as_deref(), Some("env.A"));
        restore_masked(&mut edited, &stored);
        assert_eq!(edited["env"]["A"], json!({"secret": "one"}));
        assert_eq!(edited["h"][0], json!({"secret": "two"}));
        assert_eq!(edited["env"]["B"], "changed");
        assert_eq!(find_masked(&edited), None);
        // A mask where nothing secret was stored stays, to be refused.
        let mut new_key = json!({"env": {"C": {"secret": MASK}}});
        restore_masked(&mut new_key, &stored);
        assert_eq!(find_masked(&new_key).as_deref(), Some("env.C"));
    }

    #[test]
    fn passwords_in_urls_are_masked() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/conveyor"),
            "postgres://app:********@db:5432/conveyor"
        );
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        assert!(!redact_url("postgres://a:b c@d e").contains("b c"));
    }
}
