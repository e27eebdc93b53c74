//! CORS on the nginx side (`stream_autostart_cors`): a header filter that
//! adds the CORS headers to every response of such a location (the
//! module's own, nginx's static segments and guide files, error pages
//! alike), and the preflight answer, given in the access phase before any
//! token check. The decisions are `crate::cors`'s.

use core::ptr;

use ngx::ffi::{
    ngx_http_output_header_filter_pt, ngx_http_request_t, ngx_http_top_header_filter, ngx_int_t,
    NGX_ERROR, NGX_HTTP_FORBIDDEN, NGX_HTTP_NO_CONTENT, NGX_LOG_ERR,
};
use ngx::ngx_log_error;

use super::conf::Mode;
use super::request::Req;
use crate::cors::{self, Policy};

/// The header filter after ours.
static mut NEXT_HEADER_FILTER: ngx_http_output_header_filter_pt = None;

/// Puts our header filter at the top of the chain (postconfiguration).
pub fn install() {
    // SAFETY: postconfiguration runs in the one configuration thread, before
    // any request; nginx's own filters chain themselves the same way, and
    // the statics are only read by requests afterwards.
    unsafe {
        NEXT_HEADER_FILTER = ngx_http_top_header_filter;
        ngx_http_top_header_filter = Some(header_filter);
    }
}

fn next(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: set once by install() before any request; a plain read.
    match unsafe { ptr::addr_of!(NEXT_HEADER_FILTER).read() } {
        // SAFETY: the next filter of nginx's chain, with the live request.
        Some(f) => unsafe { f(r) },
        None => ngx::ffi::NGX_OK as ngx_int_t,
    }
}

/// The location's policy; never in the operator API (which refuses
/// cross-origin browser requests whatever an inherited policy says) or
/// the metrics.
fn policy<'a>(req: &Req<'a>) -> Option<&'a Policy> {
    let lc = req.conf();
    if matches!(lc.mode, Some(Mode::Api) | Some(Mode::Metrics)) {
        return None;
    }
    lc.cors.as_ref().filter(|p| **p != Policy::Off)
}

unsafe extern "C" fn header_filter(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls header filters with the live request.
    if let Some(mut req) = unsafe { Req::from_raw(r) } {
        if req.is_main() && !add_headers(&mut req) {
            return NGX_ERROR as ngx_int_t;
        }
    }
    next(r)
}

/// The CORS headers of this response, if its location has a policy and
/// the origin is allowed; false only when memory ran out.
fn add_headers(req: &mut Req<'_>) -> bool {
    let Some(policy) = policy(req) else {
        return true;
    };
    if cors::vary(policy) && !req.add_header("Vary", "Origin") {
        return false;
    }
    let Some(grant) = cors::grant(policy, req.header(b"origin")) else {
        return true;
    };
    req.add_header_copy("Access-Control-Allow-Origin", &grant.allow_origin)
        && req.add_header("Access-Control-Expose-Headers", cors::EXPOSE_HEADERS)
}

/// A CORS preflight to a location with a policy, answered before anything
/// else (no token: browsers send none with a preflight): 204 with what may
/// be asked, or 403 for an origin that is not allowed. `None`: not one.
pub fn preflight(req: &mut Req<'_>) -> Option<ngx_int_t> {
    let policy = policy(req)?;
    let origin = req.header(b"origin");
    if !cors::is_preflight(
        req.method_name(),
        origin,
        req.header(b"access-control-request-method"),
    ) {
        return None;
    }
    if cors::grant(policy, origin).is_none() {
        ngx_log_error!(
            NGX_LOG_ERR,
            req.log(),
            "stream_autostart: CORS preflight from origin \"{}\" refused (403): not allowed by stream_autostart_cors",
            origin.unwrap_or_default().escape_ascii()
        );
        return Some(NGX_HTTP_FORBIDDEN as ngx_int_t);
    }
    let allow = cors::allow_headers(req.header(b"access-control-request-headers"));
    let added = req.add_header("Access-Control-Allow-Methods", cors::ALLOW_METHODS)
        && req.add_header_copy("Access-Control-Allow-Headers", allow.as_bytes())
        && req.add_header("Access-Control-Max-Age", cors::MAX_AGE);
    Some(if added {
        NGX_HTTP_NO_CONTENT as ngx_int_t
    } else {
        NGX_ERROR as ngx_int_t
    })
}
