//! The module nginx loads: its directives, its configuration hooks and the
//! handlers it installs. This is the only file that names the handlers.

use core::ffi::{c_char, c_void};
use core::ptr::{self, NonNull};

use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};
use ngx::ffi::{
    ngx_array_push, ngx_command_t, ngx_conf_t, ngx_http_add_variable,
    ngx_http_compile_complex_value, ngx_http_compile_complex_value_t, ngx_http_complex_value_t,
    ngx_http_conf_ctx_t, ngx_http_core_loc_conf_t, ngx_http_core_main_conf_t, ngx_http_core_module,
    ngx_http_handler_pt, ngx_http_module_t, ngx_http_phases_NGX_HTTP_ACCESS_PHASE, ngx_int_t,
    ngx_module_t, ngx_msec_t, ngx_pcalloc, ngx_str_t, ngx_uint_t, NGX_CONF_NOARGS, NGX_CONF_TAKE1,
    NGX_CONF_TAKE12, NGX_ERROR, NGX_HTTP_LOC_CONF, NGX_HTTP_LOC_CONF_OFFSET, NGX_HTTP_MAIN_CONF,
    NGX_HTTP_MODULE, NGX_HTTP_SRV_CONF, NGX_HTTP_VAR_NOCACHEABLE, NGX_LOG_EMERG, NGX_OK,
};
use ngx::http::{HttpModule, HttpModuleLocationConf, Merge};
use ngx::{ngx_conf_log_error, ngx_string};
use shared::duration;
use shared::protocol::MAX_WAIT_MS;

use super::access::access_handler;
use super::api::api_handler;
use super::catalog::catalog_handler;
use super::conf::{Cv, LocConf, Mode, TokenArg, DEFAULT_DENY_MS, DEFAULT_GRANT_MS};
use super::playlist::playlist_handler;
use super::request::set_module_index;
use super::variables::{get_variable, VARIABLES};
use crate::directive_mode;
use crate::supervisor_addr::SupervisorAddr;

pub struct Module;

impl HttpModule for Module {
    fn module() -> &'static ngx_module_t {
        // SAFETY: nginx writes the module's indexes while loading it, before
        // any configuration or request of ours; afterwards it is only read.
        unsafe { &*ptr::addr_of!(ngx_http_stream_autostart_module) }
    }

    unsafe extern "C" fn preconfiguration(cf: *mut ngx_conf_t) -> ngx_int_t {
        add_variables(cf)
    }

    unsafe extern "C" fn postconfiguration(cf: *mut ngx_conf_t) -> ngx_int_t {
        set_module_index(Module::module().ctx_index);
        // SAFETY: called once per http block with its configuration; the
        // core module's main conf and its phase arrays exist by now.
        unsafe {
            let ctx = (*cf).ctx as *mut ngx_http_conf_ctx_t;
            let core_index = (*ptr::addr_of!(ngx_http_core_module)).ctx_index;
            let cmcf = *(*ctx).main_conf.add(core_index) as *mut ngx_http_core_main_conf_t;
            let phase = &mut (*cmcf).phases[ngx_http_phases_NGX_HTTP_ACCESS_PHASE as usize];
            let h = ngx_array_push(&mut phase.handlers) as *mut ngx_http_handler_pt;
            if h.is_null() {
                return NGX_ERROR as ngx_int_t;
            }
            *h = Some(access_handler);
        }
        NGX_OK as ngx_int_t
    }
}

// SAFETY: every location conf of this module is the LocConf that
// create_loc_conf (the trait's, through the pool) makes.
unsafe impl HttpModuleLocationConf for Module {
    type LocationConf = LocConf;
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
        set_playlist,
    ),
    directive(
        ngx_string!("stream_autostart_segment"),
        NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1,
        set_segment,
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
        ngx_string!("stream_autostart_token_arg"),
        ANY_LEVEL | NGX_CONF_TAKE1,
        set_token_arg,
    ),
    directive(
        ngx_string!("stream_autostart_token_cache"),
        ANY_LEVEL | NGX_CONF_TAKE12,
        set_token_cache,
    ),
    ngx_command_t::empty(),
];

static MODULE_CTX: ngx_http_module_t = ngx_http_module_t {
    preconfiguration: Some(Module::preconfiguration),
    postconfiguration: Some(Module::postconfiguration),
    create_main_conf: None,
    init_main_conf: None,
    create_srv_conf: None,
    merge_srv_conf: None,
    create_loc_conf: Some(Module::create_loc_conf),
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

/// The content handler a mode installs, if any.
fn content_handler(mode: &Mode) -> ngx::ffi::ngx_http_handler_pt {
    match mode {
        Mode::Playlist { .. } => Some(playlist_handler),
        Mode::Catalog { .. } => Some(catalog_handler),
        Mode::Api => Some(api_handler),
        Mode::Segment { .. } => None,
    }
}

/// Merges a location's configuration with its parent's, and refuses a
/// location where another module's directive (proxy_pass, say) replaced
/// the content handler our directive installed: set_mode sees only the
/// other order.
unsafe extern "C" fn merge_loc_conf(
    cf: *mut ngx_conf_t,
    prev: *mut c_void,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: nginx merges two LocConf that create_loc_conf made, the
    // parent's and this location's, and nothing else touches them now.
    let (prev, conf) = unsafe { (&*(prev as *const LocConf), &mut *(conf as *mut LocConf)) };
    if conf.merge(prev).is_err() {
        ngx_conf_log_error!(
            NGX_LOG_EMERG,
            cf,
            "stream_autostart: the default supervisor socket {} is not a usable address",
            shared::DEFAULT_SOCKET
        );
        return NGX_CONF_ERROR;
    }
    let Some(mode) = &conf.mode else {
        return NGX_CONF_OK;
    };
    let Some(ours) = content_handler(mode) else {
        return NGX_CONF_OK;
    };
    // SAFETY: while merging, cf->ctx is the http conf ctx of the location
    // being merged, whose loc_conf array has the core module's entry.
    let clcf = unsafe {
        let ctx = (*cf).ctx as *mut ngx_http_conf_ctx_t;
        let core_index = (*ptr::addr_of!(ngx_http_core_module)).ctx_index;
        &*(*(*ctx).loc_conf.add(core_index) as *const ngx_http_core_loc_conf_t)
    };
    if clcf.handler.map(|h| h as usize) == Some(ours as usize) {
        return NGX_CONF_OK;
    }
    // SAFETY: the location's name is configuration memory.
    let name = unsafe { core::slice::from_raw_parts(clcf.name.data, clcf.name.len) };
    ngx_conf_log_error!(
        NGX_LOG_EMERG,
        cf,
        "\"{}\" cannot be combined with another content handler (such as proxy_pass) in location \"{}\"",
        mode.kind().directive(),
        name.escape_ascii()
    );
    NGX_CONF_ERROR
}

/// Registers the variables (the module's preconfiguration).
fn add_variables(cf: *mut ngx_conf_t) -> ngx_int_t {
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

/// A directive handler's view of what nginx passes it.
struct Directive<'a> {
    cf: *mut ngx_conf_t,
    lc: &'a mut LocConf,
}

impl<'a> Directive<'a> {
    /// # Safety
    /// nginx's arguments to a `set` handler of this module's directives:
    /// the configuration being parsed and this module's LocConf.
    unsafe fn new(cf: *mut ngx_conf_t, conf: *mut c_void) -> Directive<'a> {
        Directive {
            cf,
            // SAFETY: nginx passes our own LocConf as `conf`; no one
            // else touches it while the directive is parsed.
            lc: unsafe { &mut *(conf as *mut LocConf) },
        }
    }

    fn nargs(&self) -> usize {
        // SAFETY: cf->args is the array of the directive's words.
        unsafe { (*(*self.cf).args).nelts }
    }

    /// Argument `n` (1-based) as bytes.
    fn arg(&self, n: usize) -> &'a [u8] {
        if n >= self.nargs() {
            return &[];
        }
        // SAFETY: cf->args holds nelts ngx_str_t (checked above), in the
        // configuration's memory.
        unsafe {
            let s = &*((*(*self.cf).args).elts as *const ngx_str_t).add(n);
            if s.len == 0 {
                &[]
            } else {
                core::slice::from_raw_parts(s.data, s.len)
            }
        }
    }

    fn arg_text(&self, n: usize) -> String {
        String::from_utf8_lossy(self.arg(n)).into_owned()
    }

    /// Compiles argument 1 into a complex value in the configuration pool.
    fn compile(&self) -> Option<Cv> {
        // SAFETY: pcalloc returns zeroed pool memory or null; the compile
        // structure points at the directive's own argument, and nginx
        // reports errors itself.
        unsafe {
            let cv = ngx_pcalloc(
                (*self.cf).pool,
                core::mem::size_of::<ngx_http_complex_value_t>(),
            ) as *mut ngx_http_complex_value_t;
            let cv = NonNull::new(cv)?;
            let mut ccv: ngx_http_compile_complex_value_t = core::mem::zeroed();
            ccv.cf = self.cf;
            ccv.value = ((*(*self.cf).args).elts as *mut ngx_str_t).add(1);
            ccv.complex_value = cv.as_ptr();
            (ngx_http_compile_complex_value(&mut ccv) == 0).then_some(Cv(cv))
        }
    }

    /// The core module's configuration of this location.
    fn core_loc_conf(&self) -> &'a mut ngx_http_core_loc_conf_t {
        // SAFETY: in a location block cf->ctx is an http conf ctx whose
        // loc_conf array has the core module's entry.
        unsafe {
            let ctx = (*self.cf).ctx as *mut ngx_http_conf_ctx_t;
            let core_index = (*ptr::addr_of!(ngx_http_core_module)).ctx_index;
            &mut *(*(*ctx).loc_conf.add(core_index) as *mut ngx_http_core_loc_conf_t)
        }
    }

    fn error(&self, message: core::fmt::Arguments<'_>) -> *mut c_char {
        ngx_conf_log_error!(NGX_LOG_EMERG, self.cf, "{}", message);
        NGX_CONF_ERROR
    }

    /// Gives the location its mode (and content handler): at most one.
    fn set_mode(&mut self, mode: Mode) -> *mut c_char {
        let kind = mode.kind();
        let existing = self.lc.mode.as_ref().map(Mode::kind);
        if let Some(why) = directive_mode::conflict(existing, kind) {
            return self.error(format_args!("\"{}\" directive {}", kind.directive(), why));
        }
        if let Some(handler) = content_handler(&mode) {
            let clcf = self.core_loc_conf();
            if clcf.handler.is_some() {
                return self.error(format_args!(
                    "\"{}\" directive cannot be combined with another content handler (such as proxy_pass) in one location",
                    kind.directive()
                ));
            }
            clcf.handler = Some(handler);
        }
        self.lc.mode = Some(mode);
        NGX_CONF_OK
    }
}

macro_rules! set_fn {
    ($name:ident, |$d:ident| $body:block) => {
        unsafe extern "C" fn $name(
            cf: *mut ngx_conf_t,
            _cmd: *mut ngx_command_t,
            conf: *mut c_void,
        ) -> *mut c_char {
            // SAFETY: nginx calls directive handlers with the configuration
            // being parsed and this module's conf for the current block.
            #[allow(unused_mut)]
            let mut $d = unsafe { Directive::new(cf, conf) };
            $body
        }
    };
}

set_fn!(set_playlist, |d| {
    let Some(channel) = d.compile() else {
        return NGX_CONF_ERROR;
    };
    // Playlists are this location's content, as for proxy_pass or mp4.
    d.set_mode(Mode::Playlist { channel })
});

set_fn!(set_segment, |d| {
    let Some(channel) = d.compile() else {
        return NGX_CONF_ERROR;
    };
    // Segments stay nginx's static files (sendfile); only the access phase
    // is ours.
    d.set_mode(Mode::Segment { channel })
});

set_fn!(set_m3u, |d| {
    if !d.arg(1).windows(9).any(|w| w == b"{channel}") {
        return d.error(format_args!(
            "stream_autostart_m3u needs a playback URL with {{channel}} where the channel id goes, such as \"http://$host/live/stream_{{channel}}.m3u8\""
        ));
    }
    let Some(url) = d.compile() else {
        return NGX_CONF_ERROR;
    };
    d.set_mode(Mode::Catalog { url })
});

set_fn!(set_api, |d| { d.set_mode(Mode::Api) });

set_fn!(set_token, |d| {
    if d.lc.token.is_some() {
        return c"is duplicate".as_ptr() as *mut c_char;
    }
    if d.arg(1).is_empty() {
        return d.error(format_args!(
            "stream_autostart_token needs a value such as $arg_token"
        ));
    }
    let Some(cv) = d.compile() else {
        return NGX_CONF_ERROR;
    };
    d.lc.token = Some(cv);
    NGX_CONF_OK
});

set_fn!(set_supervisor, |d| {
    if d.lc.supervisor.is_some() {
        return c"is duplicate".as_ptr() as *mut c_char;
    }
    match SupervisorAddr::parse(&d.arg_text(1)) {
        Ok(addr) => {
            d.lc.supervisor = Some(addr);
            NGX_CONF_OK
        }
        Err(e) => d.error(format_args!("stream_autostart_supervisor: {e}")),
    }
});

set_fn!(set_wait, |d| {
    if d.lc.wait_ms.is_some() {
        return c"is duplicate".as_ptr() as *mut c_char;
    }
    let text = d.arg_text(1);
    match duration::parse_msec(&text) {
        Ok(0) => d.error(format_args!("stream_autostart_wait must be greater than 0")),
        Ok(ms) if ms > MAX_WAIT_MS => d.error(format_args!(
            "stream_autostart_wait \"{}\" is longer than the maximum of {} s",
            text,
            MAX_WAIT_MS / 1000
        )),
        Ok(ms) => {
            d.lc.wait_ms = Some(ms as ngx_msec_t);
            NGX_CONF_OK
        }
        Err(e) => d.error(format_args!("stream_autostart_wait: {e}")),
    }
});

set_fn!(set_token_arg, |d| {
    if d.lc.token_arg.is_some() {
        return c"is duplicate".as_ptr() as *mut c_char;
    }
    let a = d.arg(1);
    if a == b"off" {
        d.lc.token_arg = Some(TokenArg::Off);
    } else if !a.is_empty()
        && a.iter()
            .all(|b| b.is_ascii_alphanumeric() || b"_-".contains(b))
    {
        d.lc.token_arg = Some(TokenArg::Name(a.into()));
    } else {
        return d.error(format_args!(
            "stream_autostart_token_arg \"{}\" is not a query argument name (letters, digits, _ and -) or off",
            a.escape_ascii()
        ));
    }
    NGX_CONF_OK
});

set_fn!(set_token_cache, |d| {
    if d.lc.token_cache.is_some() {
        return c"is duplicate".as_ptr() as *mut c_char;
    }
    let mut times = [DEFAULT_GRANT_MS, DEFAULT_DENY_MS];
    let given = d.nargs() - 1;
    for (i, t) in times.iter_mut().enumerate().take(given) {
        match duration::parse_msec(&d.arg_text(i + 1)) {
            Ok(ms) => *t = ms as ngx_msec_t,
            Err(e) => return d.error(format_args!("stream_autostart_token_cache: {e}")),
        }
    }
    if given == 1 {
        // One time given: refusals are not trusted longer than grants.
        times[1] = times[1].min(times[0]);
    }
    d.lc.token_cache = Some((times[0], times[1]));
    NGX_CONF_OK
});
