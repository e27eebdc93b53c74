//! A snapshot of a running supervisor for `text::render`: the registry's
//! counters, the channels' states, and for each running channel its
//! ffmpeg's /proc usage and its sessions (only when per-channel series
//! are on).

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::Ordering::Relaxed;

use super::text::{ChannelSample, Snapshot};
use super::{procfs, registry, Registry};
use crate::streams::Streams;
use shared::protocol::{SessionInfo, StreamState};

/// The states `stream_supervisor_streams` always shows.
const STATES: [StreamState; 4] = [
    StreamState::Starting,
    StreamState::Ready,
    StreamState::Restarting,
    StreamState::Failed,
];

/// The metrics text of `streams` (reads /proc: call off the runtime).
pub fn render(streams: &Streams) -> String {
    let running = streams.metric_channels();
    let sessions = streams.sessions.list(None);
    let cfg = streams.config();
    let usage = |pid: u32| procfs::usage(pid);
    let mut snap = snapshot(
        registry(),
        &running,
        &sessions,
        cfg.max_streams as u64,
        cfg.metrics_per_channel,
        &usage,
    );
    snap.node.clone_from(&cfg.node_id);
    super::text::render(&snap)
}

/// Pure but for `usage` (how a pid's /proc usage is read).
pub fn snapshot(
    reg: &Registry,
    channels: &[(String, StreamState, Option<u32>)],
    sessions: &[SessionInfo],
    capacity: u64,
    per_channel: bool,
    usage: &dyn Fn(u32) -> Option<procfs::Usage>,
) -> Snapshot {
    let count = |s: StreamState| channels.iter().filter(|c| c.1 == s).count() as u64;
    let mut by_channel: HashMap<&str, (BTreeSet<&str>, u64)> = HashMap::new();
    for s in sessions {
        let e = by_channel.entry(s.channel.as_str()).or_default();
        e.0.insert(s.user.as_str());
        e.1 += 1;
    }
    let mut samples: Vec<ChannelSample> = if per_channel {
        channels
            .iter()
            .map(|(id, state, pid)| {
                let (viewers, n) = by_channel
                    .get(id.as_str())
                    .map_or((0, 0), |(users, n)| (users.len() as u64, *n));
                ChannelSample {
                    channel: id.clone(),
                    ready: *state == StreamState::Ready,
                    usage: pid.and_then(usage),
                    viewers,
                    sessions: n,
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    samples.sort_by(|a, b| a.channel.cmp(&b.channel));
    Snapshot {
        states: STATES.iter().map(|s| (s.as_str(), count(*s))).collect(),
        starts: reg.starts.load(Relaxed),
        restarts: Registry::per_reason(&reg.restarts),
        failures: Registry::per_reason(&reg.failures),
        start_seconds: reg.start_seconds.snapshot(),
        channels: samples,
        capacity,
        running: channels
            .iter()
            .filter(|c| c.1 != StreamState::Failed)
            .count() as u64,
        redis_errors: reg.redis_errors.load(Relaxed),
        redis_seconds: reg.redis_seconds.snapshot(),
        socket_connections: reg.socket_connections.load(Relaxed),
        sessions: sessions.len() as u64,
        node: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use procfs::Usage;

    fn session(user: &str, channel: &str, client: &str) -> SessionInfo {
        SessionInfo {
            user: user.into(),
            channel: channel.into(),
            client: client.into(),
            started: 0,
            idle_secs: 0,
        }
    }

    #[test]
    fn states_usage_and_sessions_per_running_channel() {
        let channels = vec![
            ("9".to_string(), StreamState::Failed, None),
            ("7".to_string(), StreamState::Ready, Some(42)),
            ("8".to_string(), StreamState::Starting, Some(43)),
        ];
        let sessions = vec![
            session("alice", "7", "a1"),
            session("alice", "7", "a2"),
            session("bob", "7", "b1"),
            // A session on a channel that no longer runs: counted in all,
            // no per-channel series.
            session("carol", "gone", "c1"),
        ];
        let usage = |pid: u32| {
            (pid == 42).then_some(Usage {
                cpu_seconds: 2.0,
                rss_bytes: 1 << 20,
            })
        };
        let s = snapshot(registry(), &channels, &sessions, 2, true, &usage);
        assert_eq!(
            s.states,
            vec![
                ("starting", 1),
                ("ready", 1),
                ("restarting", 0),
                ("failed", 1)
            ]
        );
        assert_eq!(s.running, 2);
        assert_eq!(s.capacity, 2);
        assert_eq!(s.sessions, 4);
        let ids: Vec<&str> = s.channels.iter().map(|c| c.channel.as_str()).collect();
        assert_eq!(ids, ["7", "8", "9"]);
        let seven = &s.channels[0];
        assert!(seven.ready);
        assert_eq!((seven.viewers, seven.sessions), (2, 3));
        assert_eq!(seven.usage.map(|u| u.rss_bytes), Some(1 << 20));
        assert_eq!(s.channels[1].usage, None);
        assert!(!s.channels[1].ready);
        assert_eq!(s.restarts.len(), super::super::Reason::ALL.len());
    }

    #[test]
    fn per_channel_series_can_be_switched_off() {
        let channels = vec![("7".to_string(), StreamState::Ready, Some(42))];
        let asked = std::cell::Cell::new(false);
        let usage = |_| {
            asked.set(true);
            None
        };
        let s = snapshot(registry(), &channels, &[], 0, false, &usage);
        assert!(s.channels.is_empty());
        // /proc is not read for series nobody shows.
        assert!(!asked.get());
        assert_eq!(s.states[1], ("ready", 1));
        let t = super::super::text::render(&s);
        assert!(!t.contains("channel="), "{t}");
    }
}
