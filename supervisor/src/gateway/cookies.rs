//! A run's cookie jar: what upstreams set (`Set-Cookie`, redirects
//! included) is sent back to the same host on later requests, as a player
//! would. Bounded, kept per host, gone when the run ends.

/// Cookies kept at most (per run, all hosts).
const MAX_COOKIES: usize = 64;
/// Longest `name=value` kept.
const MAX_COOKIE_LEN: usize = 4096;

#[derive(Default)]
pub struct Jar {
    /// (host, name, value), oldest first.
    cookies: Vec<(String, String, String)>,
}

impl Jar {
    /// Records a `Set-Cookie` value from `host`; an expired one (Max-Age
    /// 0 or less) removes the cookie.
    pub fn set(&mut self, host: &str, set_cookie: &str) {
        let Some((name, value, expired)) = parse_set_cookie(set_cookie) else {
            return;
        };
        self.cookies.retain(|(h, n, _)| !(h == host && *n == name));
        if expired {
            return;
        }
        if self.cookies.len() >= MAX_COOKIES {
            self.cookies.remove(0);
        }
        self.cookies.push((host.to_string(), name, value));
    }

    /// The `name=value` pairs for `host`, joined for a `Cookie` header.
    pub fn header_for(&self, host: &str) -> Option<String> {
        let pairs: Vec<String> = self
            .cookies
            .iter()
            .filter(|(h, _, _)| h == host)
            .map(|(_, n, v)| format!("{n}={v}"))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }
}

/// `name=value; Path=/; Max-Age=0` to (name, value, expired). Names and
/// values that could break a header are refused.
pub fn parse_set_cookie(s: &str) -> Option<(String, String, bool)> {
    let mut parts = s.split(';');
    let (name, value) = parts.next()?.split_once('=')?;
    let (name, value) = (name.trim(), value.trim());
    let bad = |t: &str| t.bytes().any(|b| b.is_ascii_control() || b == b';');
    if name.is_empty()
        || name.contains([' ', '=', ','])
        || bad(name)
        || bad(value)
        || name.len() + value.len() >= MAX_COOKIE_LEN
    {
        return None;
    }
    let expired = parts.any(|attr| {
        attr.split_once('=').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("max-age")
                && v.trim().parse::<i64>().is_ok_and(|n| n <= 0)
        })
    });
    Some((name.to_string(), value.to_string(), expired))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_cookie_values() {
        assert_eq!(
            parse_set_cookie("sid=abc; Path=/; HttpOnly"),
            Some(("sid".into(), "abc".into(), false))
        );
        assert_eq!(
            parse_set_cookie(" a = b ;max-age=0"),
            Some(("a".into(), "b".into(), true))
        );
        assert_eq!(parse_set_cookie("novalue"), None);
        assert_eq!(parse_set_cookie("=x"), None);
        assert_eq!(parse_set_cookie("a\r\nb=1"), None);
        assert_eq!(parse_set_cookie(&format!("a={}", "x".repeat(5000))), None);
    }

    #[test]
    fn a_jar_per_host_bounded() {
        let mut j = Jar::default();
        j.set("cdn.test", "a=1");
        j.set("cdn.test", "b=2; Path=/");
        j.set("cdn.test", "a=3");
        j.set("other.test", "c=4");
        assert_eq!(j.header_for("cdn.test").as_deref(), Some("b=2; a=3"));
        assert_eq!(j.header_for("other.test").as_deref(), Some("c=4"));
        assert_eq!(j.header_for("third.test"), None);
        j.set("cdn.test", "b=gone; Max-Age=0");
        assert_eq!(j.header_for("cdn.test").as_deref(), Some("a=3"));
        for i in 0..100 {
            j.set("h", &format!("n{i}=v"));
        }
        assert_eq!(j.cookies.len(), MAX_COOKIES);
        assert!(j.header_for("h").unwrap().ends_with("n99=v"));
    }
}
