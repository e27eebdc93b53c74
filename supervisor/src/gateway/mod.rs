//! The upstream gateway: ffmpeg's only network path for http and https
//! sources. Per run it listens on 127.0.0.1; ffmpeg's argv names only
//! gateway URLs with opaque ids, so no upstream URL, header, cookie or
//! proxy credential is ever visible in /proc. It serves only this run's
//! ffmpeg (checked through /proc), fetches upstream itself (proxies, TLS
//! verification, redirects, the address policy on every hop), and rewrites
//! playlists so every URI they name comes back through it.

pub mod chunked;
pub mod cookies;
pub mod http;
pub mod ids;
pub mod peer;
pub mod playlist;
pub mod policy;
mod socks;
pub mod tls;
pub mod upstream;
pub mod url;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tracing::{debug, warn};

use crate::redact;
use ids::IdTable;
pub use upstream::Route;

/// Ids a run remembers (segments of a live playlist come and go).
const MAX_IDS: usize = 4096;
/// Connections one ffmpeg may hold at once; more are dropped.
const MAX_CONNECTIONS: usize = 32;
/// A playlist larger than this is refused rather than held in memory.
const MAX_PLAYLIST: usize = 4 * 1024 * 1024;
const MAX_REQUEST_HEAD: usize = 16 * 1024;
/// How long a connection made before the supervisor has learnt ffmpeg's
/// pid waits for it. ffmpeg can connect before `spawn` has returned to
/// the run (a loaded host); refusing it then failed a healthy start.
const PID_WAIT: Duration = Duration::from_secs(5);

struct Shared {
    channel: String,
    route: Route,
    ids: Mutex<IdTable>,
    jar: Mutex<cookies::Jar>,
    /// This run's ffmpeg, once spawned (0 before).
    ffmpeg: watch::Sender<u32>,
    uid: u32,
    addr: SocketAddr,
    last_error: Mutex<Option<String>>,
}

pub struct Gateway {
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        // Dropping the accept task drops its JoinSet: every connection ends.
        self.task.abort();
    }
}

impl Gateway {
    pub async fn start(route: Route, channel: &str) -> std::io::Result<Gateway> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let shared = Arc::new(Shared {
            channel: channel.to_string(),
            route,
            ids: Mutex::new(IdTable::new(MAX_IDS)),
            jar: Mutex::new(cookies::Jar::default()),
            ffmpeg: watch::Sender::new(0),
            uid: peer::my_uid(),
            addr: listener.local_addr()?,
            last_error: Mutex::new(None),
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(Gateway { shared, task })
    }

    /// The URL ffmpeg is given for a real one: an id, and the extension
    /// (ffmpeg guesses formats by it), nothing else of the real URL.
    pub fn url_for(&self, real: &str) -> String {
        let id = self.shared.ids.lock().unwrap().id_for(real);
        gateway_url(self.shared.addr, id, real)
    }

    /// From now on only `pid` may connect.
    pub fn serve_ffmpeg(&self, pid: u32) {
        self.shared.ffmpeg.send_replace(pid);
    }

    /// The last failure to reach an upstream (a policy refusal, TLS, a
    /// proxy): the run's reason, since ffmpeg saw only a 502.
    pub fn last_error(&self) -> Option<String> {
        self.shared.last_error.lock().unwrap().clone()
    }
}

fn gateway_url(addr: SocketAddr, id: u64, real: &str) -> String {
    let path = real.split(['?', '#']).next().unwrap_or("");
    let name = path.rsplit('/').next().unwrap_or("");
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e)
        .filter(|e| !e.is_empty() && e.len() <= 8 && e.bytes().all(|b| b.is_ascii_alphanumeric()));
    match ext {
        Some(e) => format!("http://{addr}/u/{id}/s.{e}"),
        None => format!("http://{addr}/u/{id}"),
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut conns = JoinSet::new();
    let mut backoff = Duration::ZERO;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((sock, peer)) => {
                    backoff = Duration::ZERO;
                    if conns.len() >= MAX_CONNECTIONS {
                        warn!(channel = %shared.channel, %peer, "gateway: too many connections, one dropped");
                        continue;
                    }
                    conns.spawn(serve(sock, peer, shared.clone()));
                }
                Err(e) => {
                    // Out of descriptors (EMFILE) and the like: wait before
                    // the next try instead of spinning.
                    backoff = next_backoff(backoff);
                    warn!(channel = %shared.channel, error = %e, delay_ms = backoff.as_millis() as u64, "gateway: accept failed");
                    tokio::time::sleep(backoff).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// The wait after a failed accept: 10 ms, doubling to at most 1 s (reset
/// by the next accepted connection).
fn next_backoff(previous: Duration) -> Duration {
    (previous * 2).clamp(Duration::from_millis(10), Duration::from_secs(1))
}

async fn serve(mut client: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let pid = ffmpeg_pid(&shared).await;
    let (addr, uid) = (shared.addr, shared.uid);
    let verdict = tokio::task::spawn_blocking(move || peer::check(peer, addr, pid, uid))
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
    if let Err(why) = verdict {
        warn!(channel = %shared.channel, %peer, reason = %why, "gateway: connection refused, not this channel's ffmpeg");
        return;
    }
    let req = match read_request(&mut client).await {
        Ok(r) => r,
        Err(e) => {
            debug!(channel = %shared.channel, error = %e, "gateway: bad request");
            let _ = client.write_all(&status(400, "Bad Request")).await;
            return;
        }
    };
    let Some(real) = shared.ids.lock().unwrap().get(req.id) else {
        let _ = client.write_all(&status(404, "Not Found")).await;
        return;
    };
    match upstream::fetch(&shared.route, &shared.jar, &real, req.range.as_deref()).await {
        Ok(f) => {
            if let Err(e) = pass_on(&mut client, f, &shared).await {
                debug!(channel = %shared.channel, error = %e, "gateway: response not passed on");
            }
        }
        Err(reason) => {
            let reason = redact::text(&reason);
            warn!(channel = %shared.channel, url = %redact::url(&real), %reason, "gateway: upstream request failed");
            *shared.last_error.lock().unwrap() = Some(reason);
            let _ = client.write_all(&status(502, "Bad Gateway")).await;
        }
    }
}

/// This run's ffmpeg's pid, waiting up to `PID_WAIT` for the run to learn
/// it (0 if it does not: the peer check then refuses).
async fn ffmpeg_pid(shared: &Shared) -> u32 {
    let mut rx = shared.ffmpeg.subscribe();
    let pid = match tokio::time::timeout(PID_WAIT, rx.wait_for(|pid| *pid != 0)).await {
        Ok(Ok(pid)) => *pid,
        _ => 0,
    };
    pid
}

async fn read_request(client: &mut TcpStream) -> Result<http::ClientRequest, String> {
    let mut buf = Vec::with_capacity(1024);
    loop {
        if let Some(end) = http::head_end(&buf) {
            return http::parse_client_request(&buf[..end]);
        }
        if buf.len() > MAX_REQUEST_HEAD {
            return Err("request head too large".into());
        }
        let mut chunk = [0u8; 2048];
        let n = tokio::time::timeout(Duration::from_secs(10), client.read(&mut chunk))
            .await
            .map_err(|_| "no request within 10 s".to_string())?
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed before its request".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Sends the upstream response to ffmpeg: a playlist rewritten, anything
/// else as it comes.
async fn pass_on(
    client: &mut TcpStream,
    mut f: upstream::Fetched,
    shared: &Shared,
) -> Result<(), String> {
    let io = |e: std::io::Error| e.to_string();
    let r = &f.response;
    if !(200..300).contains(&r.status) {
        return client
            .write_all(&r.head_for_client(Some(0)))
            .await
            .map_err(io);
    }
    let chunked = r.chunked();
    // Enough of the body to tell a playlist by its first line.
    while f.body_start.len() < 16 {
        let mut b = [0u8; 4096];
        let n = tokio::time::timeout(shared.route.read_timeout, f.conn.read(&mut b))
            .await
            .map_err(|_| "upstream sent no body in time".to_string())?
            .map_err(io)?;
        if n == 0 {
            break;
        }
        f.body_start.extend_from_slice(&b[..n]);
    }
    let start: &[u8] = if chunked {
        let i = f.body_start.windows(2).position(|w| w == b"\r\n");
        i.map_or(&[], |i| &f.body_start[i + 2..])
    } else {
        &f.body_start
    };
    if !playlist::is_playlist(r.header("content-type"), start) {
        client
            .write_all(&r.head_for_client(None))
            .await
            .map_err(io)?;
        client.write_all(&f.body_start).await.map_err(io)?;
        return relay(client, f.conn).await;
    }
    let mut body = std::mem::take(&mut f.body_start);
    let read_all = async {
        let mut b = [0u8; 16384];
        loop {
            let n = f.conn.read(&mut b).await.map_err(io)?;
            if n == 0 {
                return Ok::<(), String>(());
            }
            body.extend_from_slice(&b[..n]);
            if body.len() > MAX_PLAYLIST {
                return Err(format!("playlist over {MAX_PLAYLIST} bytes"));
            }
        }
    };
    tokio::time::timeout(shared.route.read_timeout, read_all)
        .await
        .map_err(|_| "playlist not received in time".to_string())??;
    if chunked {
        body = chunked::decode(&body)?;
    }
    let text = String::from_utf8_lossy(&body);
    let rewritten = playlist::rewrite(&text, &f.url, |real| {
        let id = shared.ids.lock().unwrap().id_for(real);
        gateway_url(shared.addr, id, real)
    });
    let mut out = f.response.head_for_replaced_body(rewritten.len());
    out.extend_from_slice(rewritten.as_bytes());
    client.write_all(&out).await.map_err(io)
}

/// Copies the upstream body to ffmpeg until either side ends (ffmpeg
/// closing its side ends a body the upstream never finishes).
async fn relay(client: &mut TcpStream, mut upstream: Box<dyn upstream::Io>) -> Result<(), String> {
    let (mut rd, mut wr) = client.split();
    let mut sink = [0u8; 64];
    tokio::select! {
        r = tokio::io::copy(&mut upstream, &mut wr) => r.map(|_| ()).map_err(|e| e.to_string()),
        _ = rd.read(&mut sink) => Ok(()),
    }
}

fn status(code: u16, text: &str) -> Vec<u8> {
    format!("HTTP/1.1 {code} {text}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_errors_back_off() {
        let mut d = Duration::ZERO;
        let mut waits = Vec::new();
        for _ in 0..9 {
            d = next_backoff(d);
            waits.push(d.as_millis());
        }
        assert_eq!(waits, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
    }

    #[test]
    fn gateway_urls_carry_nothing_of_the_real_url_but_its_extension() {
        let a: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        assert_eq!(
            gateway_url(a, 3, "http://u:p@h/live/user/pass/index.m3u8?token=x"),
            "http://127.0.0.1:4000/u/3/s.m3u8"
        );
        assert_eq!(
            gateway_url(a, 0, "http://h/play?x=a.ts"),
            "http://127.0.0.1:4000/u/0"
        );
        assert_eq!(
            gateway_url(a, 1, "http://h/a.b/c"),
            "http://127.0.0.1:4000/u/1"
        );
        assert_eq!(
            gateway_url(a, 2, "http://h/x.t%2fs"),
            "http://127.0.0.1:4000/u/2"
        );
    }

    fn route() -> Route {
        Route {
            proxy: None,
            allowed: Vec::new(),
            tls: tls::client_config(true, None).unwrap(),
            connect_timeout: Duration::from_secs(1),
            read_timeout: Duration::from_secs(1),
            headers: Vec::new(),
        }
    }

    /// ffmpeg may connect before the run has learnt its pid (spawn has
    /// not returned to it yet on a loaded host): the connection waits for
    /// the pid and is then served, where it used to be reset, failing a
    /// healthy start as "source unreachable".
    #[tokio::test]
    async fn a_connection_before_the_pid_is_known_waits_for_it() {
        let g = Gateway::start(route(), "t").await.unwrap();
        let mut c = TcpStream::connect(g.shared.addr).await.unwrap();
        c.write_all(b"GET /u/99/s.ts HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        // This process holds the connecting socket, so it passes as ffmpeg.
        g.serve_ffmpeg(std::process::id());
        let mut answer = String::new();
        let read = tokio::time::timeout(Duration::from_secs(5), c.read_to_string(&mut answer));
        let _ = read.await.expect("an answer within 5 s");
        assert!(
            answer.starts_with("HTTP/1.1 404 "),
            "served once the pid is known (an unknown id: 404), got {answer:?}"
        );
    }

    /// Another process's connection is still refused once the pid is known.
    #[tokio::test]
    async fn a_connection_from_another_process_is_refused() {
        let g = Gateway::start(route(), "t").await.unwrap();
        g.serve_ffmpeg(1);
        let mut c = TcpStream::connect(g.shared.addr).await.unwrap();
        let _ = c.write_all(b"GET /u/99/s.ts HTTP/1.1\r\n\r\n").await;
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut answer))
            .await
            .expect("closed within 5 s");
        assert!(answer.is_empty(), "no answer to a stranger: {answer:?}");
    }
}
