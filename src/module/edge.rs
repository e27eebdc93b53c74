//! Cluster edge filter: a playlist request this node diverted to the
//! `stream_autostart_cluster_proxy @location` comes back from the owner
//! without the viewer's token on its URIs (node-to-node requests carry
//! the cluster key instead). This header and body filter, active only for
//! such requests, holds the owner's header, gathers the (bounded) body to
//! its end, adds the token as local playlists get it, and sends the result
//! as one buffer with its own length. proxy_cache at the edge keeps the
//! owner's token-less bytes, shared by every viewer.

use core::ptr;

use ngx::ffi::{
    ngx_chain_t, ngx_http_output_body_filter_pt, ngx_http_output_header_filter_pt,
    ngx_http_request_t, ngx_http_top_body_filter, ngx_http_top_header_filter, ngx_int_t, NGX_ERROR,
    NGX_HTTP_BAD_GATEWAY, NGX_LOG_ERR, NGX_OK,
};
use ngx::ngx_log_error;

use super::cluster;
use super::ctx::Ctx;
use super::request::Req;
use crate::edge_playlist::{plan, Gather, Head, Plan};
use crate::outcome::Status;

/// At the log phase: a proxied playlist whose body never ended (the owner
/// closed the connection or timed out after its header). nginx could no
/// longer send a status; the log says what the viewer got, and why.
pub fn unfinished(req: &mut Req<'_>, ctx: &Ctx) {
    if ctx.edge_body.borrow_mut().take().is_none() {
        return;
    }
    drop(ctx.edge_pair.borrow_mut().take());
    ctx.status.set(Some(Status::ProxyFailed));
    cluster::owner_failed(req, ctx, NGX_HTTP_BAD_GATEWAY as usize);
    ngx_log_error!(
        NGX_LOG_ERR,
        req.log(),
        "stream_autostart: channel \"{}\" proxied from its owner failed: the owner's playlist ended before its end (connection closed or timed out); the viewer got no playlist",
        ctx.channel
    );
}

static mut NEXT_HEADER_FILTER: ngx_http_output_header_filter_pt = None;
static mut NEXT_BODY_FILTER: ngx_http_output_body_filter_pt = None;

/// Puts the filters at the top of the chains (postconfiguration): they see
/// the owner's response before any other filter changes it.
pub fn install() {
    // SAFETY: postconfiguration runs in the one configuration thread, before
    // any request; nginx's own filters chain themselves the same way, and
    // the statics are only read by requests afterwards.
    unsafe {
        NEXT_HEADER_FILTER = ngx_http_top_header_filter;
        ngx_http_top_header_filter = Some(header_filter);
        NEXT_BODY_FILTER = ngx_http_top_body_filter;
        ngx_http_top_body_filter = Some(body_filter);
    }
}

fn next_header(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: set once by install() before any request; a plain read.
    match unsafe { ptr::addr_of!(NEXT_HEADER_FILTER).read() } {
        // SAFETY: the next filter of nginx's chain, with the live request.
        Some(f) => unsafe { f(r) },
        None => NGX_OK as ngx_int_t,
    }
}

fn next_body(r: *mut ngx_http_request_t, chain: *mut ngx_chain_t) -> ngx_int_t {
    // SAFETY: set once by install() before any request; a plain read.
    match unsafe { ptr::addr_of!(NEXT_BODY_FILTER).read() } {
        // SAFETY: the next filter of nginx's chain, with the live request
        // and a chain that lives until it returns.
        Some(f) => unsafe { f(r, chain) },
        None => NGX_OK as ngx_int_t,
    }
}

fn module() -> *mut ngx::ffi::ngx_module_t {
    ptr::addr_of_mut!(super::ngx_http_stream_autostart_module)
}

unsafe extern "C" fn header_filter(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls header filters with the live request.
    let Some(mut req) = (unsafe { Req::from_raw(r) }) else {
        return next_header(r);
    };
    if !req.is_main() {
        return next_header(r);
    }
    // A diverted request's context, cleared by the jump, is put back.
    let Some(ctx) = cluster::restore_ctx(&mut req) else {
        return next_header(r);
    };
    let status = req.response_status();
    cluster::owner_failed(&req, ctx, status);
    let Some(pair) = ctx.edge_pair.borrow_mut().take() else {
        return next_header(r);
    };
    match plan(&Head {
        status,
        content_type: req.response_type(),
        content_encoding: req.response_encoding(),
        length: req.response_length(),
        // Not r->header_only: nginx sets it only in its last header filter,
        // below this one.
        header_only: req.is_head(),
    }) {
        Plan::Pass => {
            if status == 200 && req.is_head() && !pair.is_empty() {
                // A HEAD answer: the length of the rewritten body is unknown.
                req.clear_body_headers();
            }
            next_header(r)
        }
        Plan::Refuse(why) => refuse(&mut req, ctx, why),
        Plan::Rewrite if pair.is_empty() => next_header(r),
        Plan::Rewrite => {
            req.clear_body_headers();
            *ctx.edge_pair.borrow_mut() = Some(pair);
            *ctx.edge_body.borrow_mut() = Some(Gather::default());
            // The header goes with the rewritten body.
            NGX_OK as ngx_int_t
        }
    }
}

unsafe extern "C" fn body_filter(r: *mut ngx_http_request_t, chain: *mut ngx_chain_t) -> ngx_int_t {
    // SAFETY: nginx calls body filters with the live request.
    let Some(mut req) = (unsafe { Req::from_raw(r) }) else {
        return next_body(r, chain);
    };
    let Some(ctx) = Ctx::get(&req).filter(|c| c.edge_body.borrow().is_some()) else {
        return next_body(r, chain);
    };
    let mut too_large = false;
    let gathered = {
        let mut body = ctx.edge_body.borrow_mut();
        let Some(g) = body.as_mut() else {
            return next_body(r, chain);
        };
        req.consume_chain(chain, |bytes| {
            too_large = g.push(bytes).is_err();
            !too_large
        })
    };
    let last = match gathered {
        Ok(_) if too_large => {
            return refuse(
                &mut req,
                ctx,
                "the owner's playlist is larger than the edge rewrites (1 MiB)",
            )
        }
        Ok(last) => last,
        Err(_) => {
            return refuse(
                &mut req,
                ctx,
                "the owner's playlist came as a file (cached at the edge? keep playlists out of proxy_cache)",
            )
        }
    };
    if !last {
        return NGX_OK as ngx_int_t;
    }
    let pair = ctx.edge_pair.borrow_mut().take().unwrap_or_default();
    let Some(mut g) = ctx.edge_body.borrow_mut().take() else {
        return NGX_ERROR as ngx_int_t;
    };
    let body = g.finish(&pair);
    req.set_response_length(body.len());
    let rc = next_header(r);
    if rc == NGX_ERROR as ngx_int_t || rc > NGX_OK as ngx_int_t || req.header_only_response() {
        return rc;
    }
    req.with_last_buffer(&body, |out| next_body(r, out))
}

/// The owner's playlist cannot go to the viewer rewritten: 502, and why.
fn refuse(req: &mut Req<'_>, ctx: &Ctx, why: &str) -> ngx_int_t {
    drop(ctx.edge_body.borrow_mut().take());
    drop(ctx.edge_pair.borrow_mut().take());
    ctx.status.set(Some(Status::ProxyFailed));
    ngx_log_error!(
        NGX_LOG_ERR,
        req.log(),
        "stream_autostart: channel \"{}\" proxied from its owner refused (502): {}",
        ctx.channel,
        why
    );
    req.filter_finalize(module(), NGX_HTTP_BAD_GATEWAY as ngx_int_t)
}
