//! HTTP clients that obey the outbound address policy
//! ([`conveyor_shared::outbound`]): names resolve through a resolver that
//! drops refused addresses (the connection goes only to an address it
//! vetted, so DNS rebinding gains nothing), address literals are checked
//! before each request and each redirect, and no proxy is used (a proxy
//! would resolve the target itself, unchecked).

use std::net::SocketAddr;
use std::sync::Arc;

use conveyor_shared::outbound::{OutboundPolicy, Refused};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Most redirects the `http` kind follows (reqwest's default).
const MAX_REDIRECTS: usize = 10;

/// A client builder that resolves through the policy and uses no proxy;
/// redirects are not followed unless [`follow_redirects`] is added.
pub(crate) fn client_builder(policy: &Arc<OutboundPolicy>) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .no_proxy()
        .dns_resolver(Arc::new(Vetting(policy.clone())))
        .redirect(reqwest::redirect::Policy::none())
}

/// Follows up to ten redirects, each target checked against the policy.
pub(crate) fn follow_redirects(policy: &Arc<OutboundPolicy>) -> reqwest::redirect::Policy {
    let policy = policy.clone();
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            return attempt.error("too many redirects");
        }
        match policy.check_url(attempt.url()) {
            Ok(()) => attempt.follow(),
            Err(refused) => attempt.error(refused),
        }
    })
}

/// The policy's refusal inside a request error, if that is what stopped it.
pub(crate) fn refusal(e: &reqwest::Error) -> Option<String> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(refused) = err.downcast_ref::<Refused>() {
            return Some(refused.to_string());
        }
        current = err.source();
    }
    // Some layers re-box the resolver's error; its text still says it.
    let text = crate::executors::error_chain(e);
    text.find("outbound request refused")
        .map(|at| text[at..].to_owned())
}

/// Resolves with the system resolver, keeping only allowed addresses.
struct Vetting(Arc<OutboundPolicy>);

impl Resolve for Vetting {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let allowed = policy.filter_resolved(&host, found.map(|a| a.ip()))?;
            let addrs: Addrs = Box::new(allowed.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}
