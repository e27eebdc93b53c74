//! Why a request was refused or failed: the machine-readable codes of an
//! error reply.

use serde::{Deserialize, Serialize};

/// Why a request was refused or failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The line was not valid JSON or lacked required fields.
    BadRequest,
    /// The line exceeded [`MAX_LINE`](super::MAX_LINE).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_code_is_listed_once() {
        let mut names: Vec<_> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort();
        names.dedup();
        // The 18 arms below; a new variant breaks the match, and whoever adds
        // its arm adds it to ALL and counts it here.
        assert_eq!(names.len(), 18);
        for code in ErrorCode::ALL {
            match code {
                ErrorCode::BadRequest
                | ErrorCode::TooLong
                | ErrorCode::UnknownOp
                | ErrorCode::UnsupportedVersion
                | ErrorCode::InvalidChannel
                | ErrorCode::Denied
                | ErrorCode::UnknownChannel
                | ErrorCode::BadChannel
                | ErrorCode::Failed
                | ErrorCode::Timeout
                | ErrorCode::Capacity
                | ErrorCode::Unavailable
                | ErrorCode::NotRunning
                | ErrorCode::ShuttingDown
                | ErrorCode::Forbidden
                | ErrorCode::Limit
                | ErrorCode::Elsewhere
                | ErrorCode::Internal => {}
            }
        }
    }
}
