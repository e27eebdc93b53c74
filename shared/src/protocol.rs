//! The supervisor socket protocol, shared by the nginx module and the
//! supervisor: one JSON object per line in each direction.
//!
//! A request carries `v` (protocol version), `id` (echoed in the reply) and
//! `op`; a reply carries `id`, `ok` and either the op's result fields or an
//! `error` with a machine-readable `code` and a human-readable `message`.
//! Replies on one connection may arrive out of order; `id` pairs them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Version spoken by this build. Requests without `v` are taken as version 1.
pub const PROTOCOL_VERSION: u32 = 1;

/// Longest line either side accepts, newline excluded.
pub const MAX_LINE: usize = 64 * 1024;

/// Longest reply line the module accepts: the channel catalog of a large
/// deployment (thousands of channels) is one line.
pub const MAX_REPLY_LINE: usize = 16 * 1024 * 1024;

/// Longest `wait_ms` the supervisor honours for `ensure`.
pub const MAX_WAIT_MS: u64 = 120_000;

/// Every op, as named on the wire.
const OP_NAMES: &[&str] = &[
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

/// Why a request was refused or failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The line was not valid JSON or lacked required fields.
    BadRequest,
    /// The line exceeded [`MAX_LINE`].
    TooLong,
    /// `op` names no known operation.
    UnknownOp,
    /// A protocol version this supervisor does not speak.
    UnsupportedVersion,
    /// The channel id is not `[A-Za-z0-9_-]{1,64}`.
    InvalidChannel,
    /// The token is unknown, or its user unknown, inactive or expired.
    Denied,
    /// No `channel:<id>` record exists.
    UnknownChannel,
    /// The channel record exists but cannot be used (bad JSON, bad source).
    BadChannel,
    /// ffmpeg could not produce the stream; the message says why.
    Failed,
    /// The stream was not ready within `wait_ms`.
    Timeout,
    /// The supervisor runs as many streams as it is allowed to.
    Capacity,
    /// A dependency (Redis) is unreachable.
    Unavailable,
    /// The channel is not running (stop, touch; locate: on no node).
    NotRunning,
    /// The supervisor is shutting down.
    ShuttingDown,
    /// The peer may not ask for this op (an operator op from a peer that
    /// is not root, the supervisor's user or in `--operator-group`).
    Forbidden,
    /// The user's `max_connections` is reached (or this viewing session
    /// was ended to make room, or by an operator).
    Limit,
    /// Cluster mode: the channel runs (or is placed) on another node;
    /// `node` and `node_url` in the reply say which and where.
    Elsewhere,
    Internal,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 18] = [
        ErrorCode::BadRequest,
        ErrorCode::TooLong,
        ErrorCode::UnknownOp,
        ErrorCode::UnsupportedVersion,
        ErrorCode::InvalidChannel,
        ErrorCode::Denied,
        ErrorCode::UnknownChannel,
        ErrorCode::BadChannel,
        ErrorCode::Failed,
        ErrorCode::Timeout,
        ErrorCode::Capacity,
        ErrorCode::Unavailable,
        ErrorCode::NotRunning,
        ErrorCode::ShuttingDown,
        ErrorCode::Forbidden,
        ErrorCode::Limit,
        ErrorCode::Elsewhere,
        ErrorCode::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::TooLong => "too_long",
            ErrorCode::UnknownOp => "unknown_op",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::InvalidChannel => "invalid_channel",
            ErrorCode::Denied => "denied",
            ErrorCode::UnknownChannel => "unknown_channel",
            ErrorCode::BadChannel => "bad_channel",
            ErrorCode::Failed => "failed",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Capacity => "capacity",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::NotRunning => "not_running",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Limit => "limit",
            ErrorCode::Elsewhere => "elsewhere",
            ErrorCode::Internal => "internal",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
}

/// Lifecycle of a running channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamState {
    /// ffmpeg runs, no segment yet.
    Starting,
    /// The playlist lists at least one segment that exists.
    Ready,
    /// ffmpeg failed; it is started again after a back-off delay.
    Restarting,
    /// Failed too often; `ensure` answers `failed` until the cool-down ends
    /// or an operator starts it.
    Failed,
    /// Being stopped (idle, operator, shutdown).
    Stopping,
}

impl StreamState {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamState::Starting => "starting",
            StreamState::Ready => "ready",
            StreamState::Restarting => "restarting",
            StreamState::Failed => "failed",
            StreamState::Stopping => "stopping",
        }
    }
}

/// What `status` reports for one running channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamInfo {
    pub channel: String,
    pub state: StreamState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Unix time (seconds) the current ffmpeg was started; 0 when none runs.
    pub started: u64,
    /// Seconds since the last `ensure` or `touch`.
    pub idle_secs: u64,
    /// Segments the playlist lists now.
    pub segments: u32,
    /// Failures of this channel since it was started (each one restarted
    /// ffmpeg or, at the last, made the channel failed).
    #[serde(default)]
    pub restarts: u32,
    /// The last failure's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The source ffmpeg reads (or last read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The proxy requests go through (credentials removed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// Set when upstream certificates are not verified
    /// (`tls_verify: false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<String>,
    /// Other sources of the channel that failed, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedSource>,
    /// Cluster mode: the node running the channel (this supervisor's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// A configured channel as the M3U lists it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ChannelEntry {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo: Option<String>,
    /// Channel number (`tvg-chno`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u32>,
    /// The XMLTV channel id its guide is matched by (`tvg-id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guide_id: Option<String>,
}

/// A live viewing session (`sessions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub user: String,
    pub channel: String,
    /// The module's opaque client key.
    pub client: String,
    /// Unix time (seconds) the session opened.
    pub started: u64,
    /// Seconds since its last request.
    pub idle_secs: u64,
}

/// A failover source that was given up on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedSource {
    pub source: String,
    pub reason: String,
}

/// One reply line. Result fields are present only for the ops that have them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Reply {
    pub id: u64,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
    /// `authorize`: the user the token belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `authorize`: seconds the grant may be cached (the user's remaining
    /// validity), when the user expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_secs: Option<u64>,
    /// `ensure`: where the supervisor writes the playlist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playlist: Option<String>,
    /// `ensure`: this request started the channel (rather than joining a
    /// start under way, or finding it running).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<bool>,
    /// `ensure`, `touch`: how often viewers' requests should be reported
    /// with `touch` to keep the channel from idling out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub touch_ms: Option<u64>,
    /// `ensure`, `status <id>`: the channel's state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<StreamState>,
    /// `status`: running channels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streams: Option<Vec<StreamInfo>>,
    /// `channels`: the catalog, sorted by id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<ChannelEntry>>,
    /// `authorize`, `login`: the user's simultaneous-session limit; absent
    /// when unlimited (the module then reports sessions without waiting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u32>,
    /// `sessions`: the live sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions: Option<Vec<SessionInfo>>,
    /// `end_session`: how many sessions were ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<u32>,
    /// `xtream`: the response body and its media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// `metrics`: the supervisor's families, Prometheus text format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<String>,
    /// `ensure` or `locate` refused with `elsewhere` (cluster mode): the
    /// node that owns the channel (or, for `ensure`, should start it), and
    /// the base URL its nginx is reached at. `locate` answered ok: `node`
    /// is this node (absent without cluster mode). `status`: never set (each stream names its node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_url: Option<String>,
    /// `overview`: the dashboard's snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overview: Option<crate::overview::Overview>,
}

impl Reply {
    pub fn ok(id: u64) -> Reply {
        Reply {
            id,
            ok: true,
            ..Reply::default()
        }
    }

    pub fn error(id: u64, code: ErrorCode, message: impl Into<String>) -> Reply {
        Reply {
            id,
            ok: false,
            error: Some(ErrorBody {
                code,
                message: message.into(),
            }),
            ..Reply::default()
        }
    }

    /// The error code, or `None` for a successful reply.
    pub fn code(&self) -> Option<ErrorCode> {
        if self.ok {
            None
        } else {
            Some(self.error.as_ref().map_or(ErrorCode::Internal, |e| e.code))
        }
    }

    pub fn message(&self) -> &str {
        self.error.as_ref().map_or("", |e| e.message.as_str())
    }
}

/// Encodes a message as one line (JSON plus `\n`).
pub fn encode_line<T: Serialize>(msg: &T) -> Vec<u8> {
    // Serializing these plain structs cannot fail.
    let mut out = serde_json::to_vec(msg).unwrap_or_default();
    out.push(b'\n');
    out
}

/// Parses one request line (without its newline). On failure returns the
/// reply to send: it echoes the request's `id` when one could be read.
pub fn decode_request(line: &[u8]) -> Result<Request, Box<Reply>> {
    if line.len() > MAX_LINE {
        return Err(bad(
            0,
            ErrorCode::TooLong,
            format!("request line longer than {MAX_LINE} bytes"),
        ));
    }
    let value: serde_json::Value = serde_json::from_slice(line)
        .map_err(|e| bad(0, ErrorCode::BadRequest, format!("invalid JSON: {e}")))?;
    let obj = value
        .as_object()
        .ok_or_else(|| bad(0, ErrorCode::BadRequest, "request is not a JSON object"))?;
    let id = match obj.get("id") {
        Some(v) => v.as_u64().ok_or_else(|| {
            bad(
                0,
                ErrorCode::BadRequest,
                "\"id\" must be a non-negative integer",
            )
        })?,
        None => return Err(bad(0, ErrorCode::BadRequest, "missing \"id\"")),
    };
    if let Some(v) = obj.get("v") {
        match v.as_u64() {
            Some(v) if v == u64::from(PROTOCOL_VERSION) => {}
            _ => {
                return Err(bad(
                    id,
                    ErrorCode::UnsupportedVersion,
                    format!("protocol version {v} not supported (this supervisor speaks {PROTOCOL_VERSION})"),
                ))
            }
        }
    }
    let op = match obj.get("op") {
        Some(serde_json::Value::String(op)) => op.clone(),
        Some(_) => return Err(bad(id, ErrorCode::BadRequest, "\"op\" must be a string")),
        None => return Err(bad(id, ErrorCode::BadRequest, "missing \"op\"")),
    };
    if !OP_NAMES.contains(&op.as_str()) {
        return Err(bad(id, ErrorCode::UnknownOp, format!("unknown op {op:?}")));
    }
    serde_json::from_value::<Request>(value)
        .map_err(|e| bad(id, ErrorCode::BadRequest, format!("bad {op} request: {e}")))
}

fn bad(id: u64, code: ErrorCode, message: impl Into<String>) -> Box<Reply> {
    Box::new(Reply::error(id, code, message))
}

/// Parses one reply line (without its newline).
pub fn decode_reply(line: &[u8]) -> Result<Reply, String> {
    if line.len() > MAX_REPLY_LINE {
        return Err(format!("reply longer than {MAX_REPLY_LINE} bytes"));
    }
    serde_json::from_slice(line).map_err(|e| format!("invalid reply from supervisor: {e}"))
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
