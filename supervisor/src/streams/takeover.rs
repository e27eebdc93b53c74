//! Cluster mode: a channel's HLS numbering carries on across nodes. The
//! owner records where it stands (`hlspos:<channel>`, under its lease) when
//! a run becomes ready and with each lease renewal (both written by the
//! lease keeper, never by the run loop); a node that starts the
//! channel afresh numbers on past the record (cluster/hls_position.rs), so
//! a player that retries the same URL after a takeover never sees the
//! media sequence go back.

use std::time::Duration;

use tracing::{info, warn};

use super::{Channel, Streams};
use crate::cluster::hls_position::{self, Position, Start};
use crate::hls_files;

impl Streams {
    /// Where the channel's playlist on this node's disk stands.
    pub(super) fn hls_position_now(&self, id: &str) -> Option<Position> {
        let path = hls_files::media_playlist(&self.cfg.hls_dir, id);
        let text = std::fs::read_to_string(path).ok()?;
        hls_position::of_playlist(&text)
    }

    /// Records `pos` (default: the playlist's now) under the run's lease,
    /// giving Redis at most `timeout`; nothing outside cluster mode. Only
    /// the lease keeper calls it (lease.rs): the run loop never waits on
    /// Redis, and the records land in the order they were taken.
    pub(super) async fn record_hls_position(
        &self,
        ch: &Channel,
        pos: Option<Position>,
        timeout: Duration,
    ) {
        let Some(c) = self.cluster.as_ref() else {
            return;
        };
        let Some(lease) = ch.lease.lock().unwrap().clone() else {
            return;
        };
        let Some(pos) = pos.or_else(|| self.hls_position_now(&ch.id)) else {
            return;
        };
        let value = hls_position::render(pos);
        let ttl = hls_position::record_ttl(c.ttl);
        let call = self
            .store
            .set_hls_position_fenced(&ch.id, &lease, &value, ttl);
        match tokio::time::timeout(timeout.max(Duration::from_millis(1)), call).await {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => warn!(channel = %ch.id, "lease lost: HLS position not recorded"),
            Ok(Err(e)) => warn!(channel = %ch.id, error = %e, "cannot record the HLS position"),
            Err(_) => {
                warn!(channel = %ch.id, "HLS position not recorded: Redis gave no answer in time")
            }
        }
    }

    /// A fresh start in cluster mode: past the position a previous owner
    /// recorded, if there is one (`None`: number from 0).
    pub(super) async fn takeover_start(&self, ch: &Channel) -> Option<Start> {
        let c = self.cluster.as_ref()?;
        let value = match self.store.hls_position(&ch.id).await {
            Ok(v) => v?,
            Err(e) => {
                // Not worth refusing the channel for: numbering from 0 is
                // what a single node does after a stop.
                warn!(channel = %ch.id, error = %e, "cannot read the HLS position, numbering from 0");
                return None;
            }
        };
        let Some(recorded) = hls_position::parse(&value) else {
            warn!(channel = %ch.id, %value, "unreadable HLS position, numbering from 0");
            return None;
        };
        let start = hls_position::takeover_start(recorded, c.ttl, self.cfg.segment_duration);
        info!(channel = %ch.id, recorded = %value, first = start.number,
            discontinuity_sequence = start.discontinuity_sequence, "numbering on past the recorded HLS position");
        Some(start)
    }
}
