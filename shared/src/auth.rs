//! API tokens: scopes, secret generation and hashing. The api checks them on
//! every request; `conveyor-api token …` and the tests create them.

use std::fmt;
use std::str::FromStr;

use rand::distributions::Alphanumeric;
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

/// What a token may do. Each scope includes the ones before it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Read everything except tokens.
    Read,
    /// Read, and create jobs and workflow runs.
    Submit,
    /// Everything: cancel, retry, delete, queues, schedules, workflows,
    /// webhooks, tokens.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Submit, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Submit => "submit",
            Scope::Admin => "admin",
        }
    }

    /// Whether a token of this scope may do what needs `needed`.
    pub fn allows(self, needed: Scope) -> bool {
        self >= needed
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not a scope; use read, submit or admin"))
    }
}

/// The token of an `Authorization` header value: `Bearer <token>`, the
/// scheme in any case (RFC 9110). Used for API tokens and `METRICS_TOKEN`.
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Tokens start with this, so they are easy to recognise (and to scan for
/// in leaked text).
pub const TOKEN_PREFIX: &str = "cvr_";

/// How many characters of a secret are kept in clear to tell tokens apart.
const SHOWN_PREFIX_LEN: usize = TOKEN_PREFIX.len() + 6;

/// A fresh secret: `prefix` and 40 random alphanumerics (≈238 bits).
pub fn generate_secret(prefix: &str) -> String {
    let random: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    format!("{prefix}{random}")
}

/// What is stored instead of a secret.
pub fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// The part of a token's secret that may be shown (`cvr_ab12cd`).
pub fn shown_prefix(secret: &str) -> String {
    secret.chars().take(SHOWN_PREFIX_LEN).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_include_the_smaller_ones() {
        assert!(Scope::Admin.allows(Scope::Submit));
        assert!(Scope::Submit.allows(Scope::Read));
        assert!(!Scope::Read.allows(Scope::Submit));
        assert!(!Scope::Submit.allows(Scope::Admin));
        assert_eq!("submit".parse::<Scope>(), Ok(Scope::Submit));
        assert!("root".parse::<Scope>().is_err());
    }

    #[test]
    fn bearer_tokens_are_read_from_the_authorization_value() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
    }

    #[test]
    fn secrets_are_random_and_only_their_hash_is_kept() {
        let a = generate_secret(TOKEN_PREFIX);
        let b = generate_secret(TOKEN_PREFIX);
        assert_ne!(a, b);
        assert!(a.starts_with("cvr_") && a.len() == 44);
        assert_eq!(hash_secret(&a), hash_secret(&a));
        assert_ne!(hash_secret(&a), hash_secret(&b));
        assert_eq!(shown_prefix(&a).len(), 10);
    }
}
