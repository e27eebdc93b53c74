//! What the nginx module and the supervisor both use, compiled once: the
//! socket protocol, channel ids, durations, tokens and playlist checks.

pub mod channel_id;
pub mod duration;
pub mod overview;
pub mod playlist;
pub mod prom_text;
pub mod protocol;
pub mod token;

/// Where the supervisor listens, and where the module looks for it, unless
/// configured otherwise (`--socket`, `stream_autostart_supervisor`).
pub const DEFAULT_SOCKET: &str = "/run/stream-supervisor/supervisor.sock";
