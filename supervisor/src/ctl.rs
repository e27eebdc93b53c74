//! Operator commands (`status`, `list`, `start`, `stop`, `restart`,
//! `sessions`, `metrics`): one request to a running supervisor over its socket,
//! printed as a table or as the reply's JSON. The status table also asks
//! for the sessions, to show each channel's viewers.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use super::accounts::sessions_table;
use super::config::{Cli, Command, SessionCmd};
use shared::protocol::{decode_reply, encode_line, Op, Reply, Request, StreamInfo};

/// Runs an operator command; exit status 0 on success, 1 when the
/// supervisor refused, 2 when it could not be asked.
pub fn run(cli: &Cli, cmd: &Command) -> ExitCode {
    let ms = |d: &Duration| d.as_millis() as u64;
    let (op, json, wait) = match cmd {
        Command::Run
        | Command::Channels { .. }
        | Command::Users { .. }
        | Command::Tokens { .. }
        | Command::Epg { .. }
        | Command::Nodes { .. } => unreachable!("not an operator command"),
        Command::Status { channel, out } => (
            Op::Status {
                channel: channel.clone(),
            },
            out.json,
            Duration::ZERO,
        ),
        Command::List { out } => (Op::List, out.json, Duration::ZERO),
        Command::Metrics { out } => (Op::Metrics, out.json, Duration::ZERO),
        Command::Sessions {
            user,
            out,
            cmd: None,
        } => (
            Op::Sessions { user: user.clone() },
            out.json,
            Duration::ZERO,
        ),
        Command::Sessions {
            cmd:
                Some(SessionCmd::End {
                    user,
                    channel,
                    client,
                    out,
                }),
            ..
        } => (
            Op::EndSession {
                user: user.clone(),
                channel: channel.clone(),
                client: client.clone(),
            },
            out.json,
            Duration::ZERO,
        ),
        Command::Start { channel, out, wait } => (
            Op::Start {
                channel: channel.clone(),
                wait_ms: ms(wait),
                source_url: None,
                quality: None,
            },
            out.json,
            *wait,
        ),
        Command::Stop { channel, out } => (
            Op::Stop {
                channel: channel.clone(),
            },
            out.json,
            Duration::ZERO,
        ),
        Command::Restart { channel, out, wait } => (
            Op::Restart {
                channel: channel.clone(),
                wait_ms: ms(wait),
            },
            out.json,
            *wait,
        ),
    };
    let name = op.name();
    let reply = match call(&cli.socket, op, wait + Duration::from_secs(10)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("stream-supervisor {name}: {e}");
            return ExitCode::from(2);
        }
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&reply).unwrap_or_default()
        );
    } else if !reply.ok {
        eprintln!(
            "stream-supervisor {name}: {} ({})",
            reply.message(),
            reply.code().map_or("?", |c| c.as_str())
        );
    } else {
        // Viewers per channel, when the supervisor can say (it may be an
        // older one, or the peer may not be an operator).
        let viewers = match (&reply.streams, name) {
            (Some(_), "status" | "list") => call(
                &cli.socket,
                Op::Sessions { user: None },
                Duration::from_secs(10),
            )
            .ok()
            .and_then(|r| r.sessions)
            .map(|list| sessions_table::viewers(&list)),
            _ => None,
        };
        print!("{}", human(name, &reply, now(), viewers.as_ref()));
    }
    if reply.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn call(socket: &Path, op: Op, timeout: Duration) -> Result<Reply, String> {
    let sock = UnixStream::connect(socket).map_err(|e| {
        format!(
            "cannot reach the supervisor at {}: {e} (is it running? is --socket right?)",
            socket.display()
        )
    })?;
    sock.set_read_timeout(Some(timeout)).ok();
    sock.set_write_timeout(Some(Duration::from_secs(5))).ok();
    let req = Request { v: 1, id: 1, op };
    (&sock)
        .write_all(&encode_line(&req))
        .map_err(|e| format!("cannot send to {}: {e}", socket.display()))?;
    let mut line = Vec::new();
    BufReader::new(&sock)
        .read_until(b'\n', &mut line)
        .map_err(|e| format!("no reply from {}: {e}", socket.display()))?;
    if line.is_empty() {
        return Err(format!("{} closed without a reply", socket.display()));
    }
    decode_reply(line.trim_ascii_end())
}

/// The text an operator reads for a successful reply.
fn human(op: &str, reply: &Reply, now: u64, viewers: Option<&BTreeMap<String, u32>>) -> String {
    if let Some(list) = &reply.sessions {
        return sessions_table::table(list, now);
    }
    if let Some(text) = &reply.metrics {
        return text.clone();
    }
    match &reply.streams {
        Some(list) if op == "status" && list.len() == 1 && reply.state.is_some() => {
            table(list, now, viewers) + &details(&list[0])
        }
        Some(list) => table(list, now, viewers),
        None => match op {
            "end_session" => format!("ended {} sessions\n", reply.ended.unwrap_or(0)),
            "start" | "restart" => format!(
                "ready: {}\n",
                reply
                    .playlist
                    .as_deref()
                    .unwrap_or("(playlist path unknown)")
            ),
            _ => "ok\n".to_string(),
        },
    }
}

/// Where a channel's stream comes from: the live source, its proxy, and
/// the failover sources given up on.
pub fn details(s: &StreamInfo) -> String {
    let mut out = String::new();
    if let Some(src) = &s.source {
        out += &format!("source: {src}\n");
    }
    if let Some(p) = &s.proxy {
        out += &format!("proxy: {p}\n");
    }
    if let Some(t) = &s.tls {
        out += &format!("tls: {t}\n");
    }
    for k in &s.skipped {
        out += &format!("skipped: {} ({})\n", k.source, k.reason);
    }
    out
}

/// `3725` -> `1h02m`, `75` -> `1m15s`.
pub fn span(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s if s < 86400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        s => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
    }
}

/// The running channels; with `viewers`, a VIEWERS column (live
/// sessions per channel).
pub fn table(list: &[StreamInfo], now: u64, viewers: Option<&BTreeMap<String, u32>>) -> String {
    if list.is_empty() {
        return "no streams running\n".to_string();
    }
    let mut header = vec![
        "CHANNEL", "STATE", "PID", "UPTIME", "RESTARTS", "SEGMENTS", "WATCHED", "REASON",
    ];
    if viewers.is_some() {
        header.insert(6, "VIEWERS");
    }
    // Cluster mode: which node runs each channel.
    let cluster = list.iter().any(|s| s.node.is_some());
    if cluster {
        header.insert(2, "NODE");
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|s| {
            let mut row = vec![
                s.channel.clone(),
                s.state.as_str().to_string(),
                s.pid.map_or("-".into(), |p| p.to_string()),
                if s.started == 0 {
                    "-".into()
                } else {
                    span(now.saturating_sub(s.started))
                },
                s.restarts.to_string(),
                s.segments.to_string(),
                format!("{} ago", span(s.idle_secs)),
                s.reason.clone().unwrap_or_else(|| "-".into()),
            ];
            if let Some(v) = viewers {
                row.insert(6, v.get(&s.channel).copied().unwrap_or(0).to_string());
            }
            if cluster {
                row.insert(2, s.node.clone().unwrap_or_else(|| "-".into()));
            }
            row
        })
        .collect();
    columns(&header, &rows)
}

/// Left-aligned columns, the last one unpadded.
pub fn columns(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| -> String {
        let mut out = String::new();
        for (i, (cell, w)) in cells.zip(&widths).enumerate() {
            if i + 1 == widths.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(&mut header.iter().copied());
    for row in rows {
        out += &line(&mut row.iter().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::protocol::StreamState;

    #[test]
    fn spans() {
        assert_eq!(span(5), "5s");
        assert_eq!(span(75), "1m15s");
        assert_eq!(span(3725), "1h02m");
        assert_eq!(span(90000), "1d01h");
    }

    #[test]
    fn tables() {
        assert_eq!(table(&[], 0, None), "no streams running\n");
        let list = vec![
            StreamInfo {
                channel: "7".into(),
                state: StreamState::Ready,
                pid: Some(4242),
                started: 1000,
                idle_secs: 3,
                segments: 6,
                restarts: 1,
                reason: Some("ffmpeg was killed by signal 9 (SIGKILL)".into()),
                source: None,
                proxy: None,
                tls: None,
                skipped: Vec::new(),
                node: None,
            },
            StreamInfo {
                channel: "news-hd".into(),
                state: StreamState::Failed,
                pid: None,
                started: 0,
                idle_secs: 61,
                segments: 0,
                restarts: 3,
                reason: Some("upstream answered HTTP 403 Forbidden".into()),
                source: None,
                proxy: None,
                tls: None,
                skipped: Vec::new(),
                node: None,
            },
        ];
        let t = table(&list, 1075, None);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("CHANNEL  STATE   PID   UPTIME  RESTARTS"));
        assert!(
            lines[1].starts_with("7        ready   4242  1m15s   1"),
            "{}",
            lines[1]
        );
        assert!(
            lines[1].ends_with("3s ago     ffmpeg was killed by signal 9 (SIGKILL)"),
            "{t}"
        );
        assert!(lines[2].contains("failed  -     -"), "{}", lines[2]);
        assert!(lines[2].ends_with("upstream answered HTTP 403 Forbidden"));
        let mut on_node = list.clone();
        on_node[0].node = Some("n1".into());
        let t = table(&on_node, 1075, None);
        assert!(t.starts_with("CHANNEL  STATE   NODE  PID"), "{t}");
        assert!(
            t.lines()
                .nth(1)
                .unwrap()
                .starts_with("7        ready   n1    4242"),
            "{t}"
        );
        let viewers = BTreeMap::from([("7".to_string(), 2)]);
        let t = table(&list, 1075, Some(&viewers));
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].contains("SEGMENTS  VIEWERS  WATCHED"), "{t}");
        assert!(lines[1].contains(" 6         2        3s ago"), "{t}");
        assert!(lines[2].contains(" 0         0        1m01s ago"), "{t}");
    }
}
