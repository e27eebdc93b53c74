//! The small argument types and value parsers of the command line.

use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;

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

/// `nodes ...`: the cluster's nodes (cluster mode, docs/cluster.md).
#[derive(Debug, Clone, Subcommand)]
pub enum NodeCmd {
    /// Live nodes: id, URL, load/capacity, draining.
    List,
    /// No new channel starts on the node; its running ones carry on until
    /// they idle out, and start elsewhere when viewers come back.
    Drain { node: String },
    /// The node takes new channels again.
    Undrain { node: String },
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

pub(crate) fn parse_conn_limit(s: &str) -> Result<ConnLimit, String> {
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

pub(crate) fn parse_schemes(s: &str) -> Result<Schemes, String> {
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

pub(crate) fn parse_networks(s: &str) -> Result<Networks, String> {
    crate::gateway::policy::parse_list(s).map(Networks)
}

pub(crate) fn header_value(s: &str) -> Result<String, String> {
    if s.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
        Err("contains a line break or control character".into())
    } else {
        Ok(s.to_string())
    }
}

pub(crate) fn parse_header(s: &str) -> Result<(String, String), String> {
    let (name, value) = s
        .split_once(':')
        .ok_or_else(|| format!("header \"{s}\" is not \"Name: value\""))?;
    let (name, value) = (name.trim(), value.trim());
    let mut probe = std::collections::BTreeMap::new();
    probe.insert(name.to_string(), value.to_string());
    crate::channel_record::ChannelRecord {
        headers: probe,
        ..Default::default()
    }
    .request_options()?;
    Ok((name.to_string(), value.to_string()))
}

pub(crate) fn parse_on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("\"{s}\" is not on or off")),
    }
}

pub(crate) fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("\"{s}\" is not a number of at least 1")),
    }
}

pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    shared::duration::parse_msec(s).map(Duration::from_millis)
}

pub(crate) fn parse_mode(s: &str) -> Result<u32, String> {
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

pub(crate) fn group_id(etc_group: &str, name: &str) -> Option<u32> {
    etc_group.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name).then_some(())?;
        f.nth(1)?.parse().ok()
    })
}
