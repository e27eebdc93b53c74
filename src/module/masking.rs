//! Tokens out of nginx's logs, for every request of an http block in which
//! a location uses the module (whatever server or location the request
//! ends in, and however it ends: refused by limit_req, answered by a
//! rewrite's `return`, a 404 elsewhere, a 400 or 414 nginx sends before
//! any phase). The query arguments masked are those the module's
//! locations take tokens from (`$arg_<name>` of `stream_autostart_token`,
//! `token` by default, and `stream_autostart_token_arg`), in any case.
//! Where logins are configured, passwords too: the `$arg_<name>` of
//! `stream_autostart_login`'s password and `password` of the Xtream API
//! (masked whole), and the `<password>` of Xtream stream paths
//! (`/live/<user>/<password>/...`, see `path_mask`).

use ngx::ffi::{ngx_http_request_t, ngx_int_t, NGX_DECLINED, NGX_OK};

use super::conf::MainConf;
use super::request::Req;
use crate::log_mask::Secrets;

/// What the http block's locations make secret.
fn secrets(main: &MainConf) -> Secrets<'_, Box<[u8]>> {
    Secrets {
        partial: &main.mask_names,
        full: &main.full_mask_names,
        paths: main.mask_paths,
    }
}

/// First phase: the request line, so that error log lines written while
/// the request is handled name it without the token. The arguments keep
/// the token: the access phase and upstreams read it.
pub unsafe extern "C" fn post_read_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls phase handlers with the live request.
    if let Some(mut req) = unsafe { Req::from_raw(r) } {
        let secrets = secrets(req.main_conf());
        req.mask_request_line(&secrets);
    }
    NGX_DECLINED as ngx_int_t
}

/// First log handler: the request line, `$args` and `$request_uri`, before
/// the access log reads them. Runs for requests nginx ended before any
/// phase too.
pub unsafe extern "C" fn log_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls log handlers with the live request.
    if let Some(mut req) = unsafe { Req::from_raw(r) } {
        let secrets = secrets(req.main_conf());
        req.mask_for_access_log(&secrets);
        // A request diverted to another node (a named location cleared its
        // context) logs and counts as the module left it.
        if let Some(ctx) = super::cluster::restore_ctx(&mut req) {
            super::edge::unfinished(&mut req, ctx);
        }
    }
    NGX_OK as ngx_int_t
}
