//! Why a run failed or a channel restarted, as one of a few classes: the
//! label value of `restarts_total` and `failures_total` (never the free
//! text of a reason, which would make a series per message).

/// A bounded reason class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    SourceHttp4xx,
    SourceHttp5xx,
    SourceUnreachable,
    SourceTimeout,
    /// Refused by the supervisor's own rules: upstream address, scheme.
    Policy,
    /// No segment within the start timeout.
    NoSegments,
    /// Was ready, then the playlist stopped advancing.
    Stalled,
    /// ffmpeg ended by itself (a signal, an exit status, a bad stream).
    FfmpegExit,
    /// The HLS directory is full or nearly full.
    DiskSpace,
    /// Not started: --max-streams channels run already.
    Capacity,
    /// An operator's restart.
    Operator,
    Other,
}

impl Reason {
    pub const ALL: [Reason; 12] = [
        Reason::SourceHttp4xx,
        Reason::SourceHttp5xx,
        Reason::SourceUnreachable,
        Reason::SourceTimeout,
        Reason::Policy,
        Reason::NoSegments,
        Reason::Stalled,
        Reason::FfmpegExit,
        Reason::DiskSpace,
        Reason::Capacity,
        Reason::Operator,
        Reason::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::SourceHttp4xx => "source_http_4xx",
            Reason::SourceHttp5xx => "source_http_5xx",
            Reason::SourceUnreachable => "source_unreachable",
            Reason::SourceTimeout => "source_timeout",
            Reason::Policy => "policy",
            Reason::NoSegments => "no_segments",
            Reason::Stalled => "stalled",
            Reason::FfmpegExit => "ffmpeg_exit",
            Reason::DiskSpace => "disk_space",
            Reason::Capacity => "capacity",
            Reason::Operator => "operator",
            Reason::Other => "other",
        }
    }

    /// Its index in `ALL`.
    pub fn index(self) -> usize {
        Reason::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }
}

/// The class of a run's failure reason, as the supervisor words them
/// (ffmpeg_reason, run.rs, the gateway, disk_space). What the reason
/// starts with is the supervisor's own words and is looked at first: a
/// quoted ffmpeg line at its end must not decide.
pub fn classify(reason: &str) -> Reason {
    const PREFIXES: &[(&str, Reason)] = &[
        ("no segment within", Reason::NoSegments),
        ("stalled:", Reason::Stalled),
        ("HLS directory", Reason::DiskSpace),
        ("upstream answered HTTP 4", Reason::SourceHttp4xx),
        ("upstream answered HTTP 5", Reason::SourceHttp5xx),
        ("upstream address refused", Reason::Policy),
        ("source protocol is not allowed", Reason::Policy),
        ("source format is not allowed", Reason::Policy),
        ("timed out connecting", Reason::SourceTimeout),
        ("upstream timed out", Reason::SourceTimeout),
        ("connection refused", Reason::SourceUnreachable),
        ("cannot resolve", Reason::SourceUnreachable),
        ("cannot connect to", Reason::SourceUnreachable),
        ("no route to", Reason::SourceUnreachable),
        ("network unreachable", Reason::SourceUnreachable),
        ("upstream reset the connection", Reason::SourceUnreachable),
        ("no video or audio", Reason::FfmpegExit),
        (
            "upstream sent data that is not a media stream",
            Reason::FfmpegExit,
        ),
        ("upstream ended the stream", Reason::FfmpegExit),
        ("ffmpeg ", Reason::FfmpegExit),
        ("cannot run ", Reason::FfmpegExit),
    ];
    if let Some((_, r)) = PREFIXES.iter().find(|(p, _)| reason.starts_with(p)) {
        return *r;
    }
    // The gateway's upstream errors name the host first.
    const WITHIN: &[(&str, Reason)] = &[
        ("did not answer in time", Reason::SourceTimeout),
        ("timed out", Reason::SourceTimeout),
        ("has no address", Reason::SourceUnreachable),
        (
            "closed the connection without a response",
            Reason::SourceUnreachable,
        ),
        ("connection refused", Reason::SourceUnreachable),
        ("refused CONNECT", Reason::SourceUnreachable),
        ("streams are running, the most allowed", Reason::Capacity),
    ];
    WITHIN
        .iter()
        .find(|(w, _)| reason.contains(w))
        .map_or(Reason::Other, |(_, r)| *r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{disk_space, ffmpeg_reason, gateway::policy};
    use std::path::Path;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn ffmpeg_reasons_by_class() {
        let r = |l: &[&str]| classify(&ffmpeg_reason::reason(&lines(l), "exited with status 1"));
        assert_eq!(
            r(&["x: Server returned 403 Forbidden (access denied)"]),
            Reason::SourceHttp4xx
        );
        assert_eq!(
            r(&["x: Server returned 4XX Client Error, but not one of 40{0,1,3,4}"]),
            Reason::SourceHttp4xx
        );
        assert_eq!(
            r(&["x: Server returned 503 Service Unavailable"]),
            Reason::SourceHttp5xx
        );
        assert_eq!(
            r(&["tcp://x: Connection refused"]),
            Reason::SourceUnreachable
        );
        assert_eq!(
            r(&["Failed to resolve hostname x"]),
            Reason::SourceUnreachable
        );
        assert_eq!(r(&["Connection timed out"]), Reason::SourceTimeout);
        assert_eq!(r(&["Operation timed out"]), Reason::SourceTimeout);
        assert_eq!(r(&["Protocol not on whitelist 'file'!"]), Reason::Policy);
        assert_eq!(
            r(&["Invalid data found when processing input"]),
            Reason::FfmpegExit
        );
        assert_eq!(r(&["something odd, timed out"]), Reason::FfmpegExit);
        assert_eq!(r(&[]), Reason::FfmpegExit);
    }

    #[test]
    fn supervisor_reasons_by_class() {
        assert_eq!(
            classify("no segment within 30 s (ffmpeg: Connection refused)"),
            Reason::NoSegments
        );
        assert_eq!(
            classify("stalled: no new segment for 6 s (source sends no data?)"),
            Reason::Stalled
        );
        assert_eq!(
            classify("ffmpeg was killed by signal 9 (SIGKILL)"),
            Reason::FfmpegExit
        );
        assert_eq!(
            classify("cannot run /usr/bin/ffmpeg: No such file"),
            Reason::FfmpegExit
        );
        let dir = Path::new("/var/www/hls");
        assert_eq!(
            classify(&disk_space::full_reason(dir, 0)),
            Reason::DiskSpace
        );
        assert_eq!(
            classify(&disk_space::refusal(dir, 1 << 20, 64 << 20).unwrap()),
            Reason::DiskSpace
        );
        let refused = policy::check("h", "127.0.0.1".parse().unwrap(), &[]).unwrap_err();
        assert_eq!(classify(&refused), Reason::Policy);
        assert_eq!(
            classify("example.net did not answer in time"),
            Reason::SourceTimeout
        );
        assert_eq!(
            classify("cannot connect to h:80: connection refused"),
            Reason::SourceUnreachable
        );
        assert_eq!(
            classify("cannot resolve h: no such host"),
            Reason::SourceUnreachable
        );
        assert_eq!(
            classify("h closed the connection without a response"),
            Reason::SourceUnreachable
        );
        assert_eq!(
            classify("2 streams are running, the most allowed (--max-streams 2)"),
            Reason::Capacity
        );
        assert_eq!(classify("anything else"), Reason::Other);
        assert_eq!(classify(""), Reason::Other);
    }

    #[test]
    fn classes_are_distinct_label_values() {
        let mut names: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Reason::ALL.len());
        for r in Reason::ALL {
            assert_eq!(Reason::ALL[r.index()], r);
            assert!(r
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
        }
    }
}
