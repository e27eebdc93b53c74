//! Cluster mode: what a segment request that is not here does with the
//! supervisor's answer to `locate` (which node runs the channel). Asked
//! only when the file is missing and the worker knows no owner (it never
//! saw the channel's playlist request: another worker, or a reload).

use shared::protocol::{ErrorCode, Reply};

use crate::call_error::CallError;

/// The request's next step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Located {
    /// Another node runs the channel: send the request there (its base URL).
    Owner(String),
    /// The channel runs on this node: the file's absence stands (404),
    /// and the worker may remember it briefly (src/owner_cache.rs).
    Local,
    /// Nothing to fetch elsewhere: the file's absence stands (404). Why,
    /// for the log. Not remembered: the channel may start any moment.
    Here(String),
    /// Where it runs cannot be told now: 503 (fail closed), and why.
    Unknown(String),
}

/// The reply (or the call's failure) to `locate`.
pub fn segment(result: &Result<Reply, CallError>) -> Located {
    let reply = match result {
        Ok(reply) => reply,
        Err(e) => return Located::Unknown(format!("supervisor {e}")),
    };
    if reply.ok {
        return Located::Local;
    }
    match reply.code() {
        Some(ErrorCode::Elsewhere) => match reply.node_url.as_deref() {
            Some(url) if !url.is_empty() => Located::Owner(url.to_string()),
            _ => Located::Unknown("the supervisor named no URL of the owner".into()),
        },
        Some(ErrorCode::NotRunning) => Located::Here("the channel runs on no node".into()),
        // A supervisor from before `locate`: as it was then.
        Some(ErrorCode::UnknownOp) => {
            Located::Here("the supervisor cannot locate channels (older version)".into())
        }
        code => Located::Unknown(format!(
            "{}: {}",
            code.map_or("?", ErrorCode::as_str),
            reply.message()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: ErrorCode, msg: &str) -> Result<Reply, CallError> {
        Ok(Reply::error(1, code, msg))
    }

    #[test]
    fn elsewhere_diverts_to_the_owner() {
        let r = Reply {
            node: Some("n2".into()),
            node_url: Some("http://127.0.0.1:8082".into()),
            ..Reply::error(1, ErrorCode::Elsewhere, "channel 7 runs on node n2")
        };
        assert_eq!(
            segment(&Ok(r.clone())),
            Located::Owner("http://127.0.0.1:8082".into())
        );
        let no_url = Reply {
            node_url: None,
            ..r
        };
        assert!(matches!(segment(&Ok(no_url)), Located::Unknown(_)));
    }

    #[test]
    fn here_and_nowhere_leave_the_404() {
        assert_eq!(segment(&Ok(Reply::ok(1))), Located::Local);
        assert_eq!(
            segment(&err(ErrorCode::NotRunning, "channel 9 runs on no node")),
            Located::Here("the channel runs on no node".into())
        );
        assert!(matches!(
            segment(&err(ErrorCode::UnknownOp, "unknown op \"locate\"")),
            Located::Here(_)
        ));
    }

    #[test]
    fn anything_else_fails_closed() {
        let down = segment(&err(ErrorCode::Unavailable, "redis down"));
        assert_eq!(down, Located::Unknown("unavailable: redis down".into()));
        assert!(matches!(
            segment(&Err(CallError::Timeout)),
            Located::Unknown(m) if m == "supervisor no reply in time"
        ));
        assert!(matches!(
            segment(&Err(CallError::Unreachable("x".into()))),
            Located::Unknown(_)
        ));
        assert!(matches!(
            segment(&err(ErrorCode::Forbidden, "no")),
            Located::Unknown(_)
        ));
    }
}
