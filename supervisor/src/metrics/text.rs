//! The supervisor's metric families as Prometheus text exposition format
//! 0.0.4, from a snapshot. Pure: everything it shows is in `Snapshot`.

use shared::prom_text::Exposition;

use super::histogram::HistogramSnapshot;
use super::reason::Reason;

/// One running channel's series.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelSample {
    pub channel: String,
    pub ready: bool,
    /// ffmpeg's CPU seconds and resident bytes, when it runs and /proc
    /// could be read.
    pub usage: Option<super::procfs::Usage>,
    /// Distinct users with a live session on the channel.
    pub viewers: u64,
    pub sessions: u64,
}

/// Everything one rendering shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Channels per state name (starting, ready, restarting, failed).
    pub states: Vec<(&'static str, u64)>,
    pub starts: u64,
    /// Per reason class, in `Reason::ALL` order.
    pub restarts: Vec<u64>,
    pub failures: Vec<u64>,
    pub start_seconds: HistogramSnapshot,
    /// Running channels, sorted; empty when per-channel series are off.
    pub channels: Vec<ChannelSample>,
    /// `--max-streams` (0: no limit).
    pub capacity: u64,
    pub running: u64,
    pub redis_errors: u64,
    pub redis_seconds: HistogramSnapshot,
    pub socket_connections: u64,
    pub sessions: u64,
    /// Cluster mode: this node's id (`--node-id`).
    pub node: Option<String>,
}

const P: &str = "stream_supervisor_";

/// The exposition text, ending with a newline.
pub fn render(s: &Snapshot) -> String {
    let mut out = String::with_capacity(4096 + s.channels.len() * 512);
    let o = &mut Exposition::new(&mut out, P);

    o.family(
        "streams",
        "gauge",
        "Channels by state (starting, ready, restarting, failed).",
    );
    for (state, n) in &s.states {
        o.sample("streams", &[("state", state)], *n as f64);
    }
    o.family(
        "running_streams",
        "gauge",
        "Channels taking a --max-streams slot (every state but failed).",
    );
    o.sample("running_streams", &[], s.running as f64);
    o.family(
        "capacity_streams",
        "gauge",
        "Most channels running at once (--max-streams; 0: no limit).",
    );
    o.sample("capacity_streams", &[], s.capacity as f64);
    if let Some(node) = &s.node {
        // Every series of this supervisor is this node's: the info series
        // names it, for joins across a cluster's nodes.
        o.family(
            "node_info",
            "gauge",
            "Cluster mode: the node this supervisor is (--node-id); always 1.",
        );
        o.sample("node_info", &[("node", node)], 1.0);
    }
    o.family(
        "starts_total",
        "counter",
        "Channel starts (a channel not running was asked for).",
    );
    o.sample("starts_total", &[], s.starts as f64);
    o.family("restarts_total", "counter", "ffmpeg restarts (back-off retry, next failover source, operator restart) by the class of the failure that caused them.");
    // A refused start restarts nothing; an operator's restart is no failure.
    for (r, n) in Reason::ALL.iter().zip(&s.restarts) {
        if *r != Reason::Capacity {
            o.sample("restarts_total", &[("reason", r.as_str())], *n as f64);
        }
    }
    o.family(
        "failures_total",
        "counter",
        "Failed ffmpeg runs and refused channel starts, by reason class.",
    );
    for (r, n) in Reason::ALL.iter().zip(&s.failures) {
        if *r != Reason::Operator {
            o.sample("failures_total", &[("reason", r.as_str())], *n as f64);
        }
    }
    o.family(
        "start_seconds",
        "histogram",
        "Time from a channel's start to its first ready playlist.",
    );
    histogram(o, "start_seconds", &s.start_seconds);

    if !s.channels.is_empty() {
        let each = |o: &mut Exposition<'_>,
                    name: &str,
                    kind: &str,
                    help: &str,
                    v: &dyn Fn(&ChannelSample) -> Option<f64>| {
            let values: Vec<(&str, f64)> = s
                .channels
                .iter()
                .filter_map(|c| Some((c.channel.as_str(), v(c)?)))
                .collect();
            if values.is_empty() {
                return;
            }
            o.family(name, kind, help);
            for (ch, x) in values {
                o.sample(name, &[("channel", ch)], x);
            }
        };
        each(
            o,
            "channel_up",
            "gauge",
            "1 when the channel is ready (serving segments), else 0.",
            &|c| Some(if c.ready { 1.0 } else { 0.0 }),
        );
        each(
            o,
            "channel_cpu_seconds_total",
            "counter",
            "CPU seconds (user and system) of the channel's current ffmpeg.",
            &|c| c.usage.map(|u| u.cpu_seconds),
        );
        each(
            o,
            "channel_memory_bytes",
            "gauge",
            "Resident memory of the channel's current ffmpeg.",
            &|c| c.usage.map(|u| u.rss_bytes as f64),
        );
        each(
            o,
            "channel_viewers",
            "gauge",
            "Distinct users with a live viewing session on the channel.",
            &|c| Some(c.viewers as f64),
        );
        each(
            o,
            "channel_sessions",
            "gauge",
            "Live viewing sessions on the channel.",
            &|c| Some(c.sessions as f64),
        );
    }

    o.family("sessions", "gauge", "Live viewing sessions.");
    o.sample("sessions", &[], s.sessions as f64);
    o.family(
        "redis_errors_total",
        "counter",
        "Redis calls that failed (unreachable, timed out, refused).",
    );
    o.sample("redis_errors_total", &[], s.redis_errors as f64);
    o.family(
        "redis_seconds",
        "histogram",
        "Time of one Redis round trip.",
    );
    histogram(o, "redis_seconds", &s.redis_seconds);
    o.family(
        "socket_connections",
        "gauge",
        "Open connections to the supervisor's Unix socket.",
    );
    o.sample("socket_connections", &[], s.socket_connections as f64);
    out
}

fn histogram(o: &mut Exposition<'_>, name: &str, h: &HistogramSnapshot) {
    o.histogram(name, &h.buckets, h.count, h.sum_secs);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::procfs::Usage;

    fn empty_histogram(bounds: &[f64]) -> HistogramSnapshot {
        HistogramSnapshot {
            buckets: bounds.iter().map(|b| (*b, 0)).collect(),
            count: 0,
            sum_secs: 0.0,
        }
    }

    fn snapshot() -> Snapshot {
        Snapshot {
            states: vec![
                ("starting", 1),
                ("ready", 2),
                ("restarting", 0),
                ("failed", 1),
            ],
            starts: 5,
            restarts: Reason::ALL
                .iter()
                .map(|r| (*r == Reason::Stalled) as u64)
                .collect(),
            failures: vec![0; Reason::ALL.len()],
            start_seconds: HistogramSnapshot {
                buckets: vec![(0.25, 0), (0.5, 1), (1.0, 3)],
                count: 4,
                sum_secs: 2.75,
            },
            channels: vec![
                ChannelSample {
                    channel: "7".into(),
                    ready: true,
                    usage: Some(Usage {
                        cpu_seconds: 1.5,
                        rss_bytes: 25_165_824,
                    }),
                    viewers: 2,
                    sessions: 3,
                },
                ChannelSample {
                    channel: "odd\"\\\nid".into(),
                    ready: false,
                    usage: None,
                    viewers: 0,
                    sessions: 0,
                },
            ],
            capacity: 100,
            running: 3,
            redis_errors: 1,
            redis_seconds: empty_histogram(&[0.0005, 0.001]),
            socket_connections: 4,
            sessions: 3,
            node: Some("n2".into()),
        }
    }

    #[test]
    fn families_have_help_type_and_samples() {
        let t = render(&snapshot());
        assert!(t.ends_with('\n'));
        assert!(t.contains("# HELP stream_supervisor_streams Channels by state"));
        assert!(t.contains("# TYPE stream_supervisor_streams gauge\n"));
        assert!(t.contains("stream_supervisor_streams{state=\"ready\"} 2\n"));
        assert!(t.contains(
            "# TYPE stream_supervisor_starts_total counter\nstream_supervisor_starts_total 5\n"
        ));
        assert!(t.contains("stream_supervisor_restarts_total{reason=\"stalled\"} 1\n"));
        // Every class is there from the start, so rate() sees the first one.
        assert!(t.contains("stream_supervisor_failures_total{reason=\"source_http_4xx\"} 0\n"));
        assert!(t.contains("stream_supervisor_restarts_total{reason=\"operator\"} 0\n"));
        assert!(!t.contains("stream_supervisor_restarts_total{reason=\"capacity\"}"));
        assert!(t.contains("stream_supervisor_failures_total{reason=\"capacity\"} 0\n"));
        assert!(!t.contains("stream_supervisor_failures_total{reason=\"operator\"}"));
        assert!(t.contains("stream_supervisor_capacity_streams 100\n"));
        assert!(t.contains("stream_supervisor_running_streams 3\n"));
        assert!(t.contains("stream_supervisor_channel_cpu_seconds_total{channel=\"7\"} 1.5\n"));
        assert!(t.contains("stream_supervisor_channel_memory_bytes{channel=\"7\"} 25165824\n"));
        assert!(t.contains("stream_supervisor_channel_viewers{channel=\"7\"} 2\n"));
        assert!(t.contains("stream_supervisor_channel_sessions{channel=\"7\"} 3\n"));
        assert!(t.contains("stream_supervisor_socket_connections 4\n"));
        assert!(t.contains("stream_supervisor_sessions 3\n"));
        assert!(t.contains("stream_supervisor_node_info{node=\"n2\"} 1\n"));
        let single = render(&Snapshot {
            node: None,
            ..snapshot()
        });
        assert!(!single.contains("node_info"));
        // Each family is declared once, before its samples.
        for line in t.lines().filter(|l| l.starts_with("# TYPE")) {
            assert_eq!(t.matches(&format!("{line}\n")).count(), 1, "{line}");
        }
    }

    #[test]
    fn histograms_are_cumulative_with_inf_sum_and_count() {
        let t = render(&snapshot());
        let want = "stream_supervisor_start_seconds_bucket{le=\"0.25\"} 0\n\
                    stream_supervisor_start_seconds_bucket{le=\"0.5\"} 1\n\
                    stream_supervisor_start_seconds_bucket{le=\"1\"} 3\n\
                    stream_supervisor_start_seconds_bucket{le=\"+Inf\"} 4\n\
                    stream_supervisor_start_seconds_sum 2.75\n\
                    stream_supervisor_start_seconds_count 4\n";
        assert!(t.contains(want), "{t}");
        assert!(t.contains("stream_supervisor_redis_seconds_bucket{le=\"0.0005\"} 0\n"));
    }

    #[test]
    fn label_values_are_escaped() {
        let t = render(&snapshot());
        assert!(
            t.contains("stream_supervisor_channel_up{channel=\"odd\\\"\\\\\\nid\"} 0\n"),
            "{t}"
        );
    }

    #[test]
    fn series_without_a_value_are_left_out() {
        let t = render(&snapshot());
        // The second channel has no ffmpeg usage: no sample, not a zero.
        assert_eq!(
            t.matches("stream_supervisor_channel_memory_bytes{").count(),
            1
        );
        let mut s = snapshot();
        s.channels.clear();
        let t = render(&s);
        assert!(!t.contains("_channel_"), "{t}");
        assert!(t.contains("stream_supervisor_starts_total 5\n"));
    }
}
