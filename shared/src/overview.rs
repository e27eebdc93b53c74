//! The operator dashboard's view of the supervisor (`overview` op): every
//! configured channel in one compact list (fields that are empty or zero
//! are left out, so 4,000 stopped channels cost a few dozen bytes each),
//! the cold-start histogram, and each channel's recent events.

use serde::{Deserialize, Serialize};

use crate::protocol::StreamState;

/// The reply of the `overview` op.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Overview {
    /// Unix time (seconds) of the snapshot: uptimes and event ages are
    /// shown against it, not against the viewer's clock.
    pub now: u64,
    /// `--max-streams` (0: no limit).
    pub capacity: u64,
    /// Configured channels, then ad-hoc running ones; in catalog order.
    pub channels: Vec<ChannelRow>,
    /// Time from a channel's start to its first ready playlist.
    pub start_seconds: StartHistogram,
}

/// One channel as the dashboard lists it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ChannelRow {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Absent when the channel does not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<StreamState>,
    /// Live viewing sessions on the channel.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub viewers: u64,
    /// Unix time the current ffmpeg started; 0 when none runs.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub started: u64,
    /// Failures of the current run (each restarted ffmpeg).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub restarts: u64,
    /// The last failure's class (`source_http_4xx`, `stalled`, ...), also
    /// after the channel stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// The running channel's last failure reason, credentials redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Host (and port) of the source ffmpeg reads, or of the record's
    /// first source: never userinfo, path or query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Cluster mode: the node running the channel (its lease holder),
    /// this one or another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Recent events, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Event>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What happened to a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Start,
    Ready,
    Failure,
    Stop,
}

/// One event of a channel's recent history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Unix time (seconds).
    pub t: u64,
    pub kind: EventKind,
    /// `ready` after a start: the cold start in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ms: Option<u64>,
    /// `failure`: its class; `stop`: why (`idle`, `operator`, `restart`,
    /// `shutdown`, `cooldown`, `error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// A histogram's cumulative counts by upper bound in milliseconds (the
/// last bucket, +Inf, is `count`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StartHistogram {
    /// (upper bound in ms, cumulative count), ascending.
    pub buckets: Vec<(u64, u64)>,
    pub count: u64,
    pub sum_ms: u64,
}
