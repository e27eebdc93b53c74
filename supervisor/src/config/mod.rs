//! Command line and environment of `stream-supervisor`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use shared::DEFAULT_SOCKET;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "stream-supervisor",
    version,
    about = "Starts ffmpeg for HLS channels on demand, for nginx's stream_autostart module"
)]
pub struct Cli {
    /// Unix socket to listen on (nginx: stream_autostart_supervisor unix:PATH).
    #[arg(long, env = "SUPERVISOR_SOCKET", default_value = DEFAULT_SOCKET)]
    pub socket: PathBuf,

    /// Permissions of the socket file, octal.
    #[arg(long, env = "SUPERVISOR_SOCKET_MODE", default_value = "660", value_parser = parse_mode)]
    pub socket_mode: u32,

    /// Group that owns the socket (nginx's worker group), by name or number.
    #[arg(long, env = "SUPERVISOR_SOCKET_GROUP")]
    pub socket_group: Option<String>,

    /// Redis holding channel:<id>, token:<t>, user:<id>.
    #[arg(
        long,
        env = "SUPERVISOR_REDIS_URL",
        default_value = "redis://127.0.0.1:6379/0"
    )]
    pub redis_url: String,

    /// Redis Sentinels to ask for the master, HOST:PORT comma-separated;
    /// replaces --redis-url's address (docs/cluster.md, "Redis itself").
    #[arg(long, env = "SUPERVISOR_REDIS_SENTINEL", requires = "redis_master",
        value_parser = crate::store::parse_sentinels)]
    pub redis_sentinel: Option<crate::store::SentinelAddrs>,

    /// The master's name in the sentinels' `sentinel monitor NAME ...`.
    #[arg(long, env = "SUPERVISOR_REDIS_MASTER", requires = "redis_sentinel")]
    pub redis_master: Option<String>,

    /// Database number on the master the sentinels name.
    #[arg(
        long,
        env = "SUPERVISOR_REDIS_DB",
        default_value_t = 0,
        requires = "redis_sentinel"
    )]
    pub redis_db: i64,

    /// File whose first line is the Redis password (wins over a URL's);
    /// refused if other users may read it.
    #[arg(long, env = "SUPERVISOR_REDIS_PASSWORD_FILE")]
    pub redis_password_file: Option<PathBuf>,

    /// File whose first line is the sentinels' password (their
    /// requirepass); refused if other users may read it.
    #[arg(long, env = "SUPERVISOR_REDIS_SENTINEL_PASSWORD_FILE")]
    pub redis_sentinel_password_file: Option<PathBuf>,

    /// Prefix for every Redis key, so deployments can share one Redis.
    #[arg(long, env = "SUPERVISOR_KEY_PREFIX", default_value = "")]
    pub key_prefix: String,

    /// Directory ffmpeg writes stream_<id>.m3u8 and stream_<id>_NNN.ts into.
    #[arg(long, env = "SUPERVISOR_HLS_DIR", default_value = "/var/www/hls")]
    pub hls_dir: PathBuf,

    /// No ffmpeg starts while the HLS directory's file system has less
    /// free than this (64M, 512k, ...; 0: only a full one refuses).
    #[arg(long, env = "SUPERVISOR_MIN_FREE_SPACE", default_value = "64M", value_parser = crate::disk_space::parse_size)]
    pub min_free_space: u64,

    /// ffmpeg binary.
    #[arg(long, env = "SUPERVISOR_FFMPEG", default_value = "ffmpeg")]
    pub ffmpeg: PathBuf,

    /// Stop a channel nobody has asked for in this long (e.g. 300s, 5m).
    #[arg(long, env = "SUPERVISOR_IDLE_TIMEOUT", default_value = "300s", value_parser = parse_duration)]
    pub idle_timeout: Duration,

    /// Target HLS segment duration.
    #[arg(long, env = "SUPERVISOR_SEGMENT_DURATION", default_value = "4s", value_parser = parse_duration)]
    pub segment_duration: Duration,

    /// Length of a copy-mode channel's first segment, cut by the
    /// supervisor from the first key frame (0: a whole segment). A cold
    /// start waits for this instead of the source's keyframe interval.
    #[arg(long, env = "SUPERVISOR_FIRST_SEGMENT_DURATION", default_value = "200ms", value_parser = parse_duration)]
    pub first_segment_duration: Duration,

    /// Give up on a channel that has no segment after this long.
    #[arg(long, env = "SUPERVISOR_START_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub start_timeout: Duration,

    /// Most streams running at once; beyond it viewers get 503 (0: no limit).
    #[arg(long, env = "SUPERVISOR_MAX_STREAMS", default_value_t = 100)]
    pub max_streams: usize,

    /// First restart delay after ffmpeg fails; doubles per failure.
    #[arg(long, env = "SUPERVISOR_RESTART_DELAY", default_value = "500ms", value_parser = parse_duration)]
    pub restart_delay: Duration,

    /// Longest restart delay.
    #[arg(long, env = "SUPERVISOR_RESTART_MAX_DELAY", default_value = "30s", value_parser = parse_duration)]
    pub restart_max_delay: Duration,

    /// Failures within --failure-window that make a channel failed.
    #[arg(long, env = "SUPERVISOR_MAX_FAILURES", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_failures: u32,

    /// Window in which failures are counted.
    #[arg(long, env = "SUPERVISOR_FAILURE_WINDOW", default_value = "60s", value_parser = parse_duration)]
    pub failure_window: Duration,

    /// How long a failed channel answers "failed" at once before the next
    /// viewer may try it again.
    #[arg(long, env = "SUPERVISOR_FAILED_COOLDOWN", default_value = "30s", value_parser = parse_duration)]
    pub failed_cooldown: Duration,

    /// A running ffmpeg whose playlist does not advance for this long is
    /// restarted (default: three segment durations, at least 6 s).
    #[arg(long, env = "SUPERVISOR_STALL_TIMEOUT", value_parser = parse_duration)]
    pub stall_timeout: Option<Duration>,

    /// Proxy for every channel without its own `proxy`: http://, socks5://
    /// or socks5h:// URL, with optional user:password@.
    #[arg(long, env = "SUPERVISOR_PROXY")]
    pub proxy: Option<String>,

    /// User-Agent for channels without their own `user_agent`.
    #[arg(long, env = "SUPERVISOR_USER_AGENT", value_parser = header_value)]
    pub user_agent: Option<String>,

    /// Referer for channels without their own `referer`.
    #[arg(long, env = "SUPERVISOR_REFERER", value_parser = header_value)]
    pub referer: Option<String>,

    /// Extra request header for every channel, "Name: value"; repeatable.
    /// A channel's own header of the same name wins.
    #[arg(long = "header", value_name = "NAME: VALUE", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,

    /// Cookie header value for channels without their own `cookies`.
    #[arg(long, env = "SUPERVISOR_COOKIES", value_parser = header_value)]
    pub cookies: Option<String>,

    /// Whether ffmpeg reconnects a dropped live stream by itself, for
    /// channels that do not say.
    #[arg(long, env = "SUPERVISOR_RECONNECT", default_value_t = true, action = clap::ArgAction::Set)]
    pub reconnect: bool,

    /// Connecting to an upstream or its proxy gives up after this.
    #[arg(long, env = "SUPERVISOR_CONNECT_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub connect_timeout: Duration,

    /// ffmpeg gives up on an upstream silent for this long (its socket
    /// timeout, which bounds connecting too).
    #[arg(long, env = "SUPERVISOR_READ_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub read_timeout: Duration,

    /// Source URL schemes channels may use, comma-separated; only network
    /// protocols can be enabled.
    #[arg(long, env = "SUPERVISOR_SOURCE_SCHEMES", default_value = "http,https", value_parser = parse_schemes)]
    pub source_schemes: Schemes,

    /// Private or local networks upstreams may be in (comma-separated
    /// addr/prefix); by default none: loopback, link-local, private,
    /// CGNAT, unspecified and multicast addresses are refused.
    #[arg(long, env = "SUPERVISOR_ALLOW_UPSTREAM_NETWORKS", default_value = "", value_parser = parse_networks)]
    pub allow_upstream_networks: Networks,

    /// Query parameters whose values are secrets, redacted wherever a
    /// source URL is shown (comma-separated, any case).
    #[arg(long, env = "SUPERVISOR_REDACT_QUERY_PARAMS", default_value = crate::redact::DEFAULT_PARAMS)]
    pub redact_query_params: String,
    // Who may ask what on the socket, and what one client can make the
    // supervisor hold (server.rs, peer_access.rs, conn_limits.rs).
    /// Group whose members may ask for operator operations (stop, start,
    /// restart, status) besides root and the supervisor's user; by name or
    /// number, repeatable or comma-separated. None by default: nginx's
    /// workers may then only ask for what viewers need.
    #[arg(
        long = "operator-group",
        env = "SUPERVISOR_OPERATOR_GROUP",
        value_delimiter = ','
    )]
    pub operator_groups: Vec<String>,

    /// Socket connections open at once (lowered to fit the open-files limit).
    #[arg(long, env = "SUPERVISOR_MAX_CONNECTIONS", default_value_t = 4096, value_parser = at_least_one)]
    pub max_connections: usize,

    /// Socket connections open at once from one client process.
    #[arg(long, env = "SUPERVISOR_MAX_CLIENT_CONNECTIONS", default_value_t = 512, value_parser = at_least_one)]
    pub max_client_connections: usize,

    /// Requests of one connection answered at once; more wait unread.
    #[arg(long, env = "SUPERVISOR_MAX_IN_FLIGHT", default_value_t = 64, value_parser = at_least_one)]
    pub max_in_flight: usize,

    /// A connection with nothing in flight that sends nothing this long is
    /// closed.
    #[arg(long, env = "SUPERVISOR_CLIENT_IDLE_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub client_idle_timeout: Duration,

    /// A request line must be complete this long after its first byte.
    #[arg(long, env = "SUPERVISOR_CLIENT_READ_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub client_read_timeout: Duration,

    /// A client that does not read a reply for this long is disconnected.
    #[arg(long, env = "SUPERVISOR_CLIENT_WRITE_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub client_write_timeout: Duration,

    // The programme guide (guide/).
    /// Directory the supervisor renders guide.xml and guide.xml.gz into
    /// (default: the HLS directory).
    #[arg(long, env = "SUPERVISOR_GUIDE_DIR")]
    pub guide_dir: Option<PathBuf>,

    /// XMLTV file or http(s) URL (plain or gzip) the supervisor imports
    /// every --guide-refresh; none by default (import with `epg import`).
    #[arg(long, env = "SUPERVISOR_GUIDE_SOURCE")]
    pub guide_source: Option<String>,

    /// How often --guide-source is imported again.
    #[arg(long, env = "SUPERVISOR_GUIDE_REFRESH", default_value = "6h", value_parser = parse_duration)]
    pub guide_refresh: Duration,

    /// Programmes that ended longer ago than this are dropped.
    #[arg(long, env = "SUPERVISOR_GUIDE_PAST", default_value = "1d", value_parser = parse_duration)]
    pub guide_past: Duration,

    /// Programmes starting further ahead than this are dropped.
    #[arg(long, env = "SUPERVISOR_GUIDE_AHEAD", default_value = "7d", value_parser = parse_duration)]
    pub guide_ahead: Duration,

    // Viewing sessions (accounts/sessions.rs).
    /// A viewing session with no request for this long is over.
    #[arg(long, env = "SUPERVISOR_SESSION_IDLE", default_value = "15s", value_parser = parse_duration)]
    pub session_idle: Duration,

    /// A new session beyond a user's max_connections: refuse-new refuses
    /// it, end-oldest ends the user's session that started first.
    #[arg(long, env = "SUPERVISOR_CONNECTION_LIMIT_POLICY", default_value = "refuse-new",
        value_parser = crate::accounts::session_policy::LimitPolicy::parse)]
    pub connection_limit_policy: crate::accounts::session_policy::LimitPolicy,

    /// Per-channel metric series (`{channel}` labels: up, CPU, memory,
    /// viewers, sessions of each running channel): off leaves them out,
    /// for very large catalogs.
    #[arg(long, env = "SUPERVISOR_METRICS_PER_CHANNEL", default_value = "on", value_parser = parse_on_off, action = clap::ArgAction::Set)]
    pub metrics_per_channel: bool,

    // Cluster mode (cluster/, docs/cluster.md): without --node-id the
    // supervisor runs alone, as it always has.
    /// This node's id in a cluster sharing one Redis ([A-Za-z0-9_-]{1,64}).
    #[arg(long, env = "SUPERVISOR_NODE_ID", requires = "node_url")]
    pub node_id: Option<String>,

    /// Base URL other nodes reach this node's nginx at (http://host:port).
    #[arg(long, env = "SUPERVISOR_NODE_URL", requires = "node_id")]
    pub node_url: Option<String>,

    /// Channels this node takes in placement (default: --max-streams).
    #[arg(long, env = "SUPERVISOR_NODE_CAPACITY")]
    pub node_capacity: Option<usize>,

    /// Life of a channel lease and of a node's heartbeat; renewed every
    /// third of it (at least 3s).
    #[arg(long, env = "SUPERVISOR_LEASE_TTL", default_value = "10s", value_parser = parse_lease_ttl)]
    pub lease_ttl: Duration,

    /// Log level or filter (RUST_LOG, if set, wins).
    #[arg(long, env = "SUPERVISOR_LOG", default_value = "info")]
    pub log: String,

    /// Log as text lines or as one JSON object per line.
    #[arg(long, env = "SUPERVISOR_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,

    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// What this node publishes of itself in cluster mode (`None`: alone).
    pub fn node_capacity(&self) -> usize {
        self.node_capacity.unwrap_or(self.max_streams)
    }

    pub fn guide_dir(&self) -> PathBuf {
        self.guide_dir
            .clone()
            .unwrap_or_else(|| self.hls_dir.clone())
    }

    pub fn stall_timeout(&self) -> Duration {
        self.stall_timeout
            .unwrap_or_else(|| (self.segment_duration * 3).max(Duration::from_secs(6)))
    }
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Run the supervisor (the default).
    Run,
    /// Show one channel, or every running channel.
    Status {
        channel: Option<String>,
        #[command(flatten)]
        out: Output,
    },
    /// Show every running channel.
    List {
        #[command(flatten)]
        out: Output,
    },
    /// Start a channel (a failed one at once) and wait until it is ready.
    Start {
        channel: String,
        #[command(flatten)]
        out: Output,
        /// How long to wait for the first segment.
        #[arg(long, default_value = "30s", value_parser = parse_duration)]
        wait: Duration,
    },
    /// Stop a channel, removing its files and stream keys.
    Stop {
        channel: String,
        #[command(flatten)]
        out: Output,
    },
    /// Channel records in Redis.
    Channels {
        #[command(subcommand)]
        cmd: ChannelCmd,
    },
    /// Users in Redis.
    Users {
        #[command(subcommand)]
        cmd: UserCmd,
    },
    /// Viewer tokens in Redis.
    Tokens {
        #[command(subcommand)]
        cmd: TokenCmd,
    },
    /// The programme guide (XMLTV).
    Epg {
        #[command(subcommand)]
        cmd: EpgCmd,
    },
    /// Cluster nodes: list, drain, undrain.
    Nodes {
        #[command(subcommand)]
        cmd: NodeCmd,
    },
    /// Live viewing sessions (of one user with --user); `sessions end`
    /// ends some.
    Sessions {
        /// Only this user's sessions.
        #[arg(long)]
        user: Option<String>,
        #[command(flatten)]
        out: Output,
        #[command(subcommand)]
        cmd: Option<SessionCmd>,
    },
    /// Print the supervisor's metrics (Prometheus text format).
    Metrics {
        #[command(flatten)]
        out: Output,
    },
    /// Stop a channel if it runs, then start it afresh.
    Restart {
        channel: String,
        #[command(flatten)]
        out: Output,
        /// How long to wait for the first segment.
        #[arg(long, default_value = "30s", value_parser = parse_duration)]
        wait: Duration,
    },
}

/// `channels ...`: the `channel:<id>` records.
#[derive(Debug, Clone, Subcommand)]
pub enum ChannelCmd {
    /// List channels (id, name, group, quality, source).
    List {
        #[command(flatten)]
        out: Output,
    },
    /// Add a channel (refused if it exists).
    Add {
        id: String,
        #[command(flatten)]
        fields: ChannelFields,
    },
    /// Change fields of an existing channel.
    Edit {
        id: String,
        #[command(flatten)]
        fields: ChannelFields,
    },
    /// Remove a channel.
    Remove { id: String },
    /// Import channels from an M3U file (#EXTINF attributes kept).
    Import {
        file: PathBuf,
        /// Quality preset for the imported channels.
        #[arg(long)]
        quality: Option<String>,
        /// Replace channels that exist (default: keep them).
        #[arg(long)]
        replace: bool,
    },
}

mod values;
pub use values::*;

/// A lease shorter than 3 s leaves no room for a renewal that fails once.
fn parse_lease_ttl(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_secs(3) {
        return Err(format!("{s}: a lease lasts 3s at least"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests;
