//! Where outbound requests may go: the one address policy of the `http`
//! kind, webhooks and Dockerfile downloads (against server-side request
//! forgery). By default only public unicast addresses are allowed; loopback,
//! private (RFC 1918), link-local (cloud metadata at 169.254.169.254 among
//! them), unique-local, CGNAT, unspecified, multicast, broadcast and
//! documentation ranges are refused. `OUTBOUND_ALLOW` lists CIDRs and host
//! names that are allowed anyway, for teams whose targets are internal.
//!
//! The check belongs after DNS resolution and on every redirect: the worker
//! resolves names through a resolver that drops refused addresses and
//! connects only to what it returned, so a name that changes its answer
//! between the check and the connection (DNS rebinding) gains nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A network in CIDR notation (`10.0.0.0/8`, `fd00::/8`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `addr/len` or a single address.
    pub fn parse(text: &str) -> Option<Self> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, len)) => (addr, Some(len.parse::<u8>().ok()?)),
            None => (text, None),
        };
        let network: IpAddr = addr.trim_matches(['[', ']']).parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Cidr { network, prefix })
    }

    /// Whether `ip` is in this network (an IPv4-mapped IPv6 address counts
    /// as its IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// `::ffff:a.b.c.d` as `a.b.c.d`; anything else unchanged.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Why an address is refused, or `None` for a public unicast address.
pub fn private_kind(ip: IpAddr) -> Option<&'static str> {
    match canonical(ip) {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => v6_kind(v6),
    }
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_private() => "private",
        _ if ip.is_link_local() => "link-local (cloud metadata)",
        _ if ip.is_multicast() => "multicast",
        _ if ip.is_broadcast() => "broadcast",
        _ if ip.is_documentation() => "documentation",
        (0, _, _) => "this-network",
        (100, 64..=127, _) => "carrier-grade NAT",
        (192, 0, 0) => "IETF protocol assignment",
        (198, 18..=19, _) => "benchmarking",
        (240..=255, _, _) => "reserved",
        _ => return None,
    })
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    Some(match first {
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_multicast() => "multicast",
        _ if first & 0xffc0 == 0xfe80 => "link-local",
        _ if first & 0xfe00 == 0xfc00 => "unique-local",
        // Deprecated site-local, documentation, and NAT64 (which can reach
        // any IPv4 address, private ones included).
        _ if first & 0xffc0 == 0xfec0 => "site-local",
        0x2001 if ip.segments()[1] == 0x0db8 => "documentation",
        0x0064 if ip.segments()[1] == 0xff9b => "NAT64",
        // 6to4 embeds an IPv4 address; judge that one.
        0x2002 => {
            let [_, hi, lo, ..] = ip.segments();
            let embedded = Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
            return v4_kind(embedded);
        }
        _ => return None,
    })
}

/// The policy: public addresses, plus what `OUTBOUND_ALLOW` names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    networks: Vec<Cidr>,
    /// Lower-case host names whose every address is allowed.
    hosts: Vec<String>,
}

impl OutboundPolicy {
    /// Parses a comma-separated list of CIDRs, addresses and host names
    /// (`10.1.0.0/16, fd00::/8, build.internal`). An entry that is neither
    /// an address nor a valid host name is an error naming it.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut policy = OutboundPolicy::default();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if let Some(cidr) = Cidr::parse(entry) {
                policy.networks.push(cidr);
            } else if is_host_name(entry) {
                policy.hosts.push(entry.to_ascii_lowercase());
            } else {
                return Err(format!("{entry:?} is neither a CIDR nor a host name"));
            }
        }
        Ok(policy)
    }

    /// Also allows `host` (e.g. the operator's `AWS_ENDPOINT_URL`).
    pub fn allow_host(&mut self, host: &str) {
        match host.trim_matches(['[', ']']).parse::<IpAddr>() {
            Ok(ip) => self.networks.push(Cidr {
                network: ip,
                prefix: if ip.is_ipv4() { 32 } else { 128 },
            }),
            Err(_) => self.hosts.push(host.to_ascii_lowercase()),
        }
    }

    /// Whether requests to the host name `host` may go to any address it
    /// resolves to.
    pub fn host_is_allowed(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.hosts.contains(&host)
    }

    /// `Ok` when `ip` may be connected to; else why not.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Refused> {
        match private_kind(ip) {
            None => Ok(()),
            Some(_) if self.networks.iter().any(|n| n.contains(ip)) => Ok(()),
            Some(kind) => Err(Refused {
                target: ip.to_string(),
                reason: format!("{ip} is a {kind} address"),
            }),
        }
    }

    /// Checks what can be checked of a URL before resolving it: its scheme
    /// and, when its host is an address literal, that address. Host names
    /// are checked at resolution.
    pub fn check_url(&self, url: &url::Url) -> Result<(), Refused> {
        let refused = |reason: String| Refused {
            target: url.host_str().unwrap_or_default().to_owned(),
            reason,
        };
        if !matches!(url.scheme(), "http" | "https") {
            return Err(refused(format!("scheme {} is not http(s)", url.scheme())));
        }
        match url.host() {
            Some(url::Host::Ipv4(ip)) => self.check_ip(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => self.check_ip(IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) => Ok(()),
            None => Err(refused("the URL has no host".into())),
        }
    }

    /// The addresses of `resolved` (for `host`) that may be connected to; an
    /// error when none may.
    pub fn filter_resolved(
        &self,
        host: &str,
        resolved: impl IntoIterator<Item = IpAddr>,
    ) -> Result<Vec<IpAddr>, Refused> {
        let all: Vec<IpAddr> = resolved.into_iter().collect();
        if self.host_is_allowed(host) {
            return Ok(all);
        }
        let mut first_refusal = None;
        let allowed: Vec<IpAddr> = all
            .iter()
            .copied()
            .filter(|ip| match self.check_ip(*ip) {
                Ok(()) => true,
                Err(e) => {
                    first_refusal.get_or_insert(e);
                    false
                }
            })
            .collect();
        match (allowed.is_empty(), first_refusal) {
            (false, _) => Ok(allowed),
            (true, Some(refusal)) => Err(Refused {
                target: host.to_owned(),
                reason: format!("{host} resolves to {}", refusal.reason),
            }),
            (true, None) => Err(Refused {
                target: host.to_owned(),
                reason: format!("{host} resolves to no address"),
            }),
        }
    }
}

fn is_host_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// An outbound request the policy refused. Permanent: retrying cannot help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("outbound request refused: {reason} (allow it with OUTBOUND_ALLOW)")]
pub struct Refused {
    /// The host or address that was refused.
    pub target: String,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(policy: &OutboundPolicy, ip: &str) -> bool {
        policy.check_ip(ip.parse().unwrap()).is_err()
    }

    #[test]
    fn internal_addresses_are_refused_and_public_ones_allowed() {
        let p = OutboundPolicy::default();
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "fc00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
        ] {
            assert!(refused(&p, ip), "{ip} should be refused");
        }
        for ip in ["1.1.1.1", "8.8.8.8", "2606:4700::1111", "100.128.0.1"] {
            assert!(!refused(&p, ip), "{ip} should be allowed");
        }
    }

    #[test]
    fn the_allow_list_opens_networks_and_host_names() {
        let p = OutboundPolicy::parse(" 10.1.0.0/16, ::1 ,build.internal").unwrap();
        assert!(!refused(&p, "10.1.200.3"));
        assert!(refused(&p, "10.2.0.1"));
        assert!(!refused(&p, "::1"));
        assert!(refused(&p, "127.0.0.1"));
        assert!(p.host_is_allowed("Build.Internal."));
        let local = ["127.0.0.1".parse().unwrap()];
        assert!(p.filter_resolved("build.internal", local).is_ok());
        assert!(p.filter_resolved("evil.example", local).is_err());
        assert!(OutboundPolicy::parse("10.0.0.0/33").is_err());
        assert!(OutboundPolicy::parse("not a host").is_err());
    }

    #[test]
    fn address_literals_in_urls_are_checked_before_resolution() {
        let p = OutboundPolicy::default();
        let url = |u: &str| url::Url::parse(u).unwrap();
        assert!(p.check_url(&url("http://169.254.169.254/latest")).is_err());
        assert!(p.check_url(&url("http://[::1]:8080/")).is_err());
        assert!(p.check_url(&url("http://0x7f000001/")).is_err());
        assert!(p.check_url(&url("file:///etc/passwd")).is_err());
        assert!(p.check_url(&url("https://example.com/")).is_ok());
    }
}
