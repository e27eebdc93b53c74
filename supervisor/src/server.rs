//! The Unix socket: newline-delimited JSON requests in, replies out (in
//! completion order, paired by `id`). A bad line gets an error reply; it
//! never ends the connection or the supervisor. Operator ops are answered
//! only to operators (`peer_access`); what a client can hold is bounded
//! (`conn_limits`).

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use super::config::{resolve_group, Cli};
use super::conn_limits::{self, Limits, Registry, Shed};
use super::peer_access::{self, OperatorPolicy, PeerCred};
use super::server_ops::handle;
use super::streams::Streams;
use shared::protocol::{decode_request, encode_line, ErrorCode, Reply, MAX_LINE};

/// Binds the socket: refuses to steal it from a live supervisor, replaces
/// a stale file, applies mode and group.
pub async fn bind(cfg: &Cli) -> Result<UnixListener, String> {
    let path = &cfg.socket;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    if path.exists() {
        if UnixStream::connect(path).await.is_ok() {
            return Err(format!(
                "another supervisor is listening on {}",
                path.display()
            ));
        }
        std::fs::remove_file(path)
            .map_err(|e| format!("cannot remove stale socket {}: {e}", path.display()))?;
    }
    let listener = UnixListener::bind(path)
        .map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(cfg.socket_mode))
        .map_err(|e| format!("cannot chmod {}: {e}", path.display()))?;
    if let Some(group) = &cfg.socket_group {
        let gid = resolve_group(group)?;
        std::os::unix::fs::chown(path, None, Some(gid))
            .map_err(|e| format!("cannot give {} to group {group}: {e}", path.display()))?;
    }
    Ok(listener)
}

/// What every connection needs: the channels, the limits, who operates.
pub struct Ctx {
    pub streams: Arc<Streams>,
    pub limits: Limits,
    pub operators: OperatorPolicy,
    pub registry: Arc<Registry>,
}

impl Ctx {
    pub fn new(cfg: &Cli, streams: Arc<Streams>, operators: OperatorPolicy) -> Ctx {
        Ctx {
            streams,
            limits: limits(cfg),
            operators,
            registry: Arc::default(),
        }
    }
}

/// The socket's limits from the command line, the connection limit fitted
/// to the open-files limit.
pub fn limits(cfg: &Cli) -> Limits {
    let max = conn_limits::effective_max_connections(
        cfg.max_connections,
        conn_limits::nofile_limit(),
        cfg.max_streams,
    );
    if max < cfg.max_connections {
        warn!(
            wanted = cfg.max_connections,
            max,
            "--max-connections lowered to fit the open-files limit (raise LimitNOFILE / ulimit -n)"
        );
    }
    Limits {
        max_connections: max,
        per_client: cfg.max_client_connections,
        in_flight: cfg.max_in_flight,
        idle: cfg.client_idle_timeout,
        read: cfg.client_read_timeout,
        write: cfg.client_write_timeout,
    }
}

/// Root, the supervisor's user and the `--operator-group`s.
pub fn operator_policy(cfg: &Cli) -> Result<OperatorPolicy, String> {
    let groups = cfg
        .operator_groups
        .iter()
        .filter(|g| !g.trim().is_empty())
        .map(|g| resolve_group(g.trim()).map_err(|e| format!("--operator-group: {e}")))
        .collect::<Result<Vec<u32>, String>>()?;
    Ok(OperatorPolicy {
        own_uid: peer_access::own_uid()?,
        groups,
    })
}

pub async fn serve(listener: UnixListener, ctx: Arc<Ctx>) {
    let mut last_error = None;
    let mut reports = tokio::time::interval(Duration::from_secs(5));
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = reports.tick() => {
                ctx.registry.flush_reports();
                continue;
            }
        };
        match accepted {
            Ok((stream, _)) => admit(stream, &ctx),
            Err(e) => {
                // Out of file descriptors, typically: wait, and say so now
                // and then, not 10 times a second.
                let now = std::time::Instant::now();
                if conn_limits::should_log(last_error, now, Duration::from_secs(5)) {
                    warn!(error = %e, open = ctx.registry.total(), "accept failed");
                    last_error = Some(now);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Takes a new connection in, or refuses it (with one error line, written
/// only if the socket takes it at once) when its client or everyone holds
/// too many.
fn admit(stream: UnixStream, ctx: &Arc<Ctx>) {
    let peer = match stream.peer_cred() {
        Ok(c) => PeerCred {
            uid: c.uid(),
            gid: c.gid(),
            pid: c.pid(),
        },
        Err(e) => {
            warn!(error = %e, "cannot read the peer's credentials; connection closed");
            return;
        }
    };
    match ctx.registry.open(&peer, &ctx.limits) {
        Ok(slot) => {
            let ctx = ctx.clone();
            let counted = crate::metrics::connection_opened();
            tokio::spawn(async move {
                connection(stream, peer, &ctx).await;
                drop(slot);
                drop(counted);
            });
        }
        Err(why) => {
            let reply = Reply::error(
                0,
                ErrorCode::Unavailable,
                format!("too many connections: {why}"),
            );
            let _ = stream.try_write(&encode_line(&reply));
        }
    }
}

enum Line {
    Text,
    TooLong,
    Eof,
}

/// Reads one line into `buf` (newline dropped), never holding more than
/// MAX_LINE bytes; an overlong line is consumed and reported.
async fn read_line<R: AsyncBufRead + Unpin>(
    rd: &mut R,
    buf: &mut Vec<u8>,
) -> std::io::Result<Line> {
    buf.clear();
    let mut too_long = false;
    loop {
        let avail = rd.fill_buf().await?;
        if avail.is_empty() {
            return Ok(if too_long {
                Line::TooLong
            } else if buf.is_empty() {
                Line::Eof
            } else {
                Line::Text
            });
        }
        let (chunk, used, done) = match avail.iter().position(|&b| b == b'\n') {
            Some(i) => (&avail[..i], i + 1, true),
            None => (avail, avail.len(), false),
        };
        if !too_long {
            if buf.len() + chunk.len() > MAX_LINE {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        rd.consume(used);
        if done {
            return Ok(if too_long { Line::TooLong } else { Line::Text });
        }
    }
}

/// Why the writer stopped.
enum WriterEnd {
    /// Every reply was written; the reader is done.
    Done,
    /// The client is gone.
    Gone,
    /// The client left a reply unread for the write timeout.
    Stalled,
}

/// Writes replies in completion order; a client that does not take one
/// within `timeout` ends the connection.
async fn write_replies(
    mut wr: OwnedWriteHalf,
    mut rx: mpsc::Receiver<Vec<u8>>,
    timeout: Duration,
) -> WriterEnd {
    while let Some(line) = rx.recv().await {
        match tokio::time::timeout(timeout, wr.write_all(&line)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return WriterEnd::Gone,
            Err(_) => return WriterEnd::Stalled,
        }
    }
    WriterEnd::Done
}

/// Why the reader stopped.
enum ReaderEnd {
    Eof,
    Idle,
    SlowLine,
    Writer(WriterEnd),
    Error,
}

/// One client connection. Its requests run as tasks of the connection: at
/// most `in_flight` at once (more are not read until one is done), all
/// dropped when the client is gone or stops reading its replies.
async fn connection(stream: UnixStream, peer: PeerCred, ctx: &Arc<Ctx>) {
    let limits = &ctx.limits;
    let (rd, wr) = stream.into_split();
    let (tx, rx) = mpsc::channel::<Vec<u8>>(limits.in_flight);
    let mut writer = tokio::spawn(write_replies(wr, rx, limits.write));
    let permits = Arc::new(Semaphore::new(limits.in_flight));
    let mut tasks = JoinSet::new();
    let mut operator: Option<bool> = None;
    let mut rd = BufReader::new(rd);
    let mut buf = Vec::new();
    let end = loop {
        // Wait for the next request's first byte; a connection with
        // nothing in flight may wait only so long.
        let input = tokio::select! {
            w = &mut writer => break ReaderEnd::Writer(w.unwrap_or(WriterEnd::Gone)),
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            _ = tokio::time::sleep(limits.idle), if tasks.is_empty() => break ReaderEnd::Idle,
            r = rd.fill_buf() => r.map(|b| b.is_empty()),
        };
        match input {
            Ok(true) => break ReaderEnd::Eof,
            Ok(false) => {}
            Err(_) => break ReaderEnd::Error,
        }
        let line = match tokio::time::timeout(limits.read, read_line(&mut rd, &mut buf)).await {
            Err(_) => break ReaderEnd::SlowLine,
            Ok(Err(_)) => break ReaderEnd::Error,
            Ok(Ok(Line::Eof)) => break ReaderEnd::Eof,
            Ok(Ok(l)) => l,
        };
        let req = match line {
            Line::TooLong => {
                warn!(peer = %peer, "request line over {MAX_LINE} bytes refused");
                Err(Box::new(Reply::error(
                    0,
                    ErrorCode::TooLong,
                    format!("request line longer than {MAX_LINE} bytes"),
                )))
            }
            _ if buf.trim_ascii().is_empty() => continue,
            _ => decode_request(buf.trim_ascii()).inspect_err(|reply| {
                warn!(peer = %peer, error = %reply.message(), "bad request");
            }),
        };
        let refusal = match &req {
            Err(reply) => Some((**reply).clone()),
            Ok(req) => peer_access::check(req.id, &req.op, &peer, || {
                *operator.get_or_insert_with(|| is_operator(&ctx.operators, &peer))
            })
            .inspect(|_| ctx.registry.forbidden(&peer, req.op.name())),
        };
        if let Some(reply) = refusal {
            if tx.send(encode_line(&reply)).await.is_err() {
                break ReaderEnd::Writer(WriterEnd::Gone);
            }
            continue;
        }
        let Ok(req) = req else { continue };
        // At most `in_flight` requests at once: wait for a place, reading
        // nothing more meanwhile.
        let permit = tokio::select! {
            w = &mut writer => break ReaderEnd::Writer(w.unwrap_or(WriterEnd::Gone)),
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break ReaderEnd::Error,
            },
        };
        let tx = tx.clone();
        let streams = ctx.streams.clone();
        tasks.spawn(async move {
            let reply = handle(req, &streams).await;
            let _ = tx.send(encode_line(&reply)).await;
            drop(permit);
        });
    };
    match end {
        // The client sent everything: answer what is in flight, then close.
        ReaderEnd::Eof => {
            drop(tx);
            loop {
                tokio::select! {
                    _ = &mut writer => break,
                    t = tasks.join_next() => if t.is_none() { break },
                }
            }
            tasks.abort_all();
            let _ = writer.await;
            return;
        }
        ReaderEnd::Idle => debug!(peer = %peer, "idle connection closed"),
        ReaderEnd::SlowLine => ctx.registry.shed(
            Shed::SlowLine,
            &peer,
            &format!(
                "a request line was not complete within {} ms (--client-read-timeout)",
                limits.read.as_millis()
            ),
        ),
        ReaderEnd::Writer(WriterEnd::Stalled) => ctx.registry.shed(
            Shed::Unread,
            &peer,
            &format!(
                "the client left a reply unread for {} ms (--client-write-timeout); its requests were dropped",
                limits.write.as_millis()
            ),
        ),
        ReaderEnd::Writer(_) | ReaderEnd::Error => {
            debug!(peer = %peer, in_flight = tasks.len(), "client gone")
        }
    }
    // Requests of a client that is gone, or was dropped, are not answered.
    tasks.abort_all();
    writer.abort();
}

fn is_operator(policy: &OperatorPolicy, peer: &PeerCred) -> bool {
    let groups = if policy.needs_groups(peer) {
        peer_access::supplementary_groups(peer)
    } else {
        Vec::new()
    };
    policy.may_operate(peer, &groups)
}

pub fn log_listening(cfg: &Cli, ctx: &Ctx) {
    info!(
        max_connections = ctx.limits.max_connections,
        max_client_connections = ctx.limits.per_client,
        max_in_flight = ctx.limits.in_flight,
        operator_groups = ?ctx.operators.groups,
        "socket limits"
    );
    info!(
        socket = %cfg.socket.display(),
        hls_dir = %cfg.hls_dir.display(),
        idle_timeout_secs = cfg.idle_timeout.as_secs(),
        segment_secs = cfg.segment_duration.as_secs_f64(),
        max_streams = cfg.max_streams,
        "listening"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lines(input: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut rd = BufReader::with_capacity(16, input);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        loop {
            match read_line(&mut rd, &mut buf).await.unwrap() {
                Line::Eof => return out,
                Line::Text => out.push(("text".into(), buf.clone())),
                Line::TooLong => out.push(("long".into(), Vec::new())),
            }
        }
    }

    #[tokio::test]
    async fn splits_lines_and_refuses_long_ones() {
        let mut input = b"a\nbc\n".to_vec();
        input.extend(vec![b'x'; MAX_LINE + 10]);
        input.extend(b"\nlast");
        let got = lines(&input).await;
        assert_eq!(got.len(), 4);
        assert_eq!(got[0], ("text".into(), b"a".to_vec()));
        assert_eq!(got[1], ("text".into(), b"bc".to_vec()));
        assert_eq!(got[2].0, "long");
        assert_eq!(got[3], ("text".into(), b"last".to_vec()));
    }
}
