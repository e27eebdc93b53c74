//! The `overview` op: the dashboard's one snapshot of every configured
//! channel (catalog), what runs (status), who watches (sessions), what
//! happened lately (history) and how long cold starts take (histogram).
//! `build` is pure; `reply` gathers its inputs.

use std::collections::{HashMap, HashSet};

use tracing::warn;

use crate::catalog::source_host;
use crate::cluster::rules::lease_node;
use crate::metrics::histogram::HistogramSnapshot;
use crate::store::Keys;
use crate::streams::Streams;
use shared::overview::{ChannelRow, Event, EventKind, Overview, StartHistogram};
use shared::protocol::{ChannelEntry, ErrorCode, Reply, SessionInfo, StreamInfo};

/// The inputs of one overview.
pub struct Inputs<'a> {
    pub catalog: &'a [ChannelEntry],
    /// Host of each configured channel's first source.
    pub hosts: &'a HashMap<String, String>,
    /// Running channels (as `status` shows them: already redacted).
    pub running: &'a [StreamInfo],
    pub sessions: &'a [SessionInfo],
    pub history: &'a HashMap<String, Vec<Event>>,
    /// Cluster mode: channel -> the node holding its lease.
    pub owners: &'a HashMap<String, String>,
    pub start_seconds: &'a HistogramSnapshot,
    pub capacity: u64,
    pub now: u64,
}

/// Answers the `overview` op.
pub async fn reply(id: u64, streams: &Streams) -> Reply {
    let (catalog, hosts) = match streams.catalog.with_hosts(streams.store()).await {
        Ok(loaded) => loaded,
        Err(e) => {
            warn!(error = %e, "cannot read the channel catalog");
            return Reply::error(id, ErrorCode::Unavailable, e.to_string());
        }
    };
    let running = streams.status(None);
    let sessions = streams.sessions.list(None);
    let history = streams.history.snapshot();
    let owners = owners(streams, &catalog, &running).await;
    let start_seconds = crate::metrics::registry().start_snapshot();
    let overview = build(&Inputs {
        catalog: &catalog,
        hosts: &hosts,
        running: &running,
        sessions: &sessions,
        history: &history,
        owners: &owners,
        start_seconds: &start_seconds,
        capacity: streams.config().max_streams as u64,
        now: crate::history::unix_now(),
    });
    Reply {
        overview: Some(overview),
        ..Reply::ok(id)
    }
}

pub fn build(i: &Inputs<'_>) -> Overview {
    let mut viewers: HashMap<&str, u64> = HashMap::new();
    for s in i.sessions {
        *viewers.entry(s.channel.as_str()).or_default() += 1;
    }
    let running: HashMap<&str, &StreamInfo> =
        i.running.iter().map(|s| (s.channel.as_str(), s)).collect();
    let configured: HashSet<&str> = i.catalog.iter().map(|c| c.id.as_str()).collect();
    let row = |id: &str, entry: Option<&ChannelEntry>| {
        let run = running.get(id).copied();
        let history = i.history.get(id).cloned().unwrap_or_default();
        let failure = run
            .and_then(|r| r.reason.as_deref())
            .map(|r| crate::metrics::classify(r).as_str().to_string())
            .or_else(|| last_failure(&history));
        ChannelRow {
            id: id.to_string(),
            name: entry.and_then(|e| e.name.clone()),
            group: entry.and_then(|e| e.group.clone()),
            state: run.map(|r| r.state),
            viewers: viewers.get(id).copied().unwrap_or(0),
            started: run.map_or(0, |r| r.started),
            restarts: run.map_or(0, |r| u64::from(r.restarts)),
            failure,
            reason: run.and_then(|r| r.reason.clone()),
            host: run
                .and_then(|r| r.source.as_deref())
                .and_then(source_host)
                .or_else(|| i.hosts.get(id).cloned()),
            node: run
                .and_then(|r| r.node.clone())
                .or_else(|| i.owners.get(id).cloned()),
            history,
        }
    };
    let mut channels: Vec<ChannelRow> = i.catalog.iter().map(|e| row(&e.id, Some(e))).collect();
    // Ad-hoc runs (an operator's source_url) have no record.
    channels.extend(
        i.running
            .iter()
            .filter(|r| !configured.contains(r.channel.as_str()))
            .map(|r| row(&r.channel, None)),
    );
    Overview {
        now: i.now,
        capacity: i.capacity,
        channels,
        start_seconds: histogram_ms(i.start_seconds),
    }
}

/// Cluster mode: which node holds each channel's lease (one MGET per 500
/// channels). Without Redis the overview goes on without them.
async fn owners(
    streams: &Streams,
    catalog: &[ChannelEntry],
    running: &[StreamInfo],
) -> HashMap<String, String> {
    if streams.cluster().is_none() {
        return HashMap::new();
    }
    let ids: Vec<&str> = catalog
        .iter()
        .map(|c| c.id.as_str())
        .chain(running.iter().map(|r| r.channel.as_str()))
        .collect();
    let keys: Vec<_> = ids.iter().map(|id| Keys::lease(id)).collect();
    match streams.store().get_many(&keys).await {
        Ok(values) => ids
            .iter()
            .zip(values)
            .filter_map(|(id, v)| Some((id.to_string(), lease_node(&v?).to_string())))
            .collect(),
        Err(e) => {
            warn!(error = %e, "cannot read the channels' leases for the overview");
            HashMap::new()
        }
    }
}

/// The class of the latest failure event.
fn last_failure(history: &[Event]) -> Option<String> {
    history
        .iter()
        .rev()
        .find(|e| e.kind == EventKind::Failure)
        .and_then(|e| e.why.clone())
}

fn histogram_ms(h: &HistogramSnapshot) -> StartHistogram {
    let ms = |secs: f64| (secs * 1000.0).round() as u64;
    StartHistogram {
        buckets: h.buckets.iter().map(|(le, n)| (ms(*le), *n)).collect(),
        count: h.count,
        sum_ms: ms(h.sum_secs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::protocol::StreamState;

    fn entry(id: &str, name: &str) -> ChannelEntry {
        ChannelEntry {
            id: id.into(),
            name: Some(name.into()),
            ..Default::default()
        }
    }

    fn info(id: &str, state: StreamState) -> StreamInfo {
        StreamInfo {
            channel: id.into(),
            state,
            pid: Some(42),
            started: 90,
            idle_secs: 0,
            segments: 3,
            restarts: 1,
            reason: Some("upstream answered HTTP 403 Forbidden".into()),
            source: Some("http://***@origin.example:8080/live?token=***".into()),
            proxy: None,
            tls: None,
            skipped: vec![],
            node: Some("n1".into()),
        }
    }

    fn session(channel: &str, client: &str) -> SessionInfo {
        SessionInfo {
            user: "alice".into(),
            channel: channel.into(),
            client: client.into(),
            started: 1,
            idle_secs: 0,
        }
    }

    #[test]
    fn every_configured_channel_is_listed_with_what_runs() {
        let catalog = [entry("1", "One"), entry("2", "Two")];
        let hosts = HashMap::from([("2".to_string(), "cdn.example".to_string())]);
        let running = [
            info("1", StreamState::Ready),
            info("adhoc", StreamState::Starting),
        ];
        let sessions = [session("1", "a"), session("1", "b"), session("2", "c")];
        let history = HashMap::from([(
            "2".to_string(),
            vec![
                Event {
                    t: 5,
                    kind: EventKind::Failure,
                    ms: None,
                    why: Some("stalled".into()),
                },
                Event {
                    t: 6,
                    kind: EventKind::Stop,
                    ms: None,
                    why: Some("idle".into()),
                },
            ],
        )]);
        // Cluster mode: channel 2 runs on another node.
        let owners = HashMap::from([("2".to_string(), "n2".to_string())]);
        let hist = HistogramSnapshot {
            buckets: vec![(0.5, 1), (1.5, 3)],
            count: 4,
            sum_secs: 6.25,
        };
        let o = build(&Inputs {
            catalog: &catalog,
            hosts: &hosts,
            running: &running,
            sessions: &sessions,
            history: &history,
            owners: &owners,
            start_seconds: &hist,
            capacity: 8,
            now: 100,
        });
        let ids: Vec<&str> = o.channels.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["1", "2", "adhoc"]);
        let one = &o.channels[0];
        assert_eq!(one.state, Some(StreamState::Ready));
        assert_eq!((one.viewers, one.started, one.restarts), (2, 90, 1));
        assert_eq!(one.failure.as_deref(), Some("source_http_4xx"));
        // The running source's host: no userinfo, path or query.
        assert_eq!(one.host.as_deref(), Some("origin.example:8080"));
        let two = &o.channels[1];
        assert_eq!((two.state, two.viewers, two.started), (None, 1, 0));
        assert_eq!(two.host.as_deref(), Some("cdn.example"));
        // A stopped channel's last failure comes from its history.
        assert_eq!(two.failure.as_deref(), Some("stalled"));
        assert_eq!(two.history.len(), 2);
        assert_eq!(o.channels[2].name, None);
        // The node: a running stream's own, else the lease holder's.
        assert_eq!(one.node.as_deref(), Some("n1"));
        assert_eq!(two.node.as_deref(), Some("n2"));
        assert_eq!(o.channels[2].node.as_deref(), Some("n1"));
        assert_eq!(o.start_seconds.buckets, vec![(500, 1), (1500, 3)]);
        assert_eq!((o.start_seconds.count, o.start_seconds.sum_ms), (4, 6250));
        assert_eq!((o.now, o.capacity), (100, 8));
    }
}
