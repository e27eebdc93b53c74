//! The request path: the access-phase token check and the playlist content
//! handler, both of which may wait on the supervisor without blocking the
//! worker (the request is parked; a posted event resumes it).

use core::cell::{Cell, RefCell, UnsafeCell};
use core::ptr;
use std::path::PathBuf;

use ngx::async_::{spawn, Task};
use ngx::ffi::{
    ngx_chain_t, ngx_create_temp_buf, ngx_current_msec, ngx_delete_posted_event, ngx_event_t,
    ngx_http_arg, ngx_http_block_reading, ngx_http_complex_value, ngx_http_core_run_phases,
    ngx_http_discard_request_body, ngx_http_finalize_request, ngx_http_map_uri_to_path,
    ngx_http_output_filter, ngx_http_request_t, ngx_http_run_posted_requests, ngx_http_send_header,
    ngx_int_t, ngx_list_push, ngx_post_event, ngx_posted_events, ngx_str_t, ngx_table_elt_t,
    ngx_uint_t, NGX_AGAIN, NGX_DECLINED, NGX_DONE, NGX_ERROR, NGX_HTTP_BAD_GATEWAY,
    NGX_HTTP_BAD_REQUEST, NGX_HTTP_CLIENT_CLOSED_REQUEST, NGX_HTTP_FORBIDDEN,
    NGX_HTTP_GATEWAY_TIME_OUT, NGX_HTTP_GET, NGX_HTTP_HEAD, NGX_HTTP_INTERNAL_SERVER_ERROR,
    NGX_HTTP_NOT_ALLOWED, NGX_HTTP_NOT_FOUND, NGX_HTTP_SERVICE_UNAVAILABLE, NGX_HTTP_UNAUTHORIZED,
    NGX_LOG_ERR, NGX_LOG_INFO, NGX_LOG_WARN, NGX_OK,
};
use ngx::ngx_log_error;

use super::client::{call, CallError};
use super::conf::{module, LocConf, Mode};
use super::shared_ensure;
use super::variables::Field;
use crate::m3u_render;
use crate::playlist_cache::{Entry, PlaylistCache};
use crate::playlist_rewrite;
use crate::token_cache::{TokenCache, Verdict};
use crate::touch_limiter::TouchLimiter;
use shared::channel_id;
use shared::playlist;
use shared::protocol::ChannelEntry;
use shared::protocol::{ErrorCode, Op, Reply};
use shared::token::{mask_request_line, masked, percent_decode};

/// Deadline for an `authorize` round trip.
const AUTHORIZE_TIMEOUT_MS: u64 = 5_000;
/// Extra time beyond `stream_autostart_wait` for the supervisor's reply.
pub(super) const ENSURE_SLACK_MS: u64 = 3_000;
/// How often a worker tells the supervisor a ready channel is watched,
/// until the supervisor says (a third of its idle timeout).
const TOUCH_INTERVAL_MS: u64 = 10_000;
const TOUCH_TIMEOUT_MS: u64 = 2_000;
const RETRY_AFTER_SECS: &str = "5";
/// How long a worker reuses the channel catalog for the M3U.
const CATALOG_TTL_MS: u64 = 5_000;
const CATALOG_TIMEOUT_MS: u64 = 10_000;

thread_local! {
    static TOKENS: RefCell<TokenCache> = RefCell::new(TokenCache::default());
    static PLAYLISTS: RefCell<PlaylistCache> = RefCell::new(PlaylistCache::default());
    static TOUCHES: RefCell<TouchLimiter> = RefCell::new(TouchLimiter::default());
    static TOUCH_MS: Cell<u64> = const { Cell::new(TOUCH_INTERVAL_MS) };
    /// The channel catalog, per worker, with when it was fetched.
    static CATALOG: RefCell<Option<(u64, std::rc::Rc<Vec<ChannelEntry>>)>> = const { RefCell::new(None) };
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Stage {
    Authorizing,
    Authorized,
    Ensuring,
    Finished,
}

pub(super) enum Outcome {
    Authorize(Result<Reply, CallError>),
    Ensure(Result<Reply, CallError>),
    Catalog(Result<Reply, CallError>),
    Api(Result<Reply, CallError>),
}

/// Per-request state while a request waits on the supervisor. Lives in the
/// request pool; the pool cleanup drops it, which cancels the pending call.
pub(super) struct Ctx {
    request: *mut ngx_http_request_t,
    pub(super) channel: String,
    token: Vec<u8>,
    pub(super) stage: Cell<Stage>,
    outcome: RefCell<Option<Outcome>>,
    /// Posted when the call completes; its handler resumes the request.
    event: UnsafeCell<ngx_event_t>,
    playlist_path: RefCell<PathBuf>,
    waited_since: u64,
    /// For the log variables.
    status: Cell<&'static str>,
    user: RefCell<String>,
    wait_ms: Cell<Option<u64>>,
    /// `stream_autostart_api`: the route being answered and its channel
    /// (from the path, or from the body once read).
    pub(super) api: RefCell<Option<(crate::api::Route, String)>>,
    pub(super) task: RefCell<Option<Task<()>>>,
    /// The shared `ensure` this request waits on, if any.
    pub(super) group: RefCell<Option<std::rc::Rc<shared_ensure::Group>>>,
    /// It waits on a call another request started.
    joined: Cell<bool>,
}

impl Drop for Ctx {
    fn drop(&mut self) {
        // Cancelling drops the future (and its connection) right away, so it
        // can never touch this memory again.
        drop(self.task.get_mut().take());
        if let Some(group) = self.group.get_mut().take() {
            shared_ensure::leave(self, &group);
        }
        let ev = self.event.get();
        // SAFETY: the event is ours; if it is still queued, unlink it
        // before its memory goes with the request pool.
        unsafe {
            if (*ev).posted() != 0 {
                ngx_delete_posted_event(ev);
            }
        }
    }
}

pub(super) fn now_ms() -> u64 {
    // SAFETY: nginx updates this global on the worker's only thread.
    unsafe { ngx_current_msec as u64 }
}

/// # Safety
/// `r` is a live request.
pub(super) unsafe fn loc_conf<'a>(r: *mut ngx_http_request_t) -> &'a LocConf {
    // SAFETY: every location has our LocConf at our ctx_index.
    unsafe { &*(*(*r).loc_conf.add(module().ctx_index) as *const LocConf) }
}

/// # Safety
/// `r` is a live request.
pub(super) unsafe fn get_ctx<'a>(r: *mut ngx_http_request_t) -> Option<&'a Ctx> {
    // SAFETY: r->ctx has a slot per module; ours holds a Ctx or null.
    unsafe { (*(*r).ctx.add(module().ctx_index) as *const Ctx).as_ref() }
}

/// Creates the request's Ctx in its pool, with a cleanup that drops it.
///
/// # Safety
/// `r` is a live request.
unsafe fn create_ctx<'a>(
    r: *mut ngx_http_request_t,
    channel: &str,
    token: &[u8],
    stage: Stage,
) -> Option<&'a Ctx> {
    // SAFETY: ngx_pool_cleanup_add allocates `size` bytes for cln->data in
    // the request pool; we move the Ctx there and register its destructor,
    // which runs before the pool memory is released.
    unsafe {
        let cln = ngx::ffi::ngx_pool_cleanup_add((*r).pool, core::mem::size_of::<Ctx>());
        if cln.is_null() {
            return None;
        }
        let p = (*cln).data as *mut Ctx;
        p.write(Ctx {
            request: r,
            channel: channel.to_string(),
            token: token.to_vec(),
            stage: Cell::new(stage),
            outcome: RefCell::new(None),
            task: RefCell::new(None),
            group: RefCell::new(None),
            joined: Cell::new(false),
            event: UnsafeCell::new(core::mem::zeroed()),
            playlist_path: RefCell::new(PathBuf::new()),
            waited_since: now_ms(),
            status: Cell::new(""),
            user: RefCell::new(String::new()),
            wait_ms: Cell::new(None),
            api: RefCell::new(None),
        });
        (*cln).handler = Some(drop_ctx);
        let ev = (*p).event.get();
        (*ev).handler = Some(resume_handler);
        (*ev).data = p.cast();
        (*ev).log = (*(*r).connection).log;
        *(*r).ctx.add(module().ctx_index) = p.cast();
        Some(&*p)
    }
}

/// The value of a log variable for this request, if the module handled it.
///
/// # Safety
/// `r` is a live request.
pub(super) unsafe fn log_field(r: *mut ngx_http_request_t, field: Field) -> Option<Vec<u8>> {
    // SAFETY: per the contract.
    let ctx = unsafe { get_ctx(r)? };
    Some(match field {
        Field::Channel => ctx.channel.clone().into_bytes(),
        Field::User => ctx.user.borrow().clone().into_bytes(),
        Field::Status => ctx.status.get().as_bytes().to_vec(),
        Field::WaitMs => ctx.wait_ms.get()?.to_string().into_bytes(),
        Field::Token if ctx.token.is_empty() => return None,
        Field::Token => masked(&ctx.token).into_bytes(),
    })
}

/// The request's Ctx, created (already authorized) if it has none.
///
/// # Safety
/// `r` is a live request.
pub(super) unsafe fn ctx_for<'a>(
    r: *mut ngx_http_request_t,
    channel: &str,
    token: &[u8],
) -> Option<&'a Ctx> {
    // SAFETY: per the contract.
    unsafe {
        match get_ctx(r) {
            Some(ctx) => Some(ctx),
            None => create_ctx(r, channel, token, Stage::Authorized),
        }
    }
}

/// Replaces the token in the request line (what `$request` and the error
/// log's request context show) by its first four characters.
///
/// # Safety
/// `r` is a live request.
unsafe fn mask_token_in_logs(r: *mut ngx_http_request_t, lc: &LocConf) {
    let Some(arg) = lc.token_arg() else { return };
    // SAFETY: request_line points into the request's buffers; the masked
    // copy goes to the request pool, which outlives every log line.
    unsafe {
        let line = str_bytes(&(*r).request_line);
        let Some(masked_line) = mask_request_line(line, arg) else {
            return;
        };
        let p = ngx::ffi::ngx_pnalloc((*r).pool, masked_line.len()) as *mut u8;
        if p.is_null() {
            return;
        }
        ptr::copy_nonoverlapping(masked_line.as_ptr(), p, masked_line.len());
        (*r).request_line = ngx_str_t {
            len: masked_line.len(),
            data: p,
        };
    }
}

unsafe extern "C" fn drop_ctx(data: *mut core::ffi::c_void) {
    // SAFETY: registered by create_ctx for exactly this Ctx.
    unsafe { ptr::drop_in_place(data as *mut Ctx) }
}

/// Starts a supervisor call whose result resumes the request.
pub(super) fn start_call(
    ctx: &Ctx,
    lc: &LocConf,
    op: Op,
    timeout_ms: u64,
    wrap: fn(Result<Reply, CallError>) -> Outcome,
) {
    let addr = lc.supervisor().clone();
    let ctx_ptr: *const Ctx = ctx;
    let task = spawn(async move {
        let result = call(&addr, op, timeout_ms).await;
        // SAFETY: the Ctx outlives this future: its Drop cancels the task
        // (dropping the future unpolled) before the memory is freed.
        unsafe { complete(ctx_ptr, wrap(result)) }
    });
    *ctx.task.borrow_mut() = Some(task);
}

/// # Safety
/// `ctx` is live (see start_call).
pub(super) unsafe fn complete(ctx: *const Ctx, outcome: Outcome) {
    // SAFETY: per the contract; posting hands the event to nginx's loop,
    // which runs resume_handler after the current handler returns.
    unsafe {
        *(*ctx).outcome.borrow_mut() = Some(outcome);
        ngx_post_event((*ctx).event.get(), ptr::addr_of_mut!(ngx_posted_events));
    }
}

unsafe extern "C" fn resume_handler(ev: *mut ngx_event_t) {
    // SAFETY: ev is the Ctx's own event (data = the Ctx); the Ctx and its
    // request are alive, since dropping the Ctx unlinks the event.
    unsafe {
        let ctx = &*((*ev).data as *const Ctx);
        let r = ctx.request;
        let c = (*r).connection;
        let content = matches!(
            *ctx.outcome.borrow(),
            Some(Outcome::Ensure(_) | Outcome::Catalog(_) | Outcome::Api(_))
        );
        if content {
            let outcome = ctx.outcome.borrow_mut().take();
            ctx.stage.set(Stage::Finished);
            (*r).read_event_handler = Some(ngx_http_block_reading);
            let rc = match outcome {
                Some(Outcome::Ensure(result)) => finish_ensure(r, ctx, result),
                Some(Outcome::Catalog(result)) => finish_catalog(r, ctx, result),
                Some(Outcome::Api(result)) => super::api_handler::finish(r, ctx, result),
                _ => return,
            };
            ngx_http_finalize_request(r, rc);
        } else {
            // The access handler picks the outcome up.
            ngx_http_core_run_phases(r);
        }
        ngx_http_run_posted_requests(c);
    }
}

/// Read handler while a request waits: notices a client that went away,
/// cancels the wait and ends the request (499).
pub(super) unsafe extern "C" fn check_broken_connection(r: *mut ngx_http_request_t) {
    // SAFETY: nginx calls this with a live request; recv with MSG_PEEK only
    // looks at the socket.
    unsafe {
        let c = (*r).connection;
        let mut byte = 0u8;
        let n = libc::recv((*c).fd, ptr::addr_of_mut!(byte).cast(), 1, libc::MSG_PEEK);
        if n > 0 {
            return; // pipelined data, not a close
        }
        if n == -1 {
            let err = *libc::__errno_location();
            if err == libc::EAGAIN || err == libc::EINTR {
                return;
            }
        }
        let channel = get_ctx(r).map(|ctx| {
            drop(ctx.task.borrow_mut().take());
            let group = ctx.group.borrow_mut().take();
            if let Some(group) = group {
                shared_ensure::leave(ctx, &group);
            }
            ctx.stage.set(Stage::Finished);
            ctx.channel.clone()
        });
        ngx_log_error!(
            NGX_LOG_INFO,
            (*c).log,
            "stream_autostart: client closed the connection while waiting for channel \"{}\"",
            channel.unwrap_or_default()
        );
        (*c).set_error(1);
        ngx_http_finalize_request(r, NGX_HTTP_CLIENT_CLOSED_REQUEST as ngx_int_t);
    }
}

/// The channel id for this request, validated.
///
/// # Safety
/// `r` is a live request in a location with `stream_autostart`.
unsafe fn eval_channel(
    r: *mut ngx_http_request_t,
    cv: *mut ngx::ffi::ngx_http_complex_value_t,
) -> Result<String, ngx_int_t> {
    // SAFETY: cv was compiled at configuration time.
    unsafe {
        let mut v = ngx_str_t {
            len: 0,
            data: ptr::null_mut(),
        };
        if ngx_http_complex_value(r, cv, &mut v) != NGX_OK as ngx_int_t {
            return Err(NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t);
        }
        let bytes = str_bytes(&v);
        match channel_id::validate(bytes) {
            Ok(id) => Ok(id.to_string()),
            Err(why) => {
                ngx_log_error!(
                    NGX_LOG_ERR,
                    (*(*r).connection).log,
                    "stream_autostart: refusing channel id \"{}\" (400): {}",
                    bytes.escape_ascii(),
                    why
                );
                Err(NGX_HTTP_BAD_REQUEST as ngx_int_t)
            }
        }
    }
}

pub(super) fn str_bytes(v: &ngx_str_t) -> &[u8] {
    if v.len == 0 || v.data.is_null() {
        &[]
    } else {
        // SAFETY: nginx strings point at `len` initialised bytes.
        unsafe { core::slice::from_raw_parts(v.data, v.len) }
    }
}

/// The viewer's token (decoded), or `None` when there is none.
///
/// # Safety
/// `r` is a live request.
unsafe fn eval_token(r: *mut ngx_http_request_t, lc: &LocConf) -> Option<Vec<u8>> {
    // SAFETY: lc.token is null or compiled at configuration time.
    unsafe {
        let mut v = ngx_str_t {
            len: 0,
            data: ptr::null_mut(),
        };
        if lc.token.is_null() {
            let name = b"token";
            if ngx_http_arg(r, name.as_ptr() as *mut u8, name.len(), &mut v) != NGX_OK as ngx_int_t
            {
                return None;
            }
        } else if ngx_http_complex_value(r, lc.token, &mut v) != NGX_OK as ngx_int_t {
            return None;
        }
        let raw = str_bytes(&v);
        if raw.is_empty() {
            return None;
        }
        percent_decode(raw).filter(|t| !t.is_empty())
    }
}

/// Adds a response header whose key and value are static.
///
/// # Safety
/// `r` is a live request that has not sent its header.
unsafe fn add_header(r: *mut ngx_http_request_t, key: &'static str, value: &'static str) -> bool {
    // SAFETY: ngx_list_push returns an uninitialised element of the
    // headers_out list or null; we fill every field nginx reads.
    unsafe {
        let h = ngx_list_push(&mut (*r).headers_out.headers) as *mut ngx_table_elt_t;
        if h.is_null() {
            return false;
        }
        (*h).hash = 1;
        (*h).key = ngx_str_t {
            len: key.len(),
            data: key.as_ptr() as *mut u8,
        };
        (*h).value = ngx_str_t {
            len: value.len(),
            data: value.as_ptr() as *mut u8,
        };
        (*h).lowcase_key = ptr::null_mut();
        #[cfg(ngx_table_elt_next)]
        {
            (*h).next = ptr::null_mut();
        }
        true
    }
}

/// 503 with `Retry-After`, for "try again shortly" conditions.
///
/// # Safety
/// `r` is a live request that has not sent its header.
unsafe fn unavailable(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: per the contract.
    unsafe { add_header(r, "Retry-After", RETRY_AFTER_SECS) };
    NGX_HTTP_SERVICE_UNAVAILABLE as ngx_int_t
}

/// Access phase: channel id, then token (cache, else ask the supervisor).
/// In segment locations a valid token also counts as watching.
pub unsafe extern "C" fn access_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls phase handlers with a live request.
    unsafe {
        let lc = loc_conf(r);
        let (cv, segment) = match lc.mode() {
            None => return NGX_DECLINED as ngx_int_t,
            Some(Mode::Playlist(cv)) => (Some(cv), false),
            Some(Mode::Segment(cv)) => (Some(cv), true),
            Some(Mode::Catalog) => (None, false),
        };
        if let Some(ctx) = get_ctx(r) {
            let outcome = ctx.outcome.borrow_mut().take();
            return match outcome {
                Some(Outcome::Authorize(result)) => finish_authorize(r, ctx, result, segment),
                Some(other) => {
                    *ctx.outcome.borrow_mut() = Some(other);
                    NGX_AGAIN as ngx_int_t
                }
                None if ctx.stage.get() == Stage::Authorizing => NGX_AGAIN as ngx_int_t,
                None => NGX_OK as ngx_int_t,
            };
        }
        mask_token_in_logs(r, lc);
        let log = (*(*r).connection).log;
        let channel = match cv {
            Some(cv) => match eval_channel(r, cv) {
                Ok(c) => c,
                Err(rc) => return rc,
            },
            None => String::new(),
        };
        let Some(token) = eval_token(r, lc) else {
            ngx_log_error!(
                NGX_LOG_ERR,
                log,
                "stream_autostart: no token in the request for channel \"{}\" (401)",
                channel
            );
            if let Some(ctx) = create_ctx(r, &channel, &[], Stage::Finished) {
                ctx.status.set("no_token");
            }
            return NGX_HTTP_UNAUTHORIZED as ngx_int_t;
        };
        let cached = TOKENS.with(|t| t.borrow_mut().get(&token, now_ms()).cloned());
        match cached {
            Some(Verdict::Granted { user }) => {
                let Some(ctx) = ctx_for(r, &channel, &token) else {
                    return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
                };
                *ctx.user.borrow_mut() = user;
                if segment {
                    ctx.status.set("segment");
                    touch_if_due(lc, &channel);
                }
                return NGX_OK as ngx_int_t;
            }
            Some(Verdict::Denied { reason }) => {
                ngx_log_error!(
                    NGX_LOG_ERR,
                    log,
                    "stream_autostart: token {} refused for channel \"{}\" (403, cached): {}",
                    masked(&token),
                    channel,
                    reason
                );
                if let Some(ctx) = create_ctx(r, &channel, &token, Stage::Finished) {
                    ctx.status.set("denied");
                }
                return NGX_HTTP_FORBIDDEN as ngx_int_t;
            }
            None => {}
        }
        let Some(ctx) = create_ctx(r, &channel, &token, Stage::Authorizing) else {
            return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
        };
        (*r).read_event_handler = Some(check_broken_connection);
        start_call(
            ctx,
            lc,
            Op::Authorize {
                token: String::from_utf8_lossy(&token).into_owned(),
            },
            AUTHORIZE_TIMEOUT_MS,
            Outcome::Authorize,
        );
        NGX_AGAIN as ngx_int_t
    }
}

/// # Safety
/// `r` is the live request owning `ctx`.
unsafe fn finish_authorize(
    r: *mut ngx_http_request_t,
    ctx: &Ctx,
    result: Result<Reply, CallError>,
    segment: bool,
) -> ngx_int_t {
    // SAFETY: per the contract.
    unsafe {
        (*r).read_event_handler = Some(ngx_http_block_reading);
        drop(ctx.task.borrow_mut().take());
        let log = (*(*r).connection).log;
        let lc = loc_conf(r);
        let token = &ctx.token;
        match result {
            Ok(reply) if reply.ok => {
                let grant = lc.grant_ms as u64;
                let ttl = reply
                    .ttl_secs
                    .map_or(grant, |s| s.saturating_mul(1000).min(grant));
                let user = reply.user.unwrap_or_default();
                *ctx.user.borrow_mut() = user.clone();
                TOKENS.with(|t| {
                    t.borrow_mut()
                        .insert(token, Verdict::Granted { user }, now_ms(), ttl)
                });
                ctx.stage.set(Stage::Authorized);
                if segment {
                    ctx.status.set("segment");
                    touch_if_due(lc, &ctx.channel);
                }
                NGX_OK as ngx_int_t
            }
            Ok(reply) if reply.code() == Some(ErrorCode::Denied) => {
                let reason = reply.message().to_string();
                ngx_log_error!(
                    NGX_LOG_ERR,
                    log,
                    "stream_autostart: token {} refused for channel \"{}\" (403): {}",
                    masked(token),
                    ctx.channel,
                    reason
                );
                TOKENS.with(|t| {
                    t.borrow_mut().insert(
                        token,
                        Verdict::Denied { reason },
                        now_ms(),
                        lc.deny_ms as u64,
                    )
                });
                ctx.stage.set(Stage::Finished);
                ctx.status.set("denied");
                NGX_HTTP_FORBIDDEN as ngx_int_t
            }
            Ok(reply) => {
                ctx.stage.set(Stage::Finished);
                ctx.status.set("unavailable");
                let code = reply.code().map_or("?", ErrorCode::as_str);
                ngx_log_error!(
                    NGX_LOG_ERR,
                    log,
                    "stream_autostart: supervisor {} cannot check tokens ({}: {}), answering 503",
                    lc.supervisor().text,
                    code,
                    reply.message()
                );
                unavailable(r)
            }
            Err(e) => {
                ctx.stage.set(Stage::Finished);
                ctx.status.set("unavailable");
                ngx_log_error!(
                    NGX_LOG_ERR,
                    log,
                    "stream_autostart: supervisor {} {} while checking a token for channel \"{}\", answering 503",
                    lc.supervisor().text,
                    e,
                    ctx.channel
                );
                unavailable(r)
            }
        }
    }
}

/// Content handler of `stream_autostart` locations: serve the playlist if
/// it is ready, else have the supervisor start the channel and wait.
pub unsafe extern "C" fn content_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls content handlers with a live request.
    unsafe {
        if (*r).method as u32 & (NGX_HTTP_GET | NGX_HTTP_HEAD) == 0 {
            return NGX_HTTP_NOT_ALLOWED as ngx_int_t;
        }
        let rc = ngx_http_discard_request_body(r);
        if rc != NGX_OK as ngx_int_t {
            return rc;
        }
        let lc = loc_conf(r);
        let channel = match eval_channel(r, lc.channel) {
            Ok(c) => c,
            Err(rc) => return rc,
        };
        let Some(path) = mapped_path(r) else {
            return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
        };
        match ready_playlist(&path) {
            Ok(entry) => {
                touch_if_due(lc, &channel);
                let token: &[u8] = match get_ctx(r) {
                    Some(ctx) => {
                        ctx.status.set("hit");
                        &ctx.token
                    }
                    None => &[],
                };
                send_playlist(r, lc, &entry, token)
            }
            Err(why) => {
                ngx_log_error!(
                    NGX_LOG_INFO,
                    (*(*r).connection).log,
                    "stream_autostart: channel \"{}\" not ready ({}: {}), asking the supervisor",
                    channel,
                    path.display(),
                    why
                );
                let Some(ctx) = ctx_for(r, &channel, &[]) else {
                    return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
                };
                ctx.stage.set(Stage::Ensuring);
                *ctx.playlist_path.borrow_mut() = path;
                (*(*r).main).set_count((*(*r).main).count() + 1);
                (*r).read_event_handler = Some(check_broken_connection);
                let started = shared_ensure::join(
                    ctx,
                    lc.supervisor(),
                    &channel,
                    lc.wait_ms as u64,
                    lc.wait_ms as u64 + ENSURE_SLACK_MS,
                );
                ctx.joined.set(!started);
                NGX_DONE as ngx_int_t
            }
        }
    }
}

/// The file this request's URI maps to under `root`/`alias`.
///
/// # Safety
/// `r` is a live request.
unsafe fn mapped_path(r: *mut ngx_http_request_t) -> Option<PathBuf> {
    // SAFETY: ngx_http_map_uri_to_path fills `path` with pool memory and
    // returns a pointer to its terminating NUL.
    unsafe {
        let mut path = ngx_str_t {
            len: 0,
            data: ptr::null_mut(),
        };
        let mut root = 0usize;
        let last = ngx_http_map_uri_to_path(r, &mut path, &mut root, 0);
        if last.is_null() {
            return None;
        }
        let len = last.offset_from(path.data) as usize;
        let bytes = core::slice::from_raw_parts(path.data, len);
        use std::os::unix::ffi::OsStrExt;
        Some(PathBuf::from(std::ffi::OsStr::from_bytes(bytes)))
    }
}

/// # Safety
/// `r` is the live request owning `ctx`.
unsafe fn finish_ensure(
    r: *mut ngx_http_request_t,
    ctx: &Ctx,
    result: Result<Reply, CallError>,
) -> ngx_int_t {
    // SAFETY: per the contract.
    unsafe {
        drop(ctx.task.borrow_mut().take());
        let log = (*(*r).connection).log;
        let lc = loc_conf(r);
        let ch = &ctx.channel;
        let waited = now_ms().saturating_sub(ctx.waited_since);
        ctx.wait_ms.set(Some(waited));
        ctx.status.set(match &result {
            Ok(reply) if reply.ok && (reply.started == Some(false) || ctx.joined.get()) => "waited",
            Ok(reply) if reply.ok => "started",
            Ok(reply) => match reply.code() {
                Some(ErrorCode::UnknownChannel) => "unknown",
                Some(ErrorCode::Timeout) => "timeout",
                Some(ErrorCode::InvalidChannel) => "invalid",
                Some(ErrorCode::Capacity | ErrorCode::Unavailable | ErrorCode::ShuttingDown) => {
                    "unavailable"
                }
                _ => "failed",
            },
            Err(CallError::Timeout) => "timeout",
            Err(CallError::Unreachable(_)) => "unavailable",
            Err(_) => "failed",
        });
        match result {
            Ok(reply) if reply.ok => {
                let path = ctx.playlist_path.borrow().clone();
                match ready_playlist(&path) {
                    Ok(entry) => {
                        if let Some(ms) = reply.touch_ms {
                            TOUCH_MS.with(|t| t.set(ms.clamp(500, TOUCH_INTERVAL_MS)));
                        }
                        let every = TOUCH_MS.with(Cell::get);
                        TOUCHES.with(|t| t.borrow_mut().due(ch, now_ms(), every));
                        ngx_log_error!(
                            NGX_LOG_INFO,
                            log,
                            "stream_autostart: channel \"{}\" ready after {} ms",
                            ch,
                            waited
                        );
                        send_playlist(r, lc, &entry, &ctx.token)
                    }
                    Err(why) => {
                        ctx.status.set("failed");
                        ngx_log_error!(
                            NGX_LOG_ERR,
                            log,
                            "stream_autostart: supervisor reports channel \"{}\" ready, but {}: {}; the supervisor writes {} (do root/alias point at its HLS directory?) (502)",
                            ch,
                            path.display(),
                            why,
                            reply.playlist.as_deref().unwrap_or("?")
                        );
                        NGX_HTTP_BAD_GATEWAY as ngx_int_t
                    }
                }
            }
            Ok(reply) => {
                let msg = reply.message();
                let (status, what) = match reply.code() {
                    Some(ErrorCode::UnknownChannel) => (NGX_HTTP_NOT_FOUND, "is not configured"),
                    Some(ErrorCode::Failed) => (NGX_HTTP_BAD_GATEWAY, "failed"),
                    Some(ErrorCode::BadChannel) => (NGX_HTTP_BAD_GATEWAY, "has an unusable record"),
                    Some(ErrorCode::Timeout) => {
                        (NGX_HTTP_GATEWAY_TIME_OUT, "was not ready in time")
                    }
                    Some(ErrorCode::InvalidChannel) => (NGX_HTTP_BAD_REQUEST, "is not a valid id"),
                    Some(ErrorCode::Capacity) => {
                        (NGX_HTTP_SERVICE_UNAVAILABLE, "cannot start: at capacity")
                    }
                    Some(ErrorCode::Unavailable) => (
                        NGX_HTTP_SERVICE_UNAVAILABLE,
                        "cannot start: a dependency is down",
                    ),
                    Some(ErrorCode::ShuttingDown) => (
                        NGX_HTTP_SERVICE_UNAVAILABLE,
                        "cannot start: supervisor shutting down",
                    ),
                    _ => (NGX_HTTP_BAD_GATEWAY, "got an unexpected supervisor reply"),
                };
                ngx_log_error!(
                    NGX_LOG_ERR,
                    log,
                    "stream_autostart: channel \"{}\" {} ({}, after {} ms): {}",
                    ch,
                    what,
                    status,
                    waited,
                    msg
                );
                if status == NGX_HTTP_SERVICE_UNAVAILABLE {
                    unavailable(r)
                } else {
                    status as ngx_int_t
                }
            }
            Err(CallError::Timeout) => {
                ngx_log_error!(
                    NGX_LOG_ERR,
                    log,
                    "stream_autostart: supervisor {} did not answer for channel \"{}\" within {} ms (504)",
                    lc.supervisor().text,
                    ch,
                    waited
                );
                NGX_HTTP_GATEWAY_TIME_OUT as ngx_int_t
            }
            Err(e @ CallError::Protocol(_)) => {
                ngx_log_error!(
                    NGX_LOG_ERR,
                    log,
                    "stream_autostart: supervisor {} {} for channel \"{}\" (502)",
                    lc.supervisor().text,
                    e,
                    ch
                );
                NGX_HTTP_BAD_GATEWAY as ngx_int_t
            }
            Err(e) => {
                ngx_log_error!(
                    NGX_LOG_ERR,
                    log,
                    "stream_autostart: supervisor {} {} while starting channel \"{}\" (503)",
                    lc.supervisor().text,
                    e,
                    ch
                );
                unavailable(r)
            }
        }
    }
}

/// Content handler of `stream_autostart_m3u` locations: the channel
/// catalog as an M3U with the viewer's token in every playback URL.
pub unsafe extern "C" fn m3u_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls content handlers with a live request.
    unsafe {
        if (*r).method as u32 & (NGX_HTTP_GET | NGX_HTTP_HEAD) == 0 {
            return NGX_HTTP_NOT_ALLOWED as ngx_int_t;
        }
        let rc = ngx_http_discard_request_body(r);
        if rc != NGX_OK as ngx_int_t {
            return rc;
        }
        let Some(ctx) = ctx_for(r, "", &[]) else {
            return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
        };
        let fresh = CATALOG.with(|c| {
            c.borrow()
                .as_ref()
                .filter(|(at, _)| now_ms().saturating_sub(*at) < CATALOG_TTL_MS)
                .map(|(_, list)| list.clone())
        });
        if let Some(list) = fresh {
            ctx.status.set("hit");
            return send_m3u(r, ctx, &list);
        }
        let lc = loc_conf(r);
        ctx.stage.set(Stage::Ensuring);
        (*(*r).main).set_count((*(*r).main).count() + 1);
        (*r).read_event_handler = Some(check_broken_connection);
        start_call(ctx, lc, Op::Channels, CATALOG_TIMEOUT_MS, Outcome::Catalog);
        NGX_DONE as ngx_int_t
    }
}

/// # Safety
/// `r` is the live request owning `ctx`.
unsafe fn finish_catalog(
    r: *mut ngx_http_request_t,
    ctx: &Ctx,
    result: Result<Reply, CallError>,
) -> ngx_int_t {
    // SAFETY: per the contract.
    unsafe {
        drop(ctx.task.borrow_mut().take());
        let log = (*(*r).connection).log;
        let lc = loc_conf(r);
        match result {
            Ok(Reply {
                ok: true,
                channels: Some(list),
                ..
            }) => {
                let list = std::rc::Rc::new(list);
                CATALOG.with(|c| *c.borrow_mut() = Some((now_ms(), list.clone())));
                ctx.status.set("fetched");
                send_m3u(r, ctx, &list)
            }
            Ok(reply) => {
                ctx.status.set("unavailable");
                ngx_log_error!(
                    NGX_LOG_ERR,
                    log,
                    "stream_autostart: supervisor {} cannot list channels ({}: {}) (503)",
                    lc.supervisor().text,
                    reply
                        .code()
                        .map_or("no channels in reply", ErrorCode::as_str),
                    reply.message()
                );
                unavailable(r)
            }
            Err(e) => {
                ctx.status.set("unavailable");
                ngx_log_error!(
                    NGX_LOG_ERR,
                    log,
                    "stream_autostart: supervisor {} {} while listing channels (503)",
                    lc.supervisor().text,
                    e
                );
                unavailable(r)
            }
        }
    }
}

/// # Safety
/// `r` is a live request that has not sent its header.
unsafe fn send_m3u(r: *mut ngx_http_request_t, ctx: &Ctx, list: &[ChannelEntry]) -> ngx_int_t {
    // SAFETY: per the contract; lc.m3u was compiled at configuration time.
    unsafe {
        let lc = loc_conf(r);
        let mut v = ngx_str_t {
            len: 0,
            data: ptr::null_mut(),
        };
        if ngx_http_complex_value(r, lc.m3u, &mut v) != NGX_OK as ngx_int_t {
            return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
        }
        let url = String::from_utf8_lossy(str_bytes(&v)).into_owned();
        let (before, after) = url.split_once("{channel}").unwrap_or((&url, ""));
        let pair = match lc.token_arg() {
            Some(arg) if !ctx.token.is_empty() => Some(playlist_rewrite::pair(
                &String::from_utf8_lossy(arg),
                &ctx.token,
            )),
            _ => None,
        };
        let body = m3u_render::render(list, before, after, pair.as_deref());
        send_body(r, "audio/x-mpegurl", &body)
    }
}

/// Tells the supervisor, at most every TOUCH_MS per worker and channel, that a ready channel is being watched. Fire and forget.
fn touch_if_due(lc: &LocConf, channel: &str) {
    let every = TOUCH_MS.with(Cell::get);
    if !TOUCHES.with(|t| t.borrow_mut().due(channel, now_ms(), every)) {
        return;
    }
    let addr = lc.supervisor().clone();
    let channel = channel.to_string();
    spawn(async move {
        let op = Op::Touch {
            channel: channel.clone(),
        };
        let result = call(&addr, op, TOUCH_TIMEOUT_MS).await;
        if let Ok(Reply {
            touch_ms: Some(ms), ..
        }) = &result
        {
            TOUCH_MS.with(|t| t.set((*ms).clamp(500, TOUCH_INTERVAL_MS)));
        }
        let problem = match result {
            Ok(reply) if reply.ok => None,
            Ok(reply) => Some(reply.message().to_string()),
            Err(e) => Some(e.to_string()),
        };
        if let Some(problem) = problem {
            TOUCHES.with(|t| t.borrow_mut().reset(&channel));
            ngx_log_error!(
                NGX_LOG_WARN,
                ngx::log::ngx_cycle_log().as_ptr(),
                "stream_autostart: touch of channel \"{}\" via {}: {}",
                channel,
                addr.text,
                problem
            );
        }
    })
    .detach();
}

/// The playlist at `path` if it is ready, through this worker's cache.
fn ready_playlist(path: &std::path::Path) -> Result<std::rc::Rc<Entry>, playlist::NotReady> {
    PLAYLISTS.with(|c| c.borrow_mut().ready(path, now_ms()))
}

/// Sends a playlist with its HLS headers, the viewer's token added to
/// every segment URI (unless `stream_autostart_token_arg off`).
///
/// # Safety
/// `r` is a live request that has not sent its header.
unsafe fn send_playlist(
    r: *mut ngx_http_request_t,
    lc: &LocConf,
    entry: &Entry,
    token: &[u8],
) -> ngx_int_t {
    const CONTENT_TYPE: &str = "application/vnd.apple.mpegurl";
    let template = &entry.template;
    match lc.token_arg() {
        Some(arg) if !token.is_empty() => {
            // Argument names are checked ASCII at configuration time.
            let pair = playlist_rewrite::pair(std::str::from_utf8(arg).unwrap_or("token"), token);
            let len = template.rendered_len(pair.len());
            // SAFETY: per the contract; the closure initialises the `len`
            // bytes before making a slice of them, and the template fills
            // exactly rendered_len bytes.
            unsafe {
                send_status_with(r, 200, CONTENT_TYPE, len, |out| {
                    ptr::write_bytes(out, 0, len);
                    template.render_into(pair.as_bytes(), core::slice::from_raw_parts_mut(out, len))
                })
            }
        }
        // SAFETY: per the contract.
        _ => unsafe { send_body(r, CONTENT_TYPE, template.text()) },
    }
}

/// Sends a whole body with `Cache-Control: no-cache`.
///
/// # Safety
/// `r` is a live request that has not sent its header.
unsafe fn send_body(
    r: *mut ngx_http_request_t,
    content_type: &'static str,
    bytes: &[u8],
) -> ngx_int_t {
    // SAFETY: per the contract.
    unsafe { send_status_body(r, 200, content_type, bytes) }
}

/// Sends a whole body with the given status and `Cache-Control: no-cache`.
///
/// # Safety
/// `r` is a live request that has not sent its header.
pub(super) unsafe fn send_status_body(
    r: *mut ngx_http_request_t,
    status: u16,
    content_type: &'static str,
    bytes: &[u8],
) -> ngx_int_t {
    // SAFETY: per the contract; the closure writes exactly bytes.len()
    // bytes into a buffer of that size.
    unsafe {
        send_status_with(r, status, content_type, bytes.len(), |out| {
            ptr::copy_nonoverlapping(bytes.as_ptr(), out, bytes.len())
        })
    }
}

/// Sends a body of `len` bytes that `fill` writes straight into the
/// response buffer, with the given status and `Cache-Control: no-cache`.
///
/// # Safety
/// `r` is a live request that has not sent its header; `fill` writes
/// exactly `len` bytes at the (uninitialised) address it is given.
unsafe fn send_status_with(
    r: *mut ngx_http_request_t,
    status: u16,
    content_type: &'static str,
    len: usize,
    fill: impl FnOnce(*mut u8),
) -> ngx_int_t {
    // SAFETY: per the contract; the buffer is pool memory of `len` bytes.
    unsafe {
        (*r).headers_out.status = status as ngx_uint_t;
        (*r).headers_out.content_length_n = len as i64;
        (*r).headers_out.content_type = ngx_str_t {
            len: content_type.len(),
            data: content_type.as_ptr() as *mut u8,
        };
        (*r).headers_out.content_type_len = content_type.len();
        (*r).headers_out.content_type_lowcase = ptr::null_mut();
        if !add_header(r, "Cache-Control", "no-cache") {
            return NGX_ERROR as ngx_int_t;
        }
        let rc = ngx_http_send_header(r);
        if rc == NGX_ERROR as ngx_int_t || rc > NGX_OK as ngx_int_t || (*r).header_only() != 0 {
            return rc;
        }
        let b = ngx_create_temp_buf((*r).pool, len);
        if b.is_null() {
            return NGX_ERROR as ngx_int_t;
        }
        if len > 0 {
            fill((*b).last);
        }
        (*b).last = (*b).last.add(len);
        (*b).set_last_buf(if r == (*r).main { 1 } else { 0 });
        (*b).set_last_in_chain(1);
        let mut out = ngx_chain_t {
            buf: b,
            next: ptr::null_mut(),
        };
        ngx_http_output_filter(r, &mut out)
    }
}
