//! Start-up: make the world match "nothing runs yet". An earlier supervisor
//! that died hard may have left ffmpeg processes (if the parent-death
//! signal could not reach them), `stream:<id>:*` keys and HLS files.

use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::config::Cli;
use super::hls_files;
use super::process;
use super::store::Store;

pub async fn reconcile(cfg: &Cli, store: &Store) {
    let hls = &cfg.hls_dir;
    // Ours means marked for this HLS directory in the process environment,
    // read from /proc; a process that merely looks like ffmpeg is not ours.
    let leftovers = process::owned_processes(hls);
    for (pid, channel) in &leftovers {
        warn!(pid, channel = %channel, "ending ffmpeg left by an earlier supervisor");
        process::kill(*pid);
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while leftovers.iter().any(|(pid, _)| process::alive(*pid)) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // In a cluster the stream keys are every node's: each owner writes
    // and clears its own under its lease, and a new owner replaces them.
    let keys = if cfg.node_id.is_some() {
        Ok(Vec::new())
    } else {
        store.stream_pids().await
    };
    match keys {
        Ok(keys) => {
            for (channel, pid) in keys {
                let why = match pid {
                    None => "no readable pid",
                    Some(p) if leftovers.iter().any(|(lp, _)| *lp == p) => "its ffmpeg was ended",
                    Some(p) if !process::alive(p) => "process is gone",
                    Some(p) if process::owned_channel(p, hls).is_none() => "process is not ours",
                    Some(_) => "ffmpeg of ours is still running",
                };
                info!(channel = %channel, pid, reason = why, "clearing stale stream keys");
                if let Err(e) = store.clear_stream_keys(&channel).await {
                    warn!(channel = %channel, error = %e, "cannot clear stale stream keys");
                }
            }
        }
        Err(e) => warn!(
            error = %e,
            "cannot check stream keys left by an earlier run; each is replaced when its channel starts"
        ),
    }
    match hls_files::remove_all_channel_files(hls) {
        Ok(0) => {}
        Ok(n) => {
            info!(files = n, hls_dir = %hls.display(), "removed HLS files left by an earlier run")
        }
        Err(e) => warn!(error = %e, hls_dir = %hls.display(), "cannot clean the HLS directory"),
    }
}
