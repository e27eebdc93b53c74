//! Parking a request while it waits for the supervisor, and resuming it.
//! A parked request carries its own continuation (`Resume`), so this file
//! names no phase's handler. While parked, write events do nothing and
//! read events only notice a client that went away; the request resumes
//! only when a result is pending, and never after it was answered.

use core::ffi::c_void;

use ngx::async_::spawn;
use ngx::ffi::{ngx_event_t, ngx_http_request_t, NGX_HTTP_CLIENT_CLOSED_REQUEST, NGX_LOG_INFO};
use ngx::ngx_log_error;
use shared::protocol::Op;

use super::client;
use super::ctx::{Ctx, Resume, Stage};
use super::mailbox::{CallResult, Mailbox, Outcome};
use super::request::{run_posted_requests, Req};
use crate::supervisor_addr::SupervisorAddr;

/// Parks the request until `ctx` receives a result. A content handler that
/// parks also holds the request (`Req::hold`) and returns NGX_DONE; the
/// access handler returns NGX_AGAIN.
pub fn park(req: &mut Req<'_>, ctx: &Ctx, resume: Resume) {
    ctx.request.set(req.as_ptr());
    ctx.resume.set(Some(resume));
    req.set_read_handler(Some(client_check));
    req.ignore_write_events();
    let data = ctx as *const Ctx as *mut c_void;
    ctx.mailbox.arm(resume_handler, data, req.log());
}

/// Sends `op` to the supervisor; the result goes to `ctx`'s mailbox.
pub fn call(
    ctx: &Ctx,
    addr: &SupervisorAddr,
    op: Op,
    timeout_ms: u64,
    wrap: fn(CallResult) -> Outcome,
) {
    let addr = addr.clone();
    let mailbox: *const Mailbox = &ctx.mailbox;
    let task = spawn(async move {
        let result = client::call(&addr, op, timeout_ms).await;
        // SAFETY: the Ctx holding the mailbox outlives this future: its Drop
        // cancels the task (dropping the future unpolled) before the request
        // pool frees it.
        unsafe { (*mailbox).deliver(wrap(result)) }
    });
    *ctx.task.borrow_mut() = Some(task);
}

unsafe extern "C" fn resume_handler(ev: *mut ngx_event_t) {
    // SAFETY: park() armed this event with data = the Ctx, which lives in
    // its request's pool; the Ctx's mailbox unlinks the event when it is
    // dropped, so a running event means the Ctx and its request are live.
    let ctx = unsafe { &*((*ev).data as *const Ctx) };
    // SAFETY: ctx.request was set by park() to the request that owns this
    // Ctx, alive while the Ctx is; the Req is dropped before we return.
    let Some(mut req) = (unsafe { Req::from_raw(ctx.request.get()) }) else {
        return;
    };
    let c = req.connection();
    if ctx.stage.get() == Stage::Finished || !ctx.mailbox.pending() {
        return;
    }
    match ctx.resume.take() {
        None => return,
        Some(Resume::Phases) => req.run_phases(),
        Some(Resume::Content(finish)) => {
            let Some(outcome) = ctx.mailbox.take() else {
                return;
            };
            req.block_reading();
            let rc = finish(&mut req, ctx, outcome);
            ctx.finish(None, rc);
            req.finalize(rc);
        }
    }
    // SAFETY: nginx never frees connection structures (they return to the
    // cycle's free list) and run_posted_requests checks c->destroyed, so
    // this is sound after finalize, as in nginx's own upstream handlers.
    unsafe { run_posted_requests(c) };
}

/// Read handler while parked: a client that went away ends the wait (499).
unsafe extern "C" fn client_check(r: *mut ngx_http_request_t) {
    // SAFETY: nginx calls read handlers with the live request.
    let Some(mut req) = (unsafe { Req::from_raw(r) }) else {
        return;
    };
    if !req.client_gone() {
        return;
    }
    let status = NGX_HTTP_CLIENT_CLOSED_REQUEST as isize;
    let channel = match Ctx::get(&req) {
        Some(ctx) => {
            ctx.cancel();
            ctx.finish(None, status);
            ctx.channel.as_str()
        }
        None => "",
    };
    ngx_log_error!(
        NGX_LOG_INFO,
        req.log(),
        "stream_autostart: client closed the connection while waiting for channel \"{}\"",
        channel
    );
    req.set_connection_error();
    req.finalize(status);
}
