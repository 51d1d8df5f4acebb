//! `http`: one HTTP request. Payload: `url`, `method` (default GET, or POST
//! when a body is given), `headers` (object of strings), `body` (a string is
//! sent as is, anything else as JSON). A 2xx answer is success; the status
//! and a body excerpt become the result (or the error).

use crate::executors::error_chain;
use std::sync::Arc;
use std::time::Duration;

use conveyor_shared::executor::{storable_text, Executor, Failure, JobContext, Success};
use conveyor_shared::outbound::OutboundPolicy;
use serde_json::{json, Value};

/// Largest body excerpt kept in the result.
const EXCERPT_BYTES: usize = 4 * 1024;

pub struct HttpExecutor {
    client: reqwest::Client,
    outbound: Arc<OutboundPolicy>,
}

impl HttpExecutor {
    /// Requests go only where `outbound` allows, redirects included.
    pub fn new(outbound: Arc<OutboundPolicy>) -> Self {
        let client = crate::outbound::client_builder(&outbound)
            .redirect(crate::outbound::follow_redirects(&outbound))
            .connect_timeout(Duration::from_secs(10))
            // A bound for jobs without timeout_secs; a job's own timeout
            // stops the request earlier.
            .timeout(Duration::from_secs(15 * 60))
            .user_agent(concat!("conveyor-worker/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self { client, outbound }
    }
}

impl Default for HttpExecutor {
    /// Public addresses only.
    fn default() -> Self {
        Self::new(Arc::default())
    }
}

#[async_trait::async_trait]
impl Executor for HttpExecutor {
    async fn execute(&self, ctx: JobContext) -> Result<Success, Failure> {
        let p = &ctx.payload;
        let url = p
            .get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| Failure::permanent("payload.url is required"))?;
        let target = reqwest::Url::parse(url)
            .map_err(|e| Failure::permanent(format!("payload.url {url:?}: {e}")))?;
        self.outbound
            .check_url(&target)
            .map_err(|e| Failure::permanent(e.to_string()))?;
        let body = p.get("body").filter(|b| !b.is_null());
        let default_method = if body.is_some() || !ctx.parents.is_empty() {
            "POST"
        } else {
            "GET"
        };
        let method = p
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or(default_method)
            .to_ascii_uppercase();
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| Failure::permanent(format!("payload.method {method:?} is not valid")))?;
        let mut request = self.client.request(method, target);
        if let Some(headers) = p.get("headers").and_then(Value::as_object) {
            for (name, value) in headers {
                if let Some(value) = conveyor_shared::secrets::reveal(value) {
                    request = request.header(name, value);
                }
            }
        }
        // In a workflow run the parents' results travel in the body: as a
        // `parents` field of a JSON object body (or the whole body when there
        // is none), else in the X-Conveyor-Parents header.
        let parents = (!ctx.parents.is_empty()).then(|| json!(ctx.parents));
        request = match (body, parents) {
            (Some(Value::Object(map)), Some(parents)) if !map.contains_key("parents") => {
                let mut map = map.clone();
                map.insert("parents".into(), parents);
                request.json(&Value::Object(map))
            }
            (None, Some(parents)) => request.json(&json!({ "parents": parents })),
            (body, parents) => {
                if let Some(parents) = parents {
                    request = request.header("x-conveyor-parents", parents.to_string());
                }
                match body {
                    Some(Value::String(text)) => request.body(text.clone()),
                    Some(other) => request.json(other),
                    None => request,
                }
            }
        };
        let send = async {
            let mut response = request.send().await.map_err(|e| {
                match crate::outbound::refusal(&e) {
                    // Refused by policy: the same request is refused again.
                    Some(refused) => Failure::permanent(format!("request to {url}: {refused}")),
                    None => Failure::new(format!("request to {url} failed: {}", error_chain(&e))),
                }
            })?;
            let status = response.status();
            // Read only as much as the excerpt keeps, whatever the body's size.
            let mut bytes: Vec<u8> = Vec::new();
            while bytes.len() < EXCERPT_BYTES {
                match response.chunk().await {
                    Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
                    Ok(None) => break,
                    Err(e) => {
                        return Err(Failure::new(format!(
                            "reading the answer from {url} failed: {e}"
                        )))
                    }
                }
            }
            drop(response);
            let cut = bytes.len().min(EXCERPT_BYTES);
            let excerpt = storable_text(String::from_utf8_lossy(&bytes[..cut]).into_owned());
            if status.is_success() {
                Ok(Success {
                    result: Some(json!({ "status": status.as_u16(), "body": excerpt })),
                    output: None,
                })
            } else {
                Err(Failure::new(format!("HTTP {status} from {url}")).with_output(Some(excerpt)))
            }
        };
        tokio::select! {
            result = send => result,
            _ = ctx.cancel.cancelled() => Err(Failure::new("request stopped")),
        }
    }
}
