//! Look-ups of API tokens, shared by concurrent requests carrying the same
//! token.
//!
//! Validity is never cached: every request is answered by a query that
//! started after the request arrived, so a revoked token fails at the next
//! request. But requests with the same token that arrive while its query is
//! running wait for the next query together instead of each making its own:
//! a busy client costs one query per round of requests, not one per request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use conveyor_shared::auth;
use conveyor_shared::db::tokens::{self, Holder};
use sqlx::PgPool;
use tokio::sync::oneshot;

use crate::error::ApiError;

type Answer = Result<Option<Holder>, Arc<sqlx::Error>>;

/// For each token being queried (by the hash of its secret), the requests
/// waiting for its next query.
type Waiting = Arc<Mutex<HashMap<Vec<u8>, Vec<oneshot::Sender<Answer>>>>>;

/// Requests waiting for the next query of each token (by the hash of its
/// secret). A token has an entry exactly while a task queries for it.
#[derive(Default)]
pub struct TokenLookups {
    waiting: Waiting,
}

impl TokenLookups {
    /// The holder of an unrevoked token with this secret, read by a query
    /// that started after this call.
    pub async fn find(&self, pool: &PgPool, secret: &str) -> Result<Option<Holder>, ApiError> {
        let key = auth::hash_secret(secret);
        let (reply, answer) = oneshot::channel();
        let first = {
            let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
            match waiting.get_mut(&key) {
                Some(next_round) => {
                    next_round.push(reply);
                    false
                }
                None => {
                    waiting.insert(key.clone(), vec![reply]);
                    true
                }
            }
        };
        if first {
            // In a task of its own, so a caller that goes away does not
            // strand the others.
            tokio::spawn(rounds(
                self.waiting.clone(),
                pool.clone(),
                secret.to_owned(),
                key,
            ));
        }
        match answer.await {
            Ok(Ok(holder)) => Ok(holder),
            Ok(Err(e)) => Err(ApiError::shared(&e, "looking up a token")),
            Err(_) => Err(ApiError::Internal(anyhow::anyhow!(
                "the token look-up ended without an answer"
            ))),
        }
    }
}

/// Queries for one token, round after round, while requests wait for it.
async fn rounds(waiting: Waiting, pool: PgPool, secret: String, key: Vec<u8>) {
    let mut guard = Abandoned {
        waiting: waiting.clone(),
        key: Some(key.clone()),
    };
    loop {
        let round = {
            let mut waiting = waiting.lock().unwrap_or_else(|e| e.into_inner());
            match waiting.get_mut(&key) {
                Some(round) if !round.is_empty() => std::mem::take(round),
                _ => {
                    waiting.remove(&key);
                    guard.key = None;
                    return;
                }
            }
        };
        // Everyone in `round` arrived before this query starts.
        let answer = tokens::find_by_secret(&pool, &secret)
            .await
            .map_err(Arc::new);
        for reply in round {
            let _ = reply.send(answer.clone());
        }
    }
}

/// Removes a token's entry if its task ends without doing so (it panicked,
/// or the runtime stopped): its waiters then fail instead of hanging, and
/// the next request starts a new task.
struct Abandoned {
    waiting: Waiting,
    key: Option<Vec<u8>>,
}

impl Drop for Abandoned {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.waiting
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key);
        }
    }
}
