//! Cluster mode: several supervisors (one per node) on one Redis behave as
//! one service. Each node publishes a heartbeat; each running channel is
//! held by one node's lease with a fencing number (store/cluster.rs), so
//! one ffmpeg runs per channel cluster-wide. The channel side (taking,
//! keeping and giving up a lease) is streams/lease.rs; the decisions are
//! pure functions in `rules`. Without --node-id none of this runs.

pub mod hls_position;
pub mod locate;
pub mod nodes_cmd;
pub mod rules;

use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

use crate::config::Cli;
use crate::streams::Streams;
use rules::NodeRecord;
use shared::channel_id;

/// This node, as the command line describes it.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub node: String,
    pub url: String,
    pub capacity: usize,
    pub ttl: Duration,
}

impl Cluster {
    /// `None` without --node-id (a single node); an error for an unusable
    /// id or URL.
    pub fn from_cli(cli: &Cli) -> Result<Option<Cluster>, String> {
        let (Some(node), Some(url)) = (&cli.node_id, &cli.node_url) else {
            return Ok(None);
        };
        channel_id::validate(node.as_bytes()).map_err(|e| format!("--node-id {node:?}: {e}"))?;
        let url = url.trim_end_matches('/');
        let ok = (url.starts_with("http://") || url.starts_with("https://"))
            && !url.contains(['@', '?', '#', ' '])
            && url.len() <= 512;
        if !ok {
            // Not echoed: it may hold credentials.
            return Err(
                "--node-url: an http:// or https:// base URL without credentials, query or fragment"
                    .to_string(),
            );
        }
        Ok(Some(Cluster {
            node: node.clone(),
            url: url.to_string(),
            capacity: cli.node_capacity(),
            ttl: cli.lease_ttl,
        }))
    }

    /// What this node publishes now.
    pub fn record(&self, load: usize, draining: bool) -> NodeRecord {
        NodeRecord {
            url: self.url.clone(),
            capacity: self.capacity,
            load,
            draining,
        }
    }
}

/// The heartbeat: this node's record every third of the TTL, so a node
/// that stops (or loses Redis) is gone from the registry within the TTL.
pub async fn heartbeat(cluster: Arc<Cluster>, streams: Arc<Streams>) {
    let store = streams.store();
    let mut failing = false;
    loop {
        let draining = store.is_draining(&cluster.node).await;
        let result = match draining {
            Ok(draining) => {
                let rec = cluster.record(streams.load(), draining);
                let json = serde_json::to_string(&rec).unwrap_or_default();
                store.heartbeat(&cluster.node, &json, cluster.ttl).await
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(()) if failing => {
                failing = false;
                info!(node = %cluster.node, "heartbeat written again");
            }
            Ok(()) => {}
            Err(e) if !failing => {
                failing = true;
                warn!(node = %cluster.node, error = %e, "cannot write the node's heartbeat; other nodes see it gone after the lease TTL");
            }
            Err(_) => {}
        }
        tokio::time::sleep(rules::renew_every(cluster.ttl)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn cli(args: &[&str]) -> Cli {
        let mut all = vec!["stream-supervisor"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).unwrap()
    }

    #[test]
    fn a_node_needs_an_id_and_a_plain_url() {
        assert!(Cluster::from_cli(&cli(&[])).unwrap().is_none());
        let c = Cluster::from_cli(&cli(&[
            "--node-id",
            "n1",
            "--node-url",
            "http://127.0.0.1:8081/",
            "--max-streams",
            "7",
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(
            (c.node.as_str(), c.url.as_str(), c.capacity, c.ttl),
            ("n1", "http://127.0.0.1:8081", 7, Duration::from_secs(10))
        );
        let bad = |id: &str, url: &str| {
            Cluster::from_cli(&cli(&["--node-id", id, "--node-url", url])).unwrap_err()
        };
        assert!(bad("n/1", "http://a").contains("--node-id"));
        assert!(bad("n1", "ftp://a").contains("--node-url"));
        let e = bad("n1", "http://u:secret@a");
        assert!(
            e.contains("without credentials") && !e.contains("secret"),
            "{e}"
        );
        // Both or neither.
        assert!(Cli::try_parse_from(["s", "--node-id", "n1"]).is_err());
        assert!(Cli::try_parse_from(["s", "--lease-ttl", "2s"]).is_err());
    }
}
