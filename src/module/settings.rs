//! The directives' arguments: each `set_*` checks its words (so `nginx -t`
//! says what is wrong) and stores them into the location's `LocConf`.

use core::ffi::{c_char, c_void};
use core::ptr::{self, NonNull};

use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};
use ngx::ffi::{
    ngx_command_t, ngx_conf_t, ngx_http_compile_complex_value, ngx_http_compile_complex_value_t,
    ngx_http_complex_value_t, ngx_http_conf_ctx_t, ngx_http_core_loc_conf_t, ngx_http_core_module,
    ngx_msec_t, ngx_pcalloc, ngx_str_t, NGX_LOG_EMERG,
};
use ngx::ngx_conf_log_error;
use shared::duration;
use shared::protocol::MAX_WAIT_MS;

use super::conf::{
    ApiKey, ClusterProxy, Cv, LocConf, Login, Mode, TokenArg, DEFAULT_DENY_MS, DEFAULT_GRANT_MS,
    DEFAULT_STALE_MS,
};
use super::directives::content_handler;
use crate::supervisor_addr::SupervisorAddr;
use crate::{api_guard, cors, directive_mode, log_mask};

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
        self.compile_arg(1)
    }

    /// Compiles argument `n` (1-based, present) into a complex value.
    fn compile_arg(&self, n: usize) -> Option<Cv> {
        if n >= self.nargs() {
            return None;
        }
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
            ccv.value = ((*(*self.cf).args).elts as *mut ngx_str_t).add(n);
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
        pub unsafe extern "C" fn $name(
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
    // A token read from a query argument is masked in logs under that
    // argument's name.
    d.lc.token_from_arg = log_mask::arg_variable(d.arg(1)).map(Into::into);
    NGX_CONF_OK
});

set_fn!(set_api_key, |d| {
    if d.lc.api_key.is_some() {
        return c"is duplicate".as_ptr() as *mut c_char;
    }
    // A path is read now (nginx -T then shows the path, not the key);
    // anything else is the key itself.
    let arg = d.arg(1);
    let key = if arg.starts_with(b"/") {
        let path = d.arg_text(1);
        match std::fs::read(&path) {
            Ok(text) => text.trim_ascii().to_vec(),
            Err(e) => {
                return d.error(format_args!(
                    "stream_autostart_api_key: cannot read \"{path}\": {e}"
                ))
            }
        }
    } else {
        arg.to_vec()
    };
    if let Err(why) = api_guard::check_configured_key(&key) {
        return d.error(format_args!("stream_autostart_api_key: {why}"));
    }
    d.lc.api_key = Some(ApiKey(key.into()));
    NGX_CONF_OK
});

set_fn!(set_cluster_key, |d| {
    if d.lc.cluster_key.is_some() {
        return c"is duplicate".as_ptr() as *mut c_char;
    }
    // Only a file: the key is the same on every node and must not show in
    // nginx.conf (nor in `nginx -T`).
    let path = d.arg_text(1);
    if !path.starts_with('/') {
        return d.error(format_args!(
            "stream_autostart_cluster_key needs the absolute path of a file holding the key"
        ));
    }
    let key = match std::fs::read(&path) {
        Ok(text) => text.trim_ascii().to_vec(),
        Err(e) => {
            return d.error(format_args!(
                "stream_autostart_cluster_key: cannot read \"{path}\": {e}"
            ))
        }
    };
    if let Err(why) = api_guard::check_configured_key(&key) {
        // Same rules as an API key; the message names this key.
        let why = why.replace("the API key", "the cluster key");
        return d.error(format_args!("stream_autostart_cluster_key: {why}"));
    }
    d.lc.cluster_key = Some(ApiKey(key.into()));
    NGX_CONF_OK
});

set_fn!(set_cluster_proxy, |d| {
    if d.lc.cluster_proxy.is_some() {
        return c"is duplicate".as_ptr() as *mut c_char;
    }
    let arg = d.arg(1);
    d.lc.cluster_proxy = Some(match arg {
        b"redirect" => ClusterProxy::Redirect,
        [b'@', rest @ ..] if !rest.is_empty() => ClusterProxy::Named(arg.into()),
        _ => {
            return d.error(format_args!(
                "stream_autostart_cluster_proxy takes a named location (\"@cluster\") or \"redirect\", not \"{}\"",
                arg.escape_ascii()
            ))
        }
    });
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
    let mut stale = DEFAULT_STALE_MS;
    let mut given = 0;
    for i in 1..d.nargs() {
        let text = d.arg_text(i);
        if let Some(t) = text.strip_prefix("stale=") {
            match duration::parse_msec(t) {
                Ok(ms) => stale = ms as ngx_msec_t,
                Err(e) => return d.error(format_args!("stream_autostart_token_cache: stale: {e}")),
            }
            continue;
        }
        if i != given + 1 || given == times.len() {
            return d.error(format_args!(
                "stream_autostart_token_cache: unexpected \"{text}\"; expected granted [refused] [stale=time]"
            ));
        }
        match duration::parse_msec(&text) {
            Ok(ms) => times[given] = ms as ngx_msec_t,
            Err(e) => return d.error(format_args!("stream_autostart_token_cache: {e}")),
        }
        given += 1;
    }
    if given == 0 {
        return d.error(format_args!(
            "stream_autostart_token_cache: no granted time; expected granted [refused] [stale=time]"
        ));
    }
    if given == 1 {
        // One time given: refusals are not trusted longer than grants.
        times[1] = times[1].min(times[0]);
    }
    d.lc.token_cache = Some((times[0], times[1], stale));
    NGX_CONF_OK
});

set_fn!(set_cors, |d| {
    if d.lc.cors.is_some() {
        return c"is duplicate".as_ptr() as *mut c_char;
    }
    let args: Vec<&[u8]> = (1..d.nargs()).map(|i| d.arg(i)).collect();
    match cors::parse(&args) {
        Ok(policy) => {
            d.lc.cors = Some(policy);
            NGX_CONF_OK
        }
        Err(why) => d.error(format_args!("stream_autostart_cors: {why}")),
    }
});

set_fn!(set_session_key, |d| {
    if d.lc.session_key.is_some() {
        return c"is duplicate".as_ptr() as *mut c_char;
    }
    if d.arg(1).is_empty() {
        return d.error(format_args!(
            "stream_autostart_session_key needs a value such as $remote_addr$http_user_agent"
        ));
    }
    let Some(cv) = d.compile() else {
        return NGX_CONF_ERROR;
    };
    d.lc.session_key = Some(cv);
    NGX_CONF_OK
});

set_fn!(set_xtream, |d| {
    let m3u = match d.arg(1) {
        b"" if d.nargs() == 1 => false,
        b"m3u" => true,
        other => {
            return d.error(format_args!(
                "stream_autostart_xtream: unexpected \"{}\"; expected nothing (player_api.php) or m3u (get.php)",
                other.escape_ascii()
            ))
        }
    };
    d.set_mode(Mode::Xtream { m3u })
});

set_fn!(set_auth, |d| { d.set_mode(Mode::Auth) });

set_fn!(set_metrics, |d| { d.set_mode(Mode::Metrics) });

set_fn!(set_login, |d| {
    if d.lc.login.is_some() {
        return c"is duplicate".as_ptr() as *mut c_char;
    }
    if d.arg(1).is_empty() || d.arg(2).is_empty() {
        return d.error(format_args!(
            "stream_autostart_login needs a user and a password, such as $arg_username $arg_password"
        ));
    }
    let (Some(user), Some(password)) = (d.compile_arg(1), d.compile_arg(2)) else {
        return NGX_CONF_ERROR;
    };
    d.lc.login = Some(Login {
        user,
        password,
        user_arg: log_mask::arg_variable(d.arg(1)).map(Into::into),
        password_arg: log_mask::arg_variable(d.arg(2)).map(Into::into),
    });
    NGX_CONF_OK
});

set_fn!(set_m3u_guide, |d| {
    if d.lc.m3u_guide.is_some() {
        return c"is duplicate".as_ptr() as *mut c_char;
    }
    if d.arg(1).is_empty() {
        return d.error(format_args!(
            "stream_autostart_m3u_guide needs the guide's URL, such as \"http://$host/epg.xml\""
        ));
    }
    let Some(url) = d.compile() else {
        return NGX_CONF_ERROR;
    };
    d.lc.m3u_guide = Some(url);
    NGX_CONF_OK
});
