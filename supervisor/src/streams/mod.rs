//! Running channels: one task per channel owns its ffmpeg, restarts it with
//! back-off when it exits or stalls, gives up (for a cool-down) when it
//! keeps failing, publishes the channel's state to everyone waiting, and
//! stops it when idle.
//!
//! This file is the registry: which channels run, and stopping them. A
//! channel as the registry holds it is in `channel`; starting one and
//! waiting for it in `ensure`, which may start in `admission`, idling out
//! in `idle`, what `status` shows in `status`. A channel's task is in
//! `lifecycle`, its choice of source in `failover`, one ffmpeg run in
//! `run`.

mod admission;
mod channel;
mod ensure;
mod failover;
mod idle;
mod lease;
mod lifecycle;
mod readiness;
mod route;
mod run;
mod status;
mod takeover;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::config::Cli;
use super::restart_policy::Policy;
use super::store::Store;
use shared::overview::EventKind;
use shared::protocol::ErrorCode;

pub use channel::{Adhoc, Channel, State};

pub struct Streams {
    cfg: Arc<Cli>,
    store: Arc<Store>,
    map: Mutex<HashMap<String, Arc<Channel>>>,
    shutting_down: AtomicBool,
    policy: Policy,
    pub catalog: super::catalog::Catalog,
    /// Live viewing sessions (accounts/sessions.rs).
    pub sessions: crate::accounts::sessions::Sessions,
    /// Each channel's recent events, for the dashboard.
    pub history: crate::history::History,
    /// Cluster mode (--node-id): this node.
    cluster: Option<Arc<crate::cluster::Cluster>>,
}

/// The answer to `ensure`.
pub enum Ensured {
    /// `started`: this call started the channel.
    Ready {
        playlist: PathBuf,
        started: bool,
    },
    Error(ErrorCode, String),
    /// Cluster mode: another node runs the channel or should start it.
    Elsewhere {
        node: String,
        url: String,
        msg: String,
    },
}

impl Streams {
    pub fn new(cfg: Arc<Cli>, store: Arc<Store>) -> Arc<Streams> {
        let policy = Policy {
            base: cfg.restart_delay,
            cap: cfg.restart_max_delay,
            max_failures: cfg.max_failures,
            window: cfg.failure_window,
        };
        let sessions =
            crate::accounts::sessions::Sessions::new(cfg.session_idle, cfg.connection_limit_policy);
        // main.rs has refused an unusable --node-id or --node-url.
        let cluster = crate::cluster::Cluster::from_cli(&cfg)
            .ok()
            .flatten()
            .map(Arc::new);
        Arc::new(Streams {
            cluster,
            sessions,
            cfg,
            store,
            map: Mutex::new(HashMap::new()),
            shutting_down: false.into(),
            policy,
            catalog: Default::default(),
            history: Default::default(),
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// This node, in cluster mode.
    pub fn cluster(&self) -> Option<&Arc<crate::cluster::Cluster>> {
        self.cluster.as_ref()
    }

    /// Stops a channel and waits until it is gone.
    pub async fn stop(&self, id: &str, why: &str) -> bool {
        let ch = self.map.lock().unwrap().get(id).cloned();
        let Some(ch) = ch else { return false };
        let mut rx = ch.state.subscribe();
        ch.request_stop(why);
        let _ = rx.wait_for(|s| matches!(s, State::Ended(..))).await;
        true
    }

    /// Stops everything (shutdown).
    pub async fn stop_all(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        let channels: Vec<Arc<Channel>> = self.map.lock().unwrap().values().cloned().collect();
        let mut waits = Vec::new();
        for ch in &channels {
            waits.push(ch.state.subscribe());
            ch.request_stop("supervisor shutting down");
        }
        for mut rx in waits {
            let _ = rx.wait_for(|s| matches!(s, State::Ended(..))).await;
        }
    }

    /// Records an event in the channel's recent history.
    fn event(&self, id: &str, kind: EventKind, ms: Option<u64>, why: Option<&str>) {
        let now = crate::history::unix_now();
        self.history.record(id, now, kind, ms, why);
    }

    pub fn config(&self) -> &Cli {
        &self.cfg
    }
}
