//! How a run reaches its source: the upstream gateway for http and https
//! (with the channel's headers, proxy, TLS settings and allowed networks),
//! or ffmpeg directly for other enabled schemes, whose literal address is
//! checked against the address policy here.

use super::lifecycle::Plan;
use super::Streams;
use crate::channel_record;
use crate::gateway::{self, policy, tls, Gateway, Route};

impl Streams {
    /// The gateway for an http(s) source; `None` for another scheme (whose
    /// literal host is checked against the address policy here).
    pub(super) async fn gateway_for(
        &self,
        plan: &Plan,
        source: &str,
        id: &str,
    ) -> Result<Option<Gateway>, String> {
        let o = &plan.options;
        let mut allowed = self.cfg.allow_upstream_networks.0.clone();
        allowed.extend(o.allow_networks.iter().copied());
        if gateway::url::parse(source).is_err() {
            if let Some(ip) = literal_host(source) {
                policy::check(&ip.to_string(), ip, &allowed)?;
            }
            return Ok(None);
        }
        let mut headers = Vec::new();
        if let Some(ua) = o.user_agent.clone().or_else(|| self.cfg.user_agent.clone()) {
            headers.push(("User-Agent".to_string(), ua));
        }
        if let Some(r) = o.referer.clone().or_else(|| self.cfg.referer.clone()) {
            headers.push(("Referer".to_string(), r));
        }
        headers.extend(channel_record::merge_headers(
            &self.cfg.headers,
            self.cfg.cookies.as_deref(),
            &o.headers,
        ));
        let route = Route {
            proxy: plan.proxy.clone(),
            allowed,
            tls: tls::client_config(o.tls_verify, o.tls_ca_file.as_deref())?,
            connect_timeout: o.connect_timeout.unwrap_or(self.cfg.connect_timeout),
            read_timeout: o.read_timeout.unwrap_or(self.cfg.read_timeout),
            headers,
        };
        Gateway::start(route, id)
            .await
            .map(Some)
            .map_err(|e| format!("cannot start the upstream gateway: {e}"))
    }
}

/// The host of `scheme://[user@]host[:port]/...` if it is an IP address.
fn literal_host(url: &str) -> Option<std::net::IpAddr> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = hostport.strip_prefix('[') {
        return v6.split(']').next()?.parse().ok();
    }
    hostport.split(':').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_hosts_of_other_schemes() {
        assert_eq!(
            literal_host("rtmp://u:p@127.0.0.1:1935/app"),
            Some("127.0.0.1".parse().unwrap())
        );
        assert_eq!(literal_host("rtsp://[::1]/x"), Some("::1".parse().unwrap()));
        assert_eq!(literal_host("srt://cdn.test:9000"), None);
        assert_eq!(literal_host("nonsense"), None);
    }
}
