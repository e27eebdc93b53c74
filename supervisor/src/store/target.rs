//! Where the supervisor's Redis is: one URL (--redis-url), or the master
//! that a set of Redis Sentinels names (--redis-sentinel, --redis-master),
//! asked again whenever the master seems gone (conn.rs). Passwords come
//! from the URL (in the environment, never argv: argv_secrets.rs) or from
//! files other users cannot read.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use redis::{ConnectionAddr, ConnectionInfo, IntoConnectionInfo, RedisConnectionInfo};

use crate::config::Cli;

/// The sentinels' addresses, in the order they are asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentinelAddrs(pub Vec<(String, u16)>);

/// What the store connects to. Debug is written out below: it must not
/// show the passwords.
#[derive(Clone)]
pub enum Target {
    Url(ConnectionInfo),
    Sentinel(SentinelConf),
}

#[derive(Clone)]
pub struct SentinelConf {
    pub sentinels: Vec<(String, u16)>,
    /// The master's name (`sentinel monitor NAME ...`).
    pub master: String,
    /// Database, username and password used on the master.
    pub redis: RedisConnectionInfo,
    pub sentinel_password: Option<String>,
}

impl SentinelConf {
    /// How to reach one sentinel (no database: sentinels have none).
    pub fn sentinel_info(&self, host: &str, port: u16) -> ConnectionInfo {
        ConnectionInfo {
            addr: ConnectionAddr::Tcp(host.to_string(), port),
            redis: RedisConnectionInfo {
                password: self.sentinel_password.clone(),
                ..RedisConnectionInfo::default()
            },
        }
    }

    /// How to reach the master at `host:port`.
    pub fn master_info(&self, host: &str, port: u16) -> ConnectionInfo {
        ConnectionInfo {
            addr: ConnectionAddr::Tcp(host.to_string(), port),
            redis: self.redis.clone(),
        }
    }
}

impl Target {
    /// A single Redis at `url` (its password, if any, in the URL).
    pub fn url(url: &str) -> Result<Target, String> {
        url.into_connection_info()
            .map(Target::Url)
            // The URL is not shown: it may carry a password.
            .map_err(|e| format!("invalid Redis URL: {e}"))
    }

    pub fn from_cli(cli: &Cli) -> Result<Target, String> {
        let password = cli
            .redis_password_file
            .as_deref()
            .map(|p| read_secret(p, "--redis-password-file"))
            .transpose()?;
        let (Some(sentinels), Some(master)) = (&cli.redis_sentinel, &cli.redis_master) else {
            let mut t = Target::url(&cli.redis_url)?;
            if let (Target::Url(info), Some(pw)) = (&mut t, password) {
                info.redis.password = Some(pw);
            }
            return Ok(t);
        };
        Ok(Target::Sentinel(SentinelConf {
            sentinels: sentinels.0.clone(),
            master: master.clone(),
            redis: RedisConnectionInfo {
                db: cli.redis_db,
                password,
                ..RedisConnectionInfo::default()
            },
            sentinel_password: cli
                .redis_sentinel_password_file
                .as_deref()
                .map(|p| read_secret(p, "--redis-sentinel-password-file"))
                .transpose()?,
        }))
    }
}

/// Shown in place of a password.
const REDACTED: &str = "<redacted>";

/// A password as Debug shows it: only whether there is one.
fn redacted(pw: &Option<String>) -> Option<&'static str> {
    pw.as_ref().map(|_| REDACTED)
}

/// Database, user and (redacted) password.
struct RedisShown<'a>(&'a RedisConnectionInfo);

impl std::fmt::Debug for RedisShown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConnectionInfo")
            .field("db", &self.0.db)
            .field("username", &self.0.username)
            .field("password", &redacted(&self.0.password))
            .field("protocol", &self.0.protocol)
            .finish()
    }
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Url(info) => f
                .debug_struct("Url")
                .field("addr", &info.addr)
                .field("redis", &RedisShown(&info.redis))
                .finish(),
            Target::Sentinel(conf) => f.debug_tuple("Sentinel").field(conf).finish(),
        }
    }
}

impl std::fmt::Debug for SentinelConf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentinelConf")
            .field("sentinels", &self.sentinels)
            .field("master", &self.master)
            .field("redis", &RedisShown(&self.redis))
            .field("sentinel_password", &redacted(&self.sentinel_password))
            .finish()
    }
}

/// `HOST:PORT[,HOST:PORT...]` (an IPv6 host in brackets).
pub fn parse_sentinels(s: &str) -> Result<SentinelAddrs, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (host, port) = part
            .rsplit_once(':')
            .ok_or_else(|| format!("{part}: HOST:PORT expected"))?;
        let (host, bracketed) = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(h) => (h, true),
            None => (host, false),
        };
        if host.is_empty()
            || host.contains(['/', '@', ' ', '[', ']'])
            || (!bracketed && host.contains(':'))
        {
            return Err(format!("{part}: HOST:PORT expected"));
        }
        let port: u16 = port
            .parse()
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| format!("{part}: bad port"))?;
        out.push((host.to_string(), port));
    }
    if out.is_empty() {
        return Err("no sentinel address".into());
    }
    Ok(SentinelAddrs(out))
}

/// The first line of a password file, refused when other users may read
/// or change it (the point of a file over argv is that they cannot).
fn read_secret(path: &Path, flag: &str) -> Result<String, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("{flag} {shown}: {e}"))?;
    let mode = meta.permissions().mode();
    if others_may_access(mode) {
        return Err(format!(
            "{flag} {shown}: other users may read it (mode {:03o}); chmod o-rwx it",
            mode & 0o777
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{flag} {shown}: {e}"))?;
    first_line(&text).ok_or_else(|| format!("{flag} {shown}: empty"))
}

fn others_may_access(mode: u32) -> bool {
    mode & 0o007 != 0
}

fn first_line(text: &str) -> Option<String> {
    let line = text.lines().next()?.trim_end_matches('\r');
    (!line.is_empty()).then(|| line.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn sentinel_lists() {
        let p = |s| parse_sentinels(s).map(|a| a.0);
        assert_eq!(
            p("127.0.0.1:26379, s2.example:26380").unwrap(),
            [("127.0.0.1".into(), 26379), ("s2.example".into(), 26380)]
        );
        assert_eq!(p("[::1]:26379").unwrap(), [("::1".into(), 26379)]);
        assert!(p("").is_err());
        assert!(p("host").is_err());
        assert!(p("host:0").is_err());
        assert!(p("host:http").is_err());
        assert!(p(":26379").is_err());
        assert!(p("u@h:26379").is_err());
    }

    #[test]
    fn secret_files() {
        assert!(others_may_access(0o644));
        assert!(others_may_access(0o601));
        assert!(!others_may_access(0o640));
        assert!(!others_may_access(0o600));
        assert_eq!(first_line("pw\n").as_deref(), Some("pw"));
        assert_eq!(first_line("pw\r\nrest").as_deref(), Some("pw"));
        assert_eq!(first_line("\n"), None);
        assert_eq!(first_line(""), None);
    }

    #[test]
    fn targets_from_the_command_line() {
        let cli = Cli::parse_from(["s", "--redis-url", "redis://:pw@127.0.0.1:6380/2"]);
        let Target::Url(info) = Target::from_cli(&cli).unwrap() else {
            panic!("url expected")
        };
        assert_eq!(info.redis.db, 2);
        assert_eq!(info.redis.password.as_deref(), Some("pw"));
        let cli = Cli::parse_from([
            "s",
            "--redis-sentinel",
            "127.0.0.1:26379,127.0.0.1:26380",
            "--redis-master",
            "tv",
            "--redis-db",
            "3",
        ]);
        let Target::Sentinel(s) = Target::from_cli(&cli).unwrap() else {
            panic!("sentinel expected")
        };
        assert_eq!(s.sentinels.len(), 2);
        assert_eq!((s.master.as_str(), s.redis.db), ("tv", 3));
        assert_eq!(s.redis.password, None);
        // Each needs the other.
        assert!(Cli::try_parse_from(["s", "--redis-master", "tv"]).is_err());
        assert!(Cli::try_parse_from(["s", "--redis-sentinel", "h:1"]).is_err());
        // --redis-url says its own database.
        assert!(Cli::try_parse_from(["s", "--redis-db", "2"]).is_err());
        // A bad URL's error does not repeat the URL (it may hold a password).
        let e = Target::url("redis://:secret@h:notaport/0").unwrap_err();
        assert!(!e.contains("secret"), "{e}");
    }

    #[test]
    fn debug_hides_passwords() {
        let t = Target::url("redis://bob:urlsecret@127.0.0.1:6380/2").unwrap();
        let shown = format!("{t:?}");
        assert!(!shown.contains("urlsecret"), "{shown}");
        assert!(
            shown.contains(REDACTED) && shown.contains("6380"),
            "{shown}"
        );
        let conf = SentinelConf {
            sentinels: vec![("127.0.0.1".into(), 26379)],
            master: "tv".into(),
            redis: RedisConnectionInfo {
                password: Some("masterpw".into()),
                ..RedisConnectionInfo::default()
            },
            sentinel_password: Some("sentinelpw".into()),
        };
        let shown = format!("{:?}", Target::Sentinel(conf));
        assert!(
            !shown.contains("masterpw") && !shown.contains("sentinelpw"),
            "{shown}"
        );
        assert!(shown.contains("tv") && shown.contains("26379"), "{shown}");
        // No password: nothing to redact, and Debug says so.
        let shown = format!("{:?}", Target::url("redis://127.0.0.1/").unwrap());
        assert!(shown.contains("password: None"), "{shown}");
    }
}
