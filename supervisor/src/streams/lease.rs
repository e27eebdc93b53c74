//! Cluster mode, the channel side: where a cold channel should start (here,
//! or the node that holds it or has room), the lease its task takes before
//! ffmpeg runs, the keeper that renews it and stops the channel when it
//! cannot, and its release once ffmpeg is gone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::{Channel, Ensured, State, Streams};
use crate::cluster::rules::{self, NodeRecord, Placement, Step};
use crate::cluster::Cluster;
use crate::store::{Acquired, Keys};
use shared::protocol::ErrorCode;

/// Where the lease of a channel this node does not run points.
enum Holder {
    /// Nobody's (or this node's earlier incarnation's): start here.
    Free,
    Other {
        node: String,
        url: String,
    },
    /// Held by a node whose heartbeat is gone: free within the TTL.
    Dead(String),
}

impl Streams {
    /// Channels taking a slot here (the heartbeat's load).
    pub fn load(&self) -> usize {
        self.map
            .lock()
            .unwrap()
            .values()
            .filter(|ch| super::admission::takes_a_slot(&ch.state.borrow()))
            .count()
    }

    /// A channel that does not run here: `None` to start it here, or the
    /// answer (owned elsewhere, placed elsewhere, no room anywhere).
    /// `placed`: another node already chose this one: a free channel
    /// starts here (its capacity still applies), never placed again.
    pub(super) async fn route_cold(&self, c: &Cluster, id: &str, placed: bool) -> Option<Ensured> {
        let unavailable = |e: crate::store::StoreError| {
            Some(Ensured::Error(ErrorCode::Unavailable, e.to_string()))
        };
        match self.holder(c, id).await {
            Err(e) => return unavailable(e),
            Ok(Holder::Free) if placed => return None,
            Ok(Holder::Free) => {}
            Ok(Holder::Other { node, url }) => {
                let msg = format!("channel {id} runs on node {node}");
                return Some(Ensured::Elsewhere { node, url, msg });
            }
            Ok(Holder::Dead(node)) => {
                let msg = format!(
                    "channel {id} is leased to node {node}, which stopped its heartbeat; the lease ends within {} s",
                    c.ttl.as_secs()
                );
                info!(channel = %id, %node, "lease held by a node that is gone, not starting");
                return Some(Ensured::Error(ErrorCode::Unavailable, msg));
            }
        }
        let draining = match self.store.is_draining(&c.node).await {
            Ok(d) => d,
            Err(e) => return unavailable(e),
        };
        let mine = c.record(self.load(), draining);
        if let Placement::Here = rules::place(&c.node, &mine, &[]) {
            return None;
        }
        let nodes = match self.store.nodes().await {
            Ok(n) => n,
            Err(e) => return unavailable(e),
        };
        let nodes: Vec<(String, NodeRecord)> = nodes
            .into_iter()
            .filter_map(|(id, json)| Some((id, serde_json::from_str(&json).ok()?)))
            .collect();
        let why = if draining { "drains" } else { "is full" };
        match rules::place(&c.node, &mine, &nodes) {
            Placement::Here => None,
            Placement::There(node, url) => {
                info!(channel = %id, %node, "this node {why}: placed on another node");
                let msg = format!(
                    "channel {id} is placed on node {node}: node {} {why}",
                    c.node
                );
                Some(Ensured::Elsewhere { node, url, msg })
            }
            Placement::Nowhere => {
                warn!(channel = %id, "this node {why} and no other node has room, not starting");
                crate::metrics::failed(crate::metrics::Reason::Capacity);
                Some(Ensured::Error(
                    ErrorCode::Capacity,
                    format!(
                        "channel {id} not started: node {} {why} and no other live node has room",
                        c.node
                    ),
                ))
            }
        }
    }

    async fn holder(&self, c: &Cluster, id: &str) -> Result<Holder, crate::store::StoreError> {
        let Some(value) = self.store.lease_holder(id).await? else {
            return Ok(Holder::Free);
        };
        let node = rules::lease_node(&value);
        if node == c.node {
            return Ok(Holder::Free);
        }
        let record = self.store.get(&Keys::node(node)).await?;
        Ok(
            match record.and_then(|j| serde_json::from_str::<NodeRecord>(&j).ok()) {
                Some(rec) => Holder::Other {
                    node: node.to_string(),
                    url: rec.url,
                },
                None => Holder::Dead(node.to_string()),
            },
        )
    }

    /// The channel task's first step in cluster mode: take the lease, or
    /// end the channel here when another node holds it.
    pub(super) async fn take_lease(self: &Arc<Self>, ch: &Arc<Channel>) -> Result<(), State> {
        let Some(c) = self.cluster.clone() else {
            return Ok(());
        };
        let sent = Instant::now();
        match self.store.acquire_lease(&ch.id, &c.node, c.ttl).await {
            Ok(Acquired::Won(value)) => {
                info!(channel = %ch.id, lease = %value, "lease taken");
                *ch.lease.lock().unwrap() = Some(value.clone());
                let keeper = tokio::spawn(keep(self.clone(), c, ch.clone(), value, sent));
                *ch.keeper.lock().unwrap() = Some(keeper);
                Ok(())
            }
            Ok(Acquired::Held(value)) => {
                // Another node won the race for it: send the viewer there.
                let node = rules::lease_node(&value).to_string();
                let Ok(Holder::Other { url, .. }) = self.holder(&c, &ch.id).await else {
                    // Gone again, or its node's heartbeat is: the next
                    // request decides afresh.
                    info!(channel = %ch.id, %node, "lease held by a node that is gone, not starting");
                    return Err(State::Ended(
                        ErrorCode::Unavailable,
                        format!(
                            "channel {} is leased to node {node}, which is not reachable now",
                            ch.id
                        ),
                    ));
                };
                info!(channel = %ch.id, %node, "another node took the lease first");
                *ch.moved.lock().unwrap() = Some((node.clone(), url));
                Err(State::Ended(
                    ErrorCode::Elsewhere,
                    format!("channel {} runs on node {node}", ch.id),
                ))
            }
            Err(e) => {
                warn!(channel = %ch.id, error = %e, "cannot take the channel's lease, not starting");
                Err(State::Ended(ErrorCode::Unavailable, e.to_string()))
            }
        }
    }

    /// Once ffmpeg is gone: clear the stream keys under the lease, then
    /// give the lease back (idempotent).
    pub(super) async fn release_lease(&self, ch: &Channel) {
        if let Some(k) = ch.keeper.lock().unwrap().take() {
            k.abort();
        }
        let Some(value) = ch.lease.lock().unwrap().take() else {
            return;
        };
        if std::mem::take(&mut ch.info.lock().unwrap().keys_written) {
            match self.store.clear_stream_keys_fenced(&ch.id, &value).await {
                Ok(true) => {}
                Ok(false) => {
                    warn!(channel = %ch.id, lease = %value, "lease lost: stream keys left to the new owner")
                }
                Err(e) => warn!(channel = %ch.id, error = %e, "cannot clear stream keys"),
            }
        }
        match self.store.release_lease(&ch.id, &value).await {
            Ok(true) => info!(channel = %ch.id, lease = %value, "lease released"),
            Ok(false) => {}
            Err(e) => {
                warn!(channel = %ch.id, error = %e, "cannot release the lease; it ends by itself")
            }
        }
    }

    /// The stream keys of a run, under the channel's lease in cluster mode.
    pub(super) async fn write_stream_keys(&self, ch: &Channel, pid: u32, started: u64) {
        let lease = ch.lease.lock().unwrap().clone();
        let written = match lease {
            None => self
                .store
                .set_stream_keys(&ch.id, pid, started)
                .await
                .map(|()| true),
            Some(v) => {
                self.store
                    .set_stream_keys_fenced(&ch.id, &v, pid, started)
                    .await
            }
        };
        match written {
            Ok(true) => ch.info.lock().unwrap().keys_written = true,
            Ok(false) => warn!(channel = %ch.id, "lease lost: stream keys not written"),
            Err(e) => warn!(channel = %ch.id, error = %e, "cannot record stream keys"),
        }
    }
}

/// The lease keeper: renews every third of the TTL, recording the HLS
/// position with each renewal and when a run becomes ready (takeover.rs); stops the channel when the
/// lease is another's, or when it could not be renewed in time (the stop
/// comes a safety margin before the lease can end; cluster/rules.rs).
async fn keep(
    streams: Arc<Streams>,
    c: Arc<Cluster>,
    ch: Arc<Channel>,
    value: String,
    sent: Instant,
) {
    let mut renewed = sent;
    let mut tried = sent;
    loop {
        match rules::next_step(renewed.elapsed(), tried.elapsed(), c.ttl) {
            Step::Stop => {
                let held = renewed.elapsed().as_millis() as u64;
                warn!(channel = %ch.id, lease = %value, held_ms = held, "lease not renewed in time: stopping the channel before it can end");
                ch.request_stop("lease not renewed in time");
                return;
            }
            Step::Renew { after, timeout } => {
                tokio::select! {
                    _ = tokio::time::sleep(after) => {}
                    // A run became ready (run.rs): its first position now,
                    // within the time this step may take; then on with the
                    // renewals. One writer, so records land in order.
                    _ = ch.record_position.notified() => {
                        streams.record_hls_position(&ch, None, timeout).await;
                        continue;
                    }
                }
                // Read before the renewal is sent: what this run publishes
                // after it is bounded by the lease (takeover.rs).
                let position = streams.hls_position_now(&ch.id);
                tried = Instant::now();
                let call = streams.store.renew_lease(&ch.id, &value, c.ttl);
                match tokio::time::timeout(timeout.max(Duration::from_millis(1)), call).await {
                    Ok(Ok(true)) => {
                        renewed = tried;
                        if position.is_some() {
                            streams.record_hls_position(&ch, position, timeout).await;
                        }
                    }
                    Ok(Ok(false)) => {
                        warn!(channel = %ch.id, lease = %value, "lease lost to another node: stopping the channel");
                        ch.request_stop("lease lost to another node");
                        return;
                    }
                    Ok(Err(e)) => warn!(channel = %ch.id, error = %e, "cannot renew the lease"),
                    Err(_) => warn!(channel = %ch.id, "lease renewal got no answer in time"),
                }
            }
        }
    }
}
