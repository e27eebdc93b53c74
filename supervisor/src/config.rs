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

#[derive(Debug, Clone, Default, clap::Args)]
pub struct ChannelFields {
    #[arg(long)]
    pub source: Option<String>,
    #[arg(long)]
    pub quality: Option<String>,
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub group: Option<String>,
    #[arg(long)]
    pub logo: Option<String>,
    /// Channel number (tvg-chno), 1 or more; 0 removes it.
    #[arg(long)]
    pub number: Option<u32>,
    /// XMLTV channel id of its guide (tvg-id); "" removes it.
    #[arg(long = "guide-id")]
    pub guide_id: Option<String>,
    #[arg(long = "user-agent")]
    pub user_agent: Option<String>,
    #[arg(long)]
    pub referer: Option<String>,
    /// Proxy URL, or "none" for no proxy.
    #[arg(long)]
    pub proxy: Option<String>,
}

/// `epg ...`: the guide.
#[derive(Debug, Clone, Subcommand)]
pub enum EpgCmd {
    /// Import an XMLTV file or http(s) URL (plain or gzip): the programmes
    /// of catalog channels (by guide id) within the guide window replace
    /// the stored guide; guide.xml is rendered into the guide directory.
    /// Without SOURCE: --guide-source (SUPERVISOR_GUIDE_SOURCE), which
    /// keeps a URL's credentials out of the command line.
    Import { source: Option<String> },
}

/// `users ...`: the `user:<id>` records.
#[derive(Debug, Clone, Subcommand)]
pub enum UserCmd {
    /// Add an active user.
    Add {
        id: String,
        /// Expiry: Unix seconds, ISO 8601, or "never".
        #[arg(long)]
        expires: Option<String>,
        #[command(flatten)]
        password: PasswordSource,
        /// Simultaneous viewing sessions: a number from 1, or "unlimited"
        /// (the default).
        #[arg(long, value_parser = parse_conn_limit)]
        max_connections: Option<ConnLimit>,
    },
    /// Make a user inactive (their tokens stop working).
    Disable { id: String },
    /// Make a user active again.
    Enable { id: String },
    /// Set when a user expires (Unix seconds, ISO 8601, or "never").
    Expire { id: String, when: String },
    /// Set a user's password, read from standard input (one line) or
    /// --password-file; --clear removes it (logins then fail).
    Passwd {
        id: String,
        /// Read the password from the first line of this file.
        #[arg(long, value_name = "FILE", conflicts_with = "clear")]
        password_file: Option<PathBuf>,
        /// Remove the password.
        #[arg(long)]
        clear: bool,
    },
    /// Change a user's limits.
    Set {
        id: String,
        /// Simultaneous viewing sessions: a number from 1, or "unlimited".
        #[arg(long, value_parser = parse_conn_limit)]
        max_connections: ConnLimit,
    },
    /// Show one user (a password is shown as set or not set, never whole).
    Show {
        id: String,
        #[command(flatten)]
        out: Output,
    },
    /// List users.
    List {
        #[command(flatten)]
        out: Output,
    },
}

/// Where `users add` reads a password from: never from argv.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PasswordSource {
    /// Give the user a password, read from standard input (one line).
    #[arg(long, conflicts_with = "password_file")]
    pub password: bool,
    /// Give the user a password, read from the first line of this file.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

/// A `max_connections` value: `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimit(pub Option<u32>);

fn parse_conn_limit(s: &str) -> Result<ConnLimit, String> {
    if s.eq_ignore_ascii_case("unlimited") {
        return Ok(ConnLimit(None));
    }
    match s.parse::<u32>() {
        Ok(n) if n >= 1 => Ok(ConnLimit(Some(n))),
        _ => Err(format!("\"{s}\" is not a number from 1 or \"unlimited\"")),
    }
}

/// `sessions ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum SessionCmd {
    /// End a user's sessions (all, or those on --channel and/or from
    /// --client); their requests are refused for the session idle time.
    End {
        user: String,
        #[arg(long)]
        channel: Option<String>,
        /// The client key `sessions` shows.
        #[arg(long)]
        client: Option<String>,
        #[command(flatten)]
        out: Output,
    },
}

/// `tokens ...`: the `token:<token>` keys.
#[derive(Debug, Clone, Subcommand)]
pub enum TokenCmd {
    /// Issue a new random token for a user; prints it.
    Issue { user: String },
    /// Revoke a token.
    Revoke { token: String },
    /// List a user's tokens.
    List {
        user: String,
        #[command(flatten)]
        out: Output,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct Output {
    /// Print the supervisor's JSON reply instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Network protocols of ffmpeg a source may be allowed to use. Never file,
/// pipe, concat, data, subfile and the like: they read local things.
pub const NETWORK_SCHEMES: &[&str] = &[
    "http", "https", "rtmp", "rtmps", "rtsp", "srt", "udp", "rtp", "tcp",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schemes(pub Vec<String>);

fn parse_schemes(s: &str) -> Result<Schemes, String> {
    let mut out = Vec::new();
    for name in s.split(',').map(|p| p.trim().to_ascii_lowercase()) {
        if name.is_empty() {
            continue;
        }
        if !NETWORK_SCHEMES.contains(&name.as_str()) {
            return Err(format!(
                "\"{name}\" cannot be allowed (network protocols only: {})",
                NETWORK_SCHEMES.join(", ")
            ));
        }
        if !out.contains(&name) {
            out.push(name);
        }
    }
    if out.is_empty() {
        return Err("allow at least one source scheme".into());
    }
    Ok(Schemes(out))
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Networks(pub Vec<crate::gateway::policy::Net>);

fn parse_networks(s: &str) -> Result<Networks, String> {
    crate::gateway::policy::parse_list(s).map(Networks)
}

fn header_value(s: &str) -> Result<String, String> {
    if s.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
        Err("contains a line break or control character".into())
    } else {
        Ok(s.to_string())
    }
}

fn parse_header(s: &str) -> Result<(String, String), String> {
    let (name, value) = s
        .split_once(':')
        .ok_or_else(|| format!("header \"{s}\" is not \"Name: value\""))?;
    let (name, value) = (name.trim(), value.trim());
    let mut probe = std::collections::BTreeMap::new();
    probe.insert(name.to_string(), value.to_string());
    super::channel_record::ChannelRecord {
        headers: probe,
        ..Default::default()
    }
    .request_options()?;
    Ok((name.to_string(), value.to_string()))
}

fn parse_on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("\"{s}\" is not on or off")),
    }
}

fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("\"{s}\" is not a number of at least 1")),
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    shared::duration::parse_msec(s).map(Duration::from_millis)
}

fn parse_mode(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| format!("invalid mode \"{s}\": expected octal such as 660"))
}

/// Resolves a group name (or number) through /etc/group.
pub fn resolve_group(name: &str) -> Result<u32, String> {
    if let Ok(gid) = name.parse() {
        return Ok(gid);
    }
    let text = std::fs::read_to_string("/etc/group").map_err(|e| format!("/etc/group: {e}"))?;
    group_id(&text, name).ok_or_else(|| format!("no group named \"{name}\" in /etc/group"))
}

fn group_id(etc_group: &str, name: &str) -> Option<u32> {
    etc_group.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name).then_some(())?;
        f.nth(1)?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_groups() {
        assert_eq!(parse_mode("660"), Ok(0o660));
        assert_eq!(parse_mode("0o600"), Ok(0o600));
        assert!(parse_mode("999").is_err());
        let g = "root:x:0:\nwww-data:x:33:\nnogroup:x:65534:\n";
        assert_eq!(group_id(g, "www-data"), Some(33));
        assert_eq!(group_id(g, "nobody"), None);
    }

    #[test]
    fn defaults() {
        let cli = Cli::parse_from(["stream-supervisor"]);
        assert_eq!(cli.idle_timeout, Duration::from_secs(300));
        assert_eq!(cli.segment_duration, Duration::from_secs(4));
        assert_eq!(cli.socket, PathBuf::from(DEFAULT_SOCKET));
        let cli = Cli::parse_from(["stream-supervisor", "--idle-timeout", "1m30s"]);
        assert_eq!(cli.idle_timeout, Duration::from_secs(90));
        assert!(Cli::try_parse_from(["stream-supervisor", "--idle-timeout", "soon"]).is_err());
        assert_eq!(cli.stall_timeout(), Duration::from_secs(12));
        let cli = Cli::parse_from(["stream-supervisor", "--segment-duration", "1s"]);
        assert_eq!(cli.stall_timeout(), Duration::from_secs(6));
    }

    #[test]
    fn source_schemes() {
        assert_eq!(
            parse_schemes("http, HTTPS,http").unwrap().0,
            ["http", "https"]
        );
        assert!(parse_schemes("http,file").unwrap_err().contains("\"file\""));
        assert!(parse_schemes("pipe").is_err());
        assert!(parse_schemes(" , ").is_err());
        let cli = Cli::parse_from(["stream-supervisor"]);
        assert_eq!(cli.source_schemes.0, ["http", "https"]);
    }

    #[test]
    fn request_defaults() {
        let cli = Cli::parse_from([
            "stream-supervisor",
            "--header",
            "X-A: 1",
            "--header",
            "X-B:two words",
            "--reconnect",
            "false",
        ]);
        assert_eq!(
            cli.headers,
            [
                ("X-A".to_string(), "1".to_string()),
                ("X-B".to_string(), "two words".to_string())
            ]
        );
        assert!(!cli.reconnect);
        assert!(Cli::try_parse_from(["stream-supervisor", "--header", "nocolon"]).is_err());
        assert!(Cli::try_parse_from(["stream-supervisor", "--header", "Host: x"]).is_err());
        assert!(Cli::parse_from(["stream-supervisor"]).reconnect);
        assert!(Cli::try_parse_from(["stream-supervisor", "--referer", "a\r\nX: y"]).is_err());
    }

    #[test]
    fn user_commands() {
        assert_eq!(parse_conn_limit("2"), Ok(ConnLimit(Some(2))));
        assert_eq!(parse_conn_limit("unlimited"), Ok(ConnLimit(None)));
        assert!(parse_conn_limit("0").is_err());
        assert!(parse_conn_limit("-1").is_err());
        let cli = Cli::parse_from([
            "s",
            "users",
            "add",
            "alice",
            "--password",
            "--max-connections",
            "2",
        ]);
        assert!(matches!(
            cli.command,
            Some(Command::Users {
                cmd: UserCmd::Add {
                    password: PasswordSource { password: true, .. },
                    max_connections: Some(ConnLimit(Some(2))),
                    ..
                }
            })
        ));
        // A password is never taken from argv.
        assert!(
            Cli::try_parse_from(["s", "users", "add", "alice", "--password", "hunter2"]).is_err()
        );
        assert!(Cli::try_parse_from(["s", "users", "add", "alice", "--password=hunter2"]).is_err());
        assert!(Cli::try_parse_from(["s", "users", "passwd", "alice", "hunter2"]).is_err());
        let cli = Cli::parse_from([
            "s",
            "--session-idle",
            "2s",
            "--connection-limit-policy",
            "end-oldest",
        ]);
        assert_eq!(cli.session_idle, Duration::from_secs(2));
        assert!(Cli::try_parse_from(["s", "--connection-limit-policy", "kick"]).is_err());
        let cli = Cli::parse_from(["s", "sessions", "--user", "bob"]);
        assert!(matches!(
            cli.command,
            Some(Command::Sessions {
                user: Some(_),
                cmd: None,
                ..
            })
        ));
        let cli = Cli::parse_from(["s", "sessions", "end", "bob", "--channel", "7"]);
        assert!(matches!(
            cli.command,
            Some(Command::Sessions {
                cmd: Some(SessionCmd::End {
                    channel: Some(_),
                    client: None,
                    ..
                }),
                ..
            })
        ));
    }

    #[test]
    fn metrics_flag() {
        assert!(Cli::parse_from(["s"]).metrics_per_channel);
        assert!(!Cli::parse_from(["s", "--metrics-per-channel", "off"]).metrics_per_channel);
        assert!(Cli::try_parse_from(["s", "--metrics-per-channel", "no"]).is_err());
        let cli = Cli::parse_from(["s", "metrics"]);
        assert!(matches!(cli.command, Some(Command::Metrics { .. })));
    }

    #[test]
    fn operator_commands() {
        let cli = Cli::parse_from(["stream-supervisor", "status", "--json"]);
        assert!(matches!(
            cli.command,
            Some(Command::Status {
                channel: None,
                out: Output { json: true }
            })
        ));
        let cli = Cli::parse_from(["stream-supervisor", "--socket", "/tmp/s", "restart", "7"]);
        assert!(
            matches!(cli.command, Some(Command::Restart { ref channel, .. }) if channel == "7")
        );
        assert!(Cli::try_parse_from(["stream-supervisor", "stop"]).is_err());
    }
}
