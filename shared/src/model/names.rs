//! Small validated values: queue names and priorities.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::FieldError;

/// Checks an identifier (queue name, definition name, node key): 1–64 of
/// `A-Z a-z 0-9 _ . : -`. The error names `field`.
pub fn check_identifier(raw: &str, field: &str) -> Result<(), FieldError> {
    let ok = !raw.is_empty()
        && raw.len() <= 64
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            "must be 1-64 characters of letters, digits, '_', '.', ':' or '-'",
        ))
    }
}

/// A queue name: 1–64 of `A-Z a-z 0-9 _ . : -`. Safe inside a Redis hash tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct QueueName(String);

impl QueueName {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        check_identifier(raw, "queue").map(|()| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The queue jobs go to when none is named.
    pub fn default_queue() -> Self {
        Self("default".into())
    }
}

impl fmt::Display for QueueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Priority 0–9; higher runs first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Priority(u8);

impl Priority {
    pub const MAX: u8 = 9;
    pub const DEFAULT: Priority = Priority(5);

    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<i64> for Priority {
    type Error = FieldError;

    fn try_from(value: i64) -> Result<Self, Self::Error> {
        u8::try_from(value)
            .ok()
            .filter(|p| *p <= Self::MAX)
            .map(Priority)
            .ok_or_else(|| FieldError::new("priority", "must be an integer from 0 to 9"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_allow_only_safe_characters() {
        assert!(QueueName::parse("emails.high-1").is_ok());
        assert!(QueueName::parse("").is_err());
        assert!(QueueName::parse("has space").is_err());
        assert!(QueueName::parse("brace{").is_err());
        assert!(QueueName::parse(&"q".repeat(65)).is_err());
    }

    #[test]
    fn priority_is_zero_to_nine() {
        assert_eq!(Priority::try_from(9).map(Priority::get).ok(), Some(9));
        assert!(Priority::try_from(10).is_err());
        assert!(Priority::try_from(-1).is_err());
    }
}
