//! `stream_autostart_api`: the operator API, answered by nginx through the
//! supervisor's socket (routes and JSON are in `crate::api`).

use ngx::ffi::{
    ngx_http_discard_request_body, ngx_http_finalize_request, ngx_http_read_client_request_body,
    ngx_http_request_t, ngx_int_t, NGX_DONE, NGX_HTTP_SPECIAL_RESPONSE, NGX_LOG_ERR, NGX_LOG_INFO,
    NGX_OK,
};
use ngx::ngx_log_error;

use super::client::CallError;
use super::handler::{
    check_broken_connection, ctx_for, get_ctx, loc_conf, send_status_body, start_call, str_bytes,
    Ctx, Outcome, Stage, ENSURE_SLACK_MS,
};
use crate::api::{self, ApiError, Route};
use shared::protocol::{Op, Reply};

const JSON: &str = "application/json";
const CALL_TIMEOUT_MS: u64 = 5_000;

/// # Safety
/// `r` is a live request that has not sent its header.
unsafe fn send_error(r: *mut ngx_http_request_t, e: &ApiError) -> ngx_int_t {
    // SAFETY: per the contract.
    unsafe {
        ngx_log_error!(
            NGX_LOG_INFO,
            (*(*r).connection).log,
            "stream_autostart api: {} ({}): {}",
            e.code,
            e.status,
            e.message
        );
        send_status_body(r, e.status, JSON, &api::error_json(e))
    }
}

/// Content handler of `stream_autostart_api` locations.
pub unsafe extern "C" fn api_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls content handlers with a live request.
    unsafe {
        let method = String::from_utf8_lossy(str_bytes(&(*r).method_name)).into_owned();
        let path = String::from_utf8_lossy(str_bytes(&(*r).uri)).into_owned();
        let route = match api::route(&method, &path) {
            Ok(route) => route,
            Err(e) => {
                let rc = ngx_http_discard_request_body(r);
                if rc != NGX_OK as ngx_int_t {
                    return rc;
                }
                return send_error(r, &e);
            }
        };
        let channel = match &route {
            Route::Start(Some(id)) | Route::Stream(id) => id.clone(),
            _ => String::new(),
        };
        let Some(ctx) = ctx_for(r, &channel, &[]) else {
            return ngx::ffi::NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
        };
        *ctx.api.borrow_mut() = Some((route.clone(), channel.clone()));
        if route.needs_body() {
            // Bodies are small JSON: nginx keeps them in memory (up to
            // client_body_buffer_size), and a bigger one is refused.
            let rc = ngx_http_read_client_request_body(r, Some(body_read));
            if rc >= NGX_HTTP_SPECIAL_RESPONSE as ngx_int_t {
                return rc;
            }
            return NGX_DONE as ngx_int_t;
        }
        let rc = ngx_http_discard_request_body(r);
        if rc != NGX_OK as ngx_int_t {
            return rc;
        }
        (*(*r).main).set_count((*(*r).main).count() + 1);
        call_supervisor(r, ctx, &route, channel, None, None);
        NGX_DONE as ngx_int_t
    }
}

/// The request body has been read (nginx holds a reference for us until
/// the request is finalized).
unsafe extern "C" fn body_read(r: *mut ngx_http_request_t) {
    // SAFETY: nginx calls the body handler with the live request whose Ctx
    // the content handler made.
    unsafe {
        let Some(ctx) = get_ctx(r) else {
            ngx_http_finalize_request(r, ngx::ffi::NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t);
            return;
        };
        let Some((route, _)) = ctx.api.borrow().clone() else {
            ngx_http_finalize_request(r, ngx::ffi::NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t);
            return;
        };
        let body = match body_bytes(r) {
            Ok(b) => b,
            Err(e) => {
                ngx_http_finalize_request(r, send_error(r, &e));
                return;
            }
        };
        match api::parse_body(&body, &route) {
            Ok((channel, source, quality)) => {
                call_supervisor(r, ctx, &route, channel, source, quality)
            }
            Err(e) => ngx_http_finalize_request(r, send_error(r, &e)),
        }
    }
}

/// The request body, if nginx kept it in memory.
///
/// # Safety
/// `r` is a live request whose body has been read.
unsafe fn body_bytes(r: *mut ngx_http_request_t) -> Result<Vec<u8>, ApiError> {
    let too_big = || ApiError {
        status: 413,
        code: "too_large",
        message: "request body larger than client_body_buffer_size".into(),
    };
    // SAFETY: per the contract; the chain's buffers are in memory unless
    // the body went to a temporary file, which we refuse.
    unsafe {
        let rb = (*r).request_body;
        if rb.is_null() {
            return Ok(Vec::new());
        }
        if !(*rb).temp_file.is_null() {
            return Err(too_big());
        }
        let mut out = Vec::new();
        let mut cl = (*rb).bufs;
        while !cl.is_null() {
            let b = (*cl).buf;
            if (*b).in_file() != 0 {
                return Err(too_big());
            }
            let len = (*b).last.offset_from((*b).pos) as usize;
            if len > 0 {
                out.extend_from_slice(core::slice::from_raw_parts((*b).pos, len));
            }
            cl = (*cl).next;
        }
        Ok(out)
    }
}

/// # Safety
/// `r` is the live request owning `ctx`.
unsafe fn call_supervisor(
    r: *mut ngx_http_request_t,
    ctx: &Ctx,
    route: &Route,
    channel: String,
    source_url: Option<String>,
    quality: Option<String>,
) {
    // SAFETY: per the contract.
    unsafe {
        let lc = loc_conf(r);
        let (op, timeout) = match route {
            Route::Start(_) => (
                Op::Start {
                    channel: channel.clone(),
                    wait_ms: lc.wait_ms as u64,
                    source_url,
                    quality,
                },
                lc.wait_ms as u64 + ENSURE_SLACK_MS,
            ),
            Route::Stop => (
                Op::Stop {
                    channel: channel.clone(),
                },
                CALL_TIMEOUT_MS + 5_000,
            ),
            Route::Active => (Op::List, CALL_TIMEOUT_MS),
            Route::Stream(id) => (
                Op::Status {
                    channel: Some(id.clone()),
                },
                CALL_TIMEOUT_MS,
            ),
        };
        *ctx.api.borrow_mut() = Some((route.clone(), channel));
        ctx.stage.set(Stage::Ensuring);
        (*r).read_event_handler = Some(check_broken_connection);
        start_call(ctx, lc, op, timeout, Outcome::Api);
    }
}

/// The supervisor answered (or did not): the JSON reply.
///
/// # Safety
/// `r` is the live request owning `ctx`.
pub(super) unsafe fn finish(
    r: *mut ngx_http_request_t,
    ctx: &Ctx,
    result: Result<Reply, CallError>,
) -> ngx_int_t {
    // SAFETY: per the contract.
    unsafe {
        drop(ctx.task.borrow_mut().take());
        let (route, channel) = ctx
            .api
            .borrow()
            .clone()
            .unwrap_or((Route::Active, String::new()));
        let lc = loc_conf(r);
        match result {
            Ok(reply) => {
                let (status, body) = api::reply_json(&route, &channel, &reply);
                if status >= 500 {
                    ngx_log_error!(
                        NGX_LOG_ERR,
                        (*(*r).connection).log,
                        "stream_autostart api: channel \"{}\": {} ({})",
                        channel,
                        reply.message(),
                        status
                    );
                }
                send_status_body(r, status, JSON, &body)
            }
            Err(e) => {
                let (status, code) = match e {
                    CallError::Timeout => (504, "timeout"),
                    _ => (503, "unavailable"),
                };
                let err = ApiError {
                    status,
                    code,
                    message: format!("supervisor {}: {e}", lc.supervisor().text),
                };
                ngx_log_error!(
                    NGX_LOG_ERR,
                    (*(*r).connection).log,
                    "stream_autostart api: {} ({})",
                    err.message,
                    status
                );
                send_status_body(r, status, JSON, &api::error_json(&err))
            }
        }
    }
}
