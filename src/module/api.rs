//! Content of `stream_autostart_api` locations: the operator API, answered
//! through the supervisor's socket (routes and JSON are in `crate::api`).

use ngx::ffi::{
    ngx_http_request_t, ngx_int_t, NGX_DONE, NGX_HTTP_INTERNAL_SERVER_ERROR,
    NGX_HTTP_SPECIAL_RESPONSE, NGX_LOG_ERR, NGX_LOG_INFO, NGX_OK,
};
use ngx::ngx_log_error;
use shared::protocol::Op;

use super::conf::ENSURE_SLACK_MS;
use super::ctx::{Ctx, Resume, Stage};
use super::mailbox::Outcome;
use super::park::{call, park};
use super::request::{content_handler, BodyTooLarge, Req};
use crate::api::{self, ApiError, Route};
use crate::api_guard;
use crate::log_text::esc;
use crate::outcome;

const JSON: &str = "application/json";
const CALL_TIMEOUT_MS: u64 = 5_000;

pub unsafe extern "C" fn api_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls content handlers with the live request.
    unsafe { content_handler(r, content) }
}

fn send_error(req: &mut Req<'_>, e: &ApiError) -> ngx_int_t {
    // Who may not ask at all is worth an operator's attention; a wrong
    // path or body is the caller's business.
    let level = match e.status {
        401 | 403 | 415 => NGX_LOG_ERR,
        _ => NGX_LOG_INFO,
    };
    ngx_log_error!(
        level,
        req.log(),
        "stream_autostart api: {} ({}): {}",
        e.code,
        e.status,
        esc(&e.message)
    );
    if let Some(allow) = e.allow {
        req.add_header("Allow", allow);
    }
    if e.status == 401 {
        req.add_header("WWW-Authenticate", "Bearer");
    }
    req.send_bytes(e.status, JSON, &api::error_json(e))
}

/// Everything decided before any supervisor call: who asks (origin, API
/// key), what (route), and how (JSON for writes).
fn admit(req: &Req<'_>, method: &str, path: &str) -> Result<Route, ApiError> {
    api_guard::check_origin(
        req.header(b"origin"),
        req.header(b"sec-fetch-site"),
        req.scheme(),
        req.host(),
    )?;
    let key = req.conf().api_key.as_ref().map(|k| &k.0[..]);
    api_guard::check_key(key, req.header(b"authorization"), req.header(b"x-api-key"))?;
    let route = api::route(method, path)?;
    api_guard::check_content_type(method, req.header(b"content-type"))?;
    Ok(route)
}

/// Completes a route with what its query says (`sessions?user=`).
fn with_query(req: &mut Req<'_>, route: Route) -> Result<Route, ApiError> {
    if route != Route::Sessions(None) {
        return Ok(route);
    }
    let Some(raw) = req.arg(b"user") else {
        return Ok(route);
    };
    let user = shared::token::percent_decode(raw)
        .and_then(|u| String::from_utf8(u).ok())
        .ok_or_else(|| api::err(400, "bad_request", "\"user\" is not a valid UTF-8 name"))?;
    Ok(Route::Sessions(Some(api::checked_user(&user)?)))
}

fn content(req: &mut Req<'_>) -> ngx_int_t {
    let method = String::from_utf8_lossy(req.method_name()).into_owned();
    let path = String::from_utf8_lossy(req.uri()).into_owned();
    let route = match admit(req, &method, &path).and_then(|r| with_query(req, r)) {
        Ok(route) => route,
        Err(e) => {
            let rc = req.discard_body();
            if rc != NGX_OK as ngx_int_t {
                return rc;
            }
            return send_error(req, &e);
        }
    };
    let channel = match &route {
        Route::Start(Some(id)) | Route::Stream(id) => id.clone(),
        _ => String::new(),
    };
    let Some(ctx) = Ctx::get_or_create(req, &channel) else {
        return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
    };
    *ctx.api.borrow_mut() = Some((route.clone(), channel.clone()));
    if route.needs_body() {
        // Bodies are small JSON: nginx keeps them in memory (up to
        // client_body_buffer_size), and a bigger one is refused. Reading
        // holds the request until it is finalized.
        let rc = req.read_body(Some(body_read));
        if rc >= NGX_HTTP_SPECIAL_RESPONSE as ngx_int_t {
            return rc;
        }
        return NGX_DONE as ngx_int_t;
    }
    let rc = req.discard_body();
    if rc != NGX_OK as ngx_int_t {
        return rc;
    }
    req.hold();
    call_supervisor(req, ctx, &route, channel, None, None);
    NGX_DONE as ngx_int_t
}

/// The request body has been read.
unsafe extern "C" fn body_read(r: *mut ngx_http_request_t) {
    // SAFETY: nginx calls the body handler with the live request.
    let Some(mut req) = (unsafe { Req::from_raw(r) }) else {
        return;
    };
    let route = Ctx::get(&req).and_then(|ctx| Some((ctx, ctx.api.borrow().clone()?.0)));
    let Some((ctx, route)) = route else {
        req.finalize(NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t);
        return;
    };
    if route == Route::EndSession {
        let parsed = match req.body() {
            Ok(body) => api::parse_end_body(&body),
            Err(BodyTooLarge) => Err(api::err(
                413,
                "too_large",
                "request body larger than client_body_buffer_size",
            )),
        };
        match parsed {
            Ok(b) => {
                let op = Op::EndSession {
                    user: b.user,
                    channel: b.channel,
                    client: b.client,
                };
                send(&mut req, ctx, &route, String::new(), op, CALL_TIMEOUT_MS);
            }
            Err(e) => {
                let rc = send_error(&mut req, &e);
                req.finalize(rc);
            }
        }
        return;
    }
    let parsed = match req.body() {
        Ok(body) => api::parse_body(&body, &route),
        Err(BodyTooLarge) => Err(api::err(
            413,
            "too_large",
            "request body larger than client_body_buffer_size",
        )),
    };
    match parsed {
        Ok((channel, source, quality)) => {
            call_supervisor(&mut req, ctx, &route, channel, source, quality)
        }
        Err(e) => {
            let rc = send_error(&mut req, &e);
            req.finalize(rc);
        }
    }
}

fn call_supervisor(
    req: &mut Req<'_>,
    ctx: &Ctx,
    route: &Route,
    channel: String,
    source_url: Option<String>,
    quality: Option<String>,
) {
    let lc = req.conf();
    let (op, timeout) = match route {
        Route::Start(_) => (
            Op::Start {
                channel: channel.clone(),
                wait_ms: lc.wait_ms(),
                source_url,
                quality,
            },
            lc.wait_ms() + ENSURE_SLACK_MS,
        ),
        Route::Stop => (
            Op::Stop {
                channel: channel.clone(),
            },
            CALL_TIMEOUT_MS + 5_000,
        ),
        Route::Restart => (
            Op::Restart {
                channel: channel.clone(),
                wait_ms: lc.wait_ms(),
            },
            // The stop first, then a start.
            lc.wait_ms() + ENSURE_SLACK_MS + CALL_TIMEOUT_MS,
        ),
        Route::Active => (Op::List, CALL_TIMEOUT_MS),
        Route::Channels => (Op::Overview, CALL_TIMEOUT_MS),
        Route::Stream(id) => (
            Op::Status {
                channel: Some(id.clone()),
            },
            CALL_TIMEOUT_MS,
        ),
        Route::Sessions(user) => (Op::Sessions { user: user.clone() }, CALL_TIMEOUT_MS),
        // Its op is made from the body (body_read).
        Route::EndSession => (
            Op::EndSession {
                user: String::new(),
                channel: None,
                client: None,
            },
            CALL_TIMEOUT_MS,
        ),
    };
    send(req, ctx, route, channel, op, timeout);
}

/// Sends `op` for `route` and parks the request until the reply.
fn send(req: &mut Req<'_>, ctx: &Ctx, route: &Route, channel: String, op: Op, timeout: u64) {
    let lc = req.conf();
    *ctx.api.borrow_mut() = Some((route.clone(), channel));
    ctx.stage.set(Stage::Waiting);
    park(req, ctx, Resume::Content(answered));
    call(ctx, &lc.supervisor(), op, timeout, Outcome::Api);
}

/// The supervisor answered (or did not): the JSON reply.
fn answered(req: &mut Req<'_>, ctx: &Ctx, outcome: Outcome) -> ngx_int_t {
    let Outcome::Api(result) = outcome else {
        return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
    };
    ctx.cancel();
    let (route, channel) = ctx
        .api
        .borrow()
        .clone()
        .unwrap_or((Route::Active, String::new()));
    let status = match (&route, outcome::ensure(&result, false)) {
        (Route::Start(_) | Route::Restart, Ok(started)) => Some(started),
        (_, Err(refusal)) => Some(refusal.status),
        _ => None,
    };
    ctx.status.set(status);
    match result {
        Ok(reply) => {
            let (status, body) = api::reply_json(&route, &channel, &reply);
            if status >= 500 {
                ngx_log_error!(
                    NGX_LOG_ERR,
                    req.log(),
                    "stream_autostart api: channel \"{}\": {} ({})",
                    channel,
                    esc(reply.message()),
                    status
                );
            }
            req.send_bytes(status, JSON, &body)
        }
        Err(e) => {
            let refusal = outcome::call_error(&e);
            let err = api::err(
                refusal.http(),
                outcome::api_call_error_code(&e),
                format!("supervisor {}: {e}", req.conf().supervisor().text),
            );
            ngx_log_error!(
                NGX_LOG_ERR,
                req.log(),
                "stream_autostart api: {} ({})",
                esc(&err.message),
                err.status
            );
            req.send_bytes(err.status, JSON, &api::error_json(&err))
        }
    }
}
