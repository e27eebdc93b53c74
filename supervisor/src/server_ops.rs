//! What each request op does: the answer to one decoded, permitted
//! request (who may ask is decided before, in `server`).

use std::sync::Arc;
use std::time::Duration;

use tracing::{debug, info, warn};

use super::accounts;
use super::store::AuthResult;
use super::streams::{Adhoc, Ensured, Streams};
use shared::protocol::{ErrorCode, Op, Reply, Request, StreamState, MAX_WAIT_MS};
use shared::token::masked;

pub async fn handle(req: Request, streams: &Arc<Streams>) -> Reply {
    let id = req.id;
    debug!(id, op = req.op.name(), "request");
    match req.op {
        Op::Authorize { token } => match streams.store().authorize(&token).await {
            Ok(AuthResult::Granted {
                user,
                ttl_secs,
                max_connections,
            }) => Reply {
                user: Some(user),
                ttl_secs,
                max_connections,
                ..Reply::ok(id)
            },
            Ok(AuthResult::Denied(why)) => {
                info!(token = %masked(token.as_bytes()), reason = %why, "token refused");
                Reply::error(id, ErrorCode::Denied, why)
            }
            Err(e) => {
                warn!(error = %e, "cannot check token");
                Reply::error(id, ErrorCode::Unavailable, e.to_string())
            }
        },
        Op::Ensure {
            channel,
            wait_ms,
            placed,
        } => {
            let wait = Duration::from_millis(wait_ms.min(MAX_WAIT_MS));
            Reply {
                touch_ms: Some(streams.touch_interval_ms()),
                ..ensured(id, streams.ensure_as(&channel, wait, placed).await)
            }
        }
        Op::Start {
            channel,
            wait_ms,
            source_url,
            quality,
        } => {
            info!(channel = %channel, adhoc_source = source_url.is_some(), "operator start");
            let wait = Duration::from_millis(wait_ms.min(MAX_WAIT_MS));
            let adhoc = source_url.map(|source| Adhoc { source, quality });
            ensured(id, streams.start(&channel, wait, adhoc).await)
        }
        Op::Restart { channel, wait_ms } => {
            info!(channel = %channel, "operator restart");
            let wait = Duration::from_millis(wait_ms.min(MAX_WAIT_MS));
            ensured(id, streams.restart(&channel, wait).await)
        }
        Op::Channels => match streams.catalog.get(streams.store()).await {
            Ok(list) => Reply {
                channels: Some(list.as_ref().clone()),
                ..Reply::ok(id)
            },
            Err(e) => {
                warn!(error = %e, "cannot read the channel catalog");
                Reply::error(id, ErrorCode::Unavailable, e.to_string())
            }
        },
        Op::List => Reply {
            streams: Some(streams.status(None)),
            ..Reply::ok(id)
        },
        Op::Touch { channel } => Reply {
            touch_ms: Some(streams.touch_interval_ms()),
            ..ok_if_running(id, &channel, streams.touch(&channel))
        },
        Op::Locate { channel } => crate::cluster::locate::reply(id, streams, &channel).await,
        Op::Stop { channel } => {
            let stopped = streams.stop(&channel, "operator request").await;
            ok_if_running(id, &channel, stopped)
        }
        Op::Login { user, password } => match streams.store().login(&user, &password).await {
            Ok(AuthResult::Granted {
                user,
                ttl_secs,
                max_connections,
            }) => Reply {
                user: Some(user),
                ttl_secs,
                max_connections,
                ..Reply::ok(id)
            },
            Ok(AuthResult::Denied(why)) => {
                // The reason names the user, never the password.
                info!(user = %shown_user(&user), reason = %why, "login refused");
                Reply::error(id, ErrorCode::Denied, why)
            }
            Err(e) => {
                warn!(user = %shown_user(&user), error = %e, "cannot check login");
                Reply::error(id, ErrorCode::Unavailable, e.to_string())
            }
        },
        Op::Xtream {
            user,
            password,
            action,
            params,
            base_url,
        } => crate::xtream::op::handle(id, streams, user, password, action, params, base_url).await,
        Op::Session {
            user,
            channel,
            client,
        } => accounts::ops::session(id, streams, &user, &channel, &client).await,
        Op::Sessions { user } => accounts::ops::list(id, streams, user.as_deref()),
        Op::EndSession {
            user,
            channel,
            client,
        } => accounts::ops::end(id, streams, &user, channel.as_deref(), client.as_deref()),
        Op::Metrics => {
            // /proc reads for every running channel: off the runtime.
            let s = streams.clone();
            match tokio::task::spawn_blocking(move || crate::metrics::collect::render(&s)).await {
                Ok(text) => Reply {
                    metrics: Some(text),
                    ..Reply::ok(id)
                },
                Err(e) => Reply::error(id, ErrorCode::Internal, format!("metrics: {e}")),
            }
        }
        Op::Overview => crate::overview::reply(id, streams).await,
        Op::Status { channel } => {
            let list = streams.status(channel.as_deref());
            if channel.is_some() && list.is_empty() {
                return Reply::error(
                    id,
                    ErrorCode::NotRunning,
                    format!("channel {} is not running", channel.unwrap_or_default()),
                );
            }
            Reply {
                state: channel.as_ref().and_then(|_| list.first().map(|s| s.state)),
                streams: Some(list),
                ..Reply::ok(id)
            }
        }
    }
}

/// A user name a viewer sent, for the log: cut short and escaped, so an
/// odd one cannot forge log lines.
fn shown_user(user: &str) -> String {
    let cut: String = user.chars().take(64).collect();
    format!("{:?}", cut)
}

fn ensured(id: u64, e: Ensured) -> Reply {
    match e {
        Ensured::Ready { playlist, started } => Reply {
            state: Some(StreamState::Ready),
            started: Some(started),
            playlist: Some(playlist.to_string_lossy().into_owned()),
            ..Reply::ok(id)
        },
        Ensured::Error(code, msg) => Reply::error(id, code, msg),
        Ensured::Elsewhere { node, url, msg } => Reply {
            node: Some(node),
            node_url: Some(url),
            ..Reply::error(id, ErrorCode::Elsewhere, msg)
        },
    }
}

/// Ok, or the `not_running` error for an op that needs a running channel.
fn ok_if_running(id: u64, channel: &str, running: bool) -> Reply {
    if running {
        Reply::ok(id)
    } else {
        Reply::error(
            id,
            ErrorCode::NotRunning,
            format!("channel {channel} is not running"),
        )
    }
}
