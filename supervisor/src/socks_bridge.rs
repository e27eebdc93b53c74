//! The SOCKS bridge: ffmpeg's HTTP client cannot use a SOCKS proxy, but it
//! can use an HTTP proxy. For a channel behind SOCKS5 the supervisor runs a
//! small HTTP proxy on 127.0.0.1 for that ffmpeg only (a random password,
//! so no other local process can use it), and carries each request over a
//! SOCKS5 connection: plain `GET http://...` requests are forwarded, and
//! `CONNECT` tunnels serve https. Works alike for MPEG-TS and HLS sources,
//! since ffmpeg sends the playlist and segment requests through it too.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tracing::{debug, warn};

use super::proxy::{self, Proxy, Target};

const MAX_HEAD: usize = 32 * 1024;

#[derive(Clone)]
struct Upstream {
    host: String,
    port: u16,
    auth: Option<(String, String)>,
    remote_dns: bool,
    display: String,
    connect_timeout: Duration,
}

pub struct Bridge {
    port: u16,
    secret: String,
    last_error: Arc<Mutex<Option<String>>>,
    task: JoinHandle<()>,
}

impl Drop for Bridge {
    fn drop(&mut self) {
        // Dropping the accept task drops its JoinSet, which aborts every
        // connection it carries.
        self.task.abort();
    }
}

impl Bridge {
    /// Starts a bridge to a SOCKS5 proxy for one channel's ffmpeg.
    pub async fn start(
        socks: &Proxy,
        connect_timeout: Duration,
        channel: &str,
    ) -> std::io::Result<Bridge> {
        let Proxy::Socks5 {
            host,
            port,
            auth,
            remote_dns,
        } = socks
        else {
            return Err(std::io::Error::other("not a SOCKS5 proxy"));
        };
        let up = Upstream {
            host: host.clone(),
            port: *port,
            auth: auth.clone(),
            remote_dns: *remote_dns,
            display: socks.display(),
            connect_timeout,
        };
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let local = listener.local_addr()?.port();
        let secret = super::secret::random_hex(16)?;
        let expected = format!(
            "Basic {}",
            proxy::base64(format!("ffmpeg:{secret}").as_bytes())
        );
        let last_error = Arc::new(Mutex::new(None));
        let errors = last_error.clone();
        let channel = channel.to_string();
        let task = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((sock, _)) = accepted else { continue };
                        let (up, expected, errors, channel) =
                            (up.clone(), expected.clone(), errors.clone(), channel.clone());
                        conns.spawn(async move {
                            if let Err(e) = serve(sock, &up, &expected).await {
                                debug!(channel = %channel, error = %e.msg, "SOCKS bridge request failed");
                                if e.record {
                                    *errors.lock().unwrap() = Some(e.msg);
                                }
                            }
                        });
                    }
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        });
        Ok(Bridge {
            port: local,
            secret,
            last_error,
            task,
        })
    }

    /// What ffmpeg gets as `-http_proxy`.
    pub fn proxy_url(&self) -> String {
        format!("http://ffmpeg:{}@127.0.0.1:{}/", self.secret, self.port)
    }

    /// The last failure to reach an upstream through the proxy.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().unwrap().clone()
    }
}

struct BridgeError {
    msg: String,
    /// A failure of the proxy path (worth reporting as the channel's
    /// reason), not of ffmpeg's request.
    record: bool,
}

fn local(msg: impl Into<String>) -> BridgeError {
    BridgeError {
        msg: msg.into(),
        record: false,
    }
}

async fn serve(mut client: TcpStream, up: &Upstream, expected: &str) -> Result<(), BridgeError> {
    let mut buf = Vec::with_capacity(4096);
    let head_len = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            let _ = client
                .write_all(&status(431, "Request Header Fields Too Large"))
                .await;
            return Err(local("request head too large"));
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), client.read(&mut chunk))
            .await
            .map_err(|_| local("no request within 10 s"))?
            .map_err(|e| local(e.to_string()))?;
        if n == 0 {
            return Err(local("client closed before its request"));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let req = match proxy::parse_request(&buf[..head_len]) {
        Ok(r) => r,
        Err(e) => {
            let _ = client.write_all(&status(400, "Bad Request")).await;
            return Err(local(e));
        }
    };
    if req.auth.as_deref() != Some(expected) {
        let _ = client
            .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"bridge\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await;
        return Err(local("request without the bridge's credentials"));
    }
    let mut upstream = match socks_connect(up, &req.host, req.port).await {
        Ok(s) => s,
        Err(e) => {
            let msg = format!(
                "SOCKS5 proxy {} could not reach {}:{}: {e}",
                up.display, req.host, req.port
            );
            warn!("{msg}");
            let _ = client.write_all(&status(502, "Bad Gateway")).await;
            return Err(BridgeError { msg, record: true });
        }
    };
    if req.tunnel {
        client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await
            .map_err(|e| local(e.to_string()))?;
    } else {
        upstream
            .write_all(&req.head)
            .await
            .map_err(|e| local(e.to_string()))?;
    }
    // Whatever followed the head (a tunnel's first bytes, a body).
    if head_len < buf.len() {
        upstream
            .write_all(&buf[head_len..])
            .await
            .map_err(|e| local(e.to_string()))?;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
    Ok(())
}

fn status(code: u16, text: &str) -> Vec<u8> {
    format!("HTTP/1.1 {code} {text}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").into_bytes()
}

/// Opens a connection to `host:port` through the SOCKS5 proxy.
async fn socks_connect(up: &Upstream, host: &str, port: u16) -> Result<TcpStream, String> {
    tokio::time::timeout(up.connect_timeout, socks_handshake(up, host, port))
        .await
        .map_err(|_| {
            format!(
                "timed out after {} s",
                up.connect_timeout.as_secs_f64().round()
            )
        })?
}

async fn socks_handshake(up: &Upstream, host: &str, port: u16) -> Result<TcpStream, String> {
    let io = |e: std::io::Error| e.to_string();
    let mut s = TcpStream::connect((up.host.as_str(), up.port))
        .await
        .map_err(|e| format!("cannot connect to the proxy: {e}"))?;
    s.write_all(&proxy::socks_greeting(up.auth.is_some()))
        .await
        .map_err(io)?;
    let mut choice = [0u8; 2];
    s.read_exact(&mut choice)
        .await
        .map_err(|e| format!("proxy closed during greeting: {e}"))?;
    if choice[0] != 5 {
        return Err("the proxy does not speak SOCKS5".into());
    }
    match (choice[1], &up.auth) {
        (0, _) => {}
        (2, Some((user, pass))) => {
            s.write_all(&proxy::socks_auth(user, pass))
                .await
                .map_err(io)?;
            let mut res = [0u8; 2];
            s.read_exact(&mut res).await.map_err(io)?;
            if res[1] != 0 {
                return Err("the proxy refused the user name or password".into());
            }
        }
        (2, None) => return Err("the proxy wants a user name and password".into()),
        _ => return Err("the proxy accepts none of our authentication methods".into()),
    }
    let target = match host.trim_matches(['[', ']']).parse::<IpAddr>() {
        Ok(ip) => Target::Ip(ip),
        Err(_) if up.remote_dns => Target::Name(host.to_string()),
        Err(_) => {
            let addr = tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| format!("cannot resolve {host}: {e}"))?
                .next()
                .ok_or_else(|| format!("{host} has no address"))?;
            Target::Ip(addr.ip())
        }
    };
    s.write_all(&proxy::socks_connect(&target, port)?)
        .await
        .map_err(io)?;
    let mut first = [0u8; 5];
    s.read_exact(&mut first)
        .await
        .map_err(|e| format!("proxy closed before its reply: {e}"))?;
    if first[1] != 0 {
        return Err(format!(
            "the proxy answered: {}",
            proxy::socks_status(first[1])
        ));
    }
    let mut rest = vec![0u8; proxy::socks_reply_len(&first)? - 5];
    s.read_exact(&mut rest).await.map_err(io)?;
    Ok(s)
}
