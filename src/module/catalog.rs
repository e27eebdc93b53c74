//! Content of `stream_autostart_m3u` locations: the channel catalog as an
//! M3U, the viewer's token in every playback URL. Each worker keeps the
//! catalog for a few seconds, and its M3U rendered once per catalog
//! version (and gzipped once, for clients that accept it): a request is
//! copies of cached pieces with the viewer's token between them.

use core::cell::RefCell;
use std::collections::HashMap;

use ngx::ffi::{
    ngx_http_request_t, ngx_int_t, NGX_DONE, NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_LOG_ERR,
};
use ngx::ngx_log_error;
use shared::protocol::{ErrorCode, Op, Reply};

use super::conf::Mode;
use super::ctx::{Ctx, Resume, Stage};
use super::mailbox::Outcome;
use super::park::{call, park};
use super::request::{content_handler, now_ms, Req};
use crate::log_text::esc;
use crate::m3u_cache::{self, Catalog, Rendered, Shape};
use crate::outcome::{self, Status};
use crate::{m3u_gzip, playlist_rewrite};

/// How long a worker reuses the channel catalog.
const CATALOG_TTL_MS: u64 = 5_000;
const CATALOG_TIMEOUT_MS: u64 = 10_000;

/// A catalog, when it was fetched (ms), and since when a request has been
/// fetching its successor (ms).
struct Fetched {
    at: u64,
    refreshing: Option<u64>,
    catalog: Catalog,
}

thread_local! {
    /// Each supervisor's catalog (by socket path), with when it was
    /// fetched: two deployments in one nginx each list their own channels.
    static CATALOGS: RefCell<HashMap<String, Fetched>> = RefCell::new(HashMap::new());
}

pub unsafe extern "C" fn catalog_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
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
    let scope = req.conf().supervisor().path.clone();
    let now = now_ms();
    let kept = CATALOGS.with(|c| {
        let mut c = c.borrow_mut();
        let f = c.get_mut(&scope)?;
        if m3u_cache::serve_kept(f.at, f.refreshing, now, CATALOG_TTL_MS, CATALOG_TIMEOUT_MS) {
            return Some(());
        }
        // This request fetches; the others get this catalog meanwhile.
        f.refreshing = Some(now);
        None
    });
    if kept.is_some() {
        ctx.status.set(Some(Status::Hit));
        return send_m3u(req, ctx, &scope);
    }
    ctx.stage.set(Stage::Waiting);
    req.hold();
    park(req, ctx, Resume::Content(fetched));
    let addr = req.conf().supervisor();
    call(
        ctx,
        &addr,
        Op::Channels,
        CATALOG_TIMEOUT_MS,
        Outcome::Catalog,
    );
    NGX_DONE as ngx_int_t
}

fn fetched(req: &mut Req<'_>, ctx: &Ctx, outcome: Outcome) -> ngx_int_t {
    let Outcome::Catalog(result) = outcome else {
        return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
    };
    ctx.cancel();
    let refusal = match outcome::catalog(&result) {
        Ok(status) => {
            let Ok(Reply {
                channels: Some(list),
                ..
            }) = result
            else {
                return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
            };
            let scope = req.conf().supervisor().path.clone();
            CATALOGS.with(|c| {
                let mut c = c.borrow_mut();
                match c.get_mut(&scope) {
                    // The same list keeps its renderings.
                    Some(f) => {
                        f.at = now_ms();
                        f.refreshing = None;
                        f.catalog.update(list);
                    }
                    None => {
                        let f = Fetched {
                            at: now_ms(),
                            refreshing: None,
                            catalog: Catalog::new(list),
                        };
                        c.insert(scope.clone(), f);
                    }
                }
            });
            ctx.status.set(Some(status));
            return send_m3u(req, ctx, &scope);
        }
        Err(refusal) => {
            // The next request tries again.
            let scope = &req.conf().supervisor().path;
            CATALOGS.with(|c| {
                if let Some(f) = c.borrow_mut().get_mut(scope) {
                    f.refreshing = None;
                }
            });
            refusal
        }
    };
    let why = match &result {
        Ok(reply) => format!(
            " ({}: {})",
            reply
                .code()
                .map_or("no channels in reply", ErrorCode::as_str),
            reply.message()
        ),
        Err(e) => format!(": {e}"),
    };
    let why = esc(&why);
    ngx_log_error!(
        NGX_LOG_ERR,
        req.log(),
        "stream_autostart: supervisor {} {}{} ({})",
        req.conf().supervisor().text,
        refusal.reason,
        why,
        refusal.http()
    );
    let rc = req.refuse(refusal.status);
    ctx.finish(Some(refusal.status), rc);
    rc
}

fn send_m3u(req: &mut Req<'_>, ctx: &Ctx, scope: &str) -> ngx_int_t {
    let lc = req.conf();
    let Some(Mode::Catalog { url }) = &lc.mode else {
        return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
    };
    let Some(url) = req.eval(*url) else {
        return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
    };
    let url = String::from_utf8_lossy(url).into_owned();
    let (before, after) = url.split_once("{channel}").unwrap_or((&url, ""));
    // A login viewer's URLs carry no token (the configured URL may name
    // the credentials itself).
    let pair = match lc.token_arg() {
        Some(arg) if !ctx.token.is_empty() && !crate::login_key::is_login(&ctx.token) => Some(
            playlist_rewrite::pair(&String::from_utf8_lossy(arg), &ctx.token),
        ),
        _ => None,
    };
    let guide = match lc.m3u_guide {
        Some(cv) => match req.eval(cv) {
            Some(g) => Some(String::from_utf8_lossy(g).into_owned()),
            None => return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t,
        },
        None => None,
    };
    let shape = Shape {
        url_before: before.to_string(),
        url_after: after.to_string(),
        with_token: pair.is_some(),
        guide,
    };
    let Some(rendered) = CATALOGS.with(|c| {
        c.borrow_mut()
            .get_mut(scope)
            .map(|f| f.catalog.rendered(&shape))
    }) else {
        return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
    };
    send(req, &rendered, pair.as_deref().unwrap_or("").as_bytes())
}

/// The M3U with `pair`, gzipped when the client accepts it; `Vary` either
/// way, as the body depends on `Accept-Encoding`.
fn send(req: &mut Req<'_>, rendered: &Rendered, pair: &[u8]) -> ngx_int_t {
    const TYPE: &str = "audio/x-mpegurl";
    if !req.add_header("Vary", "Accept-Encoding") {
        return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
    }
    let gzip = req
        .header(b"Accept-Encoding")
        .is_some_and(m3u_gzip::accepts_gzip)
        .then(|| rendered.gzip(pair.len()))
        .flatten();
    if let Some(gz) = gzip {
        if !req.set_content_encoding_gzip() {
            return NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
        }
        return req.send_with(200, TYPE, gz.len(), |out| gz.write(out, pair));
    }
    let plain = &rendered.plain;
    req.send_with(200, TYPE, plain.len_with(pair.len()), |out| {
        plain.write(out, pair)
    })
}
