//! Requests: the ops a peer may ask for, and who may ask for each.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::PROTOCOL_VERSION;

/// Every op, as named on the wire.
pub(super) const OP_NAMES: &[&str] = &[
    "authorize",
    "ensure",
    "touch",
    "stop",
    "status",
    "list",
    "start",
    "restart",
    "channels",
    "login",
    "session",
    "sessions",
    "end_session",
    "xtream",
    "metrics",
    "overview",
    "locate",
];

/// One request line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    #[serde(default = "default_version")]
    pub v: u32,
    pub id: u64,
    #[serde(flatten)]
    pub op: Op,
}

fn default_version() -> u32 {
    PROTOCOL_VERSION
}

/// The operations. The tag is the `op` field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Op {
    /// Is this viewer token valid (token exists, its user exists, is active
    /// and not expired)?
    Authorize { token: String },
    /// Make sure the channel runs; answer when its playlist is ready, it
    /// failed, or `wait_ms` ran out. `placed` (cluster mode): another
    /// node sent the viewer here, so start it here rather than place it
    /// again (no second hop, no loop). Left out when false, so a
    /// supervisor without cluster mode reads the line as before.
    Ensure {
        channel: String,
        wait_ms: u64,
        #[serde(default, skip_serializing_if = "core::ops::Not::not")]
        placed: bool,
    },
    /// A viewer is watching this running channel (keeps it from idling out).
    Touch { channel: String },
    /// Cluster mode: which node runs the channel, from its lease and the
    /// node registry; starts nothing. Ok when it runs here (or, without
    /// cluster mode, runs at all); `elsewhere` with `node` and `node_url`
    /// as for `ensure`; `not_running` when no node runs it.
    Locate { channel: String },
    /// Stop a channel now.
    Stop { channel: String },
    /// State of one channel, or of every running channel.
    Status {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
    },
    /// Every running channel (same as `status` without a channel).
    List,
    /// Operator: like `ensure`, but a failed channel is retried at once
    /// instead of after its cool-down. `source_url` and `quality` start
    /// it ad hoc (with no record, or overriding the record's) if it is not
    /// running.
    Start {
        channel: String,
        wait_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source_url: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        quality: Option<String>,
    },
    /// Operator: stop the channel if it runs, then start it afresh.
    Restart { channel: String, wait_ms: u64 },
    /// Every configured channel with its catalog fields (for the M3U).
    Channels,
    /// Is this user's password right (user exists, is active, not
    /// expired, password matches its stored hash)? Answered like
    /// `authorize`.
    Login { user: String, password: String },
    /// A viewer's request: the user watches `channel` from `client` (an
    /// opaque key the module derives from the client's address and
    /// agent). Opens or refreshes the viewing session; refused with
    /// `limit` when the user's `max_connections` does not allow it, or
    /// when this session was ended (by the policy or an operator).
    Session {
        user: String,
        channel: String,
        client: String,
    },
    /// Operator: the live viewing sessions, of one user or of all.
    Sessions {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<String>,
    },
    /// Operator: end a user's sessions (all, or those on `channel` and/or
    /// from `client`); their next request is refused with `limit`.
    EndSession {
        user: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<String>,
    },
    /// The Xtream Codes-compatible API: checks `user`/`password` as
    /// `login` does, then answers `action` (`""` for the login reply of
    /// player_api.php; `get_live_categories`, `get_live_streams`,
    /// `get_short_epg`, `get_simple_data_table`; `m3u` for get.php) with
    /// the body the clients expect, URLs built on `base_url`
    /// (`scheme://host[:port]`, no trailing slash).
    Xtream {
        user: String,
        password: String,
        #[serde(default)]
        action: String,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        params: BTreeMap<String, String>,
        base_url: String,
    },
    /// Operator: the supervisor's metrics in Prometheus' text exposition
    /// format (the module adds its workers' own and serves both).
    Metrics,
    /// Operator: every configured channel with its state, viewers and
    /// recent history, and the cold-start histogram (the dashboard).
    Overview,
}

/// Who may ask for an op: nginx workers serving viewers, or operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privilege {
    /// The viewer path of the module: token checks, starting a configured
    /// channel, keeping it watched, the catalog. Any peer that may connect.
    Viewer,
    /// Changes what runs or shows how (stop, start with ad-hoc sources,
    /// restart, status): root, the supervisor's own user and members of
    /// `--operator-group` only.
    Operator,
}

impl Op {
    /// Which peers may ask for this op. Every op names its class here, so
    /// a new op cannot be added without deciding.
    pub fn privilege(&self) -> Privilege {
        match self {
            Op::Authorize { .. }
            | Op::Ensure { .. }
            | Op::Touch { .. }
            | Op::Locate { .. }
            | Op::Channels
            | Op::Login { .. }
            | Op::Session { .. }
            | Op::Xtream { .. } => Privilege::Viewer,
            Op::Sessions { .. }
            | Op::EndSession { .. }
            | Op::Metrics
            | Op::Overview
            | Op::Stop { .. }
            | Op::Status { .. }
            | Op::List
            | Op::Start { .. }
            | Op::Restart { .. } => Privilege::Operator,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Op::Authorize { .. } => "authorize",
            Op::Ensure { .. } => "ensure",
            Op::Touch { .. } => "touch",
            Op::Locate { .. } => "locate",
            Op::Stop { .. } => "stop",
            Op::Status { .. } => "status",
            Op::List => "list",
            Op::Start { .. } => "start",
            Op::Restart { .. } => "restart",
            Op::Channels => "channels",
            Op::Login { .. } => "login",
            Op::Session { .. } => "session",
            Op::Sessions { .. } => "sessions",
            Op::EndSession { .. } => "end_session",
            Op::Xtream { .. } => "xtream",
            Op::Metrics => "metrics",
            Op::Overview => "overview",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ErrorCode;

    #[test]
    fn viewer_ops_and_operator_ops() {
        let ch = || "7".to_string();
        let viewer = [
            Op::Authorize { token: "t".into() },
            Op::Ensure {
                channel: ch(),
                wait_ms: 1,
                placed: false,
            },
            Op::Touch { channel: ch() },
            Op::Locate { channel: ch() },
            Op::Channels,
            Op::Login {
                user: "u".into(),
                password: "p".into(),
            },
            Op::Session {
                user: "u".into(),
                channel: ch(),
                client: "c".into(),
            },
            Op::Xtream {
                user: "u".into(),
                password: "p".into(),
                action: String::new(),
                params: Default::default(),
                base_url: "http://h".into(),
            },
        ];
        for op in &viewer {
            assert_eq!(op.privilege(), Privilege::Viewer, "{}", op.name());
        }
        let operator = [
            Op::Stop { channel: ch() },
            Op::Status { channel: None },
            Op::Status {
                channel: Some(ch()),
            },
            Op::List,
            Op::Start {
                channel: ch(),
                wait_ms: 1,
                source_url: None,
                quality: None,
            },
            Op::Start {
                channel: ch(),
                wait_ms: 1,
                source_url: Some("http://x/".into()),
                quality: None,
            },
            Op::Restart {
                channel: ch(),
                wait_ms: 1,
            },
            Op::Sessions { user: None },
            Op::Metrics,
            Op::Overview,
            Op::EndSession {
                user: "u".into(),
                channel: None,
                client: None,
            },
        ];
        for op in &operator {
            assert_eq!(op.privilege(), Privilege::Operator, "{}", op.name());
        }
        // Every op on the wire is classified by one of the lists above.
        let mut named: Vec<&str> = viewer.iter().chain(&operator).map(Op::name).collect();
        named.sort();
        named.dedup();
        let mut all = OP_NAMES.to_vec();
        all.sort();
        assert_eq!(named, all);
        assert_eq!(ErrorCode::Forbidden.as_str(), "forbidden");
    }
}
