//! `test-origin`: a live MPEG-TS origin over HTTP for tests and the demo.
//!
//! One ffmpeg generates a test picture (moving pattern, clock) and a tone;
//! every HTTP client gets the same live bytes from the moment it connects,
//! like a real IPTV upstream. Nothing here leaves loopback unless told to.
//!
//! Paths choose how it behaves, so one origin serves every test case:
//! - `/<anything>.ts`: the live stream;
//! - `/status/<code>/<anything>`: answers that HTTP status, no body;
//! - `/stall/<secs>/<anything>.ts`: the live stream for `secs` seconds, then
//!   nothing more on an open connection (a hung upstream);
//! - `/gop/<anything>.ts`: the live stream from its latest keyframe on, as
//!   restreaming servers with a GOP cache send it.

mod gop_cache;

use std::sync::{Arc, Mutex};

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Command;
use tokio::sync::broadcast;

#[derive(Parser, Debug)]
#[command(
    name = "test-origin",
    about = "Live MPEG-TS test stream over HTTP (GET /<anything>.ts)"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: String,
    /// ffmpeg binary.
    #[arg(long, default_value = "ffmpeg")]
    ffmpeg: String,
    /// Seconds between keyframes.
    #[arg(long, default_value_t = 1)]
    keyint: u32,
    /// Picture size.
    #[arg(long, default_value = "320x240")]
    size: String,
    /// Frames per second.
    #[arg(long, default_value_t = 25)]
    fps: u32,
}

type Chunk = Arc<Vec<u8>>;

/// The live stream: whole TS packets to every client, and the GOP cache,
/// updated together so a client's snapshot joins its live part exactly.
struct Live {
    tx: broadcast::Sender<Chunk>,
    gop: Mutex<gop_cache::GopCache>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    let listener = TcpListener::bind(&args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let (tx, _) = broadcast::channel::<Chunk>(4096);
    let gop = (args.fps * args.keyint).max(1).to_string();
    let mut child = Command::new(&args.ffmpeg)
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-re"])
        .args(["-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size={}:rate={}", args.size, args.fps))
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
            "-pix_fmt",
            "yuv420p",
        ])
        .args([
            "-g",
            &gop,
            "-keyint_min",
            &gop,
            "-sc_threshold",
            "0",
            "-b:v",
            "400k",
        ])
        // Every packet to the viewers as it is made, as a live origin sends
        // it: without -flush_packets ffmpeg fills a 32 KiB buffer first
        // (about half a second of this stream), so viewers got bursts.
        .args(["-c:a", "aac", "-b:a", "64k", "-f", "mpegts"])
        .args(["-flush_packets", "1", "pipe:1"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", args.ffmpeg))?;
    let mut out = child.stdout.take().ok_or("no ffmpeg stdout")?;
    let live = Arc::new(Live {
        tx,
        gop: Mutex::new(gop_cache::GopCache::default()),
    });
    let feed = live.clone();
    let pump = tokio::spawn(async move {
        let mut buf = vec![0u8; gop_cache::PACKET * 64];
        let mut aligner = gop_cache::Aligner::default();
        loop {
            match out.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let packets = aligner.push(&buf[..n]);
                    if packets.is_empty() {
                        continue;
                    }
                    let mut gop = feed.gop.lock().unwrap();
                    gop.feed(&packets);
                    let _ = feed.tx.send(Arc::new(packets));
                }
            }
        }
    });
    eprintln!("test-origin: serving http://{}/live.ts", args.listen);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((sock, _)) = accepted {
                    tokio::spawn(client(sock, live.clone()));
                }
            }
            _ = &mut Box::pin(child.wait()) => return Err("the ffmpeg generator exited".into()),
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    pump.abort();
    let _ = child.kill().await;
    Ok(())
}

async fn client(mut sock: TcpStream, live: Arc<Live>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match sock.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 16 * 1024 {
            return;
        }
    }
    let text = String::from_utf8_lossy(&head);
    let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
    let path = path.split('?').next().unwrap_or("/");
    let mut parts = path.trim_start_matches('/').splitn(3, '/');
    let (kind, arg) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if kind == "status" {
        let code: u16 = arg.parse().unwrap_or(500);
        let head = format!(
            "HTTP/1.1 {code} Test Status\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let _ = sock.write_all(head.as_bytes()).await;
        return;
    }
    let stall_after = (kind == "stall")
        .then(|| arg.parse::<u64>().ok())
        .flatten()
        .map(|s| tokio::time::Instant::now() + std::time::Duration::from_secs(s));
    if !path.ends_with(".ts") {
        let _ = sock
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await;
        return;
    }
    let hdr = b"HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n";
    if sock.write_all(hdr).await.is_err() {
        return;
    }
    let (cached, mut rx) = {
        let gop = live.gop.lock().unwrap();
        let cached = (kind == "gop").then(|| gop.snapshot());
        (cached, live.tx.subscribe())
    };
    if let Some(cached) = cached {
        if sock.write_all(&cached).await.is_err() {
            return;
        }
    }
    loop {
        if stall_after.is_some_and(|t| tokio::time::Instant::now() >= t) {
            // Keep the connection open and silent until the client gives up.
            let _ = sock.read(&mut buf).await;
            return;
        }
        match rx.recv().await {
            Ok(chunk) => {
                if sock.write_all(&chunk).await.is_err() {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}
