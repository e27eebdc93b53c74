//! The supervisor socket protocol, shared by the nginx module and the
//! supervisor: one JSON object per line in each direction.
//!
//! A request carries `v` (protocol version), `id` (echoed in the reply) and
//! `op`; a reply carries `id`, `ok` and either the op's result fields or an
//! `error` with a machine-readable `code` and a human-readable `message`.
//! Replies on one connection may arrive out of order; `id` pairs them.
//!
//! The request types are in `request`, the error codes in `error_code`,
//! the reply and its records in `reply`, reading and writing lines in
//! `codec`.

mod codec;
mod error_code;
mod reply;
mod request;

pub use codec::{decode_reply, decode_request, encode_line};
pub use error_code::{ErrorBody, ErrorCode};
pub use reply::{ChannelEntry, Reply, SessionInfo, SkippedSource, StreamInfo, StreamState};
pub use request::{Op, Privilege, Request};

/// Version spoken by this build. Requests without `v` are taken as version 1.
pub const PROTOCOL_VERSION: u32 = 1;

/// Longest line either side accepts, newline excluded.
pub const MAX_LINE: usize = 64 * 1024;

/// Longest reply line the module accepts: the channel catalog of a large
/// deployment (thousands of channels) is one line.
pub const MAX_REPLY_LINE: usize = 16 * 1024 * 1024;

/// Longest `wait_ms` the supervisor honours for `ensure`.
pub const MAX_WAIT_MS: u64 = 120_000;

#[cfg(test)]
mod tests;
