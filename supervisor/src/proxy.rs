//! Upstream proxies: parsing `http://`, `socks5://` and `socks5h://` proxy
//! URLs, and the pure parts of the SOCKS bridge (the HTTP proxy request
//! ffmpeg sends it, the SOCKS5 messages it sends on). The I/O is in
//! `socks_bridge.rs`.

use std::net::IpAddr;

/// A proxy a channel's requests go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proxy {
    /// ffmpeg speaks HTTP proxy itself: the URL (with any credentials) is
    /// handed to it as `-http_proxy`.
    Http { url: String },
    /// ffmpeg has no SOCKS client: the supervisor bridges.
    Socks5 {
        host: String,
        port: u16,
        auth: Option<(String, String)>,
        /// `socks5h`: the proxy resolves host names (the client's DNS may
        /// not know them, or must not be asked).
        remote_dns: bool,
    },
}

impl Proxy {
    /// The proxy without credentials, for logs and status.
    pub fn display(&self) -> String {
        match self {
            Proxy::Http { url } => strip_credentials(url),
            Proxy::Socks5 {
                host,
                port,
                remote_dns,
                ..
            } => format!(
                "{}://{}:{port}",
                if *remote_dns { "socks5h" } else { "socks5" },
                bracket(host)
            ),
        }
    }
}

fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

fn strip_credentials(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{scheme}://{host}{path}")
        }
        None => url.to_string(),
    }
}

/// Parses a proxy URL. `none`, `direct` and the empty string mean no proxy.
pub fn parse(url: &str) -> Result<Option<Proxy>, String> {
    let url = url.trim();
    if url.is_empty() || url.eq_ignore_ascii_case("none") || url.eq_ignore_ascii_case("direct") {
        return Ok(None);
    }
    if url.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err("proxy URL contains spaces or control characters".into());
    }
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("proxy \"{}\" is not a URL", strip_credentials(url)))?;
    let scheme = scheme.to_ascii_lowercase();
    let authority = rest.split('/').next().unwrap_or("");
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (host, port) = split_host_port(hostport)
        .ok_or_else(|| format!("proxy \"{}\" has no host", strip_credentials(url)))?;
    match scheme.as_str() {
        "http" => Ok(Some(Proxy::Http {
            url: url.to_string(),
        })),
        "socks5" | "socks5h" => {
            let auth = match userinfo {
                None => None,
                Some(u) => {
                    let (user, pass) = u.split_once(':').unwrap_or((u, ""));
                    let (user, pass) = (percent_decode(user)?, percent_decode(pass)?);
                    if user.len() > 255 || pass.len() > 255 {
                        return Err("SOCKS5 user name and password are at most 255 bytes".into());
                    }
                    Some((user, pass))
                }
            };
            Ok(Some(Proxy::Socks5 {
                host,
                port: port.unwrap_or(1080),
                auth,
                remote_dns: scheme == "socks5h",
            }))
        }
        "https" => {
            Err("HTTPS proxies are not supported (use http://, socks5:// or socks5h://)".into())
        }
        other => Err(format!(
            "proxy scheme \"{other}\" is not supported (use http://, socks5:// or socks5h://)"
        )),
    }
}

/// `host:port`, `[v6]:port`, `host`.
fn split_host_port(s: &str) -> Option<(String, Option<u16>)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return (!host.is_empty()).then(|| (host.to_string(), port));
    }
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p.parse().ok()?)),
        None => (s, None),
    };
    (!host.is_empty()).then(|| (host.to_string(), port))
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = shared::token::percent_decode(s.as_bytes())
        .ok_or_else(|| "proxy credentials have a malformed %-escape".to_string())?;
    String::from_utf8(bytes).map_err(|_| "proxy credentials are not UTF-8".to_string())
}

/// What ffmpeg asks the bridge for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyRequest {
    pub host: String,
    pub port: u16,
    /// `CONNECT`: a tunnel (HTTPS); otherwise a plain request to forward.
    pub tunnel: bool,
    /// For a forwarded request: the head to send upstream (origin-form
    /// request line, proxy headers dropped, `Connection: close`).
    pub head: Vec<u8>,
    /// The `Proxy-Authorization` value, if any.
    pub auth: Option<String>,
}

/// Parses an HTTP proxy request head (through the blank line).
pub fn parse_request(head: &[u8]) -> Result<ProxyRequest, String> {
    let text = std::str::from_utf8(head).map_err(|_| "request head is not UTF-8".to_string())?;
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or("");
    if has_control(first) {
        return Err(format!("control character in request line {first:?}"));
    }
    let mut parts = first.split(' ');
    let (method, target, version) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v), None) if v.starts_with("HTTP/1.") => (m, t, v),
        _ => return Err(format!("bad request line {first:?}")),
    };
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if method.is_empty() || !method.bytes().all(tchar) {
        return Err(format!("bad request method {method:?}"));
    }
    let mut auth = None;
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        if has_control(line) {
            return Err(format!("control character in header line {line:?}"));
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("bad header line {line:?}"));
        };
        let lname = name.trim().to_ascii_lowercase();
        match lname.as_str() {
            "proxy-authorization" => auth = Some(value.trim().to_string()),
            "proxy-connection" | "connection" | "keep-alive" => {}
            _ => headers.push(line),
        }
    }
    if method == "CONNECT" {
        let (host, port) =
            split_host_port(target).ok_or_else(|| format!("bad CONNECT target {target:?}"))?;
        return Ok(ProxyRequest {
            host,
            port: port.ok_or_else(|| format!("CONNECT target {target:?} has no port"))?,
            tunnel: true,
            head: Vec::new(),
            auth,
        });
    }
    let rest = target
        .strip_prefix("http://")
        .ok_or_else(|| format!("the bridge forwards http:// URLs only, not {target:?}"))?;
    let slash = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(slash);
    let (host, port) =
        split_host_port(authority).ok_or_else(|| format!("bad URL host in {target:?}"))?;
    let path = if path.is_empty() { "/" } else { path };
    // One request per upstream connection: ffmpeg may send its next request
    // for another host on the same proxy connection.
    let mut out = format!("{method} {path} {version}\r\n");
    for h in headers {
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    Ok(ProxyRequest {
        host,
        port: port.unwrap_or(80),
        tunnel: false,
        head: out.into_bytes(),
        auth,
    })
}

/// A bare CR or LF (or another control byte) inside a line would reach the
/// upstream server as a line of its own: a header the bridge never saw.
fn has_control(line: &str) -> bool {
    line.bytes().any(|b| b.is_ascii_control() && b != b'\t')
}

/// The SOCKS5 greeting: version 5, "no auth" and, with credentials,
/// "user/password".
pub fn socks_greeting(with_auth: bool) -> Vec<u8> {
    if with_auth {
        vec![5, 2, 0, 2]
    } else {
        vec![5, 1, 0]
    }
}

/// RFC 1929 user/password sub-negotiation.
pub fn socks_auth(user: &str, pass: &str) -> Vec<u8> {
    let mut out = vec![1, user.len() as u8];
    out.extend_from_slice(user.as_bytes());
    out.push(pass.len() as u8);
    out.extend_from_slice(pass.as_bytes());
    out
}

/// Where the SOCKS server should connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Ip(IpAddr),
    Name(String),
}

/// A CONNECT request for `target:port`.
pub fn socks_connect(target: &Target, port: u16) -> Result<Vec<u8>, String> {
    let mut out = vec![5, 1, 0];
    match target {
        Target::Ip(IpAddr::V4(a)) => {
            out.push(1);
            out.extend_from_slice(&a.octets());
        }
        Target::Ip(IpAddr::V6(a)) => {
            out.push(4);
            out.extend_from_slice(&a.octets());
        }
        Target::Name(n) => {
            if n.is_empty() || n.len() > 255 {
                return Err(format!("host name {n:?} cannot be sent to a SOCKS5 proxy"));
            }
            out.push(3);
            out.push(n.len() as u8);
            out.extend_from_slice(n.as_bytes());
        }
    }
    out.extend_from_slice(&port.to_be_bytes());
    Ok(out)
}

/// Length of a SOCKS5 reply given its first 5 bytes (version, status,
/// reserved, address type, first address byte).
pub fn socks_reply_len(first5: &[u8; 5]) -> Result<usize, String> {
    match first5[3] {
        1 => Ok(4 + 4 + 2),
        4 => Ok(4 + 16 + 2),
        3 => Ok(4 + 1 + first5[4] as usize + 2),
        t => Err(format!("SOCKS5 reply with unknown address type {t}")),
    }
}

/// The meaning of a SOCKS5 reply status (RFC 1928 section 6).
pub fn socks_status(code: u8) -> &'static str {
    match code {
        0 => "succeeded",
        1 => "general SOCKS server failure",
        2 => "connection not allowed by ruleset",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "unknown error",
    }
}

/// Standard base64 (for `Proxy-Authorization: Basic`).
pub fn base64(input: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls() {
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(parse("none").unwrap(), None);
        assert_eq!(parse("DIRECT").unwrap(), None);
        assert_eq!(
            parse("http://u:p@127.0.0.1:3128").unwrap(),
            Some(Proxy::Http {
                url: "http://u:p@127.0.0.1:3128".into()
            })
        );
        assert_eq!(
            parse("socks5h://user:p%40ss@proxy.example:1081").unwrap(),
            Some(Proxy::Socks5 {
                host: "proxy.example".into(),
                port: 1081,
                auth: Some(("user".into(), "p@ss".into())),
                remote_dns: true
            })
        );
        assert_eq!(
            parse("socks5://[::1]").unwrap(),
            Some(Proxy::Socks5 {
                host: "::1".into(),
                port: 1080,
                auth: None,
                remote_dns: false
            })
        );
        assert!(parse("socks4://x:1").unwrap_err().contains("not supported"));
        assert!(parse("https://x:1").unwrap_err().contains("not supported"));
        assert!(parse("http://:1").unwrap_err().contains("no host"));
        assert!(parse("socks5://x:99999").is_err());
        assert!(parse("proxy.example:3128")
            .unwrap_err()
            .contains("not a URL"));
        assert!(parse("http://x:1\r\nX: y").is_err());
    }

    #[test]
    fn display_hides_credentials() {
        let p = parse("http://u:secret@127.0.0.1:3128/").unwrap().unwrap();
        assert_eq!(p.display(), "http://127.0.0.1:3128/");
        let p = parse("socks5h://u:secret@[::1]:1080").unwrap().unwrap();
        assert_eq!(p.display(), "socks5h://[::1]:1080");
        let p = parse("socks5://u:secret@h:1").unwrap().unwrap();
        assert_eq!(p.display(), "socks5://h:1");
    }

    #[test]
    fn forwarded_requests() {
        let head = b"GET http://origin.test:8081/live/a.ts?x=1 HTTP/1.1\r\nUser-Agent: UA\r\nProxy-Authorization: Basic abc\r\nConnection: keep-alive\r\nHost: origin.test:8081\r\n\r\n";
        let r = parse_request(head).unwrap();
        assert_eq!(
            (r.host.as_str(), r.port, r.tunnel),
            ("origin.test", 8081, false)
        );
        assert_eq!(r.auth.as_deref(), Some("Basic abc"));
        assert_eq!(
            String::from_utf8(r.head).unwrap(),
            "GET /live/a.ts?x=1 HTTP/1.1\r\nUser-Agent: UA\r\nHost: origin.test:8081\r\nConnection: close\r\n\r\n"
        );
        let r = parse_request(b"GET http://h HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!(r.port, 80);
        assert!(String::from_utf8(r.head)
            .unwrap()
            .starts_with("GET / HTTP/1.0\r\n"));
    }

    #[test]
    fn tunnels_and_bad_requests() {
        let r =
            parse_request(b"CONNECT cdn.test:443 HTTP/1.1\r\nHost: cdn.test:443\r\n\r\n").unwrap();
        assert_eq!((r.host.as_str(), r.port, r.tunnel), ("cdn.test", 443, true));
        assert!(parse_request(b"CONNECT cdn.test HTTP/1.1\r\n\r\n").is_err());
        assert!(parse_request(b"GET /relative HTTP/1.1\r\n\r\n").is_err());
        assert!(parse_request(b"GET ftp://x/ HTTP/1.1\r\n\r\n").is_err());
        assert!(parse_request(b"nonsense\r\n\r\n").is_err());
    }

    #[test]
    fn bare_line_breaks_are_refused() {
        // Found by fuzz/src/targets/proxy_head.rs: a bare LF or CR inside a
        // header line was forwarded upstream, where it starts a new header.
        for head in [
            &b"GET http://h/ HTTP/1.1\r\nX-A: 1\nProxy-Authorization: Basic eDp5\r\n\r\n"[..],
            b"GET http://h/ HTTP/1.1\r\nHost: h\rX-B: 2\r\n\r\n",
            b"GET http://h/a\nb HTTP/1.1\r\n\r\n",
            b"GET http://h/ HTTP/1.1\r\nX-C: \0\r\n\r\n",
        ] {
            let e = parse_request(head).unwrap_err();
            assert!(e.contains("control character"), "{e}");
        }
        assert!(parse_request(b"GET http://h/ HTTP/1.1\r\nX-D: a\tb\r\n\r\n").is_ok());
        // Found by fuzzing too: the method is a token, not a header name.
        let e = parse_request(b"Proxy-Authorization:\tET http://h/ HTTP/1.0\r\n\r\n");
        assert!(e.unwrap_err().contains("bad request method"));
        assert!(parse_request(b"GET http://h/ HTTP/1.1\r\nno colon\r\n\r\n").is_err());
    }

    #[test]
    fn socks_messages() {
        assert_eq!(socks_greeting(false), [5, 1, 0]);
        assert_eq!(socks_greeting(true), [5, 2, 0, 2]);
        assert_eq!(socks_auth("u", "pw"), [1, 1, b'u', 2, b'p', b'w']);
        assert_eq!(
            socks_connect(&Target::Name("ab".into()), 80).unwrap(),
            [5, 1, 0, 3, 2, b'a', b'b', 0, 80]
        );
        assert_eq!(
            socks_connect(&Target::Ip("127.0.0.1".parse().unwrap()), 8081).unwrap(),
            [5, 1, 0, 1, 127, 0, 0, 1, 0x1f, 0x91]
        );
        assert_eq!(
            socks_connect(&Target::Ip("::1".parse().unwrap()), 1)
                .unwrap()
                .len(),
            4 + 16 + 2
        );
        assert!(socks_connect(&Target::Name(String::new()), 1).is_err());
        assert_eq!(socks_reply_len(&[5, 0, 0, 1, 127]).unwrap(), 10);
        assert_eq!(socks_reply_len(&[5, 0, 0, 3, 4]).unwrap(), 11);
        assert!(socks_reply_len(&[5, 0, 0, 9, 0]).is_err());
        assert_eq!(socks_status(5), "connection refused");
    }

    #[test]
    fn base64_vectors() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(b"bridge:0123abcd"), "YnJpZGdlOjAxMjNhYmNk");
    }
}
