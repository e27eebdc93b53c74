//! `herd`: N concurrent first requests for one URL (a cold channel), while
//! a side probe keeps requesting another URL (a static file) one at a time.
//! Prints one JSON object: status counts and latency percentiles of both.
//! A benchmark tool for scripts/bench.sh, not part of the product.

use std::time::{Duration, Instant};

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Parser, Debug)]
#[command(name = "herd", about = "Concurrent first requests for one URL")]
struct Args {
    /// host:port of the server.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    /// Path (with query) every herd request asks for.
    #[arg(long)]
    path: String,
    /// How many requests at once.
    #[arg(long, default_value_t = 1000)]
    concurrency: usize,
    /// Path the side probe asks for while the herd waits.
    #[arg(long)]
    probe: Option<String>,
}

async fn get(addr: &str, path: &str) -> (u16, Duration) {
    let start = Instant::now();
    let status = async {
        let mut s = TcpStream::connect(addr).await.ok()?;
        let req = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
        s.write_all(req.as_bytes()).await.ok()?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.ok()?;
        status_of(&buf)
    }
    .await
    .unwrap_or(0);
    (status, start.elapsed())
}

fn get_blocking(addr: &str, path: &str) -> (u16, Duration) {
    use std::io::{Read, Write};
    let start = Instant::now();
    let status = (|| {
        let mut s = std::net::TcpStream::connect(addr).ok()?;
        let req = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
        s.write_all(req.as_bytes()).ok()?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).ok()?;
        status_of(&buf)
    })()
    .unwrap_or(0);
    (status, start.elapsed())
}

fn status_of(response: &[u8]) -> Option<u16> {
    let line = response.split(|b| *b == b'\n').next()?;
    std::str::from_utf8(line)
        .ok()?
        .split(' ')
        .nth(1)?
        .parse()
        .ok()
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    let addr = args.addr.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // The probe is another viewer: its own thread and blocking socket, so
    // what it measures is the server, not this program's runtime busy
    // with the herd's replies.
    let probe = args.probe.clone().map(|p| {
        let (addr, stop) = (addr.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut lat = Vec::new();
            let mut worst = (0.0, 0.0);
            let t0 = Instant::now();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let at = t0.elapsed().as_secs_f64() * 1000.0;
                let (st, d) = get_blocking(&addr, &p);
                if st == 200 {
                    let ms = d.as_secs_f64() * 1000.0;
                    if ms > worst.0 {
                        worst = (ms, at);
                    }
                    lat.push(ms);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            (lat, worst.1)
        })
    });
    // Let the probe get a baseline first.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(args.concurrency);
    for _ in 0..args.concurrency {
        let (addr, path) = (addr.clone(), args.path.clone());
        tasks.push(tokio::spawn(async move { get(&addr, &path).await }));
    }
    let mut lat = Vec::new();
    let mut statuses = std::collections::BTreeMap::new();
    for t in tasks {
        if let Ok((st, d)) = t.await {
            *statuses.entry(st).or_insert(0u32) += 1;
            lat.push(d.as_secs_f64() * 1000.0);
        }
    }
    let total = started.elapsed().as_secs_f64() * 1000.0;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut probe_lat, probe_worst_at) = match probe {
        Some(h) => h.join().unwrap_or_default(),
        None => (Vec::new(), 0.0),
    };
    // The probe started 200 ms before the herd.
    let probe_worst_at = probe_worst_at - 200.0;
    lat.sort_by(f64::total_cmp);
    probe_lat.sort_by(f64::total_cmp);
    let statuses: serde_json::Map<String, serde_json::Value> = statuses
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.into()))
        .collect();
    let out = serde_json::json!({
        "requests": lat.len(),
        "statuses": statuses,
        "total_ms": total,
        "p50_ms": pct(&lat, 0.5),
        "p99_ms": pct(&lat, 0.99),
        "max_ms": pct(&lat, 1.0),
        "probe_requests": probe_lat.len(),
        "probe_p50_ms": pct(&probe_lat, 0.5),
        "probe_p99_ms": pct(&probe_lat, 0.99),
        "probe_max_ms": pct(&probe_lat, 1.0),
        // When the slowest probe was sent, in ms after the herd's start.
        "probe_max_at_ms": probe_worst_at,
    });
    println!("{out}");
}
