//! The socket ops of viewing sessions: `session` (viewer), `sessions` and
//! `end_session` (operator).

use std::sync::Arc;

use tracing::warn;

use crate::streams::Streams;
use crate::users;
use shared::channel_id;
use shared::protocol::{ErrorCode, Reply};

/// Longest client key accepted (the module sends a short hash).
pub const MAX_CLIENT_LEN: usize = 64;

fn check_client(client: &str) -> Result<(), String> {
    if client.is_empty() || client.len() > MAX_CLIENT_LEN {
        return Err(format!("client key must be 1 to {MAX_CLIENT_LEN} bytes"));
    }
    if !client.bytes().all(|b| (b'!'..=b'~').contains(&b)) {
        return Err("client key has a byte that is not printable ASCII".into());
    }
    Ok(())
}

/// `session`: opens or refreshes the viewer's session, or refuses it
/// (`limit`, `denied`); a running channel is kept from idling out.
pub async fn session(
    id: u64,
    streams: &Arc<Streams>,
    user: &str,
    channel: &str,
    client: &str,
) -> Reply {
    if let Err(why) = users::check_user_form(user).and_then(|_| check_client(client)) {
        return Reply::error(id, ErrorCode::BadRequest, why);
    }
    if let Err(e) = channel_id::validate(channel.as_bytes()) {
        return Reply::error(id, ErrorCode::InvalidChannel, e.to_string());
    }
    let sessions = &streams.sessions;
    let limit = match sessions.cached_limit(user) {
        Some(l) => l,
        None => match streams.store().session_limit(user).await {
            Ok(Ok(l)) => {
                sessions.remember_limit(user, l);
                l
            }
            Ok(Err(why)) => {
                warn!(user = %user, channel = %channel, client = %client, reason = %why, "session refused");
                return Reply::error(id, ErrorCode::Denied, why);
            }
            Err(e) => {
                warn!(error = %e, "cannot read the user's connection limit");
                return Reply::error(id, ErrorCode::Unavailable, e.to_string());
            }
        },
    };
    if let Err(why) = sessions.request(user, channel, client, limit) {
        return Reply::error(id, ErrorCode::Limit, why);
    }
    streams.touch(channel);
    Reply::ok(id)
}

/// `sessions`: the live sessions, sorted by user, channel, client.
pub fn list(id: u64, streams: &Streams, user: Option<&str>) -> Reply {
    Reply {
        sessions: Some(streams.sessions.list(user)),
        ..Reply::ok(id)
    }
}

/// `end_session`: ends the matching sessions; `ended` says how many.
pub fn end(
    id: u64,
    streams: &Streams,
    user: &str,
    channel: Option<&str>,
    client: Option<&str>,
) -> Reply {
    Reply {
        ended: Some(streams.sessions.end(user, channel, client)),
        ..Reply::ok(id)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn client_keys() {
        assert!(super::check_client("3f9a0c1d").is_ok());
        assert!(super::check_client("").is_err());
        assert!(super::check_client("a b").is_err());
        assert!(super::check_client(&"x".repeat(65)).is_err());
    }
}
