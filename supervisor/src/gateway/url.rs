//! The few URL operations the gateway needs: split an http(s) URL, and
//! resolve a playlist's references against the playlist's own URL.

/// An http or https URL, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Path and query, at least `/`.
    pub target: String,
}

impl HttpUrl {
    /// `Host:` header value: the port only when it is not the default.
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == if self.tls { 443 } else { 80 } {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// Splits `http://[user@]host[:port]/path?query#frag`. Userinfo is dropped:
/// it is never sent in a request.
pub fn parse(url: &str) -> Result<HttpUrl, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| "not an absolute URL".to_string())?;
    let tls = match scheme.to_ascii_lowercase().as_str() {
        "http" => false,
        "https" => true,
        other => {
            return Err(format!(
                "the gateway fetches http and https only, not {other}"
            ))
        }
    };
    let rest = rest.split('#').next().unwrap_or("");
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, target) = rest.split_at(end);
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or("bad IPv6 host")?;
        (h, after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() || host.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err("URL has no usable host".into());
    }
    let port = match port {
        None | Some("") => {
            if tls {
                443
            } else {
                80
            }
        }
        Some(p) => p.parse().map_err(|_| format!("bad port {p:?}"))?,
    };
    if target.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err("URL path has spaces or control characters".into());
    }
    let target = if target.starts_with('?') {
        format!("/{target}")
    } else if target.is_empty() {
        "/".into()
    } else {
        target.to_string()
    };
    Ok(HttpUrl {
        tls,
        host: host.to_ascii_lowercase(),
        port,
        target,
    })
}

/// Resolves `reference` against `base` (RFC 3986 section 5, the cases
/// playlists use).
pub fn resolve(base: &str, reference: &str) -> String {
    let reference = reference.trim();
    if let Some(i) = reference.find("://") {
        if reference[..i]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        {
            return reference.to_string();
        }
    }
    let Some((scheme, rest)) = base.split_once("://") else {
        return reference.to_string();
    };
    if let Some(r) = reference.strip_prefix("//") {
        return format!("{scheme}://{r}");
    }
    let rest = rest.split('#').next().unwrap_or("");
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, target) = rest.split_at(end);
    let (base_path, _) = target.split_once('?').unwrap_or((target, ""));
    let joined = if reference.starts_with('/') {
        reference.to_string()
    } else if reference.starts_with('?') {
        format!("{base_path}{reference}")
    } else if reference.is_empty() {
        target.to_string()
    } else {
        let dir = &base_path[..base_path.rfind('/').map_or(0, |i| i + 1)];
        let dir = if dir.is_empty() { "/" } else { dir };
        format!("{dir}{reference}")
    };
    format!("{scheme}://{authority}{}", remove_dots(&joined))
}

/// Removes `.` and `..` path segments (the query is left alone).
fn remove_dots(target: &str) -> String {
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    for (i, seg) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *seg {
            "." => {
                if last {
                    out.push("");
                }
            }
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let mut p = out.join("/");
    if !p.starts_with('/') {
        p.insert(0, '/');
    }
    match query {
        Some(q) => format!("{p}?{q}"),
        None => p,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_urls() {
        let u = parse("https://user:pw@CDN.test:8443/a/b.m3u8?t=1#x").unwrap();
        assert_eq!(
            u,
            HttpUrl {
                tls: true,
                host: "cdn.test".into(),
                port: 8443,
                target: "/a/b.m3u8?t=1".into()
            }
        );
        assert_eq!(u.host_header(), "cdn.test:8443");
        let u = parse("http://[::1]/x").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 80));
        assert_eq!(u.host_header(), "[::1]");
        assert_eq!(parse("http://h?q=1").unwrap().target, "/?q=1");
        assert_eq!(parse("http://h").unwrap().target, "/");
        assert!(parse("ftp://h/").is_err());
        assert!(parse("http:///x").is_err());
        assert!(parse("http://h:99999/").is_err());
        assert!(parse("http://h/a b").is_err());
        assert!(parse("relative/x").is_err());
    }

    #[test]
    fn resolves_references() {
        let b = "http://o.test:81/live/hls/index.m3u8?tok=1";
        assert_eq!(resolve(b, "seg1.ts"), "http://o.test:81/live/hls/seg1.ts");
        assert_eq!(resolve(b, "../v/a.m3u8"), "http://o.test:81/live/v/a.m3u8");
        assert_eq!(resolve(b, "/k.key"), "http://o.test:81/k.key");
        assert_eq!(resolve(b, "//cdn.test/x.ts"), "http://cdn.test/x.ts");
        assert_eq!(resolve(b, "https://c.test/y"), "https://c.test/y");
        assert_eq!(
            resolve(b, "?b=2"),
            "http://o.test:81/live/hls/index.m3u8?b=2"
        );
        assert_eq!(
            resolve(b, "./a/./b/../c.ts"),
            "http://o.test:81/live/hls/a/c.ts"
        );
        assert_eq!(resolve("http://h", "x.ts"), "http://h/x.ts");
        assert_eq!(resolve(b, "../../../../x"), "http://o.test:81/x");
    }
}
