//! Content of `stream_autostart_metrics` locations: every worker's counters
//! and the supervisor's metrics (its `metrics` op, on the event loop) in
//! one Prometheus text. A supervisor that does not answer leaves its
//! families out and `stream_autostart_supervisor_up` at 0; the module's are
//! answered anyway. Also the log-phase handler that counts each request's
//! outcome.

use ngx::ffi::{
    ngx_http_request_t, ngx_int_t, NGX_DONE, NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_LOG_ERR, NGX_OK,
};
use ngx::ngx_log_error;
use shared::protocol::Op;

use super::ctx::{Ctx, Resume, Stage};
use super::mailbox::Outcome;
use super::metrics_zone;
use super::park::{call, park};
use super::request::{content_handler, Req};
use crate::log_text::esc;
use crate::metrics_text::{self, CONTENT_TYPE};

/// Short enough that a scrape (Prometheus waits 10 s by default) still
/// gets the module's families from a supervisor that hangs.
const CALL_TIMEOUT_MS: u64 = 3_000;

pub unsafe extern "C" fn metrics_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls content handlers with the live request.
    unsafe { content_handler(r, content) }
}

fn content(req: &mut Req<'_>) -> ngx_int_t {
    if let Err(rc) = req.accept_get() {
        return rc;
    }
    let Some(ctx) = Ctx::get_or_create(req, "") else {
        return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
    };
    let lc = req.conf();
    ctx.stage.set(Stage::Waiting);
    req.hold();
    park(req, ctx, Resume::Content(answered));
    call(
        ctx,
        &lc.supervisor(),
        Op::Metrics,
        CALL_TIMEOUT_MS,
        Outcome::Api,
    );
    NGX_DONE as ngx_int_t
}

/// The supervisor answered (or did not): both parts.
fn answered(req: &mut Req<'_>, ctx: &Ctx, outcome: Outcome) -> ngx_int_t {
    let Outcome::Api(result) = outcome else {
        return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
    };
    ctx.cancel();
    let supervisor = match metrics_text::supervisor_part(result) {
        Ok(text) => Some(text),
        Err(why) => {
            ngx_log_error!(
                NGX_LOG_ERR,
                req.log(),
                "stream_autostart metrics: supervisor {} {}; answering the module's metrics with stream_autostart_supervisor_up 0",
                req.conf().supervisor().text,
                esc(&why)
            );
            None
        }
    };
    let snapshot = metrics_zone::snapshot(req.main_conf());
    let body = metrics_text::render(&snapshot, supervisor.as_deref());
    req.send_bytes(200, CONTENT_TYPE, body.as_bytes())
}

/// Log phase: a request the module gave a `$stream_autostart_status`
/// counts under it.
pub unsafe extern "C" fn count_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls log handlers with the live request.
    let Some(req) = (unsafe { Req::from_raw(r) }) else {
        return NGX_OK as ngx_int_t;
    };
    if let (Some(slot), Some(status)) = (
        metrics_zone::slot(),
        Ctx::get(&req).and_then(|c| c.status.get()),
    ) {
        slot.request(status);
    }
    NGX_OK as ngx_int_t
}
