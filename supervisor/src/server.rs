//! The Unix socket: newline-delimited JSON requests in, replies out (in
//! completion order, paired by `id`). A bad line gets an error reply; it
//! never ends the connection or the supervisor.

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::config::{resolve_group, Cli};
use super::store::AuthResult;
use super::streams::{Adhoc, Ensured, Streams};
use shared::protocol::{
    decode_request, encode_line, ErrorCode, Op, Reply, Request, StreamState, MAX_LINE, MAX_WAIT_MS,
};
use shared::token::masked;

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

pub async fn serve(listener: UnixListener, streams: Arc<Streams>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let streams = streams.clone();
                tokio::spawn(async move { connection(stream, streams).await });
            }
            Err(e) => {
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
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

async fn connection(stream: UnixStream, streams: Arc<Streams>) {
    let (rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(64);
    let writer = tokio::spawn(async move {
        while let Some(line) = rx.recv().await {
            if wr.write_all(&line).await.is_err() {
                break;
            }
        }
    });
    let mut rd = BufReader::new(rd);
    let mut buf = Vec::new();
    loop {
        match read_line(&mut rd, &mut buf).await {
            Ok(Line::Eof) | Err(_) => break,
            Ok(Line::TooLong) => {
                warn!("request line over {MAX_LINE} bytes refused");
                let reply = Reply::error(
                    0,
                    ErrorCode::TooLong,
                    format!("request line longer than {MAX_LINE} bytes"),
                );
                let _ = tx.send(encode_line(&reply)).await;
            }
            Ok(Line::Text) => {
                let line = buf.trim_ascii();
                if line.is_empty() {
                    continue;
                }
                match decode_request(line) {
                    Err(reply) => {
                        warn!(error = %reply.message(), "bad request");
                        let _ = tx.send(encode_line(&reply)).await;
                    }
                    Ok(req) => {
                        let tx = tx.clone();
                        let streams = streams.clone();
                        tokio::spawn(async move {
                            let reply = handle(req, &streams).await;
                            let _ = tx.send(encode_line(&reply)).await;
                        });
                    }
                }
            }
        }
    }
    drop(tx);
    let _ = writer.await;
}

async fn handle(req: Request, streams: &Arc<Streams>) -> Reply {
    let id = req.id;
    debug!(id, op = req.op.name(), "request");
    match req.op {
        Op::Authorize { token } => match streams.store().authorize(&token).await {
            Ok(AuthResult::Granted { user, ttl_secs }) => Reply {
                user: Some(user),
                ttl_secs,
                ..Reply::ok(id)
            },
            Ok(AuthResult::Denied(why)) => {
                info!(token = %masked(token.as_bytes()), reason = %why, "token refused");
                Reply::error(id, ErrorCode::Denied, why)
            }
            Err(e) => {
                warn!(error = %e, "cannot check token");
                Reply::error(id, ErrorCode::Unavailable, e.to_string())
            }
        },
        Op::Ensure { channel, wait_ms } => {
            let wait = Duration::from_millis(wait_ms.min(MAX_WAIT_MS));
            Reply {
                touch_ms: Some(streams.touch_interval_ms()),
                ..ensured(id, streams.ensure(&channel, wait).await)
            }
        }
        Op::Start {
            channel,
            wait_ms,
            source_url,
            quality,
        } => {
            info!(channel = %channel, adhoc_source = source_url.is_some(), "operator start");
            let wait = Duration::from_millis(wait_ms.min(MAX_WAIT_MS));
            let adhoc = source_url.map(|source| Adhoc { source, quality });
            ensured(id, streams.start(&channel, wait, adhoc).await)
        }
        Op::Restart { channel, wait_ms } => {
            info!(channel = %channel, "operator restart");
            let wait = Duration::from_millis(wait_ms.min(MAX_WAIT_MS));
            ensured(id, streams.restart(&channel, wait).await)
        }
        Op::Channels => match streams.catalog.get(streams.store()).await {
            Ok(list) => Reply {
                channels: Some(list.as_ref().clone()),
                ..Reply::ok(id)
            },
            Err(e) => {
                warn!(error = %e, "cannot read the channel catalog");
                Reply::error(id, ErrorCode::Unavailable, e.to_string())
            }
        },
        Op::List => Reply {
            streams: Some(streams.status(None)),
            ..Reply::ok(id)
        },
        Op::Touch { channel } => Reply {
            touch_ms: Some(streams.touch_interval_ms()),
            ..ok_if_running(id, &channel, streams.touch(&channel))
        },
        Op::Stop { channel } => {
            let stopped = streams.stop(&channel, "operator request").await;
            ok_if_running(id, &channel, stopped)
        }
        Op::Status { channel } => {
            let list = streams.status(channel.as_deref());
            if channel.is_some() && list.is_empty() {
                return Reply::error(
                    id,
                    ErrorCode::NotRunning,
                    format!("channel {} is not running", channel.unwrap_or_default()),
                );
            }
            Reply {
                state: channel.as_ref().and_then(|_| list.first().map(|s| s.state)),
                streams: Some(list),
                ..Reply::ok(id)
            }
        }
    }
}

fn ensured(id: u64, e: Ensured) -> Reply {
    match e {
        Ensured::Ready { playlist, started } => Reply {
            state: Some(StreamState::Ready),
            started: Some(started),
            playlist: Some(playlist.to_string_lossy().into_owned()),
            ..Reply::ok(id)
        },
        Ensured::Error(code, msg) => Reply::error(id, code, msg),
    }
}

/// Ok, or the `not_running` error for an op that needs a running channel.
fn ok_if_running(id: u64, channel: &str, running: bool) -> Reply {
    if running {
        Reply::ok(id)
    } else {
        Reply::error(
            id,
            ErrorCode::NotRunning,
            format!("channel {channel} is not running"),
        )
    }
}

pub fn log_listening(cfg: &Cli) {
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
