//! The gateway's upstream requests: connect directly, through an HTTP proxy
//! (absolute-form for http, CONNECT for https) or SOCKS5, with the address
//! policy applied first; TLS verified; redirects followed here, each hop
//! checked again.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::cookies::Jar;
use super::http::{self, Response};
use super::policy::{self, Net};
use super::url::{self, HttpUrl};
use super::{socks, tls};
use crate::proxy::{self, Proxy, Target};

const MAX_HEAD: usize = 64 * 1024;
const MAX_REDIRECTS: usize = 5;

/// How a channel reaches its upstreams.
pub struct Route {
    pub proxy: Option<Proxy>,
    pub allowed: Vec<Net>,
    pub tls: Arc<ClientConfig>,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    /// User-Agent, Referer, extra headers and cookies, in order.
    pub headers: Vec<(String, String)>,
}

pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A response whose head has been read.
pub struct Fetched {
    pub response: Response,
    /// Body bytes read with the head.
    pub body_start: Vec<u8>,
    pub conn: Box<dyn Io>,
    /// The URL that answered (after redirects): a playlist's base.
    pub url: String,
}

/// `Connection refused (os error 111)` as `connection refused`.
pub fn io_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    let s = s.split(" (os error").next().unwrap_or(&s);
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => s.to_string(),
    }
}

/// GETs `url`, following redirects. Errors are channel reasons.
pub async fn fetch(
    route: &Route,
    jar: &Mutex<Jar>,
    url: &str,
    range: Option<&str>,
) -> Result<Fetched, String> {
    let mut current = url.to_string();
    for _ in 0..=MAX_REDIRECTS {
        let u = url::parse(&current)?;
        let jarred = jar.lock().unwrap().header_for(&u.host);
        let f = tokio::time::timeout(route.read_timeout + route.connect_timeout, async {
            let (mut conn, absolute) = connect(route, &u).await?;
            let head = request_head(route, &u, absolute, range, jarred.as_deref());
            conn.write_all(head.as_bytes())
                .await
                .map_err(|e| format!("{}: {}", u.host, io_text(&e)))?;
            read_head(conn, &u.host).await
        })
        .await
        .map_err(|_| format!("{} did not answer in time", u.host))??;
        let (response, body_start, conn) = f;
        for (n, v) in &response.headers {
            if n.eq_ignore_ascii_case("set-cookie") {
                jar.lock().unwrap().set(&u.host, v);
            }
        }
        if (300..400).contains(&response.status) && response.status != 304 {
            if let Some(loc) = response.header("location") {
                current = url::resolve(&current, loc);
                continue;
            }
        }
        return Ok(Fetched {
            response,
            body_start,
            conn,
            url: current,
        });
    }
    Err(format!("more than {MAX_REDIRECTS} redirects"))
}

/// The request; cookies from the run's jar join the channel's own.
fn request_head(
    route: &Route,
    u: &HttpUrl,
    absolute: bool,
    range: Option<&str>,
    jarred: Option<&str>,
) -> String {
    let target = if absolute {
        format!("http://{}{}", u.host_header(), u.target)
    } else {
        u.target.clone()
    };
    let mut h = format!("GET {target} HTTP/1.1\r\nHost: {}\r\n", u.host_header());
    let mut cookie_sent = false;
    for (n, v) in &route.headers {
        if n.eq_ignore_ascii_case("cookie") {
            if let Some(j) = jarred {
                h.push_str(&format!("{n}: {v}; {j}\r\n"));
                cookie_sent = true;
                continue;
            }
        }
        h.push_str(&format!("{n}: {v}\r\n"));
    }
    if let (Some(j), false) = (jarred, cookie_sent) {
        h.push_str(&format!("Cookie: {j}\r\n"));
    }
    if !route
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("accept"))
    {
        h.push_str("Accept: */*\r\n");
    }
    if let Some(r) = range {
        h.push_str(&format!("Range: {r}\r\n"));
    }
    if absolute {
        if let Some(Proxy::Http { url }) = &route.proxy {
            if let Some(auth) = proxy::http_proxy_auth(url) {
                h.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
            }
        }
    }
    h.push_str("Connection: close\r\n\r\n");
    h
}

async fn read_head(
    mut conn: Box<dyn Io>,
    host: &str,
) -> Result<(Response, Vec<u8>, Box<dyn Io>), String> {
    let mut buf = Vec::with_capacity(4096);
    loop {
        if let Some(end) = http::head_end(&buf) {
            let response = http::parse_response(&buf[..end])?;
            return Ok((response, buf[end..].to_vec(), conn));
        }
        if buf.len() > MAX_HEAD {
            return Err(format!("{host} sent a response head over {MAX_HEAD} bytes"));
        }
        let mut chunk = [0u8; 8192];
        let n = conn
            .read(&mut chunk)
            .await
            .map_err(|e| format!("{host}: {}", io_text(&e)))?;
        if n == 0 {
            return Err(format!("{host} closed the connection without a response"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The addresses of `host`, every one allowed by the policy.
async fn resolve_checked(
    host: &str,
    port: u16,
    allowed: &[Net],
) -> Result<Vec<SocketAddr>, String> {
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| format!("cannot resolve {host}: {}", io_text(&e)))?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(format!("{host} has no address"));
    }
    for a in &addrs {
        policy::check(host, a.ip(), allowed)?;
    }
    Ok(addrs)
}

/// Opens the connection for `u` (TLS included); whether the request must
/// use the absolute form (plain http through an HTTP proxy).
async fn connect(route: &Route, u: &HttpUrl) -> Result<(Box<dyn Io>, bool), String> {
    let (tcp, absolute) = tokio::time::timeout(route.connect_timeout, tcp_to(route, u))
        .await
        .map_err(|_| {
            format!(
                "timed out connecting to {} after {} s",
                u.host,
                route.connect_timeout.as_secs_f64().round()
            )
        })??;
    if !u.tls {
        return Ok((Box::new(tcp), absolute));
    }
    let name = ServerName::try_from(u.host.clone())
        .map_err(|_| format!("{:?} is not a valid TLS server name", u.host))?;
    let tls = tokio_rustls::TlsConnector::from(route.tls.clone())
        .connect(name, tcp)
        .await
        .map_err(|e| tls::describe(&u.host, &e))?;
    Ok((Box::new(tls), false))
}

async fn tcp_to(route: &Route, u: &HttpUrl) -> Result<(TcpStream, bool), String> {
    match &route.proxy {
        None => {
            let addrs = resolve_checked(&u.host, u.port, &route.allowed).await?;
            let s = TcpStream::connect(&addrs[..])
                .await
                .map_err(|e| format!("cannot connect to {}:{}: {}", u.host, u.port, io_text(&e)))?;
            Ok((s, false))
        }
        Some(p @ Proxy::Http { url }) => {
            // The proxy resolves names; literal addresses are checked here.
            if let Ok(ip) = u.host.parse::<IpAddr>() {
                policy::check(&u.host, ip, &route.allowed)?;
            }
            let (host, port) = proxy::http_proxy_endpoint(url)
                .ok_or_else(|| format!("HTTP proxy {} has no host", p.display()))?;
            let mut s = TcpStream::connect((host.as_str(), port))
                .await
                .map_err(|e| {
                    format!(
                        "cannot connect to the HTTP proxy {}: {}",
                        p.display(),
                        io_text(&e)
                    )
                })?;
            if !u.tls {
                return Ok((s, true));
            }
            let hp = format!("{}:{}", bracket(&u.host), u.port);
            let mut head = format!("CONNECT {hp} HTTP/1.1\r\nHost: {hp}\r\n");
            if let Some(auth) = proxy::http_proxy_auth(url) {
                head.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
            }
            head.push_str("\r\n");
            s.write_all(head.as_bytes())
                .await
                .map_err(|e| io_text(&e))?;
            // Read the proxy's answer byte by byte: nothing of the tunnel
            // may be consumed with it.
            let mut buf = Vec::new();
            while http::head_end(&buf).is_none() && buf.len() < MAX_HEAD {
                let b = s.read_u8().await.map_err(|e| {
                    format!(
                        "HTTP proxy {} closed the CONNECT: {}",
                        p.display(),
                        io_text(&e)
                    )
                })?;
                buf.push(b);
            }
            let r = http::parse_response(&buf)?;
            if r.status != 200 {
                return Err(format!(
                    "HTTP proxy {} refused CONNECT to {hp}: {} {}",
                    p.display(),
                    r.status,
                    r.reason
                ));
            }
            Ok((s, false))
        }
        Some(
            p @ Proxy::Socks5 {
                host,
                port,
                auth,
                remote_dns,
            },
        ) => {
            let target = match u.host.parse::<IpAddr>() {
                Ok(ip) => {
                    policy::check(&u.host, ip, &route.allowed)?;
                    Target::Ip(ip)
                }
                Err(_) if *remote_dns => Target::Name(u.host.clone()),
                Err(_) => {
                    Target::Ip(resolve_checked(&u.host, u.port, &route.allowed).await?[0].ip())
                }
            };
            let s = socks::connect(host, *port, auth.as_ref(), &target, u.port)
                .await
                .map_err(|e| {
                    format!(
                        "SOCKS5 proxy {} could not reach {}:{}: {e}",
                        p.display(),
                        u.host,
                        u.port
                    )
                })?;
            Ok((s, false))
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
