//! Which upstream addresses the gateway may connect to: none of the host's
//! own or its private networks (loopback, link-local, RFC 1918, ULA, CGNAT,
//! unspecified, multicast) unless the operator or the channel allows a
//! network explicitly. A hostile playlist must not make the supervisor fetch
//! from the API on 127.0.0.1 or a cloud metadata address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An allowed network, `addr/prefix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    /// `10.0.0.0/8`, `fd00::/8`, or a single address.
    pub fn parse(s: &str) -> Result<Net, String> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("\"{s}\" is not a network (address/prefix)"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("\"{s}\" has a bad prefix length"))?,
        };
        Ok(Net { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// A comma-separated list of networks (empty: none).
pub fn parse_list(s: &str) -> Result<Vec<Net>, String> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(Net::parse)
        .collect()
}

/// An IPv4 address inside IPv6 (`::ffff:127.0.0.1`) is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// What kind of non-public address `ip` is, if it is one.
pub fn restricted_kind(ip: IpAddr) -> Option<&'static str> {
    match canonical(ip) {
        IpAddr::V4(a) => v4_kind(a),
        IpAddr::V6(a) => v6_kind(a),
    }
}

fn v4_kind(a: Ipv4Addr) -> Option<&'static str> {
    let o = a.octets();
    if a.is_loopback() {
        Some("loopback")
    } else if a.is_unspecified() || o[0] == 0 {
        Some("unspecified")
    } else if a.is_link_local() {
        Some("link-local")
    } else if a.is_private() {
        Some("private")
    } else if o[0] == 100 && (64..128).contains(&o[1]) {
        Some("carrier-grade NAT")
    } else if a.is_multicast() || a.is_broadcast() || o[0] >= 240 {
        Some("multicast or reserved")
    } else {
        None
    }
}

fn v6_kind(a: Ipv6Addr) -> Option<&'static str> {
    let s = a.segments();
    if a.is_loopback() {
        Some("loopback")
    } else if a.is_unspecified() {
        Some("unspecified")
    } else if s[0] & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if s[0] & 0xfe00 == 0xfc00 || s[0] & 0xffc0 == 0xfec0 {
        Some("private")
    } else if a.is_multicast() {
        Some("multicast or reserved")
    } else if s[..6] == [0; 6] {
        // IPv4-compatible (deprecated): judge the IPv4 address.
        v4_kind(Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7])))
    } else {
        None
    }
}

/// Whether the gateway may connect to `ip`: public addresses always, others
/// only inside an allowed network. The error is the channel's reason.
pub fn check(host: &str, ip: IpAddr, allowed: &[Net]) -> Result<(), String> {
    let Some(kind) = restricted_kind(ip) else {
        return Ok(());
    };
    if allowed.iter().any(|n| n.contains(ip)) {
        return Ok(());
    }
    let named = if host.trim_matches(['[', ']']) == ip.to_string() {
        String::new()
    } else {
        format!("{host} resolves to ")
    };
    Err(format!(
        "upstream address refused: {named}{ip} is a {kind} address \
         (allow it with --allow-upstream-networks or the channel's allow_networks)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn private_and_local_addresses_are_refused() {
        for (a, kind) in [
            ("127.0.0.1", "loopback"),
            ("127.9.9.9", "loopback"),
            ("::1", "loopback"),
            ("0.0.0.0", "unspecified"),
            ("::", "unspecified"),
            ("169.254.169.254", "link-local"),
            ("fe80::1", "link-local"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("192.168.1.1", "private"),
            ("fd12::1", "private"),
            ("100.64.0.1", "carrier-grade NAT"),
            ("224.0.0.1", "multicast or reserved"),
            ("255.255.255.255", "multicast or reserved"),
            ("ff02::1", "multicast or reserved"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:169.254.1.1", "link-local"),
        ] {
            assert_eq!(restricted_kind(ip(a)), Some(kind), "{a}");
            assert!(check(a, ip(a), &[]).is_err(), "{a}");
        }
        for a in [
            "192.0.2.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2001:db8::1",
        ] {
            assert_eq!(restricted_kind(ip(a)), None, "{a}");
            assert!(check(a, ip(a), &[]).is_ok());
        }
    }

    #[test]
    fn allowed_networks_open_exactly_what_they_name() {
        let allow = parse_list("127.0.0.2/32, 10.0.0.0/8,fd00::/8").unwrap();
        assert!(check("x", ip("127.0.0.2"), &allow).is_ok());
        assert!(check("x", ip("127.0.0.1"), &allow).is_err());
        assert!(check("x", ip("10.200.0.1"), &allow).is_ok());
        assert!(check("x", ip("::ffff:10.0.0.1"), &allow).is_ok());
        assert!(check("x", ip("fd00::5"), &allow).is_ok());
        assert!(check("x", ip("fc00::5"), &allow).is_err());
        assert!(Net::parse("0.0.0.0/0").unwrap().contains(ip("127.0.0.1")));
        assert!(!Net::parse("0.0.0.0/0").unwrap().contains(ip("::1")));
        assert_eq!(parse_list("").unwrap(), vec![]);
        assert!(parse_list("10.0.0.0/33").is_err());
        assert!(parse_list("example.com").is_err());
    }

    #[test]
    fn reasons_name_the_host_and_the_kind() {
        let e = check("metadata.test", ip("169.254.169.254"), &[]).unwrap_err();
        assert!(e.contains("metadata.test resolves to 169.254.169.254 is a link-local"));
        let e = check("127.0.0.1", ip("127.0.0.1"), &[]).unwrap_err();
        assert!(e.starts_with("upstream address refused: 127.0.0.1 is a loopback address"));
    }
}
