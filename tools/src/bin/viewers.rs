//! `viewers`: N simulated HLS players for a while. Each refreshes a
//! channel's playlist every interval and fetches the segments new in it,
//! as a player does; with `--session`, viewers leave after a random time
//! and others join (another channel, chosen at random). Prints one JSON
//! object: responses by kind and status, when the bad ones happened and
//! the longest time one viewer went without a playlist.
//! A tool for scripts/faults.sh and bench.sh's soak, not part of the product.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Parser, Debug)]
#[command(name = "viewers", about = "Simulated HLS viewers")]
struct Args {
    /// host:port of the server.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    /// Playlist path; `{channel}` is replaced by the viewer's channel.
    #[arg(long)]
    playlist: String,
    /// Comma-separated channel ids the viewers watch.
    #[arg(long, default_value = "1")]
    channels: String,
    /// Viewers at once.
    #[arg(long, default_value_t = 10)]
    viewers: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds between playlist refreshes of one viewer.
    #[arg(long, default_value_t = 1.0)]
    interval: f64,
    /// Viewers join over this many seconds at the start.
    #[arg(long, default_value_t = 0.0)]
    ramp: f64,
    /// Mean seconds a viewer stays before leaving for another channel
    /// (0: stays for the whole run).
    #[arg(long, default_value_t = 0.0)]
    session: f64,
    /// Seconds before a request that has not completed counts as "timeout".
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// Write every response here, one line each:
    /// `ms_since_start kind status channel`.
    #[arg(long)]
    events: Option<String>,
}

#[derive(Default)]
struct Tally {
    // (kind, status) -> count; status "error" (no response) or "timeout".
    counts: BTreeMap<(String, String), u64>,
    bad: usize,
    first_bad: Option<u128>,
    last_bad: Option<u128>,
    all: Vec<(u128, String, String, String)>,
    sessions: u64,
    // The longest time a viewer went between two 200 playlists.
    longest_gap: Duration,
}

struct Response {
    status: String,
    body: Vec<u8>,
}

async fn get(addr: &str, path: &str, timeout: Duration) -> Response {
    let fetch = async {
        let mut s = TcpStream::connect(addr).await.ok()?;
        let req = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
        s.write_all(req.as_bytes()).await.ok()?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.ok()?;
        let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
        let status = std::str::from_utf8(&buf[..end])
            .ok()?
            .split(' ')
            .nth(1)?
            .to_string();
        Some(Response {
            status,
            body: buf[end + 4..].to_vec(),
        })
    };
    match tokio::time::timeout(timeout, fetch).await {
        Ok(Some(r)) => r,
        Ok(None) => Response {
            status: "error".into(),
            body: Vec::new(),
        },
        Err(_) => Response {
            status: "timeout".into(),
            body: Vec::new(),
        },
    }
}

/// The media URIs of a playlist, resolved against the playlist's path.
fn segments(playlist_path: &str, body: &[u8]) -> Vec<String> {
    let dir = match playlist_path.split('?').next().unwrap_or("").rfind('/') {
        Some(i) => &playlist_path[..=i],
        None => "/",
    };
    String::from_utf8_lossy(body)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            if l.starts_with('/') {
                l.to_string()
            } else {
                format!("{dir}{l}")
            }
        })
        .collect()
}

/// A small xorshift generator: the spread of joins and sessions needs no
/// more, and the tools take no crate for it.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Run {
    args: Args,
    channels: Vec<String>,
    start: Instant,
    end: Instant,
    tally: Mutex<Tally>,
}

impl Run {
    fn record(&self, kind: &str, status: &str, channel: &str) {
        let mut t = self.tally.lock().unwrap();
        *t.counts
            .entry((kind.to_string(), status.to_string()))
            .or_insert(0) += 1;
        let ms = self.start.elapsed().as_millis();
        if status != "200" {
            t.bad += 1;
            t.first_bad.get_or_insert(ms);
            t.last_bad = Some(ms);
        }
        if self.args.events.is_some() {
            t.all.push((
                ms,
                kind.to_string(),
                status.to_string(),
                channel.to_string(),
            ));
        }
    }
}

async fn viewer(run: Arc<Run>, n: usize) {
    let a = &run.args;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((n as u64 + 1) * 0x2545_F491_4F6C_DD1D));
    let timeout = Duration::from_secs_f64(a.timeout);
    let interval = Duration::from_secs_f64(a.interval);
    tokio::time::sleep(Duration::from_secs_f64(a.ramp * rng.next_f64())).await;
    let mut channel = run.channels[n % run.channels.len()].clone();
    while Instant::now() < run.end {
        run.tally.lock().unwrap().sessions += 1;
        let leave = if a.session > 0.0 {
            // Exponentially distributed stays, mean `session`.
            let s = -a.session * (1.0 - rng.next_f64()).ln();
            Instant::now() + Duration::from_secs_f64(s.min(a.duration))
        } else {
            run.end
        };
        let path = a.playlist.replace("{channel}", &channel);
        let mut seen: Vec<String> = Vec::new();
        let mut last_ok = Instant::now();
        while Instant::now() < leave.min(run.end) {
            let started = Instant::now();
            let r = get(&a.addr, &path, timeout).await;
            run.record("playlist", &r.status, &channel);
            if r.status == "200" {
                let gap = last_ok.elapsed();
                {
                    let mut t = run.tally.lock().unwrap();
                    t.longest_gap = t.longest_gap.max(gap);
                }
                last_ok = Instant::now();
                let list = segments(&path, &r.body);
                // A joining player starts near the live edge.
                let new: Vec<String> = if seen.is_empty() {
                    list.iter().rev().take(1).cloned().collect()
                } else {
                    list.iter().filter(|s| !seen.contains(s)).cloned().collect()
                };
                for seg in new {
                    let r = get(&a.addr, &seg, timeout).await;
                    run.record("segment", &r.status, &channel);
                    seen.push(seg);
                }
                let keep = seen.len().saturating_sub(32);
                seen.drain(..keep);
            }
            let spent = started.elapsed();
            if spent < interval {
                tokio::time::sleep(interval - spent).await;
            }
        }
        if a.session > 0.0 {
            tokio::time::sleep(interval.mul_f64(2.0 * rng.next_f64())).await;
            let i = (rng.next_f64() * run.channels.len() as f64) as usize;
            channel = run.channels[i.min(run.channels.len() - 1)].clone();
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    let channels: Vec<String> = args
        .channels
        .split(',')
        .filter(|c| !c.is_empty())
        .map(String::from)
        .collect();
    if channels.is_empty() {
        eprintln!("viewers: --channels names no channel");
        std::process::exit(2);
    }
    let start = Instant::now();
    let run = Arc::new(Run {
        end: start + Duration::from_secs_f64(args.duration),
        channels,
        start,
        args,
        tally: Mutex::new(Tally::default()),
    });
    let tasks: Vec<_> = (0..run.args.viewers)
        .map(|n| tokio::spawn(viewer(run.clone(), n)))
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    let t = run.tally.lock().unwrap();
    let mut by_kind: BTreeMap<String, serde_json::Map<String, serde_json::Value>> = BTreeMap::new();
    for ((kind, status), n) in &t.counts {
        by_kind
            .entry(kind.clone())
            .or_default()
            .insert(status.clone(), (*n).into());
    }
    if let Some(path) = &run.args.events {
        let lines: String = t
            .all
            .iter()
            .map(|(ms, kind, st, ch)| format!("{ms} {kind} {st} {ch}\n"))
            .collect();
        if let Err(e) = std::fs::write(path, lines) {
            eprintln!("viewers: cannot write {path}: {e}");
        }
    }
    let out = serde_json::json!({
        "viewers": run.args.viewers,
        "sessions": t.sessions,
        "seconds": start.elapsed().as_secs_f64(),
        "playlist": by_kind.remove("playlist").unwrap_or_default(),
        "segment": by_kind.remove("segment").unwrap_or_default(),
        "bad": t.bad,
        "first_bad_ms": t.first_bad,
        "last_bad_ms": t.last_bad,
        "longest_gap_ms": t.longest_gap.as_millis() as u64,
    });
    println!("{out}");
}

#[cfg(test)]
mod tests {
    use super::segments;

    #[test]
    fn segment_uris_resolve_against_the_playlist() {
        let body = b"#EXTM3U\n#EXTINF:2.0,\nstream_1_7.ts?token=t\n\n#EXTINF:2.0,\n/other/x.ts\n";
        assert_eq!(
            segments("/live/stream_1.m3u8?token=t/x", body),
            vec!["/live/stream_1_7.ts?token=t", "/other/x.ts"]
        );
        assert_eq!(segments("/s.m3u8", b"a.ts\n"), vec!["/a.ts"]);
        assert!(segments("/s.m3u8", b"#EXTM3U\n").is_empty());
    }
}
