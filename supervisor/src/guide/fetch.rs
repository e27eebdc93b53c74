//! Fetching a guide URL into a temporary file, through the upstream
//! gateway's client: the supervisor's proxy, TLS verification, address
//! policy (`--allow-upstream-networks`), timeouts and redirects apply as
//! for channel sources. The body is streamed to disk (never held whole)
//! and bounded; a chunked body is decoded while reading the file.

use std::io::{BufRead, Read, Write};
use std::path::PathBuf;
use std::sync::Mutex;

use tokio::io::AsyncReadExt;

use crate::config::Cli;
use crate::gateway::cookies::Jar;
use crate::gateway::{tls, upstream, Route};

/// Largest guide file fetched (compressed or not).
pub const MAX_BYTES: u64 = 1 << 30;

/// GETs `url` into a new file in the temporary directory; the caller
/// removes it. Errors name the host and why, never the URL's secrets.
pub async fn to_temp_file(cli: &Cli, url: &str) -> Result<PathBuf, String> {
    let shown = crate::redact::url(url);
    let proxy = match &cli.proxy {
        Some(p) => crate::proxy::parse(p).map_err(|e| format!("--proxy: {e}"))?,
        None => None,
    };
    let mut headers = Vec::new();
    if let Some(ua) = &cli.user_agent {
        headers.push(("User-Agent".to_string(), ua.clone()));
    }
    let route = Route {
        proxy,
        allowed: cli.allow_upstream_networks.0.clone(),
        tls: tls::client_config(true, None)?,
        connect_timeout: cli.connect_timeout,
        read_timeout: cli.read_timeout,
        headers,
    };
    let jar = Mutex::new(Jar::default());
    let f = upstream::fetch(&route, &jar, url, None)
        .await
        .map_err(|e| format!("cannot fetch the guide {shown}: {e}"))?;
    if f.response.status != 200 {
        return Err(format!(
            "cannot fetch the guide {shown}: the server answered {} {}",
            f.response.status, f.response.reason
        ));
    }
    let chunked = f.response.chunked();
    let length: Option<u64> = f
        .response
        .header("content-length")
        .and_then(|v| v.trim().parse().ok());
    if length.is_some_and(|n| n > MAX_BYTES) {
        return Err(format!(
            "the guide {shown} is larger than {MAX_BYTES} bytes"
        ));
    }
    let raw = temp_path("raw");
    let mut out =
        std::fs::File::create(&raw).map_err(|e| format!("cannot create {}: {e}", raw.display()))?;
    let result = async {
        let mut got = f.body_start.len() as u64;
        out.write_all(&f.body_start).map_err(|e| e.to_string())?;
        let mut conn = f.conn;
        let mut buf = vec![0u8; 64 * 1024];
        while length.is_none_or(|n| got < n) {
            let n = tokio::time::timeout(route.read_timeout, conn.read(&mut buf))
                .await
                .map_err(|_| "the server stopped sending".to_string())?
                .map_err(|e| upstream::io_text(&e))?;
            if n == 0 {
                break;
            }
            got += n as u64;
            if got > MAX_BYTES {
                return Err(format!("larger than {MAX_BYTES} bytes"));
            }
            out.write_all(&buf[..n]).map_err(|e| e.to_string())?;
        }
        if length.is_some_and(|n| got < n) {
            return Err(format!(
                "the body ended after {got} of {} bytes",
                length.unwrap_or(0)
            ));
        }
        Ok(())
    }
    .await;
    drop(out);
    if let Err(e) = result {
        let _ = std::fs::remove_file(&raw);
        return Err(format!("cannot fetch the guide {shown}: {e}"));
    }
    if !chunked {
        return Ok(raw);
    }
    let plain = temp_path("body");
    let done = tokio::task::spawn_blocking({
        let (raw, plain) = (raw.clone(), plain.clone());
        move || dechunk_file(&raw, &plain)
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    let _ = std::fs::remove_file(&raw);
    match done {
        Ok(()) => Ok(plain),
        Err(e) => {
            let _ = std::fs::remove_file(&plain);
            Err(format!("cannot fetch the guide {shown}: {e}"))
        }
    }
}

fn temp_path(what: &str) -> PathBuf {
    let n = crate::secret::random_hex(8).unwrap_or_else(|_| "0".into());
    std::env::temp_dir().join(format!(
        "stream-supervisor-guide-{}-{n}.{what}",
        std::process::id()
    ))
}

fn dechunk_file(raw: &std::path::Path, plain: &std::path::Path) -> Result<(), String> {
    let input = std::fs::File::open(raw).map_err(|e| e.to_string())?;
    let mut out = std::fs::File::create(plain).map_err(|e| e.to_string())?;
    dechunk(std::io::BufReader::new(input), &mut out)
}

/// Decodes a chunked body from `input` into `out`, streaming.
pub fn dechunk<R: BufRead, W: Write>(mut input: R, out: &mut W) -> Result<(), String> {
    let mut line = String::new();
    loop {
        line.clear();
        input.read_line(&mut line).map_err(|e| e.to_string())?;
        let size = line.trim().split(';').next().unwrap_or("");
        let n = u64::from_str_radix(size, 16)
            .map_err(|_| "a bad chunk size in the body".to_string())?;
        if n == 0 {
            return Ok(());
        }
        let copied = std::io::copy(&mut (&mut input).take(n), out).map_err(|e| e.to_string())?;
        if copied != n {
            return Err("the body ended inside a chunk".into());
        }
        line.clear();
        input.read_line(&mut line).map_err(|e| e.to_string())?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_decoded() {
        let mut out = Vec::new();
        dechunk(&b"3\r\n<tv\r\n2;x=1\r\n/>\r\n0\r\n\r\n"[..], &mut out).unwrap();
        assert_eq!(out, b"<tv/>");
        assert!(dechunk(&b"zz\r\n"[..], &mut Vec::new()).is_err());
        assert!(dechunk(&b"9\r\nabc"[..], &mut Vec::new()).is_err());
    }
}
