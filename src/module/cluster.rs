//! Cluster mode in the module: a node-to-node request is admitted by the
//! cluster key (no viewer token), and a viewer whose channel runs on
//! another node is sent there: a 302 (`redirect`) or a named location
//! that proxies (`@...`), with the owner's URL and the URI without the
//! token in `$stream_autostart_owner_url` / `$stream_autostart_cluster_uri`.

use core::cell::RefCell;
use core::sync::atomic::{AtomicUsize, Ordering};

use ngx::ffi::{
    ngx_conf_t, ngx_http_add_variable, ngx_http_get_variable_index, ngx_http_request_t,
    ngx_http_variable_value_t, ngx_int_t, ngx_str_t, ngx_uint_t, NGX_DONE, NGX_ERROR,
    NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_HTTP_MOVED_TEMPORARILY, NGX_HTTP_VAR_NOHASH, NGX_LOG_ERR,
    NGX_LOG_INFO, NGX_LOG_WARN, NGX_OK,
};
use ngx::ngx_log_error;

use super::conf::ClusterProxy;
use super::ctx::Ctx;
use super::request::{now_ms, Req};
use crate::api_guard::same_key;
use crate::cluster_route::{base_url, redirect_to, strip_arg, usable_url};
use crate::outcome::Status;
use crate::owner_cache::{Known, OwnerCache};
use crate::playlist_rewrite;

/// The header node-to-node requests carry the cluster key in.
pub const HEADER: &str = "X-Stream-Autostart-Cluster";

static OWNER_URL: AtomicUsize = AtomicUsize::new(usize::MAX);
static CLUSTER_URI: AtomicUsize = AtomicUsize::new(usize::MAX);
/// A variable no configuration can name (the dot): where a diverted
/// request keeps its context across the jump (see `edge`).
static EDGE_CTX: AtomicUsize = AtomicUsize::new(usize::MAX);
const EDGE_CTX_NAME: &str = "stream_autostart.edge_ctx";

thread_local! {
    /// Where channels run, as this worker last heard (src/owner_cache.rs):
    /// from `elsewhere` replies to playlist requests and from `locate`, for
    /// the segment requests that follow.
    static OWNERS: RefCell<OwnerCache> = RefCell::new(OwnerCache::default());
}

/// Registers the two variables as indexed ones: their values are preset on
/// the request before the jump to the named location (which clears the
/// modules' contexts, not the variables).
pub fn add_variables(cf: *mut ngx_conf_t) -> ngx_int_t {
    // The context's slot is also out of the runtime name lookup (NOHASH):
    // SSI's echo, perl or njs cannot read an address out of it.
    for (name, slot, flags) in [
        ("stream_autostart_owner_url", &OWNER_URL, 0),
        ("stream_autostart_cluster_uri", &CLUSTER_URI, 0),
        (EDGE_CTX_NAME, &EDGE_CTX, NGX_HTTP_VAR_NOHASH as ngx_uint_t),
    ] {
        let mut s = ngx_str_t {
            len: name.len(),
            data: name.as_ptr() as *mut u8,
        };
        // SAFETY: nginx copies the name into the configuration; the
        // variable and its index live as long as the configuration.
        let index = unsafe {
            let v = ngx_http_add_variable(cf, &mut s, flags);
            if v.is_null() {
                return NGX_ERROR as ngx_int_t;
            }
            (*v).get_handler = Some(not_set);
            ngx_http_get_variable_index(cf, &mut s)
        };
        if index == NGX_ERROR as ngx_int_t {
            return NGX_ERROR as ngx_int_t;
        }
        slot.store(index as usize, Ordering::Relaxed);
    }
    NGX_OK as ngx_int_t
}

/// A request the module did not send to another node has neither value.
unsafe extern "C" fn not_set(
    _r: *mut ngx_http_request_t,
    v: *mut ngx_http_variable_value_t,
    _data: usize,
) -> ngx_int_t {
    // SAFETY: nginx passes a value of the request to fill.
    if let Some(v) = unsafe { v.as_mut() } {
        v.set_not_found(1);
    }
    NGX_OK as ngx_int_t
}

/// A node-to-node request: `None` when the request carries no cluster key
/// header (or this location has no key: then the header means nothing),
/// else whether the key is right; a wrong one is logged here.
pub fn presented(req: &mut Req<'_>, channel: &str) -> Option<bool> {
    let key = req.conf().cluster_key.as_ref()?;
    let got = req.header(HEADER.as_bytes())?;
    if same_key(&key.0, got) {
        return Some(true);
    }
    ngx_log_error!(
        NGX_LOG_ERR,
        req.log(),
        "stream_autostart: request for channel \"{}\" from {} refused (403): wrong cluster key in {}",
        channel,
        req.remote_addr().escape_ascii(),
        HEADER
    );
    Some(false)
}

/// Remembers where `channel` runs (the owner a playlist request or a
/// `locate` named, or this node).
pub fn learn(scope: &str, channel: &str, known: Known) {
    OWNERS.with(|o| o.borrow_mut().learn(scope, channel, known, now_ms()));
}

/// What this worker last heard of `channel`, if still fresh.
pub fn known(scope: &str, channel: &str) -> Option<Known> {
    OWNERS.with(|o| o.borrow().get(scope, channel, now_ms()))
}

/// At the owner's answer (header filter) or the end of a proxied request
/// (log phase): a request diverted to a node that failed it (502/504: the
/// proxy could not connect, or got no answer in time; or the answer broke
/// off; or 404: that node may no longer run the channel) makes this
/// worker forget that node as the channel's owner, so the
/// next request locates the channel again rather than failing there until
/// the entry expires. Once per request.
pub fn owner_failed(req: &Req<'_>, ctx: &Ctx, status: usize) {
    if !crate::owner_cache::owner_failed(status) {
        return;
    }
    let Some((scope, owner)) = ctx.diverted_to.borrow_mut().take() else {
        return;
    };
    if OWNERS.with(|o| o.borrow_mut().forget_owner(&scope, &ctx.channel, &owner)) {
        // A 404 is often just an expired segment: not worth a warning.
        let level = if status == 404 {
            NGX_LOG_INFO
        } else {
            NGX_LOG_WARN
        };
        ngx_log_error!(
            level,
            req.log(),
            "stream_autostart: channel \"{}\" proxied to {} failed ({}): forgetting that owner, the next request locates the channel again",
            ctx.channel,
            base_url(&owner),
            status
        );
    }
}

/// The context of a request this worker diverted to a named location,
/// put back after the jump cleared it: for the edge filter, the log
/// variables and the metrics.
pub fn restore_ctx<'a>(req: &mut Req<'a>) -> Option<&'a Ctx> {
    if let Some(ctx) = Ctx::get(req) {
        return Some(ctx);
    }
    req.restore_ctx::<Ctx>(EDGE_CTX.load(Ordering::Relaxed))
}

/// Sends the request to the node at `owner`, as the location's
/// `stream_autostart_cluster_proxy` says; `None` when it says nothing (the
/// caller refuses as before). The result is the handler's status. A
/// diverted `playlist` gets the viewer's token put on its URIs at the edge.
pub fn divert(req: &mut Req<'_>, ctx: &Ctx, owner: &str, playlist: bool) -> Option<ngx_int_t> {
    let channel = ctx.channel.as_str();
    let lc = req.conf();
    let how = lc.cluster_proxy.as_ref()?;
    if !usable_url(owner) {
        ngx_log_error!(
            NGX_LOG_ERR,
            req.log(),
            "stream_autostart: channel \"{}\" runs on a node whose URL is not usable (\"{}\"), answering 503",
            channel,
            owner.escape_default()
        );
        return Some(req.refuse(Status::Unavailable));
    }
    let uri = req.unparsed_uri();
    match how {
        ClusterProxy::Redirect => {
            let to = redirect_to(owner, uri);
            if !req.add_header_copy("Location", &to) {
                return Some(NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t);
            }
            ctx.status.set(Some(Status::Redirected));
            ngx_log_error!(
                NGX_LOG_INFO,
                req.log(),
                "stream_autostart: channel \"{}\" runs on {}: redirecting (302)",
                channel,
                base_url(owner)
            );
            Some(NGX_HTTP_MOVED_TEMPORARILY as ngx_int_t)
        }
        ClusterProxy::Named(name) => {
            let token_arg = lc.token_arg().unwrap_or(b"token");
            let mut forwarded = strip_arg(uri, token_arg);
            if token_arg != b"token" {
                forwarded = strip_arg(&forwarded, b"token");
            }
            let Some(key) = lc.cluster_key.as_ref() else {
                // Checked at configuration time; never proxy without it.
                return Some(NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t);
            };
            let ok = req.preset_variable(
                OWNER_URL.load(Ordering::Relaxed),
                base_url(owner).as_bytes(),
            ) && req.preset_variable(CLUSTER_URI.load(Ordering::Relaxed), &forwarded)
                && req.replace_request_header(HEADER, &key.0)
                // A subrequest shares the main request's variables: only a
                // main request keeps its context there (and gets the edge
                // rewrite, which needs it).
                && (!req.is_main() || req.stash_ctx(EDGE_CTX.load(Ordering::Relaxed), ctx));
            if !ok {
                return Some(NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t);
            }
            ngx_log_error!(
                NGX_LOG_INFO,
                req.log(),
                "stream_autostart: channel \"{}\" runs on {}: proxying through {}",
                channel,
                base_url(owner),
                name.escape_ascii()
            );
            ctx.status.set(Some(Status::Proxied));
            *ctx.diverted_to.borrow_mut() = Some((lc.supervisor().path.to_string(), owner.into()));
            if playlist && req.is_main() {
                *ctx.edge_pair.borrow_mut() = Some(token_pair(lc, &ctx.token));
            }
            let rc = req.named_location(name);
            Some(if rc == NGX_DONE as ngx_int_t {
                rc
            } else {
                NGX_DONE as ngx_int_t
            })
        }
    }
}

/// `arg=token` for a playlist's URIs, as local playlists get it; empty
/// when they get none (`stream_autostart_token_arg off`, a login viewer).
fn token_pair(lc: &super::conf::LocConf, token: &[u8]) -> Vec<u8> {
    match lc.token_arg() {
        Some(arg) if !token.is_empty() && !crate::login_key::is_login(token) => {
            // Argument names are checked ASCII at configuration time.
            playlist_rewrite::pair(std::str::from_utf8(arg).unwrap_or("token"), token).into_bytes()
        }
        _ => Vec::new(),
    }
}
