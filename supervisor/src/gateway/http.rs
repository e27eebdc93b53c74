//! HTTP/1.1 heads: ffmpeg's request to the gateway, the gateway's request
//! upstream, and upstream responses.

/// What ffmpeg asks the gateway for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRequest {
    pub id: u64,
    /// `Range` to pass on (ffmpeg asks `bytes=0-` and seeks by range).
    pub range: Option<String>,
}

/// Parses ffmpeg's request head: `GET /u/<id>[/<name>] HTTP/1.x`.
pub fn parse_client_request(head: &[u8]) -> Result<ClientRequest, String> {
    let text = std::str::from_utf8(head).map_err(|_| "request head is not UTF-8".to_string())?;
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or("");
    let mut parts = first.split(' ');
    let (method, target) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v), None) if v.starts_with("HTTP/1.") => (m, t),
        _ => return Err(format!("bad request line {:?}", cut(first))),
    };
    if method != "GET" && method != "HEAD" {
        return Err(format!("method {:?} is not served", cut(method)));
    }
    let id = target
        .strip_prefix("/u/")
        .and_then(|r| r.split('/').next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("no gateway id in {:?}", cut(target)))?;
    let mut range = None;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("range") {
                let v = value.trim();
                if v.bytes()
                    .all(|b| b.is_ascii_digit() || b"bytes=-,".contains(&b))
                {
                    range = Some(v.to_string());
                }
            }
        }
    }
    Ok(ClientRequest { id, range })
}

fn cut(s: &str) -> String {
    s.chars().take(80).collect()
}

/// An upstream response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    }

    /// The head passed on to ffmpeg: status and the headers that describe
    /// the body; never `Location` or `Set-Cookie` (the gateway follows and
    /// keeps those), always `Connection: close`.
    pub fn head_for_client(&self, content_length: Option<usize>) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {} {}\r\n", self.status, self.reason);
        for (n, v) in &self.headers {
            let keep = [
                "content-type",
                "content-range",
                "accept-ranges",
                "transfer-encoding",
                "content-length",
                "last-modified",
                "etag",
                "icy-metaint",
            ]
            .contains(&n.to_ascii_lowercase().as_str());
            let length = n.eq_ignore_ascii_case("content-length")
                || n.eq_ignore_ascii_case("transfer-encoding");
            if keep && !(length && content_length.is_some()) {
                out.push_str(&format!("{n}: {v}\r\n"));
            }
        }
        if let Some(len) = content_length {
            out.push_str(&format!("Content-Length: {len}\r\n"));
        }
        out.push_str("Connection: close\r\n\r\n");
        out.into_bytes()
    }

    /// The head for a body the gateway replaced (a rewritten playlist):
    /// the whole new body, so a `206` to ffmpeg's `Range: bytes=0-`
    /// becomes `200` and the upstream's `Content-Range` (whose total
    /// counts the original bytes, which ffmpeg would then wait for) goes.
    pub fn head_for_replaced_body(&self, len: usize) -> Vec<u8> {
        let whole = Response {
            status: if self.status == 206 { 200 } else { self.status },
            reason: if self.status == 206 {
                "OK".into()
            } else {
                self.reason.clone()
            },
            headers: self
                .headers
                .iter()
                .filter(|(n, _)| {
                    !n.eq_ignore_ascii_case("content-range")
                        && !n.eq_ignore_ascii_case("accept-ranges")
                })
                .cloned()
                .collect(),
        };
        whole.head_for_client(Some(len))
    }
}

/// Parses a response head (through the blank line).
pub fn parse_response(head: &[u8]) -> Result<Response, String> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or("");
    let mut parts = first.splitn(3, ' ');
    let (version, code) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if !version.starts_with("HTTP/1.") || code.len() != 3 {
        return Err(format!("upstream sent no HTTP response ({:?})", cut(first)));
    }
    // Three digits, 100-599: `parse` alone takes `+99` or `000`, which
    // would reach ffmpeg as a status line no HTTP client expects.
    let status = Some(code)
        .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|c| c.parse().ok())
        .filter(|s| (100..=599).contains(s))
        .ok_or_else(|| format!("bad status {:?}", cut(code)))?;
    let reason: String = parts
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    let mut headers = Vec::new();
    for line in lines.take_while(|l| !l.is_empty()) {
        if let Some((n, v)) = line.split_once(':') {
            if !v.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
                headers.push((n.trim().to_string(), v.trim().to_string()));
            }
        }
    }
    Ok(Response {
        status,
        reason,
        headers,
    })
}

/// Where a complete head ends (after `\r\n\r\n`), if it does.
pub fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_requests() {
        let r = parse_client_request(
            b"GET /u/17/s.ts HTTP/1.1\r\nRange: bytes=0-\r\nUser-Agent: Lavf\r\n\r\n",
        )
        .unwrap();
        assert_eq!(
            r,
            ClientRequest {
                id: 17,
                range: Some("bytes=0-".into())
            }
        );
        assert_eq!(
            parse_client_request(b"GET /u/3 HTTP/1.0\r\n\r\n")
                .unwrap()
                .id,
            3
        );
        assert!(parse_client_request(b"GET http://x/ HTTP/1.1\r\n\r\n").is_err());
        assert!(parse_client_request(b"POST /u/1 HTTP/1.1\r\n\r\n").is_err());
        assert!(parse_client_request(b"GET /u/x HTTP/1.1\r\n\r\n").is_err());
        assert!(parse_client_request(b"junk\r\n\r\n").is_err());
        let odd = parse_client_request(b"GET /u/1 HTTP/1.1\r\nRange: x\r\n\r\n").unwrap();
        assert_eq!(odd.range, None);
    }

    #[test]
    fn responses() {
        let r = parse_response(b"HTTP/1.1 302 Found\r\nLocation: /x\r\nSet-Cookie: a=1\r\nContent-Type: video/mp2t\r\nTransfer-Encoding: chunked\r\n\r\n").unwrap();
        assert_eq!(r.status, 302);
        assert_eq!(r.header("location"), Some("/x"));
        assert!(r.chunked());
        let head = String::from_utf8(r.head_for_client(None)).unwrap();
        assert_eq!(head, "HTTP/1.1 302 Found\r\nContent-Type: video/mp2t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
        let head = String::from_utf8(r.head_for_client(Some(5))).unwrap();
        assert!(head.contains("Content-Length: 5\r\n") && !head.contains("chunked"));
        // A rewritten playlist answers the whole new body, whatever range
        // the upstream answered.
        let partial = parse_response(b"HTTP/1.1 206 Partial Content\r\nContent-Type: application/vnd.apple.mpegurl\r\nContent-Range: bytes 0-193/194\r\nContent-Length: 194\r\nAccept-Ranges: bytes\r\n\r\n").unwrap();
        let head = String::from_utf8(partial.head_for_replaced_body(178)).unwrap();
        assert_eq!(head, "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.apple.mpegurl\r\nContent-Length: 178\r\nConnection: close\r\n\r\n");
        assert!(parse_response(b"ICY 200 OK\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 2000 x\r\n\r\n").is_err());
        // Found writing the fuzz target: a sign or an impossible status passed.
        for bad in ["+99", "000", "099", "600", "2 0"] {
            let head = format!("HTTP/1.1 {bad} x\r\n\r\n");
            assert!(parse_response(head.as_bytes()).is_err(), "{bad}");
        }
        assert_eq!(head_end(b"HTTP/1.1 200 OK\r\n\r\nbody"), Some(19));
        assert_eq!(head_end(b"HTTP/1.1 200 OK\r\n"), None);
    }
}
