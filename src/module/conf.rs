//! A location's configuration: what it does (one mode at most) and the
//! settings the request path reads. Allocated in the configuration pool
//! through the ngx crate, which runs `Drop` when the configuration goes, so
//! nothing is leaked across reloads.

use core::ptr::NonNull;
use std::borrow::Cow;

use ngx::ffi::{ngx_http_complex_value_t, ngx_msec_t, ngx_shm_zone_t};
use ngx::http::{Merge, MergeConfigError};

use crate::cors::Policy as CorsPolicy;
use crate::directive_mode::ModeKind;
use crate::supervisor_addr::SupervisorAddr;
use shared::DEFAULT_SOCKET;

pub const DEFAULT_WAIT_MS: ngx_msec_t = 15_000;
/// How long a worker trusts a granted token, and a refused one: a revoked
/// token keeps working for at most the first.
pub const DEFAULT_GRANT_MS: ngx_msec_t = 30_000;
pub const DEFAULT_DENY_MS: ngx_msec_t = 5_000;
/// How long an expired grant stands in while the supervisor's store is down.
pub const DEFAULT_STALE_MS: ngx_msec_t = 300_000;
/// Extra time beyond `stream_autostart_wait` for the supervisor's reply.
pub const ENSURE_SLACK_MS: u64 = 3_000;

/// The supervisor address of locations that name none. Resolved into each
/// location's configuration while merging (pool-owned, dropped with it),
/// never into a process-global static: one would outlive the module when
/// nginx unloads it, and leak.
fn default_supervisor() -> Result<SupervisorAddr, String> {
    SupervisorAddr::parse(&format!("unix:{DEFAULT_SOCKET}"))
}

/// A complex value compiled at configuration time into the configuration
/// pool, which outlives every request.
#[derive(Clone, Copy)]
pub struct Cv(pub NonNull<ngx_http_complex_value_t>);

/// What a location with the module's directives does.
pub enum Mode {
    /// `stream_autostart <channel>`: on-demand playlists.
    Playlist { channel: Cv },
    /// `stream_autostart_segment <channel>`: token-checked static segments.
    Segment { channel: Cv },
    /// `stream_autostart_m3u <url>`: the channel list, `{channel}` in `url`.
    Catalog { url: Cv },
    /// `stream_autostart_api`.
    Api,
    /// `stream_autostart_xtream [m3u]`: player_api.php, or get.php (`m3u`).
    Xtream { m3u: bool },
    /// `stream_autostart_auth`: only the viewer check (token or login), for
    /// what nginx serves itself (the guide).
    Auth,
    /// `stream_autostart_metrics`: Prometheus metrics.
    Metrics,
}

impl Mode {
    pub fn kind(&self) -> ModeKind {
        match self {
            Mode::Playlist { .. } => ModeKind::Playlist,
            Mode::Segment { .. } => ModeKind::Segment,
            Mode::Catalog { .. } => ModeKind::Catalog,
            Mode::Api => ModeKind::Api,
            Mode::Xtream { .. } => ModeKind::Xtream,
            Mode::Auth => ModeKind::Auth,
            Mode::Metrics => ModeKind::Metrics,
        }
    }
}

/// `stream_autostart_token_arg`.
#[derive(Clone)]
pub enum TokenArg {
    Off,
    Name(Box<[u8]>),
}

/// The http block's configuration: which query arguments are masked in
/// what nginx logs, in every server of the block (the names every
/// location using the module takes its token from, gathered while merging).
#[derive(Default)]
pub struct MainConf {
    pub mask_names: Vec<Box<[u8]>>,
    /// Query arguments masked whole (passwords).
    pub full_mask_names: Vec<Box<[u8]>>,
    /// Mask the password of Xtream stream paths (`path_mask`): set when a
    /// location checks logins or serves the Xtream API.
    pub mask_paths: bool,
    /// The shared memory zone of every worker's counters (`metrics_zone`).
    pub metrics_zone: Option<NonNull<ngx_shm_zone_t>>,
}

impl MainConf {
    pub fn add_full_mask_name(&mut self, name: &[u8]) {
        if !self
            .full_mask_names
            .iter()
            .any(|n| n.eq_ignore_ascii_case(name))
        {
            self.full_mask_names.push(name.into());
        }
    }

    pub fn add_mask_name(&mut self, name: &[u8]) {
        if !self.mask_names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            self.mask_names.push(name.into());
        }
    }
}

/// `stream_autostart_login <user> <password>`.
#[derive(Clone)]
pub struct Login {
    pub user: Cv,
    pub password: Cv,
    /// The query argument each is read from when it is exactly
    /// `$arg_<name>`: such values are percent-decoded (path captures
    /// nginx has decoded already), and masked in logs under that name.
    pub user_arg: Option<Box<[u8]>>,
    pub password_arg: Option<Box<[u8]>>,
}

/// `stream_autostart_api_key`: never shown (not even by `Debug`).
#[derive(Clone)]
pub struct ApiKey(pub Box<[u8]>);

/// `stream_autostart_cluster_proxy`: what a node does with a viewer whose
/// channel runs on another node.
#[derive(Clone)]
pub enum ClusterProxy {
    /// 302 to the owner, the same URI.
    Redirect,
    /// Continue in this named location (`@...`), which proxies to
    /// `$stream_autostart_owner_url$stream_autostart_cluster_uri`.
    Named(Box<[u8]>),
}

#[derive(Default)]
pub struct LocConf {
    /// Not inherited: each location says what it does.
    pub mode: Option<Mode>,
    /// `stream_autostart_token`; `None`: `$arg_token`.
    pub token: Option<Cv>,
    /// The argument name when `stream_autostart_token` is `$arg_<name>`.
    pub token_from_arg: Option<Box<[u8]>>,
    /// `stream_autostart_api_key`.
    pub api_key: Option<ApiKey>,
    /// `stream_autostart_supervisor`; after merging, the default socket
    /// when no level names one.
    pub supervisor: Option<SupervisorAddr>,
    pub wait_ms: Option<ngx_msec_t>,
    pub token_arg: Option<TokenArg>,
    /// `stream_autostart_token_cache`: granted, refused, stale.
    pub token_cache: Option<(ngx_msec_t, ngx_msec_t, ngx_msec_t)>,
    /// `stream_autostart_login`.
    pub login: Option<Login>,
    /// `stream_autostart_m3u_guide`.
    pub m3u_guide: Option<Cv>,
    /// `stream_autostart_cors`; `None`: off.
    pub cors: Option<CorsPolicy>,
    /// `stream_autostart_session_key`; `None`: address + User-Agent.
    pub session_key: Option<Cv>,
    /// `stream_autostart_cluster_key`: node-to-node requests carry it.
    pub cluster_key: Option<ApiKey>,
    pub cluster_proxy: Option<ClusterProxy>,
}

impl LocConf {
    /// The query argument tokens travel in; `None`: `off`.
    pub fn token_arg(&self) -> Option<&[u8]> {
        match &self.token_arg {
            None => Some(b"token"),
            Some(TokenArg::Off) => None,
            Some(TokenArg::Name(n)) => Some(n),
        }
    }

    /// The query arguments a token of this location may travel in, to be
    /// masked in logs: where the token is read from, and where the module
    /// writes it (whether or not `stream_autostart_token_arg` is `off`).
    pub fn mask_names(&self) -> Vec<&[u8]> {
        let mut names = Vec::new();
        match (&self.token, &self.token_from_arg) {
            (None, _) => names.push(&b"token"[..]),
            (Some(_), Some(arg)) => names.push(arg),
            (Some(_), None) => {}
        }
        if let Some(TokenArg::Name(n)) = &self.token_arg {
            names.push(n);
        }
        names
    }

    /// The supervisor this location asks. Merging fills in the default;
    /// a configuration nginx never merged falls back to resolving it here
    /// (fail-safe, never a shared static).
    pub fn supervisor(&self) -> Cow<'_, SupervisorAddr> {
        match &self.supervisor {
            Some(addr) => Cow::Borrowed(addr),
            // merge() refuses a default that does not parse.
            None => Cow::Owned(
                default_supervisor()
                    .unwrap_or_else(|e| unreachable!("default supervisor socket: {e}")),
            ),
        }
    }

    pub fn wait_ms(&self) -> u64 {
        self.wait_ms.unwrap_or(DEFAULT_WAIT_MS) as u64
    }

    pub fn grant_ms(&self) -> u64 {
        self.token_cache.map_or(DEFAULT_GRANT_MS, |t| t.0) as u64
    }

    pub fn deny_ms(&self) -> u64 {
        self.token_cache.map_or(DEFAULT_DENY_MS, |t| t.1) as u64
    }

    pub fn stale_ms(&self) -> u64 {
        self.token_cache.map_or(DEFAULT_STALE_MS, |t| t.2) as u64
    }
}

impl Merge for LocConf {
    fn merge(&mut self, prev: &LocConf) -> Result<(), MergeConfigError> {
        if self.token.is_none() {
            self.token = prev.token;
            self.token_from_arg.clone_from(&prev.token_from_arg);
        }
        if self.api_key.is_none() {
            self.api_key.clone_from(&prev.api_key);
        }
        if self.supervisor.is_none() {
            self.supervisor.clone_from(&prev.supervisor);
        }
        if self.supervisor.is_none() {
            self.supervisor = Some(default_supervisor().map_err(|_| MergeConfigError::NoValue)?);
        }
        if self.wait_ms.is_none() {
            self.wait_ms = prev.wait_ms;
        }
        if self.token_arg.is_none() {
            self.token_arg.clone_from(&prev.token_arg);
        }
        if self.token_cache.is_none() {
            self.token_cache = prev.token_cache;
        }
        if self.login.is_none() {
            self.login.clone_from(&prev.login);
        }
        if self.m3u_guide.is_none() {
            self.m3u_guide = prev.m3u_guide;
        }
        if self.cors.is_none() {
            self.cors.clone_from(&prev.cors);
        }
        if self.session_key.is_none() {
            self.session_key = prev.session_key;
        }
        if self.cluster_key.is_none() {
            self.cluster_key.clone_from(&prev.cluster_key);
        }
        if self.cluster_proxy.is_none() {
            self.cluster_proxy.clone_from(&prev.cluster_proxy);
        }
        Ok(())
    }
}
