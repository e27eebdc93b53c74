//! Cluster mode, segment requests: a granted segment that is not here, of
//! a channel another node runs, is fetched from that node. The owner is
//! the one this worker learnt from a playlist request (`cluster`), else
//! the local supervisor is asked (`locate`, answered from the lease; it
//! starts nothing) while the request is parked: a worker that never saw
//! the playlist request (another worker, or after a reload) finds it too.
//! What the worker remembers, and for how long: src/owner_cache.rs.

use ngx::ffi::{ngx_int_t, NGX_AGAIN, NGX_DONE, NGX_LOG_ERR, NGX_LOG_INFO};
use ngx::ngx_log_error;
use shared::protocol::Op;

use super::cluster;
use super::ctx::{Ctx, Resume, Stage};
use super::mailbox::{CallResult, Outcome};
use super::park::{call, park};
use super::request::Req;
use crate::log_text::esc;
use crate::outcome::Status;
use crate::owner_cache::Known;
use crate::segment_locate::{segment, Located};

/// Deadline for a `locate` round trip, as for the other viewer calls.
const LOCATE_TIMEOUT_MS: u64 = 5_000;

/// What became of the request.
pub enum Step {
    /// Served from here (the file, or its 404).
    Local,
    /// Answered, diverted or parked: the access handler's status.
    Done(ngx_int_t),
}

/// A segment request that passed its checks: the owner's if the file is
/// not here and another node runs the channel. Only in locations with
/// `stream_autostart_cluster_proxy`.
pub fn segment_elsewhere(req: &mut Req<'_>, ctx: &Ctx) -> Step {
    if req.conf().cluster_proxy.is_none() {
        return Step::Local;
    }
    match req.mapped_path() {
        Some(path) if !path.exists() => {}
        _ => return Step::Local,
    }
    let lc = req.conf();
    match cluster::known(&lc.supervisor().path, &ctx.channel) {
        Some(Known::Owner(owner)) => return send(req, ctx, &owner),
        Some(Known::Local) => {
            not_here(
                req,
                ctx,
                "the channel runs on this node (as located just before)",
            );
            return Step::Local;
        }
        None => {}
    }
    ctx.stage.set(Stage::Locating);
    park(req, ctx, Resume::Phases);
    let op = Op::Locate {
        channel: ctx.channel.clone(),
    };
    call(
        ctx,
        &lc.supervisor(),
        op,
        LOCATE_TIMEOUT_MS,
        Outcome::Locate,
    );
    Step::Done(NGX_AGAIN as ngx_int_t)
}

/// The supervisor answered the `locate` (or did not).
pub fn located(req: &mut Req<'_>, ctx: &Ctx, result: CallResult) -> Step {
    req.block_reading();
    drop(ctx.task.borrow_mut().take());
    ctx.stage.set(Stage::Authorized);
    let lc = req.conf();
    match segment(&result) {
        Located::Owner(url) => {
            cluster::learn(
                &lc.supervisor().path,
                &ctx.channel,
                Known::Owner(url.clone()),
            );
            send(req, ctx, &url)
        }
        Located::Local => {
            // A burst of misses of a local channel costs one `locate`.
            cluster::learn(&lc.supervisor().path, &ctx.channel, Known::Local);
            not_here(req, ctx, "the channel runs on this node");
            Step::Local
        }
        Located::Here(why) => {
            not_here(req, ctx, &why);
            Step::Local
        }
        Located::Unknown(why) => {
            ngx_log_error!(
                NGX_LOG_ERR,
                req.log(),
                "stream_autostart: segment of channel \"{}\" is not here and cannot be located ({}), answering 503",
                ctx.channel,
                esc(&why)
            );
            let rc = req.refuse(Status::Unavailable);
            ctx.finish(Some(Status::Unavailable), rc);
            Step::Done(rc)
        }
    }
}

/// The file's absence stands (404), and why.
fn not_here(req: &Req<'_>, ctx: &Ctx, why: &str) {
    ngx_log_error!(
        NGX_LOG_INFO,
        req.log(),
        "stream_autostart: segment of channel \"{}\" is not here and {} (404)",
        ctx.channel,
        esc(why)
    );
}

fn send(req: &mut Req<'_>, ctx: &Ctx, owner: &str) -> Step {
    let Some(rc) = cluster::divert(req, ctx, owner, false) else {
        return Step::Local;
    };
    if rc == NGX_DONE as ngx_int_t {
        // The named location runs the request now; its context is gone.
        req.release_done();
        return Step::Done(rc);
    }
    ctx.finish(None, rc);
    Step::Done(rc)
}
