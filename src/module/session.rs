//! The session step of the access phase, after a grant, in playlist and
//! segment locations: the supervisor keeps who watches what from where.
//! A user with a connection limit (`max_connections`) is admitted only
//! once the supervisor says so: the request parks for the `session` reply
//! (never blocking the worker) and fails closed (403 `limit`, else 503).
//! An unlimited user's session is only reported, fire and forget, at most
//! every few seconds per session and worker, to feed the session list.

use core::cell::RefCell;

use ngx::async_::spawn;
use ngx::ffi::{ngx_int_t, NGX_LOG_ERR, NGX_LOG_WARN, NGX_OK};
use ngx::ngx_log_error;
use shared::protocol::{ErrorCode, Op};

use super::client;
use super::ctx::{Ctx, Resume, Stage};
use super::mailbox::{CallResult, Outcome};
use super::park::{call, park};
use super::request::{now_ms, Req};
use crate::log_text::esc;
use crate::outcome::{self, Status};
use crate::session_key;
use crate::session_limiter::{SessionLimiter, FAILURE_PAUSE_MS, REPORT_INTERVAL_MS};

/// Deadline for a limited user's `session` round trip: past it, 503.
const SESSION_TIMEOUT_MS: u64 = 5_000;
const REPORT_TIMEOUT_MS: u64 = 2_000;

thread_local! {
    static REPORTS: RefCell<SessionLimiter> = RefCell::new(SessionLimiter::default());
}

/// What the step decided.
pub enum Step {
    /// Go on (unlimited, reported if due).
    Admitted,
    /// Parked until the supervisor answers (return NGX_AGAIN).
    Parked,
}

/// The client key of this request: `stream_autostart_session_key`'s
/// value, else `$remote_addr` and `User-Agent` (see `crate::session_key`).
/// An empty value (a header the player did not send) falls back too: one
/// shared empty key would make every device of a user one client.
fn client_key(req: &mut Req<'_>) -> String {
    if let Some(cv) = req.conf().session_key {
        if let Some(v) = req.eval(cv).filter(|v| !v.is_empty()) {
            return session_key::custom_key(v);
        }
    }
    let agent = req.header(b"user-agent").unwrap_or_default();
    session_key::client_key(req.remote_addr(), agent)
}

/// Runs the step for a granted request of `ctx.user` on `ctx.channel`.
pub fn step(req: &mut Req<'_>, ctx: &Ctx, max_connections: Option<u32>) -> Step {
    let user = ctx.user.borrow().clone();
    if user.is_empty() || ctx.channel.is_empty() {
        return Step::Admitted;
    }
    let client = client_key(req);
    *ctx.client.borrow_mut() = client.clone();
    let lc = req.conf();
    if max_connections.is_none() {
        report(req, user, ctx.channel.clone(), client);
        return Step::Admitted;
    }
    ctx.stage.set(Stage::Admitting);
    park(req, ctx, Resume::Phases);
    let op = Op::Session {
        user,
        channel: ctx.channel.clone(),
        client,
    };
    call(
        ctx,
        &lc.supervisor(),
        op,
        SESSION_TIMEOUT_MS,
        Outcome::Session,
    );
    Step::Parked
}

/// The supervisor answered a limited user's `session` (or did not):
/// NGX_OK to go on, else the refusal's status, logged with why.
pub fn answered(req: &mut Req<'_>, ctx: &Ctx, result: CallResult) -> ngx_int_t {
    req.block_reading();
    drop(ctx.task.borrow_mut().take());
    match outcome::session(&result) {
        Ok(()) => {
            ctx.stage.set(Stage::Authorized);
            NGX_OK as ngx_int_t
        }
        Err((status, why)) => {
            let user = ctx.user.borrow().clone();
            if status == Status::Unavailable {
                ngx_log_error!(
                    NGX_LOG_ERR,
                    req.log(),
                    "stream_autostart: supervisor {} cannot check the viewing session of user \"{}\" on channel \"{}\" ({}), answering 503",
                    req.conf().supervisor().text,
                    esc(&user),
                    ctx.channel,
                    esc(&why)
                );
            } else {
                ngx_log_error!(
                    NGX_LOG_ERR,
                    req.log(),
                    "stream_autostart: user \"{}\" refused for channel \"{}\" ({}): {}",
                    esc(&user),
                    ctx.channel,
                    status.http(),
                    esc(&why)
                );
            }
            let rc = req.refuse(status);
            ctx.finish(Some(status), rc);
            rc
        }
    }
}

/// Tells the supervisor an unlimited user watches, when due; nothing
/// waits for it.
fn report(req: &Req<'_>, user: String, channel: String, client: String) {
    let addr = req.conf().supervisor().into_owned();
    let due = REPORTS.with(|r| {
        r.borrow_mut().due(
            &addr.path,
            &user,
            &channel,
            &client,
            now_ms(),
            REPORT_INTERVAL_MS,
        )
    });
    if !due {
        return;
    }
    spawn(async move {
        let op = Op::Session {
            user: user.clone(),
            channel: channel.clone(),
            client: client.clone(),
        };
        let problem = match client::call(&addr, op, REPORT_TIMEOUT_MS).await {
            Ok(reply) if reply.ok => None,
            // Ended by an operator: only limited users are held to it.
            Ok(reply) if reply.code() == Some(ErrorCode::Limit) => None,
            Ok(reply) => Some(reply.message().to_string()),
            Err(e) => Some(e.to_string()),
        };
        if let Some(problem) = problem {
            // Pause reports to this supervisor (an older one answers every
            // report with an error); warn once per pause.
            let first = REPORTS.with(|r| {
                let mut r = r.borrow_mut();
                r.reset(&addr.path, &user, &channel, &client);
                r.failed(&addr.path, now_ms(), FAILURE_PAUSE_MS)
            });
            if first {
                ngx_log_error!(
                    NGX_LOG_WARN,
                    ngx::log::ngx_cycle_log().as_ptr(),
                    "stream_autostart: session report of user \"{}\" on channel \"{}\" via {}: {}; no session reports to it from this worker for {} s",
                    esc(&user),
                    channel,
                    addr.text,
                    esc(&problem),
                    FAILURE_PAUSE_MS / 1000
                );
            }
        }
    })
    .detach();
}
