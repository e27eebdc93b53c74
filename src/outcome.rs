//! The outcome table: what a request the module handles ends with, as the
//! HTTP status, the `$stream_autostart_status` value and the reason phrase
//! the error log gives. Every phase (token check, playlist, catalog, API)
//! decides through these functions, so one supervisor answer means the same
//! everywhere; `docs/directives.md` documents this table and a test below
//! holds the two together.

use shared::protocol::{ErrorCode, Reply};

use crate::call_error::CallError;

/// `$stream_autostart_status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// A ready playlist was served (or the catalog from the worker's cache).
    Hit,
    /// This request started the channel.
    Started,
    /// It waited for a start already under way.
    Waited,
    /// A segment request was allowed.
    Segment,
    /// The catalog was fetched from the supervisor for this request.
    Fetched,
    NoToken,
    Denied,
    /// The user's `max_connections` is reached, or this viewing session
    /// was ended (by the limit policy or an operator).
    Limit,
    Invalid,
    Unknown,
    BadChannel,
    Failed,
    Timeout,
    Unavailable,
    /// Cluster mode: another node runs the channel; the request went
    /// there through `stream_autostart_cluster_proxy @location`.
    Proxied,
    /// Cluster mode: the viewer was sent to that node (`redirect`).
    Redirected,
    /// Cluster mode: the owner's playlist could not be passed on rewritten
    /// (compressed, too large, from a cache file, or cut short).
    ProxyFailed,
}

impl Status {
    pub const ALL: [Status; 17] = [
        Status::Hit,
        Status::Started,
        Status::Waited,
        Status::Segment,
        Status::Fetched,
        Status::NoToken,
        Status::Denied,
        Status::Limit,
        Status::Invalid,
        Status::Unknown,
        Status::BadChannel,
        Status::Failed,
        Status::Timeout,
        Status::Unavailable,
        Status::Proxied,
        Status::Redirected,
        Status::ProxyFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Hit => "hit",
            Status::Started => "started",
            Status::Waited => "waited",
            Status::Segment => "segment",
            Status::Fetched => "fetched",
            Status::NoToken => "no_token",
            Status::Denied => "denied",
            Status::Limit => "limit",
            Status::Invalid => "invalid",
            Status::Unknown => "unknown",
            Status::BadChannel => "bad_channel",
            Status::Failed => "failed",
            Status::Timeout => "timeout",
            Status::Unavailable => "unavailable",
            Status::Proxied => "proxied",
            Status::Redirected => "redirected",
            Status::ProxyFailed => "proxy_failed",
        }
    }

    /// The HTTP status a request that ends so is answered with.
    pub fn http(self) -> u16 {
        match self {
            Status::Hit
            | Status::Started
            | Status::Waited
            | Status::Segment
            | Status::Fetched
            | Status::Proxied => 200,
            Status::Redirected => 302,
            Status::Invalid => 400,
            Status::NoToken => 401,
            Status::Denied | Status::Limit => 403,
            Status::Unknown => 404,
            Status::BadChannel => 422,
            Status::Failed | Status::ProxyFailed => 502,
            Status::Unavailable => 503,
            Status::Timeout => 504,
        }
    }

    /// 503s are "try again shortly": they carry `Retry-After`.
    pub fn retry_after(self) -> bool {
        self == Status::Unavailable
    }
}

/// A refusal: its status and what the log says happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: Status,
    /// Completes "channel "7" …" in the error log.
    pub reason: &'static str,
}

impl Refusal {
    pub fn http(self) -> u16 {
        self.status.http()
    }
}

const fn refuse(status: Status, reason: &'static str) -> Refusal {
    Refusal { status, reason }
}

/// A supervisor error reply, for any operation.
pub fn supervisor_error(code: Option<ErrorCode>) -> Refusal {
    match code {
        Some(ErrorCode::InvalidChannel) => refuse(Status::Invalid, "is not a valid id"),
        Some(ErrorCode::Denied) => refuse(Status::Denied, "was refused: the token is not valid"),
        // An operator op from a peer outside the operator side (e.g. nginx
        // workers whose group is not an --operator-group).
        Some(ErrorCode::Forbidden) => refuse(
            Status::Denied,
            "was refused: nginx may not ask the supervisor for this",
        ),
        Some(ErrorCode::Limit) => refuse(Status::Limit, "was refused: connection limit reached"),
        Some(ErrorCode::UnknownChannel) => refuse(Status::Unknown, "is not configured"),
        Some(ErrorCode::NotRunning) => refuse(Status::Unknown, "is not running"),
        Some(ErrorCode::BadChannel) => refuse(Status::BadChannel, "has an unusable record"),
        Some(ErrorCode::Failed) => refuse(Status::Failed, "failed"),
        Some(ErrorCode::Timeout) => refuse(Status::Timeout, "was not ready in time"),
        Some(ErrorCode::Capacity) => refuse(Status::Unavailable, "cannot start: at capacity"),
        // Cluster mode: another node owns the channel (or should start it).
        Some(ErrorCode::Elsewhere) => refuse(Status::Unavailable, "runs on another node"),
        Some(ErrorCode::Unavailable) => {
            refuse(Status::Unavailable, "cannot start: a dependency is down")
        }
        Some(ErrorCode::ShuttingDown) => refuse(
            Status::Unavailable,
            "cannot start: supervisor shutting down",
        ),
        // What the module passed on (an API body's source or quality) was
        // malformed for the supervisor.
        Some(ErrorCode::BadRequest | ErrorCode::TooLong) => refuse(
            Status::Invalid,
            "was refused as malformed by the supervisor",
        ),
        // The two sides do not speak the same protocol, or the supervisor
        // failed: either way the gateway's upstream misbehaved.
        Some(ErrorCode::UnknownOp | ErrorCode::UnsupportedVersion | ErrorCode::Internal) | None => {
            refuse(Status::Failed, "got an unexpected supervisor reply")
        }
    }
}

/// No usable reply at all.
pub fn call_error(e: &CallError) -> Refusal {
    match e {
        CallError::Timeout => refuse(Status::Timeout, "got no supervisor reply in time"),
        CallError::Unreachable(_) => refuse(Status::Unavailable, "cannot reach the supervisor"),
        CallError::Protocol(_) => refuse(Status::Failed, "got a broken supervisor reply"),
    }
}

/// The token check (`authorize`).
#[derive(Debug, PartialEq, Eq)]
pub enum Authorized {
    /// For `ttl_ms` (the smaller of the user's expiry and `granted`).
    Granted {
        user: String,
        /// The user's simultaneous-session limit (`None`: unlimited).
        max_connections: Option<u32>,
        ttl_ms: u64,
        /// The token's own remaining life (`None`: no expiry), which a
        /// stale grant never outlives.
        life_ms: Option<u64>,
    },
    Denied {
        reason: String,
    },
    /// The supervisor cannot decide now: 503, never a grant.
    Unavailable,
}

pub fn authorize(result: &Result<Reply, CallError>, grant_ms: u64) -> Authorized {
    match result {
        Ok(reply) if reply.ok => Authorized::Granted {
            user: reply.user.clone().unwrap_or_default(),
            max_connections: reply.max_connections,
            ttl_ms: reply
                .ttl_secs
                .map_or(grant_ms, |s| s.saturating_mul(1000).min(grant_ms)),
            life_ms: reply.ttl_secs.map(|s| s.saturating_mul(1000)),
        },
        Ok(reply) if reply.code() == Some(ErrorCode::Denied) => Authorized::Denied {
            reason: reply.message().to_string(),
        },
        _ => Authorized::Unavailable,
    }
}

/// A limited user's `session` check: admitted, or why not. Fails closed:
/// only an `ok` admits; `limit` is 403 `limit`, a refused user 403
/// `denied`, and anything else (no reply, a timeout, a supervisor that
/// cannot keep sessions) 503 `unavailable`, never a free pass.
pub fn session(result: &Result<Reply, CallError>) -> Result<(), (Status, String)> {
    match result {
        Ok(reply) if reply.ok => Ok(()),
        Ok(reply) => {
            let status = match reply.code() {
                Some(ErrorCode::Limit) => Status::Limit,
                Some(ErrorCode::Denied) => Status::Denied,
                _ => Status::Unavailable,
            };
            let code = reply.code().map_or("?", ErrorCode::as_str);
            Err((status, format!("{code}: {}", reply.message())))
        }
        Err(e) => Err((Status::Unavailable, e.to_string())),
    }
}

/// The supervisor could not decide on a token because its store (Redis) is
/// unreachable (`unavailable`): the one case where an expired grant may
/// stand in. Refusals, timeouts, an unreachable supervisor and any other
/// error never qualify.
pub fn store_down(result: &Result<Reply, CallError>) -> bool {
    matches!(result, Ok(reply) if !reply.ok && reply.code() == Some(ErrorCode::Unavailable))
}

/// A playlist request's `ensure`: the channel is ready, or the refusal.
/// `joined`: the request waited on a call another request started.
pub fn ensure(result: &Result<Reply, CallError>, joined: bool) -> Result<Status, Refusal> {
    match result {
        Ok(reply) if reply.ok && (reply.started == Some(false) || joined) => Ok(Status::Waited),
        Ok(reply) if reply.ok => Ok(Status::Started),
        Ok(reply) => Err(supervisor_error(reply.code())),
        Err(e) => Err(call_error(e)),
    }
}

/// The supervisor said ready, yet the playlist the request maps to is not:
/// nginx and the supervisor disagree on the HLS directory.
pub const READY_BUT_MISSING: Refusal =
    refuse(Status::Failed, "is ready, but not where nginx looks");

/// The supervisor said ready and the playlist is where nginx looks, but it
/// cannot be served (empty, cut short, stale: a full disk does this).
pub const READY_BUT_UNUSABLE: Refusal = refuse(
    Status::Failed,
    "is ready, but its playlist cannot be served",
);

/// Which of the two, by why the playlist was not ready: only a missing
/// file means nginx and the supervisor disagree on the directory.
pub fn ready_but_not_served(why: &shared::playlist::NotReady) -> Refusal {
    match why {
        shared::playlist::NotReady::Missing => READY_BUT_MISSING,
        _ => READY_BUT_UNUSABLE,
    }
}

/// The catalog for `stream_autostart_m3u`: without it there is no list to
/// give, whatever the reason, so every failure is "try again shortly".
pub fn catalog(result: &Result<Reply, CallError>) -> Result<Status, Refusal> {
    match result {
        Ok(Reply {
            ok: true,
            channels: Some(_),
            ..
        }) => Ok(Status::Fetched),
        Ok(_) => Err(refuse(Status::Unavailable, "cannot list channels")),
        Err(_) => Err(refuse(Status::Unavailable, "cannot list channels")),
    }
}

/// The API's JSON error code for a call that got no usable reply.
pub fn api_call_error_code(e: &CallError) -> &'static str {
    match e {
        CallError::Timeout => "timeout",
        CallError::Unreachable(_) => "unavailable",
        CallError::Protocol(_) => "failed",
    }
}

#[cfg(test)]
#[path = "outcome_tests.rs"]
mod tests;
