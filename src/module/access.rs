//! Access phase: the channel id, then the viewer's token (this worker's
//! cache, else the supervisor). In segment locations a granted request also
//! counts as watching, and in cluster mode one that is not here may be
//! fetched from the node running its channel (`locate`). A refused request
//! stays refused: re-entered, it answers the same status and asks nothing.

use core::cell::RefCell;

use ngx::ffi::{
    ngx_http_request_t, ngx_int_t, NGX_AGAIN, NGX_DECLINED, NGX_DONE,
    NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_HTTP_SPECIAL_RESPONSE, NGX_LOG_ERR, NGX_LOG_WARN, NGX_OK,
};
use ngx::ngx_log_error;
use shared::channel_id;
use shared::protocol::{ErrorCode, Op};
use shared::token::{check_form, masked, percent_decode};

use super::cluster;
use super::conf::{Cv, Mode};
use super::cors;
use super::credentials;
use super::ctx::{Ctx, Resume, Stage};
use super::locate;
use super::mailbox::{CallResult, Outcome};
use super::metrics_zone;
use super::park::{call, park};
use super::request::{now_ms, Req};
use super::session::{self, Step};
use super::touch::touch_if_due;
use crate::log_text::esc;
use crate::login_key::describe;
use crate::outcome::{self, Authorized, Status};
use crate::token_cache::{stale_window, TokenCache, Verdict};

/// Deadline for an `authorize` round trip.
const AUTHORIZE_TIMEOUT_MS: u64 = 5_000;

thread_local! {
    static TOKENS: RefCell<TokenCache> = RefCell::new(TokenCache::default());
}

/// The access-phase handler, for every location; declines where the
/// module has no say.
pub unsafe extern "C" fn access_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls phase handlers with the live request.
    match unsafe { Req::from_raw(r) } {
        Some(mut req) => access(&mut req),
        None => NGX_DECLINED as ngx_int_t,
    }
}

fn access(req: &mut Req<'_>) -> ngx_int_t {
    // A browser's CORS preflight carries no token: answered first.
    if let Some(rc) = cors::preflight(req) {
        return rc;
    }
    let lc = req.conf();
    let (channel_cv, segment) = match &lc.mode {
        // The Xtream API checks its credentials in the supervisor.
        None | Some(Mode::Api) | Some(Mode::Xtream { .. }) | Some(Mode::Metrics) => {
            return NGX_DECLINED as ngx_int_t
        }
        Some(Mode::Playlist { channel }) => (Some(*channel), false),
        Some(Mode::Segment { channel }) => (Some(*channel), true),
        Some(Mode::Catalog { .. }) | Some(Mode::Auth) => (None, false),
    };
    if let Some(ctx) = Ctx::get(req) {
        return again(req, ctx, segment);
    }
    let channel = match channel_cv {
        Some(cv) => match eval_channel(req, cv) {
            Ok(c) => c,
            Err(rc) => return rc,
        },
        None => String::new(),
    };
    // Cluster mode: another node forwards a viewer it admitted.
    if channel_cv.is_some() {
        match cluster::presented(req, &channel) {
            Some(true) => {
                let Some(ctx) = Ctx::create(req, &channel, &[], Stage::Authorized) else {
                    return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
                };
                ctx.cluster.set(true);
                return granted(req, ctx, segment);
            }
            Some(false) => return refuse(req, &channel, &[], Status::Denied),
            None => {}
        }
    }
    // A login (stream_autostart_login) is checked like a token, under a
    // cache key no token can be.
    let (token, op) = match credentials::login(req, &channel) {
        Some(Ok(found)) => (found.key, found.op),
        Some(Err(status)) => return refuse(req, &channel, &[], status),
        None => match token_op(req, &channel) {
            Ok(pair) => pair,
            Err(rc) => return rc,
        },
    };
    let scope = &lc.supervisor().path;
    let cached = TOKENS.with(|t| t.borrow_mut().get(scope, &token, now_ms()).cloned());
    if let Some(slot) = metrics_zone::slot() {
        slot.token_lookup(cached.is_some());
    }
    match cached {
        Some(Verdict::Granted {
            user,
            max_connections,
        }) => {
            let Some(ctx) = Ctx::create(req, &channel, &token, Stage::Authorized) else {
                return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
            };
            *ctx.user.borrow_mut() = user;
            admit(req, ctx, segment, max_connections)
        }
        Some(Verdict::Denied { reason }) => {
            ngx_log_error!(
                NGX_LOG_ERR,
                req.log(),
                "stream_autostart: {} refused for channel \"{}\" (403, cached): {}",
                describe(&token),
                channel,
                esc(&reason)
            );
            refuse(req, &channel, &token, Status::Denied)
        }
        None => {
            let Some(ctx) = Ctx::create(req, &channel, &token, Stage::Authorizing) else {
                return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
            };
            park(req, ctx, Resume::Phases);
            call(
                ctx,
                &lc.supervisor(),
                op,
                AUTHORIZE_TIMEOUT_MS,
                Outcome::Authorize,
            );
            NGX_AGAIN as ngx_int_t
        }
    }
}

/// The request's token and its `authorize`, or the refusal's status.
fn token_op(req: &mut Req<'_>, channel: &str) -> Result<(Vec<u8>, Op), ngx_int_t> {
    let channel = channel.to_string();
    let Some(token) = eval_token(req) else {
        ngx_log_error!(
            NGX_LOG_ERR,
            req.log(),
            "stream_autostart: no token in the request for channel \"{}\" (401)",
            channel
        );
        return Err(refuse(req, &channel, &[], Status::NoToken));
    };
    // Junk never costs a socket call: refused here, and not cached (the
    // check is cheaper than a lookup).
    if let Err(why) = check_form(&token) {
        ngx_log_error!(
            NGX_LOG_ERR,
            req.log(),
            "stream_autostart: token {} refused for channel \"{}\" (403): {}",
            masked(&token),
            channel,
            why
        );
        return Err(refuse(req, &channel, &token, Status::Denied));
    }
    let op = Op::Authorize {
        token: String::from_utf8_lossy(&token).into_owned(),
    };
    Ok((token, op))
}

/// The access handler runs again for a request it has seen: after its
/// token check, or because nginx re-ran the phases.
fn again(req: &mut Req<'_>, ctx: &Ctx, segment: bool) -> ngx_int_t {
    match ctx.stage.get() {
        // A refusal is answered again; a request that was served has
        // nothing left to do here.
        Stage::Finished => match ctx.answer.get() {
            rc if rc >= NGX_HTTP_SPECIAL_RESPONSE as ngx_int_t => rc,
            _ => NGX_DONE as ngx_int_t,
        },
        Stage::Authorized | Stage::Waiting => NGX_OK as ngx_int_t,
        Stage::Admitting => match ctx.mailbox.take() {
            Some(Outcome::Session(result)) => match session::answered(req, ctx, result) {
                rc if rc == NGX_OK as ngx_int_t => granted(req, ctx, segment),
                rc => rc,
            },
            Some(_) => {
                let rc = NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
                ctx.finish(None, rc);
                rc
            }
            None => NGX_AGAIN as ngx_int_t,
        },
        Stage::Locating => match ctx.mailbox.take() {
            Some(Outcome::Locate(result)) => match locate::located(req, ctx, result) {
                locate::Step::Local => served_here(req, ctx, segment),
                locate::Step::Done(rc) => rc,
            },
            Some(_) => {
                let rc = NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
                ctx.finish(None, rc);
                rc
            }
            None => NGX_AGAIN as ngx_int_t,
        },
        Stage::Authorizing => match ctx.mailbox.take() {
            Some(Outcome::Authorize(result)) => authorized(req, ctx, result, segment),
            // Only a token check parks in this phase.
            Some(_) => {
                let rc = NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
                ctx.finish(None, rc);
                rc
            }
            None => NGX_AGAIN as ngx_int_t,
        },
    }
}

/// A granted request: its viewing session first (a limited user waits for
/// the supervisor's word), then on.
fn admit(req: &mut Req<'_>, ctx: &Ctx, segment: bool, max_connections: Option<u32>) -> ngx_int_t {
    match session::step(req, ctx, max_connections) {
        Step::Admitted => granted(req, ctx, segment),
        Step::Parked => NGX_AGAIN as ngx_int_t,
    }
}

fn granted(req: &mut Req<'_>, ctx: &Ctx, segment: bool) -> ngx_int_t {
    if segment && !ctx.cluster.get() {
        if let locate::Step::Done(rc) = locate::segment_elsewhere(req, ctx) {
            return rc;
        }
    }
    served_here(req, ctx, segment)
}

/// The request goes on to this node's files.
fn served_here(req: &mut Req<'_>, ctx: &Ctx, segment: bool) -> ngx_int_t {
    if segment {
        ctx.status.set(Some(Status::Segment));
        touch_if_due(req.conf(), &ctx.channel);
    }
    NGX_OK as ngx_int_t
}

/// Refuses a request that has no context yet.
fn refuse(req: &mut Req<'_>, channel: &str, token: &[u8], status: Status) -> ngx_int_t {
    let rc = req.refuse(status);
    if let Some(ctx) = Ctx::create(req, channel, token, Stage::Finished) {
        ctx.finish(Some(status), rc);
    }
    rc
}

fn authorized(req: &mut Req<'_>, ctx: &Ctx, result: CallResult, segment: bool) -> ngx_int_t {
    req.block_reading();
    drop(ctx.task.borrow_mut().take());
    let lc = req.conf();
    let token = &ctx.token;
    match outcome::authorize(&result, lc.grant_ms()) {
        Authorized::Granted {
            user,
            max_connections,
            ttl_ms,
            life_ms,
        } => {
            *ctx.user.borrow_mut() = user.clone();
            let stale_ms = stale_window(ttl_ms, life_ms, lc.stale_ms());
            TOKENS.with(|t| {
                t.borrow_mut().insert_with_stale(
                    &lc.supervisor().path,
                    token,
                    Verdict::Granted {
                        user,
                        max_connections,
                    },
                    now_ms(),
                    ttl_ms,
                    stale_ms,
                )
            });
            ctx.stage.set(Stage::Authorized);
            admit(req, ctx, segment, max_connections)
        }
        Authorized::Denied { reason } => {
            ngx_log_error!(
                NGX_LOG_ERR,
                req.log(),
                "stream_autostart: {} refused for channel \"{}\" (403): {}",
                describe(token),
                ctx.channel,
                esc(&reason)
            );
            TOKENS.with(|t| {
                t.borrow_mut().insert(
                    &lc.supervisor().path,
                    token,
                    Verdict::Denied { reason },
                    now_ms(),
                    lc.deny_ms(),
                )
            });
            let rc = req.refuse(Status::Denied);
            ctx.finish(Some(Status::Denied), rc);
            rc
        }
        Authorized::Unavailable => {
            // The store is down: a grant this worker saw for this very
            // token and supervisor stands in for its stale window.
            let stale = if outcome::store_down(&result) {
                TOKENS.with(|t| {
                    t.borrow_mut()
                        .stale_grant(&lc.supervisor().path, token, now_ms())
                })
            } else {
                None
            };
            if let Some((user, max_connections, first)) = stale {
                if first {
                    let why = result.as_ref().map_or("", |r| r.message());
                    ngx_log_error!(
                        NGX_LOG_WARN,
                        req.log(),
                        "stream_autostart: supervisor {} cannot check tokens (unavailable: {}); {} keeps its expired grant for channel \"{}\" (stale window of stream_autostart_token_cache)",
                        lc.supervisor().text,
                        esc(why),
                        describe(token),
                        ctx.channel
                    );
                }
                *ctx.user.borrow_mut() = user;
                ctx.stage.set(Stage::Authorized);
                return admit(req, ctx, segment, max_connections);
            }
            let why = match &result {
                Ok(reply) => format!(
                    "cannot check tokens ({}: {})",
                    reply.code().map_or("?", ErrorCode::as_str),
                    reply.message()
                ),
                Err(e) => format!("{e} while checking a token"),
            };
            ngx_log_error!(
                NGX_LOG_ERR,
                req.log(),
                "stream_autostart: supervisor {} {} for channel \"{}\", answering 503",
                lc.supervisor().text,
                esc(&why),
                ctx.channel
            );
            let rc = req.refuse(Status::Unavailable);
            ctx.finish(Some(Status::Unavailable), rc);
            rc
        }
    }
}

/// The channel id, validated; a refused one ends the request with 400.
pub fn eval_channel(req: &mut Req<'_>, cv: Cv) -> Result<String, ngx_int_t> {
    let Some(bytes) = req.eval(cv) else {
        return Err(NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t);
    };
    match channel_id::validate(bytes) {
        Ok(id) => Ok(id.to_string()),
        Err(why) => {
            ngx_log_error!(
                NGX_LOG_ERR,
                req.log(),
                "stream_autostart: refusing channel id \"{}\" (400): {}",
                bytes.escape_ascii(),
                why
            );
            Err(match Ctx::get(req) {
                Some(ctx) => {
                    let rc = req.refuse(Status::Invalid);
                    ctx.finish(Some(Status::Invalid), rc);
                    rc
                }
                None => refuse(req, "", &[], Status::Invalid),
            })
        }
    }
}

/// The viewer's token (decoded), or `None` when there is none.
fn eval_token(req: &mut Req<'_>) -> Option<Vec<u8>> {
    let raw = match req.conf().token {
        None => req.arg(b"token")?,
        Some(cv) => req.eval(cv)?,
    };
    if raw.is_empty() {
        return None;
    }
    percent_decode(raw).filter(|t| !t.is_empty())
}
