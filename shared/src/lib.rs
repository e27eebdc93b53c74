//! What the nginx module and the supervisor both use, compiled once: the
//! socket protocol, channel ids, durations, tokens and playlist checks;
//! and the MPEG-TS reading the supervisor's segmenter and the test origin
//! share.

pub mod channel_id;
pub mod duration;
pub mod mpegts;
#[cfg(any(test, feature = "mpegts-fixtures"))]
pub mod mpegts_fixtures;
pub mod overview;
pub mod playlist;
pub mod prom_text;
pub mod protocol;
pub mod token;

/// Where the supervisor listens, and where the module looks for it, unless
/// configured otherwise (`--socket`, `stream_autostart_supervisor`).
pub const DEFAULT_SOCKET: &str = "/run/stream-supervisor/supervisor.sock";
