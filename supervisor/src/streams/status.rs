//! What `status` and the metrics show of the running channels.

use super::Streams;
use crate::{hls_files, redact};
use shared::protocol::{SkippedSource, StreamInfo, StreamState};

impl Streams {
    /// What the metrics show of each running channel: id, state, ffmpeg's
    /// pid. Cheap: no file is read under the lock.
    pub fn metric_channels(&self) -> Vec<(String, StreamState, Option<u32>)> {
        let map = self.map.lock().unwrap();
        map.values()
            .map(|ch| {
                let pid = ch.info.lock().unwrap().pid;
                (ch.id.clone(), ch.state.borrow().public(), pid)
            })
            .collect()
    }

    pub fn status(&self, id: Option<&str>) -> Vec<StreamInfo> {
        let map = self.map.lock().unwrap();
        let mut out: Vec<StreamInfo> = map
            .values()
            .filter(|ch| id.is_none_or(|id| ch.id == id))
            .map(|ch| {
                let info = ch.info.lock().unwrap();
                StreamInfo {
                    channel: ch.id.clone(),
                    state: ch.state.borrow().public(),
                    pid: info.pid,
                    started: info.started,
                    idle_secs: ch.idle_for().as_secs(),
                    segments: hls_files::segment_count(&self.cfg.hls_dir, &ch.id),
                    restarts: info.restarts,
                    // Shown to operators and over the API: no credentials.
                    reason: info.reason.as_deref().map(redact::text),
                    source: info.source.as_deref().map(redact::url),
                    proxy: info.proxy.clone(),
                    tls: info.tls.clone(),
                    skipped: info
                        .skipped
                        .iter()
                        .map(|(source, reason)| SkippedSource {
                            source: redact::url(source),
                            reason: redact::text(reason),
                        })
                        .collect(),
                    node: self.cluster.as_ref().map(|c| c.node.clone()),
                }
            })
            .collect();
        out.sort_by(|a, b| a.channel.cmp(&b.channel));
        out
    }
}
