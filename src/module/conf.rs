//! The module's directives, its location configuration and the module
//! definition nginx loads.

use core::ffi::{c_char, c_void};
use core::ptr;

use ngx::ffi::{
    ngx_array_push, ngx_command_t, ngx_conf_t, ngx_http_compile_complex_value,
    ngx_http_compile_complex_value_t, ngx_http_complex_value_t, ngx_http_conf_ctx_t,
    ngx_http_core_loc_conf_t, ngx_http_core_main_conf_t, ngx_http_core_module, ngx_http_handler_pt,
    ngx_http_module_t, ngx_http_phases_NGX_HTTP_ACCESS_PHASE, ngx_int_t, ngx_module_t, ngx_msec_t,
    ngx_pcalloc, ngx_str_t, ngx_uint_t, NGX_CONF_NOARGS, NGX_CONF_TAKE1, NGX_CONF_TAKE12,
    NGX_HTTP_LOC_CONF, NGX_HTTP_LOC_CONF_OFFSET, NGX_HTTP_MAIN_CONF, NGX_HTTP_MODULE,
    NGX_HTTP_SRV_CONF, NGX_LOG_EMERG,
};
use ngx::{ngx_conf_log_error, ngx_string};

use super::handler;
use crate::supervisor_addr::SupervisorAddr;
use shared::duration;
use shared::protocol::MAX_WAIT_MS;

/// Where the supervisor listens unless `stream_autostart_supervisor` says
/// otherwise; the supervisor's own default is the same path.
pub use shared::DEFAULT_SOCKET;
pub const DEFAULT_WAIT_MS: ngx_msec_t = 15_000;
/// How long a worker trusts a granted token, and a refused one: a revoked
/// token keeps working for at most the first.
pub const DEFAULT_GRANT_MS: ngx_msec_t = 30_000;
pub const DEFAULT_DENY_MS: ngx_msec_t = 5_000;
const UNSET_MSEC: ngx_msec_t = ngx_msec_t::MAX;

/// Per-location configuration.
pub struct LocConf {
    /// `stream_autostart <channel>`: the channel id expression. Set only in
    /// locations that serve playlists.
    pub channel: *mut ngx_http_complex_value_t,
    /// `stream_autostart_token`: null means `$arg_token`.
    pub token: *mut ngx_http_complex_value_t,
    /// `stream_autostart_supervisor`; null until merged with the default.
    pub supervisor: *const SupervisorAddr,
    /// `stream_autostart_wait`.
    pub wait_ms: ngx_msec_t,
    /// `stream_autostart_segment <channel>`: segment locations (token
    /// checked, counted as watching, never starts a stream).
    pub segment: *mut ngx_http_complex_value_t,
    /// `stream_autostart_token_arg`: the query argument segment URIs get
    /// the token in; `Some(empty)` is `off`; `None` unset (`token`).
    pub token_arg: Option<&'static [u8]>,
    /// `stream_autostart_token_cache`.
    pub grant_ms: ngx_msec_t,
    pub deny_ms: ngx_msec_t,
    /// `stream_autostart_m3u <url>`: the channel catalog location; the
    /// playback URL template, with `{channel}` where the id goes.
    pub m3u: *mut ngx_http_complex_value_t,
}

/// What a location with the module's directives does.
pub enum Mode {
    Playlist(*mut ngx_http_complex_value_t),
    Segment(*mut ngx_http_complex_value_t),
    Catalog,
}

impl LocConf {
    fn unset() -> LocConf {
        LocConf {
            channel: ptr::null_mut(),
            token: ptr::null_mut(),
            supervisor: ptr::null(),
            wait_ms: UNSET_MSEC,
            segment: ptr::null_mut(),
            token_arg: None,
            grant_ms: UNSET_MSEC,
            deny_ms: UNSET_MSEC,
            m3u: ptr::null_mut(),
        }
    }

    /// `None` in locations the module does not handle.
    pub fn mode(&self) -> Option<Mode> {
        if !self.channel.is_null() {
            Some(Mode::Playlist(self.channel))
        } else if !self.segment.is_null() {
            Some(Mode::Segment(self.segment))
        } else if !self.m3u.is_null() {
            Some(Mode::Catalog)
        } else {
            None
        }
    }

    /// The query argument name tokens travel in (`None`: `off`).
    pub fn token_arg(&self) -> Option<&[u8]> {
        match self.token_arg {
            None => Some(b"token"),
            Some([]) => None,
            Some(a) => Some(a),
        }
    }

    pub fn supervisor(&self) -> &SupervisorAddr {
        // SAFETY: merge_loc_conf sets it to a leaked, never-freed address.
        unsafe { &*self.supervisor }
    }
}

/// Directives that may appear in http, server and location blocks.
const ANY_LEVEL: u32 = NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF;

type SetFn = unsafe extern "C" fn(*mut ngx_conf_t, *mut ngx_command_t, *mut c_void) -> *mut c_char;

/// A directive whose handler stores into this module's location conf.
const fn directive(name: ngx_str_t, type_: u32, set: SetFn) -> ngx_command_t {
    ngx_command_t {
        name,
        type_: type_ as ngx_uint_t,
        set: Some(set),
        conf: NGX_HTTP_LOC_CONF_OFFSET,
        offset: 0,
        post: ptr::null_mut(),
    }
}

static mut COMMANDS: [ngx_command_t; 10] = [
    directive(
        ngx_string!("stream_autostart"),
        NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1,
        set_channel,
    ),
    directive(
        ngx_string!("stream_autostart_token"),
        ANY_LEVEL | NGX_CONF_TAKE1,
        set_token,
    ),
    directive(
        ngx_string!("stream_autostart_supervisor"),
        ANY_LEVEL | NGX_CONF_TAKE1,
        set_supervisor,
    ),
    directive(
        ngx_string!("stream_autostart_wait"),
        ANY_LEVEL | NGX_CONF_TAKE1,
        set_wait,
    ),
    directive(
        ngx_string!("stream_autostart_segment"),
        NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1,
        set_segment,
    ),
    directive(
        ngx_string!("stream_autostart_token_arg"),
        ANY_LEVEL | NGX_CONF_TAKE1,
        set_token_arg,
    ),
    directive(
        ngx_string!("stream_autostart_token_cache"),
        ANY_LEVEL | NGX_CONF_TAKE12,
        set_token_cache,
    ),
    directive(
        ngx_string!("stream_autostart_m3u"),
        NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1,
        set_m3u,
    ),
    directive(
        ngx_string!("stream_autostart_api"),
        NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS,
        set_api,
    ),
    ngx_command_t::empty(),
];

static MODULE_CTX: ngx_http_module_t = ngx_http_module_t {
    preconfiguration: Some(super::variables::add_variables),
    postconfiguration: Some(postconfiguration),
    create_main_conf: None,
    init_main_conf: None,
    create_srv_conf: None,
    merge_srv_conf: None,
    create_loc_conf: Some(create_loc_conf),
    merge_loc_conf: Some(merge_loc_conf),
};

#[used]
#[allow(non_upper_case_globals)]
#[cfg_attr(not(feature = "export-modules"), no_mangle)]
pub static mut ngx_http_stream_autostart_module: ngx_module_t = ngx_module_t {
    ctx: ptr::addr_of!(MODULE_CTX) as *mut c_void,
    // SAFETY: only the address of the static is taken here.
    commands: unsafe { ptr::addr_of_mut!(COMMANDS[0]) },
    type_: NGX_HTTP_MODULE as ngx_uint_t,
    ..ngx_module_t::default()
};

pub fn module() -> &'static ngx_module_t {
    // SAFETY: nginx writes the module's indexes before any request runs and
    // never again; we only read.
    unsafe { &*ptr::addr_of!(ngx_http_stream_autostart_module) }
}

const CONF_OK: *mut c_char = ptr::null_mut();
const CONF_ERROR: *mut c_char = usize::MAX as *mut c_char; // NGX_CONF_ERROR

/// The directive's argument `n` (1-based) as bytes.
///
/// # Safety
/// `cf` is the configuration being parsed and has at least `n + 1` args.
unsafe fn arg<'a>(cf: *mut ngx_conf_t, n: usize) -> &'a [u8] {
    // SAFETY: cf->args is an array of ngx_str_t with nelts entries (checked
    // by nginx against the directive's TAKE mask).
    unsafe {
        let args = (*(*cf).args).elts as *const ngx_str_t;
        let s = &*args.add(n);
        if s.len == 0 {
            &[]
        } else {
            core::slice::from_raw_parts(s.data, s.len)
        }
    }
}

/// The core module's configuration of the location being parsed, whose
/// `handler` a content directive sets.
///
/// # Safety
/// `cf` is the configuration being parsed, inside a location.
unsafe fn core_loc_conf(cf: *mut ngx_conf_t) -> *mut ngx_http_core_loc_conf_t {
    // SAFETY: in a location block cf->ctx is an http conf ctx whose
    // loc_conf array has the core module's entry.
    unsafe {
        let ctx = (*cf).ctx as *mut ngx_http_conf_ctx_t;
        let core_index = (*ptr::addr_of!(ngx_http_core_module)).ctx_index;
        *(*ctx).loc_conf.add(core_index) as *mut ngx_http_core_loc_conf_t
    }
}

/// Compiles argument 1 into a complex value allocated in the conf pool.
///
/// # Safety
/// `cf` is the configuration being parsed.
unsafe fn compile_value(cf: *mut ngx_conf_t) -> Option<*mut ngx_http_complex_value_t> {
    // SAFETY: pcalloc returns zeroed pool memory or null; the compile
    // structure points at the directive's own argument.
    unsafe {
        let cv = ngx_pcalloc((*cf).pool, core::mem::size_of::<ngx_http_complex_value_t>())
            as *mut ngx_http_complex_value_t;
        if cv.is_null() {
            return None;
        }
        let args = (*(*cf).args).elts as *mut ngx_str_t;
        let mut ccv: ngx_http_compile_complex_value_t = core::mem::zeroed();
        ccv.cf = cf;
        ccv.value = args.add(1);
        ccv.complex_value = cv;
        if ngx_http_compile_complex_value(&mut ccv) != 0 {
            return None;
        }
        Some(cv)
    }
}

extern "C" fn set_channel(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: nginx calls directive handlers with the parsed configuration
    // and this module's location conf for the current block.
    unsafe {
        let lc = &mut *(conf as *mut LocConf);
        if !lc.channel.is_null() {
            return c"is duplicate".as_ptr() as *mut c_char;
        }
        let Some(cv) = compile_value(cf) else {
            return CONF_ERROR;
        };
        lc.channel = cv;

        // Playlists are this location's content: install the handler the
        // way proxy_pass or mp4 do.
        (*core_loc_conf(cf)).handler = Some(handler::content_handler);
    }
    CONF_OK
}

extern "C" fn set_segment(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: as in set_channel.
    unsafe {
        let lc = &mut *(conf as *mut LocConf);
        if !lc.segment.is_null() || !lc.channel.is_null() {
            return c"is duplicate (or combined with stream_autostart)".as_ptr() as *mut c_char;
        }
        // Segments stay nginx's static files (sendfile); only the access
        // phase is ours.
        match compile_value(cf) {
            Some(cv) => lc.segment = cv,
            None => return CONF_ERROR,
        }
    }
    CONF_OK
}

extern "C" fn set_api(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: as in set_channel.
    unsafe {
        let lc = &*(conf as *const LocConf);
        if lc.mode().is_some() {
            return c"cannot be combined with another stream_autostart directive".as_ptr()
                as *mut c_char;
        }
        let clcf = core_loc_conf(cf);
        if (*clcf).handler.is_some() {
            return c"is duplicate, or the location has another content handler".as_ptr()
                as *mut c_char;
        }
        (*clcf).handler = Some(super::api_handler::api_handler);
    }
    CONF_OK
}

extern "C" fn set_m3u(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: as in set_channel.
    unsafe {
        let lc = &mut *(conf as *mut LocConf);
        if !lc.m3u.is_null() || !lc.channel.is_null() || !lc.segment.is_null() {
            return c"is duplicate (or combined with another stream_autostart directive)".as_ptr()
                as *mut c_char;
        }
        if !arg(cf, 1).windows(9).any(|w| w == b"{channel}") {
            ngx_conf_log_error!(
                NGX_LOG_EMERG,
                cf,
                "stream_autostart_m3u needs a playback URL with {{channel}} where the channel id goes, such as \"http://$host/live/stream_{{channel}}.m3u8\""
            );
            return CONF_ERROR;
        }
        match compile_value(cf) {
            Some(cv) => lc.m3u = cv,
            None => return CONF_ERROR,
        }
        (*core_loc_conf(cf)).handler = Some(handler::m3u_handler);
    }
    CONF_OK
}

extern "C" fn set_token_arg(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: as in set_channel; the argument lives in the conf pool, as
    // long as the configuration.
    unsafe {
        let lc = &mut *(conf as *mut LocConf);
        if lc.token_arg.is_some() {
            return c"is duplicate".as_ptr() as *mut c_char;
        }
        let a: &'static [u8] = core::mem::transmute::<&[u8], &'static [u8]>(arg(cf, 1));
        if a == b"off" {
            lc.token_arg = Some(&[]);
        } else if !a.is_empty()
            && a.iter()
                .all(|b| b.is_ascii_alphanumeric() || b"_-".contains(b))
        {
            lc.token_arg = Some(a);
        } else {
            ngx_conf_log_error!(
                NGX_LOG_EMERG,
                cf,
                "stream_autostart_token_arg \"{}\" is not a query argument name (letters, digits, _ and -) or off",
                a.escape_ascii()
            );
            return CONF_ERROR;
        }
    }
    CONF_OK
}

extern "C" fn set_token_cache(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: as in set_channel.
    unsafe {
        let lc = &mut *(conf as *mut LocConf);
        if lc.grant_ms != UNSET_MSEC {
            return c"is duplicate".as_ptr() as *mut c_char;
        }
        let nargs = (*(*cf).args).nelts;
        let mut times = [DEFAULT_GRANT_MS, DEFAULT_DENY_MS];
        for (i, t) in times.iter_mut().enumerate().take(nargs - 1) {
            let text = String::from_utf8_lossy(arg(cf, i + 1)).into_owned();
            match duration::parse_msec(&text) {
                Ok(ms) => *t = ms as ngx_msec_t,
                Err(e) => {
                    ngx_conf_log_error!(NGX_LOG_EMERG, cf, "stream_autostart_token_cache: {}", e);
                    return CONF_ERROR;
                }
            }
        }
        if nargs == 2 {
            // One time given: refusals are not trusted longer than grants.
            times[1] = times[1].min(times[0]);
        }
        lc.grant_ms = times[0];
        lc.deny_ms = times[1];
    }
    CONF_OK
}

extern "C" fn set_token(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: as in set_channel.
    unsafe {
        let lc = &mut *(conf as *mut LocConf);
        if !lc.token.is_null() {
            return c"is duplicate".as_ptr() as *mut c_char;
        }
        if arg(cf, 1).is_empty() {
            ngx_conf_log_error!(
                NGX_LOG_EMERG,
                cf,
                "stream_autostart_token needs a value such as $arg_token"
            );
            return CONF_ERROR;
        }
        match compile_value(cf) {
            Some(cv) => lc.token = cv,
            None => return CONF_ERROR,
        }
    }
    CONF_OK
}

extern "C" fn set_supervisor(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: as in set_channel.
    unsafe {
        let lc = &mut *(conf as *mut LocConf);
        if !lc.supervisor.is_null() {
            return c"is duplicate".as_ptr() as *mut c_char;
        }
        let text = String::from_utf8_lossy(arg(cf, 1)).into_owned();
        match SupervisorAddr::parse(&text) {
            Ok(addr) => lc.supervisor = Box::leak(Box::new(addr)),
            Err(e) => {
                ngx_conf_log_error!(NGX_LOG_EMERG, cf, "stream_autostart_supervisor: {}", e);
                return CONF_ERROR;
            }
        }
    }
    CONF_OK
}

extern "C" fn set_wait(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: as in set_channel.
    unsafe {
        let lc = &mut *(conf as *mut LocConf);
        if lc.wait_ms != UNSET_MSEC {
            return c"is duplicate".as_ptr() as *mut c_char;
        }
        let text = String::from_utf8_lossy(arg(cf, 1)).into_owned();
        match duration::parse_msec(&text) {
            Ok(0) => {
                ngx_conf_log_error!(
                    NGX_LOG_EMERG,
                    cf,
                    "stream_autostart_wait must be greater than 0"
                );
                return CONF_ERROR;
            }
            Ok(ms) if ms > MAX_WAIT_MS => {
                ngx_conf_log_error!(
                    NGX_LOG_EMERG,
                    cf,
                    "stream_autostart_wait \"{}\" is longer than the maximum of {} s",
                    text,
                    MAX_WAIT_MS / 1000
                );
                return CONF_ERROR;
            }
            Ok(ms) => lc.wait_ms = ms as ngx_msec_t,
            Err(e) => {
                ngx_conf_log_error!(NGX_LOG_EMERG, cf, "stream_autostart_wait: {}", e);
                return CONF_ERROR;
            }
        }
    }
    CONF_OK
}

extern "C" fn create_loc_conf(cf: *mut ngx_conf_t) -> *mut c_void {
    // SAFETY: the conf pool outlives every configuration structure in it;
    // LocConf holds only raw pointers and integers, so it needs no drop.
    unsafe {
        let p = ngx::ffi::ngx_palloc((*cf).pool, core::mem::size_of::<LocConf>()) as *mut LocConf;
        if p.is_null() {
            return ptr::null_mut();
        }
        p.write(LocConf::unset());
        p as *mut c_void
    }
}

extern "C" fn merge_loc_conf(
    cf: *mut ngx_conf_t,
    prev: *mut c_void,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: nginx passes two LocConf created by create_loc_conf.
    unsafe {
        let prev = &mut *(prev as *mut LocConf);
        let conf = &mut *(conf as *mut LocConf);
        if conf.token.is_null() {
            conf.token = prev.token;
        }
        if conf.supervisor.is_null() {
            if prev.supervisor.is_null() {
                match SupervisorAddr::parse(&format!("unix:{DEFAULT_SOCKET}")) {
                    Ok(addr) => prev.supervisor = Box::leak(Box::new(addr)),
                    Err(e) => {
                        ngx_conf_log_error!(NGX_LOG_EMERG, cf, "{}", e);
                        return CONF_ERROR;
                    }
                }
            }
            conf.supervisor = prev.supervisor;
        }
        if conf.token_arg.is_none() {
            conf.token_arg = prev.token_arg;
        }
        if conf.grant_ms == UNSET_MSEC {
            (conf.grant_ms, conf.deny_ms) = if prev.grant_ms == UNSET_MSEC {
                (DEFAULT_GRANT_MS, DEFAULT_DENY_MS)
            } else {
                (prev.grant_ms, prev.deny_ms)
            };
        }
        if conf.wait_ms == UNSET_MSEC {
            conf.wait_ms = if prev.wait_ms == UNSET_MSEC {
                DEFAULT_WAIT_MS
            } else {
                prev.wait_ms
            };
        }
    }
    CONF_OK
}

extern "C" fn postconfiguration(cf: *mut ngx_conf_t) -> ngx_int_t {
    // SAFETY: called once with the http block's configuration; the core
    // main conf and its phase arrays exist at this point.
    unsafe {
        let ctx = (*cf).ctx as *mut ngx_http_conf_ctx_t;
        let core_index = (*ptr::addr_of!(ngx_http_core_module)).ctx_index;
        let cmcf = *(*ctx).main_conf.add(core_index) as *mut ngx_http_core_main_conf_t;
        let phase = &mut (*cmcf).phases[ngx_http_phases_NGX_HTTP_ACCESS_PHASE as usize];
        let h = ngx_array_push(&mut phase.handlers) as *mut ngx_http_handler_pt;
        if h.is_null() {
            return ngx::ffi::NGX_ERROR as ngx_int_t;
        }
        *h = Some(handler::access_handler);
    }
    ngx::ffi::NGX_OK as ngx_int_t
}
