//! The module's variables, for `log_format` and the like:
//! `$stream_autostart_channel`, `$stream_autostart_user`,
//! `$stream_autostart_status`, `$stream_autostart_wait_ms`,
//! `$stream_autostart_token` (masked: never the whole token) and
//! `$stream_autostart_client` (the viewing session's client key).

use ngx::ffi::{ngx_http_request_t, ngx_http_variable_value_t, ngx_int_t, NGX_ERROR, NGX_OK};
use shared::token::masked;

use super::ctx::Ctx;
use super::request::Req;

/// Which value a variable reads.
#[derive(Clone, Copy)]
pub enum Field {
    Channel = 0,
    User = 1,
    Status = 2,
    WaitMs = 3,
    Token = 4,
    Client = 5,
}

pub const VARIABLES: [(&str, Field); 6] = [
    ("stream_autostart_channel", Field::Channel),
    ("stream_autostart_user", Field::User),
    ("stream_autostart_status", Field::Status),
    ("stream_autostart_wait_ms", Field::WaitMs),
    ("stream_autostart_token", Field::Token),
    ("stream_autostart_client", Field::Client),
];

/// The value of a variable for this request, if the module handled it.
fn value(ctx: &Ctx, field: Field) -> Option<Vec<u8>> {
    Some(match field {
        Field::Channel => ctx.channel.clone().into_bytes(),
        Field::User => ctx.user.borrow().clone().into_bytes(),
        Field::Status => ctx.status.get()?.as_str().as_bytes().to_vec(),
        Field::WaitMs => ctx.wait_ms.get()?.to_string().into_bytes(),
        // A login's key holds the password: never shown.
        Field::Token if ctx.token.is_empty() || crate::login_key::is_login(&ctx.token) => {
            return None
        }
        Field::Token => masked(&ctx.token).into_bytes(),
        Field::Client => ctx.client.borrow().clone().into_bytes(),
    })
}

pub unsafe extern "C" fn get_variable(
    r: *mut ngx_http_request_t,
    v: *mut ngx_http_variable_value_t,
    data: usize,
) -> ngx_int_t {
    let field = match data {
        0 => Field::Channel,
        1 => Field::User,
        2 => Field::Status,
        3 => Field::WaitMs,
        5 => Field::Client,
        _ => Field::Token,
    };
    // SAFETY: nginx calls variable handlers with the live request and a
    // value of it to fill.
    let (Some(mut req), Some(v)) = (unsafe { Req::from_raw(r) }, unsafe { v.as_mut() }) else {
        return NGX_ERROR as ngx_int_t;
    };
    let bytes = Ctx::get(&req).and_then(|ctx| value(ctx, field));
    match bytes {
        Some(bytes) if !bytes.is_empty() => {
            let Some(s) = req.pool_copy(&bytes) else {
                return NGX_ERROR as ngx_int_t;
            };
            v.data = s.data;
            v.set_len(s.len as u32);
            v.set_valid(1);
            v.set_no_cacheable(1);
            v.set_not_found(0);
        }
        _ => v.set_not_found(1),
    }
    NGX_OK as ngx_int_t
}
