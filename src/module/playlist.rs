//! Content of `stream_autostart` locations: the playlist if it is ready,
//! else the supervisor starts the channel while the request waits, and the
//! playlist once it is ready, with the viewer's token on every segment URI.

use core::cell::RefCell;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::rc::Rc;

use ngx::ffi::{
    ngx_http_request_t, ngx_int_t, NGX_DONE, NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_LOG_ERR,
    NGX_LOG_INFO,
};
use ngx::ngx_log_error;
use shared::playlist::NotReady;

use super::access::eval_channel;
use super::cluster;
use super::conf::{LocConf, Mode, ENSURE_SLACK_MS};
use super::ctx::{Ctx, Resume, Stage};
use super::mailbox::Outcome;
use super::metrics_zone::Hold;
use super::park::park;
use super::request::{content_handler, now_ms, Req};
use super::shared_ensure;
use super::touch::{learn_interval, touch_if_due, touched};
use crate::log_text::{esc, Esc};
use crate::outcome::{self, Status, READY_BUT_MISSING};
use crate::owner_cache::Known;
use crate::playlist_cache::{Entry, PlaylistCache};
use crate::playlist_rewrite;

const CONTENT_TYPE: &str = "application/vnd.apple.mpegurl";

thread_local! {
    static PLAYLISTS: RefCell<PlaylistCache> = RefCell::new(PlaylistCache::default());
}

pub unsafe extern "C" fn playlist_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls content handlers with the live request.
    unsafe { content_handler(r, content) }
}

fn content(req: &mut Req<'_>) -> ngx_int_t {
    if let Err(rc) = req.accept_get() {
        return rc;
    }
    let lc = req.conf();
    let Some(Mode::Playlist { channel: cv }) = &lc.mode else {
        return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
    };
    let existing = Ctx::get(req);
    let channel = match existing {
        // The access phase evaluated and checked it for this request.
        Some(ctx) if !ctx.channel.is_empty() => ctx.channel.clone(),
        _ => match eval_channel(req, *cv) {
            Ok(c) => c,
            Err(rc) => return rc,
        },
    };
    let Some(path) = req.mapped_path() else {
        return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
    };
    match ready_playlist(&path) {
        Ok(entry) => {
            touch_if_due(lc, &channel);
            let token: &[u8] = match existing {
                Some(ctx) => {
                    ctx.status.set(Some(Status::Hit));
                    &ctx.token
                }
                None => &[],
            };
            send_playlist(req, lc, &entry, token)
        }
        Err(why) => {
            ngx_log_error!(
                NGX_LOG_INFO,
                req.log(),
                "stream_autostart: channel \"{}\" not ready ({}: {}), asking the supervisor",
                channel,
                Esc(path.as_os_str().as_bytes()),
                esc(&why.to_string())
            );
            let Some(ctx) = Ctx::get_or_create(req, &channel) else {
                return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
            };
            ctx.stage.set(Stage::Waiting);
            *ctx.playlist_path.borrow_mut() = path;
            *ctx.hold.borrow_mut() = Some(Hold::start());
            req.hold();
            park(req, ctx, Resume::Content(ensured));
            drop(ctx.group.borrow_mut().take());
            let membership = shared_ensure::join(
                &ctx.mailbox,
                &lc.supervisor(),
                &channel,
                lc.wait_ms(),
                lc.wait_ms() + ENSURE_SLACK_MS,
                ctx.cluster.get(),
            );
            *ctx.group.borrow_mut() = Some(membership);
            NGX_DONE as ngx_int_t
        }
    }
}

/// The supervisor answered the `ensure` (or did not).
fn ensured(req: &mut Req<'_>, ctx: &Ctx, outcome: Outcome) -> ngx_int_t {
    let Outcome::Ensure(result) = outcome else {
        return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
    };
    let joined = ctx.joined();
    ctx.cancel();
    drop(ctx.hold.borrow_mut().take());
    let lc = req.conf();
    let ch = &ctx.channel;
    let waited = now_ms().saturating_sub(ctx.waited_since);
    ctx.wait_ms.set(Some(waited));
    let refusal = match (outcome::ensure(&result, joined), &result) {
        (Ok(status), Ok(reply)) => {
            let path = ctx.playlist_path.borrow().clone();
            match ready_playlist(&path) {
                Ok(entry) => {
                    learn_interval(reply);
                    touched(lc, ch);
                    ctx.status.set(Some(status));
                    ngx_log_error!(
                        NGX_LOG_INFO,
                        req.log(),
                        "stream_autostart: channel \"{}\" ready after {} ms",
                        ch,
                        waited
                    );
                    return send_playlist(req, lc, &entry, &ctx.token);
                }
                Err(why) => {
                    let refusal = outcome::ready_but_not_served(&why);
                    // Only a missing file points at the configuration.
                    let hint = if refusal == READY_BUT_MISSING {
                        "do root/alias point at its HLS directory?"
                    } else {
                        "see the supervisor's status for the channel"
                    };
                    ngx_log_error!(
                        NGX_LOG_ERR,
                        req.log(),
                        "stream_autostart: channel \"{}\" {} ({}: {}; the supervisor writes {}: {}) ({})",
                        ch,
                        refusal.reason,
                        Esc(path.as_os_str().as_bytes()),
                        esc(&why.to_string()),
                        esc(reply.playlist.as_deref().unwrap_or("?")),
                        hint,
                        refusal.http()
                    );
                    refusal
                }
            }
        }
        (Ok(_), Err(_)) => READY_BUT_MISSING,
        (Err(refusal), Ok(reply)) => {
            if let Some(rc) = elsewhere(req, ctx, reply) {
                return rc;
            }
            ngx_log_error!(
                NGX_LOG_ERR,
                req.log(),
                "stream_autostart: channel \"{}\" {} ({}, after {} ms): {}",
                ch,
                refusal.reason,
                refusal.http(),
                waited,
                esc(reply.message())
            );
            refusal
        }
        (Err(refusal), Err(e)) => {
            ngx_log_error!(
                NGX_LOG_ERR,
                req.log(),
                "stream_autostart: channel \"{}\" {}: supervisor {} {} (after {} ms) ({})",
                ch,
                refusal.reason,
                lc.supervisor().text,
                esc(&e.to_string()),
                waited,
                refusal.http()
            );
            refusal
        }
    };
    let rc = req.refuse(refusal.status);
    ctx.finish(Some(refusal.status), rc);
    rc
}

/// Cluster mode: the channel runs on another node, and this location sends
/// viewers there. A request another node forwarded is never sent on.
fn elsewhere(req: &mut Req<'_>, ctx: &Ctx, reply: &shared::protocol::Reply) -> Option<ngx_int_t> {
    if reply.code() != Some(shared::protocol::ErrorCode::Elsewhere) || ctx.cluster.get() {
        return None;
    }
    let owner = reply.node_url.as_deref()?;
    cluster::learn(
        &req.conf().supervisor().path,
        &ctx.channel,
        Known::Owner(owner.to_string()),
    );
    cluster::divert(req, ctx, owner, true)
}

/// The playlist at `path` if it is ready, through this worker's cache.
fn ready_playlist(path: &Path) -> Result<Rc<Entry>, NotReady> {
    PLAYLISTS.with(|c| c.borrow_mut().ready(path, now_ms()))
}

/// Sends a playlist with its HLS headers, the viewer's token added to
/// every segment URI (unless `stream_autostart_token_arg off`).
fn send_playlist(req: &mut Req<'_>, lc: &LocConf, entry: &Entry, token: &[u8]) -> ngx_int_t {
    let template = &entry.template;
    match lc.token_arg() {
        // A login viewer's segment URIs stay relative: the player resolves
        // them under /live/<user>/<password>/.
        Some(arg) if !token.is_empty() && !crate::login_key::is_login(token) => {
            // Argument names are checked ASCII at configuration time.
            let pair = playlist_rewrite::pair(std::str::from_utf8(arg).unwrap_or("token"), token);
            let len = template.rendered_len(pair.len());
            req.send_with(200, CONTENT_TYPE, len, |out| {
                template.render_into(pair.as_bytes(), out)
            })
        }
        _ => req.send_bytes(200, CONTENT_TYPE, template.text()),
    }
}
