//! The module nginx loads: its directives, its configuration hooks and the
//! handlers it installs. This is the only file that names the handlers.

use core::ffi::{c_char, c_void};
use core::ptr;

use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};
use ngx::ffi::{
    ngx_array_push, ngx_command_t, ngx_conf_t, ngx_http_add_variable, ngx_http_conf_ctx_t,
    ngx_http_core_loc_conf_t, ngx_http_core_main_conf_t, ngx_http_core_module, ngx_http_handler_pt,
    ngx_http_module_t, ngx_http_phases, ngx_http_phases_NGX_HTTP_ACCESS_PHASE,
    ngx_http_phases_NGX_HTTP_LOG_PHASE, ngx_http_phases_NGX_HTTP_POST_READ_PHASE,
    ngx_http_request_t, ngx_int_t, ngx_module_t, ngx_str_t, ngx_uint_t, NGX_CONF_1MORE,
    NGX_CONF_NOARGS, NGX_CONF_TAKE1, NGX_CONF_TAKE123, NGX_CONF_TAKE2, NGX_ERROR,
    NGX_HTTP_LOC_CONF, NGX_HTTP_LOC_CONF_OFFSET, NGX_HTTP_MAIN_CONF, NGX_HTTP_MODULE,
    NGX_HTTP_SRV_CONF, NGX_HTTP_VAR_NOCACHEABLE, NGX_LOG_EMERG, NGX_OK,
};
use ngx::http::{HttpModule, HttpModuleLocationConf, HttpModuleMainConf, Merge};
use ngx::{ngx_conf_log_error, ngx_string};

use super::access::access_handler;
use super::api::api_handler;
use super::catalog::catalog_handler;
use super::conf::{LocConf, MainConf, Mode};
use super::cors;
use super::masking::{log_handler, post_read_handler};
use super::metrics::{count_handler, metrics_handler};
use super::metrics_zone;
use super::playlist::playlist_handler;
use super::request::set_module_index;
use super::settings::{
    set_api, set_api_key, set_auth, set_cluster_key, set_cluster_proxy, set_cors, set_login,
    set_m3u, set_m3u_guide, set_metrics, set_playlist, set_segment, set_session_key,
    set_supervisor, set_token, set_token_arg, set_token_cache, set_wait, set_xtream,
};
use super::variables::{get_variable, VARIABLES};
use super::xtream::xtream_handler;

pub struct Module;

impl HttpModule for Module {
    fn module() -> &'static ngx_module_t {
        // SAFETY: nginx writes the module's indexes while loading it, before
        // any configuration or request of ours; afterwards it is only read.
        unsafe { &*ptr::addr_of!(ngx_http_stream_autostart_module) }
    }

    unsafe extern "C" fn preconfiguration(cf: *mut ngx_conf_t) -> ngx_int_t {
        match add_variables(cf) {
            rc if rc == NGX_OK as ngx_int_t => super::cluster::add_variables(cf),
            rc => rc,
        }
    }

    unsafe extern "C" fn postconfiguration(cf: *mut ngx_conf_t) -> ngx_int_t {
        set_module_index(Module::module().ctx_index);
        // Tokens are masked in the request line from the first phase on,
        // and in everything logged before any other log handler (the access
        // log's) runs: first in the log phase, which also runs for
        // requests nginx ends before any phase (400, 414).
        let installed = add_handler(
            cf,
            ngx_http_phases_NGX_HTTP_POST_READ_PHASE,
            post_read_handler,
            false,
        ) && add_handler(
            cf,
            ngx_http_phases_NGX_HTTP_ACCESS_PHASE,
            access_handler,
            false,
        ) && add_handler(cf, ngx_http_phases_NGX_HTTP_LOG_PHASE, log_handler, true)
            && add_handler(cf, ngx_http_phases_NGX_HTTP_LOG_PHASE, count_handler, false)
            && add_metrics_zone(cf);
        if installed {
            // CORS headers go on every response of a location with
            // stream_autostart_cors, whoever made it.
            cors::install();
            // Above CORS: a diverted playlist's header waits for its body.
            super::edge::install();
            NGX_OK as ngx_int_t
        } else {
            NGX_ERROR as ngx_int_t
        }
    }
}

/// The shared memory zone of the workers' counters, in the http block's
/// main conf.
fn add_metrics_zone(cf: *mut ngx_conf_t) -> bool {
    // SAFETY: called from postconfiguration with the http block's live
    // configuration, whose main conf of this module nothing else touches now.
    let main = Module::main_conf_mut(unsafe { &*cf });
    main.is_some_and(|main| metrics_zone::add_zone(cf, main))
}

/// Adds `handler` to `phase`: last, or first when `first`.
fn add_handler(
    cf: *mut ngx_conf_t,
    phase: ngx_http_phases,
    handler: unsafe extern "C" fn(*mut ngx_http_request_t) -> ngx_int_t,
    first: bool,
) -> bool {
    // SAFETY: called from postconfiguration with the http block's
    // configuration: the core module's main conf and its phase arrays
    // (of ngx_http_handler_pt) exist; the array is ours to change until
    // nginx builds the phase engine after every postconfiguration.
    unsafe {
        let ctx = (*cf).ctx as *mut ngx_http_conf_ctx_t;
        let core_index = (*ptr::addr_of!(ngx_http_core_module)).ctx_index;
        let cmcf = *(*ctx).main_conf.add(core_index) as *mut ngx_http_core_main_conf_t;
        let handlers = &mut (*cmcf).phases[phase as usize].handlers;
        let h = ngx_array_push(handlers) as *mut ngx_http_handler_pt;
        if h.is_null() {
            return false;
        }
        if first {
            // ngx_array_push may have moved the elements: take the base
            // after it. Shift the others up by one.
            let base = handlers.elts as *mut ngx_http_handler_pt;
            ptr::copy(base, base.add(1), handlers.nelts - 1);
            *base = Some(handler);
        } else {
            *h = Some(handler);
        }
    }
    true
}

// SAFETY: every location conf of this module is the LocConf that
// create_loc_conf (the trait's, through the pool) makes.
unsafe impl HttpModuleLocationConf for Module {
    type LocationConf = LocConf;
}

// SAFETY: the module's main conf is the MainConf that create_main_conf
// (the trait's, through the pool) makes.
unsafe impl HttpModuleMainConf for Module {
    type MainConf = MainConf;
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

static mut COMMANDS: [ngx_command_t; 20] = [
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
        ANY_LEVEL | NGX_CONF_TAKE123,
        set_token_cache,
    ),
    directive(
        ngx_string!("stream_autostart_api_key"),
        ANY_LEVEL | NGX_CONF_TAKE1,
        set_api_key,
    ),
    directive(
        ngx_string!("stream_autostart_cors"),
        ANY_LEVEL | NGX_CONF_1MORE,
        set_cors,
    ),
    directive(
        ngx_string!("stream_autostart_session_key"),
        ANY_LEVEL | NGX_CONF_TAKE1,
        set_session_key,
    ),
    directive(
        ngx_string!("stream_autostart_xtream"),
        NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS | NGX_CONF_TAKE1,
        set_xtream,
    ),
    directive(
        ngx_string!("stream_autostart_auth"),
        NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS,
        set_auth,
    ),
    directive(
        ngx_string!("stream_autostart_login"),
        ANY_LEVEL | NGX_CONF_TAKE2,
        set_login,
    ),
    directive(
        ngx_string!("stream_autostart_m3u_guide"),
        ANY_LEVEL | NGX_CONF_TAKE1,
        set_m3u_guide,
    ),
    directive(
        ngx_string!("stream_autostart_metrics"),
        NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS,
        set_metrics,
    ),
    directive(
        ngx_string!("stream_autostart_cluster_key"),
        ANY_LEVEL | NGX_CONF_TAKE1,
        set_cluster_key,
    ),
    directive(
        ngx_string!("stream_autostart_cluster_proxy"),
        ANY_LEVEL | NGX_CONF_TAKE1,
        set_cluster_proxy,
    ),
    ngx_command_t::empty(),
];

static MODULE_CTX: ngx_http_module_t = ngx_http_module_t {
    preconfiguration: Some(Module::preconfiguration),
    postconfiguration: Some(Module::postconfiguration),
    create_main_conf: Some(Module::create_main_conf),
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
    init_process: Some(metrics_zone::init_process),
    ..ngx_module_t::default()
};

/// The content handler a mode installs, if any.
pub fn content_handler(mode: &Mode) -> ngx::ffi::ngx_http_handler_pt {
    match mode {
        Mode::Playlist { .. } => Some(playlist_handler),
        Mode::Catalog { .. } => Some(catalog_handler),
        Mode::Api => Some(api_handler),
        Mode::Xtream { .. } => Some(xtream_handler),
        Mode::Metrics => Some(metrics_handler),
        Mode::Segment { .. } | Mode::Auth => None,
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
    if matches!(
        conf.cluster_proxy,
        Some(super::conf::ClusterProxy::Named(_))
    ) && conf.cluster_key.is_none()
    {
        ngx_conf_log_error!(
            NGX_LOG_EMERG,
            cf,
            "stream_autostart_cluster_proxy with a named location needs stream_autostart_cluster_key (the owner admits proxied requests by it)"
        );
        return NGX_CONF_ERROR;
    }
    let Some(mode) = &conf.mode else {
        return NGX_CONF_OK;
    };
    // SAFETY: while merging, cf->ctx is an http conf ctx whose main_conf
    // array holds this module's MainConf (create_main_conf), which nothing
    // else touches during the merge.
    let main = unsafe {
        let ctx = (*cf).ctx as *mut ngx_http_conf_ctx_t;
        &mut *(*(*ctx).main_conf.add(Module::module().ctx_index) as *mut MainConf)
    };
    for name in conf.mask_names() {
        main.add_mask_name(name);
    }
    super::credentials::add_masks(conf, main);
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
