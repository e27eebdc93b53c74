//! Replies: the reply line and the records its result fields carry.

use serde::{Deserialize, Serialize};

use super::{ErrorBody, ErrorCode};

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
