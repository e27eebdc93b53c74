//! Turns ffmpeg's last stderr lines and exit status into one concrete
//! reason an operator can act on.

/// Known messages, most specific first: (needle in stderr, reason).
const KNOWN: &[(&str, &str)] = &[
    (
        "Protocol not on whitelist",
        "source protocol is not allowed",
    ),
    ("not on whitelist", "source format is not allowed"),
    ("Connection refused", "connection refused"),
    (
        "Connection timed out",
        "timed out connecting to the upstream",
    ),
    ("Operation timed out", "upstream timed out"),
    (
        "Failed to resolve hostname",
        "cannot resolve the upstream host name",
    ),
    (
        "Name or service not known",
        "cannot resolve the upstream host name",
    ),
    ("No route to host", "no route to the upstream host"),
    ("Network is unreachable", "network unreachable"),
    ("Connection reset by peer", "upstream reset the connection"),
    ("does not contain any stream", "no video or audio in source"),
    ("Output file is empty", "no video or audio in source"),
    (
        "Invalid data found when processing input",
        "upstream sent data that is not a media stream",
    ),
    ("End of file", "upstream ended the stream"),
];

/// ffmpeg's stderr cut into lines: bounded in length (a line without an
/// end cannot grow without limit), any bytes (lossy UTF-8), `\n` or `\r`
/// ending a line.
pub struct StderrLines {
    current: Vec<u8>,
    max: usize,
}

impl StderrLines {
    pub fn new(max: usize) -> StderrLines {
        StderrLines {
            current: Vec::new(),
            max: max.max(1),
        }
    }

    /// The lines `bytes` completes.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        for &b in bytes {
            if b == b'\n' || b == b'\r' {
                if !self.current.is_empty() {
                    out.push(self.take());
                }
            } else if self.current.len() < self.max {
                self.current.push(b);
            }
        }
        out
    }

    /// What is left when stderr ends.
    pub fn finish(&mut self) -> Option<String> {
        (!self.current.is_empty()).then(|| self.take())
    }

    fn take(&mut self) -> String {
        let line = String::from_utf8_lossy(&self.current).into_owned();
        self.current.clear();
        line
    }
}

/// A reason from stderr lines (oldest first) and the exit description.
pub fn reason(stderr_tail: &[String], exit: &str) -> String {
    for line in stderr_tail.iter().rev() {
        if let Some(status) = http_status(line) {
            return format!("upstream answered HTTP {status}");
        }
    }
    for (needle, reason) in KNOWN {
        if stderr_tail.iter().any(|l| l.contains(needle)) {
            return (*reason).to_string();
        }
    }
    match stderr_tail.iter().rev().find(|l| !l.trim().is_empty()) {
        Some(last) => {
            let last: String = crate::redact::text(last.trim()).chars().take(300).collect();
            format!("ffmpeg {exit}: {last}")
        }
        None => format!("ffmpeg {exit} without a message"),
    }
}

/// `403 Forbidden` from ffmpeg's "Server returned 403 Forbidden (access
/// denied)" or "HTTP error 403 Forbidden".
fn http_status(line: &str) -> Option<String> {
    let rest = line
        .split_once("Server returned ")
        .or_else(|| line.split_once("HTTP error "))?
        .1;
    let code: String = rest.chars().take(3).collect();
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        // "Server returned 4XX Client Error, but not one of 40{0,1,3,4}"
        return rest
            .starts_with("4XX")
            .then(|| "4xx".to_string())
            .or_else(|| rest.starts_with("5XX").then(|| "5xx".to_string()));
    }
    let text = rest.split(" (").next().unwrap_or(rest).trim().to_string();
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn http_errors() {
        let t = lines(&[
            "[http @ 0x55] HTTP error 403 Forbidden",
            "http://127.0.0.1:1/x: Server returned 403 Forbidden (access denied)",
        ]);
        assert_eq!(
            reason(&t, "exited with status 1"),
            "upstream answered HTTP 403 Forbidden"
        );
        let t = lines(&["x: Server returned 404 Not Found"]);
        assert_eq!(reason(&t, "exited"), "upstream answered HTTP 404 Not Found");
        let t = lines(&["x: Server returned 4XX Client Error, but not one of 40{0,1,3,4}"]);
        assert_eq!(reason(&t, "exited"), "upstream answered HTTP 4xx");
    }

    #[test]
    fn network_errors() {
        let t = lines(&[
            "[tcp @ 0x1] Connection to tcp://127.0.0.1:1 failed: Connection refused",
            "http://127.0.0.1:1/x: Connection refused",
        ]);
        assert_eq!(reason(&t, "exited"), "connection refused");
        let t = lines(&["Output file #0 does not contain any stream"]);
        assert_eq!(reason(&t, "exited"), "no video or audio in source");
    }

    #[test]
    fn stderr_lines_are_bounded_and_any_bytes() {
        let mut s = StderrLines::new(8);
        assert_eq!(s.feed(b"ab"), Vec::<String>::new());
        assert_eq!(s.feed(b"c\n\xff\xfeok\r\n"), ["abc", "\u{fffd}\u{fffd}ok"]);
        assert_eq!(s.feed(b"0123456789abcdef\nnext"), ["01234567"]);
        assert_eq!(s.finish().as_deref(), Some("next"));
        assert_eq!(s.finish(), None);
    }

    #[test]
    fn secrets_in_a_last_line_are_redacted() {
        let t = lines(&["rtmp://u:pw@h/app?token=1: odd"]);
        assert_eq!(
            reason(&t, "exited"),
            "ffmpeg exited: rtmp://***@h/app?token=***: odd"
        );
    }

    #[test]
    fn fallbacks() {
        let t = lines(&["something odd happened", ""]);
        assert_eq!(
            reason(&t, "exited with status 1"),
            "ffmpeg exited with status 1: something odd happened"
        );
        assert_eq!(
            reason(&[], "was killed by signal 9"),
            "ffmpeg was killed by signal 9 without a message"
        );
    }
}
