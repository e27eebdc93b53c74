//! The `locate` op: which node runs a channel, for a segment request that
//! landed on an nginx worker which never saw the channel's playlist
//! request (another worker, or after a reload). Read from the channel's
//! lease and the node registry; it never starts or places anything.

use tracing::{debug, info};

use super::rules::{lease_node, NodeRecord};
use crate::store::Keys;
use crate::streams::Streams;
use shared::channel_id;
use shared::protocol::{ErrorCode, Reply};

/// Where a channel runs, as far as this node can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Located {
    Here,
    Elsewhere {
        node: String,
        url: String,
    },
    /// Leased to a node whose heartbeat is gone: nobody serves it until
    /// the lease ends and a playlist request starts it again.
    Gone(String),
    Nowhere,
}

/// The decision. `me`: this node's id (`None` without cluster mode);
/// `lease`: the lease's value; `record`: the heartbeat of the lease's
/// node (read only when that node is another). Another node's lease wins
/// over a channel still running here: this node lost it and stops.
pub fn located(
    me: Option<&str>,
    running_here: bool,
    lease: Option<&str>,
    record: Option<&NodeRecord>,
) -> Located {
    let holder = match (me, lease.map(lease_node)) {
        (Some(me), Some(node)) if node != me => node,
        _ if running_here => return Located::Here,
        _ => return Located::Nowhere,
    };
    match record {
        Some(rec) => Located::Elsewhere {
            node: holder.to_string(),
            url: rec.url.clone(),
        },
        None => Located::Gone(holder.to_string()),
    }
}

/// The reply to `locate <channel>`.
pub async fn reply(id: u64, streams: &Streams, channel: &str) -> Reply {
    if let Err(e) = channel_id::validate(channel.as_bytes()) {
        return Reply::error(id, ErrorCode::InvalidChannel, e.to_string());
    }
    let running_here = !streams.status(Some(channel)).is_empty();
    let me = streams.cluster().map(|c| c.node.clone());
    let (lease, record) = match me.as_deref() {
        None => (None, None),
        Some(me) => match read(streams, channel, me).await {
            Ok(pair) => pair,
            Err(e) => {
                info!(channel = %channel, error = %e, "cannot locate the channel");
                return Reply::error(id, ErrorCode::Unavailable, e.to_string());
            }
        },
    };
    let answer = located(
        me.as_deref(),
        running_here,
        lease.as_deref(),
        record.as_ref(),
    );
    debug!(channel = %channel, located = ?answer, "locate");
    match answer {
        Located::Here => Reply {
            node: me,
            ..Reply::ok(id)
        },
        Located::Elsewhere { node, url } => {
            let msg = format!("channel {channel} runs on node {node}");
            Reply {
                node: Some(node),
                node_url: Some(url),
                ..Reply::error(id, ErrorCode::Elsewhere, msg)
            }
        }
        Located::Gone(node) => Reply::error(
            id,
            ErrorCode::Unavailable,
            format!("channel {channel} is leased to node {node}, which stopped its heartbeat"),
        ),
        Located::Nowhere => Reply::error(
            id,
            ErrorCode::NotRunning,
            format!("channel {channel} runs on no node"),
        ),
    }
}

/// The lease's value and, when another node holds it, that node's record.
async fn read(
    streams: &Streams,
    channel: &str,
    me: &str,
) -> Result<(Option<String>, Option<NodeRecord>), crate::store::StoreError> {
    let store = streams.store();
    let Some(lease) = store.lease_holder(channel).await? else {
        return Ok((None, None));
    };
    let node = lease_node(&lease);
    if node == me {
        return Ok((Some(lease), None));
    }
    let record = store
        .get(&Keys::node(node))
        .await?
        .and_then(|j| serde_json::from_str::<NodeRecord>(&j).ok());
    Ok((Some(lease), record))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(url: &str) -> NodeRecord {
        NodeRecord {
            url: url.into(),
            capacity: 1,
            load: 1,
            draining: false,
        }
    }

    #[test]
    fn single_node_answers_from_what_runs_here() {
        assert_eq!(located(None, true, None, None), Located::Here);
        assert_eq!(located(None, false, None, None), Located::Nowhere);
    }

    #[test]
    fn the_lease_names_the_owner() {
        let r = rec("http://127.0.0.1:8082");
        let there = Located::Elsewhere {
            node: "n2".into(),
            url: "http://127.0.0.1:8082".into(),
        };
        assert_eq!(located(Some("n1"), false, Some("n2 7"), Some(&r)), there);
        // Still running here after losing the lease: the lease wins.
        assert_eq!(located(Some("n1"), true, Some("n2 7"), Some(&r)), there);
        assert_eq!(
            located(Some("n1"), false, Some("n2 7"), None),
            Located::Gone("n2".into())
        );
    }

    #[test]
    fn own_or_no_lease_is_here_or_nowhere() {
        assert_eq!(located(Some("n1"), true, Some("n1 3"), None), Located::Here);
        assert_eq!(located(Some("n1"), true, None, None), Located::Here);
        assert_eq!(
            located(Some("n1"), false, Some("n1 3"), None),
            Located::Nowhere
        );
        assert_eq!(located(Some("n1"), false, None, None), Located::Nowhere);
    }
}
