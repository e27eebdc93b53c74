//! The module's variables, for `log_format` and the like:
//! `$stream_autostart_channel`, `$stream_autostart_user`,
//! `$stream_autostart_status`, `$stream_autostart_wait_ms` and
//! `$stream_autostart_token` (masked: never the whole token).

use core::ptr;

use ngx::ffi::{
    ngx_conf_t, ngx_http_add_variable, ngx_http_request_t, ngx_http_variable_value_t, ngx_int_t,
    ngx_pnalloc, ngx_str_t, ngx_uint_t, NGX_ERROR, NGX_HTTP_VAR_NOCACHEABLE, NGX_OK,
};

use super::handler;

/// Which value a variable reads.
#[derive(Clone, Copy)]
pub enum Field {
    Channel = 0,
    User = 1,
    Status = 2,
    WaitMs = 3,
    Token = 4,
}

const VARIABLES: [(&str, Field); 5] = [
    ("stream_autostart_channel", Field::Channel),
    ("stream_autostart_user", Field::User),
    ("stream_autostart_status", Field::Status),
    ("stream_autostart_wait_ms", Field::WaitMs),
    ("stream_autostart_token", Field::Token),
];

/// Registers the variables (the module's preconfiguration).
pub extern "C" fn add_variables(cf: *mut ngx_conf_t) -> ngx_int_t {
    for (name, field) in VARIABLES {
        let mut s = ngx_str_t {
            len: name.len(),
            data: name.as_ptr() as *mut u8,
        };
        // SAFETY: nginx copies the name into the configuration; the
        // variable it returns lives as long as the configuration.
        unsafe {
            let v = ngx_http_add_variable(cf, &mut s, NGX_HTTP_VAR_NOCACHEABLE as ngx_uint_t);
            if v.is_null() {
                return NGX_ERROR as ngx_int_t;
            }
            (*v).get_handler = Some(get_variable);
            (*v).data = field as usize;
        }
    }
    NGX_OK as ngx_int_t
}

unsafe extern "C" fn get_variable(
    r: *mut ngx_http_request_t,
    v: *mut ngx_http_variable_value_t,
    data: usize,
) -> ngx_int_t {
    let field = match data {
        0 => Field::Channel,
        1 => Field::User,
        2 => Field::Status,
        3 => Field::WaitMs,
        _ => Field::Token,
    };
    // SAFETY: nginx calls variable handlers with a live request and a value
    // to fill; the bytes are copied into the request pool.
    unsafe {
        let value = handler::log_field(r, field);
        let v = &mut *v;
        match value {
            Some(bytes) if !bytes.is_empty() => {
                let p = ngx_pnalloc((*r).pool, bytes.len()) as *mut u8;
                if p.is_null() {
                    return NGX_ERROR as ngx_int_t;
                }
                ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
                v.data = p;
                v.set_len(bytes.len() as u32);
                v.set_valid(1);
                v.set_no_cacheable(1);
                v.set_not_found(0);
            }
            _ => v.set_not_found(1),
        }
    }
    NGX_OK as ngx_int_t
}
