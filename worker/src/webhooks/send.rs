//! One attempt of one delivery: sign the body, POST it, read the answer.

use std::time::{Duration, Instant};

use conveyor_shared::db::webhooks::Claimed;
use hmac::{Hmac, Mac};
use reqwest::header::CONTENT_TYPE;
use sha2::Sha256;

/// Most bytes of an answer's body that are read and kept.
const EXCERPT_BYTES: usize = 1024;

/// What came of one attempt.
#[derive(Debug)]
pub(super) struct Sent {
    /// A 2xx answer.
    pub ok: bool,
    pub status_code: Option<u16>,
    /// Why it did not succeed: `HTTP 500 Internal Server Error`, or the
    /// connection error (without the URL, which may carry credentials).
    pub error: Option<String>,
    /// The start of the answer's body.
    pub excerpt: Option<String>,
    pub duration: Duration,
    /// The outbound address policy refused the receiver: sending again
    /// cannot succeed, so the delivery fails at once.
    pub refused: bool,
}

/// `hex(HMAC-SHA256(secret, "<timestamp>.<body>"))`: the `v1` of the
/// `Conveyor-Signature` header (`t=<timestamp>,v1=<signature>`). Signing the
/// timestamp with the body lets receivers refuse replays of old deliveries.
pub(super) fn signature(secret: &str, timestamp: i64, body: &[u8]) -> Result<String, String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|e| format!("cannot sign: {e}"))?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(hex::encode(mac.finalize().into_bytes()))
}

/// POSTs the delivery's payload to its webhook's URL, signed with its secret.
pub(super) async fn send(
    client: &reqwest::Client,
    outbound: &conveyor_shared::outbound::OutboundPolicy,
    delivery: &Claimed,
    timeout: Duration,
) -> Sent {
    let started = Instant::now();
    let failed = |error: String| Sent {
        ok: false,
        status_code: None,
        error: Some(conveyor_shared::executor::storable_text(error)),
        excerpt: None,
        duration: started.elapsed(),
        refused: false,
    };
    let refused = |error: String| Sent {
        refused: true,
        ..failed(error)
    };
    // Address literals skip resolution, where names are checked.
    match reqwest::Url::parse(&delivery.url) {
        Ok(url) => {
            if let Err(e) = outbound.check_url(&url) {
                return refused(e.to_string());
            }
        }
        Err(e) => return failed(format!("the URL is not valid: {e}")),
    }
    let body = match serde_json::to_vec(&delivery.payload) {
        Ok(body) => body,
        Err(e) => return failed(format!("cannot serialize the payload: {e}")),
    };
    let timestamp = chrono::Utc::now().timestamp();
    let signed = match signature(delivery.secret.expose(), timestamp, &body) {
        Ok(signed) => signed,
        Err(e) => return failed(e),
    };
    let request = client
        .post(&delivery.url)
        .header(CONTENT_TYPE, "application/json")
        .header("Conveyor-Event", &delivery.event)
        .header("Conveyor-Delivery", delivery.id.to_string())
        .header("Conveyor-Signature", format!("t={timestamp},v1={signed}"))
        .body(body);
    let mut response = match request.send().await {
        Ok(response) => response,
        Err(e) => match crate::outbound::refusal(&e) {
            Some(why) => return refused(why),
            None => return failed(describe(&e, timeout)),
        },
    };
    let status = response.status();
    let excerpt = read_excerpt(&mut response).await;
    Sent {
        ok: status.is_success(),
        status_code: Some(status.as_u16()),
        error: (!status.is_success()).then(|| format!("HTTP {status}")),
        excerpt,
        duration: started.elapsed(),
        refused: false,
    }
}

/// Reads at most [`EXCERPT_BYTES`] of the body (never the whole of a large
/// one); an error midway keeps what arrived.
async fn read_excerpt(response: &mut reqwest::Response) -> Option<String> {
    let mut bytes: Vec<u8> = Vec::new();
    while bytes.len() < EXCERPT_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    if bytes.is_empty() {
        return None;
    }
    bytes.truncate(EXCERPT_BYTES);
    let text = String::from_utf8_lossy(&bytes);
    // A multi-byte character cut at the end shows as U+FFFD; that is fine.
    // A NUL would make the delivery unstorable (and retried for ever).
    Some(conveyor_shared::executor::storable_text(text.into_owned()))
}

/// The error with its causes, without the URL.
fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("timed out after {} s", timeout.as_secs());
    }
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = err.source();
    }
    let mut message = parts.join(": ");
    if let Some(url) = e.url() {
        message = message.replace(url.as_str(), "<url>");
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body_in_hex() {
        // Computed independently: printf '1700000000.{"a":1}' |
        //   openssl dgst -sha256 -hmac whsec_test
        let signed = signature("whsec_test", 1_700_000_000, br#"{"a":1}"#).expect("sign");
        assert_eq!(
            signed,
            "38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }
}
