//! A warning when credentials come in on the supervisor's own command line:
//! any local user can read a process' argv (`/proc/<pid>/cmdline`), but
//! not its environment.

use clap::parser::ValueSource;
use clap::ArgMatches;

use crate::config::Cli;

/// Where the unit reads its environment from (packaging/).
pub const ENV_FILE: &str = "/etc/default/stream-supervisor";

/// The flags whose values may hold credentials: (clap id, flag, variable).
const FLAGS: [(&str, &str, &str); 3] = [
    ("redis_url", "--redis-url", "SUPERVISOR_REDIS_URL"),
    ("proxy", "--proxy", "SUPERVISOR_PROXY"),
    // Guide URLs of IPTV providers often carry username and password.
    ("guide_source", "--guide-source", "SUPERVISOR_GUIDE_SOURCE"),
];

/// The warnings for this start (never with the values).
pub fn warnings(m: &ArgMatches, cli: &Cli) -> Vec<String> {
    FLAGS
        .iter()
        .filter_map(|&(id, flag, var)| {
            let from_argv = m.value_source(id) == Some(ValueSource::CommandLine);
            let value = match id {
                "redis_url" => Some(cli.redis_url.as_str()),
                "guide_source" => cli.guide_source.as_deref(),
                _ => cli.proxy.as_deref(),
            };
            warning(flag, var, from_argv, value)
        })
        .collect()
}

/// The warning for one flag whose value (if any) came from the command
/// line or not.
pub fn warning(flag: &str, var: &str, from_argv: bool, value: Option<&str>) -> Option<String> {
    (from_argv && value.is_some_and(has_credentials)).then(|| {
        format!(
            "{flag} carries credentials on the command line, which every local user can read; \
             set {var} (e.g. in {ENV_FILE}) instead"
        )
    })
}

/// Whether a URL holds userinfo (`user:pass@`, `:pass@`) or a password
/// query parameter (`?password=`, as Redis URLs allow).
pub fn has_credentials(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if rest[..end].contains('@') {
        return true;
    }
    rest.split_once('?').is_some_and(|(_, q)| {
        q.split(['&', '#']).any(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            !v.is_empty() && (k.eq_ignore_ascii_case("password") || k.eq_ignore_ascii_case("pass"))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches};

    #[test]
    fn credentials_in_urls() {
        assert!(has_credentials("redis://:pw@127.0.0.1:6379/0"));
        assert!(has_credentials("redis://user:pw@h/0"));
        assert!(has_credentials("http://u:p@proxy.test:3128"));
        assert!(has_credentials("socks5h://u@127.0.0.1:1080"));
        assert!(has_credentials("redis://h/0?password=pw"));
        assert!(!has_credentials("redis://127.0.0.1:6379/0"));
        assert!(!has_credentials("http://proxy.test:3128/a@b"));
        assert!(!has_credentials("redis://h/0?password="));
        assert!(!has_credentials("none"));
    }

    #[test]
    fn only_credentials_from_argv_warn() {
        let w = warning(
            "--proxy",
            "SUPERVISOR_PROXY",
            true,
            Some("http://u:secret@p:1"),
        )
        .unwrap();
        assert!(w.contains("--proxy") && w.contains("SUPERVISOR_PROXY") && w.contains(ENV_FILE));
        assert!(!w.contains("secret"), "{w}");
        assert_eq!(warning("--proxy", "V", false, Some("http://u:p@p:1")), None);
        assert_eq!(warning("--proxy", "V", true, Some("http://p:1")), None);
        assert_eq!(warning("--proxy", "V", true, None), None);
    }

    #[test]
    fn where_the_value_came_from() {
        let parse = |args: &[&str]| {
            let m = Cli::command().try_get_matches_from(args).unwrap();
            let cli = Cli::from_arg_matches(&m).unwrap();
            warnings(&m, &cli)
        };
        let w = parse(&[
            "stream-supervisor",
            "--redis-url",
            "redis://:pw@127.0.0.1/0",
            "--proxy",
            "http://u:p@127.0.0.1:3128",
        ]);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].starts_with("--redis-url") && w[1].starts_with("--proxy"));
        assert!(parse(&["stream-supervisor", "--redis-url", "redis://127.0.0.1/0"]).is_empty());
        let w = parse(&[
            "stream-supervisor",
            "--guide-source",
            "http://epg.test/xmltv.php?username=u&password=pw",
        ]);
        assert!(w.len() == 1 && w[0].starts_with("--guide-source"), "{w:?}");
        assert!(parse(&["stream-supervisor", "--guide-source", "/srv/guide.xml"]).is_empty());
        // The default (no flag at all) warns about nothing.
        assert!(parse(&["stream-supervisor"]).is_empty());
    }
}
