//! Content of `stream_autostart_xtream` locations: the Xtream Codes API
//! (`player_api.php`) and its playlist (`get.php`, `stream_autostart_xtream
//! m3u`). The module takes the credentials and the few arguments the
//! clients send, and parks the request on the supervisor's `xtream` op,
//! which checks the login and renders the body. The password is never
//! logged: refusals name the user.

use ngx::ffi::{
    ngx_http_request_t, ngx_int_t, NGX_DONE, NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_LOG_ERR,
};
use ngx::ngx_log_error;
use shared::protocol::Op;

use super::conf::Mode;
use super::ctx::{Ctx, Resume, Stage};
use super::mailbox::Outcome;
use super::park::{call, park};
use super::request::{content_handler, Req};
use crate::log_text::{esc, Esc};
use crate::login_key;
use crate::outcome::Status;
use crate::xtream_args::{self, Answer, DENIED_BODY};

/// Deadline for an `xtream` round trip (a large catalog renders in it).
const XTREAM_TIMEOUT_MS: u64 = 10_000;

pub unsafe extern "C" fn xtream_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls content handlers with the live request.
    unsafe { content_handler(r, content) }
}

fn content(req: &mut Req<'_>) -> ngx_int_t {
    if let Err(rc) = req.accept_get() {
        return rc;
    }
    let Some(Mode::Xtream { m3u }) = req.conf().mode else {
        return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
    };
    let user = req.arg(b"username").map(xtream_args::form_decode);
    let password = req.arg(b"password").map(xtream_args::form_decode);
    let (user, password) = match (user, password) {
        (Some(Some(u)), Some(Some(p))) if !u.is_empty() && !p.is_empty() => (u, p),
        (Some(None), _) | (_, Some(None)) => {
            return refuse(req, Status::Invalid, "a malformed username or password");
        }
        _ => return refuse(req, Status::NoToken, "no username and password"),
    };
    if let Err(why) = login_key::check(user.as_bytes(), password.as_bytes()) {
        ngx_log_error!(
            NGX_LOG_ERR,
            req.log(),
            "stream_autostart: xtream request of user \"{}\" refused (400): {}",
            Esc(&user.as_bytes()[..user.len().min(login_key::MAX_LEN)]),
            why
        );
        return finish(req, Status::Invalid);
    }
    let action = if m3u {
        Ok("m3u".to_string())
    } else {
        xtream_args::action(req.arg(b"action").unwrap_or_default())
    };
    let params =
        action.and_then(|a| xtream_args::params(|name| req.arg(name.as_bytes())).map(|p| (a, p)));
    let (action, params) = match params {
        Ok(pair) => pair,
        Err(why) => {
            ngx_log_error!(
                NGX_LOG_ERR,
                req.log(),
                "stream_autostart: xtream request of user \"{}\" refused (400): {}",
                esc(&user),
                esc(&why)
            );
            return finish(req, Status::Invalid);
        }
    };
    let host = req.host().unwrap_or_default();
    let base_url = match xtream_args::base_url(req.scheme(), host) {
        Ok(url) => url,
        Err(why) => {
            ngx_log_error!(
                NGX_LOG_ERR,
                req.log(),
                "stream_autostart: xtream request refused (400): {}: \"{}\"",
                why,
                Esc(&host[..host.len().min(255)])
            );
            return finish(req, Status::Invalid);
        }
    };
    // The context keeps the login key (never shown) to name the user in
    // the log once the answer comes.
    let key = login_key::key(user.as_bytes(), password.as_bytes());
    let Some(ctx) = Ctx::create(req, "", &key, Stage::Waiting) else {
        return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
    };
    req.hold();
    park(req, ctx, Resume::Content(answered));
    let addr = req.conf().supervisor();
    let op = Op::Xtream {
        user,
        password,
        action,
        params,
        base_url,
    };
    call(ctx, &addr, op, XTREAM_TIMEOUT_MS, Outcome::Xtream);
    NGX_DONE as ngx_int_t
}

/// Refuses a request before any supervisor call, saying why.
fn refuse(req: &mut Req<'_>, status: Status, why: &str) -> ngx_int_t {
    ngx_log_error!(
        NGX_LOG_ERR,
        req.log(),
        "stream_autostart: xtream request with {} ({})",
        why,
        status.http()
    );
    finish(req, status)
}

fn finish(req: &mut Req<'_>, status: Status) -> ngx_int_t {
    let rc = req.refuse(status);
    if let Some(ctx) = Ctx::create(req, "", &[], Stage::Finished) {
        ctx.finish(Some(status), rc);
    }
    rc
}

fn answered(req: &mut Req<'_>, ctx: &Ctx, outcome: Outcome) -> ngx_int_t {
    let Outcome::Xtream(result) = outcome else {
        return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
    };
    ctx.cancel();
    let who = login_key::describe(&ctx.token);
    let m3u = matches!(req.conf().mode, Some(Mode::Xtream { m3u: true }));
    match xtream_args::answer(&result) {
        Answer::Body { body, content_type } => {
            if let Some(u) = login_key::user(&ctx.token) {
                *ctx.user.borrow_mut() = String::from_utf8_lossy(u).into_owned();
            }
            ctx.status.set(Some(xtream_args::SERVED));
            req.send_bytes(200, content_type, body.as_bytes())
        }
        Answer::Denied { reason } => {
            ngx_log_error!(
                NGX_LOG_ERR,
                req.log(),
                "stream_autostart: xtream login of {} refused (403): {}",
                who,
                esc(&reason)
            );
            ctx.status.set(Some(Status::Denied));
            if m3u {
                req.refuse(Status::Denied)
            } else {
                // What the clients read as "wrong login".
                req.send_bytes(403, "application/json", DENIED_BODY)
            }
        }
        Answer::Refused(refusal) => {
            let why = match &result {
                Ok(reply) => format!(
                    "{}: {}",
                    reply.code().map_or("no body in reply", |c| c.as_str()),
                    reply.message()
                ),
                Err(e) => e.to_string(),
            };
            ngx_log_error!(
                NGX_LOG_ERR,
                req.log(),
                "stream_autostart: xtream request of {}: supervisor {} {} ({}) ({})",
                who,
                req.conf().supervisor().text,
                refusal.reason,
                esc(&why),
                refusal.http()
            );
            ctx.status.set(Some(refusal.status));
            req.refuse(refusal.status)
        }
    }
}
