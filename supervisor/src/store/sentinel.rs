//! Asking Redis Sentinels which server is the master, and telling which
//! Redis errors mean that it may no longer be. The redis crate's own
//! `sentinel` feature has no connection manager and no timeouts on the
//! sentinels; this is the small part of it the store needs.

use std::future::Future;
use std::time::Duration;

use futures_util::StreamExt;
use redis::{ConnectionInfo, ErrorKind, RedisError};
use tracing::{debug, info, warn};

use super::target::SentinelConf;

/// How long one sentinel may take to connect and answer: a dead one must
/// not hold up asking the next.
const SENTINEL_TIMEOUT: Duration = Duration::from_millis(500);

/// How often a quiet announcement channel is backed by asking for the
/// master: an announcement missed (or a sentinel gone silent without
/// closing its connection) is noticed within this.
const RECHECK: Duration = Duration::from_secs(10);

/// The master's address (`host:port`) and how to connect to it, from the
/// first sentinel that knows it. Errors name each sentinel's failure.
pub async fn ask_master(conf: &SentinelConf) -> Result<(String, ConnectionInfo), String> {
    let mut why = Vec::new();
    for (host, port) in &conf.sentinels {
        match ask_one(conf, host, *port).await {
            Ok(Some((mh, mp))) => {
                return Ok((format!("{mh}:{mp}"), conf.master_info(&mh, mp)));
            }
            Ok(None) => why.push(format!("{host}:{port}: does not know {:?}", conf.master)),
            Err(e) => why.push(format!("{host}:{port}: {e}")),
        }
    }
    Err(why.join("; "))
}

/// The master a majority of the configured sentinels name now, if they
/// agree on one. For the recheck: a sentinel on the minority side of a
/// partition still names the old master, which still answers as one; the
/// first answer in list order could move us back to it.
pub async fn ask_majority(conf: &SentinelConf) -> Option<String> {
    let mut named = Vec::new();
    for (host, port) in &conf.sentinels {
        if let Ok(Some((mh, mp))) = ask_one(conf, host, *port).await {
            named.push(format!("{mh}:{mp}"));
        }
    }
    majority(&named, conf.sentinels.len())
}

/// The address more than half of `configured` sentinels named (`named`
/// holds one answer per sentinel that gave one).
pub fn majority(named: &[String], configured: usize) -> Option<String> {
    let quorum = configured / 2 + 1;
    named
        .iter()
        .find(|a| named.iter().filter(|b| b == a).count() >= quorum)
        .cloned()
}

async fn ask_one(
    conf: &SentinelConf,
    host: &str,
    port: u16,
) -> Result<Option<(String, u16)>, String> {
    let client = redis::Client::open(conf.sentinel_info(host, port)).map_err(|e| e.to_string())?;
    let cfg = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(SENTINEL_TIMEOUT)
        .set_response_timeout(SENTINEL_TIMEOUT);
    let ask = async {
        let mut c = client
            .get_multiplexed_async_connection_with_config(&cfg)
            .await?;
        redis::cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg(&conf.master)
            .query_async::<Option<(String, String)>>(&mut c)
            .await
    };
    // Both timeouts above, and this one around them all.
    let answer = tokio::time::timeout(SENTINEL_TIMEOUT * 3, ask)
        .await
        .map_err(|_| "no answer in time".to_string())?
        .map_err(|e| e.to_string())?;
    answer
        .map(|(h, p)| {
            p.parse()
                .map(|p| (h, p))
                .map_err(|_| format!("odd port {p:?} in its answer"))
        })
        .transpose()
}

/// Follows the sentinels' `+switch-master` announcements of our master,
/// calling `switched` with the new address on each (and `true`: it was
/// announced, not asked for); runs until dropped.
/// Errors alone would find a new master late when the old one was not
/// down (`SENTINEL FAILOVER`, a partition): it takes writes until the
/// sentinels reconfigure it, seconds later, and those writes are lost.
/// A sentinel that goes away is replaced by the next. On subscribing
/// (an announcement may have been missed while there was no subscription)
/// and after every `RECHECK` of quiet, the master a majority of the
/// sentinels name is taken as well: one sentinel that disagrees never
/// moves us off a master that was announced.
pub async fn follow_switches<F, Fut>(conf: &SentinelConf, mut switched: F)
where
    F: FnMut(String, bool) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut quiet = false;
    for (host, port) in conf.sentinels.iter().cycle() {
        match subscribe(conf, host, *port).await {
            Ok(pubsub) => {
                info!(sentinel = %format!("{host}:{port}"), "following the sentinel's failover announcements");
                quiet = false;
                let mut msgs = pubsub.into_on_message();
                // Announcements that come meanwhile wait in `msgs`.
                if let Some(to) = ask_majority(conf).await {
                    switched(to, false).await;
                }
                loop {
                    let m = match tokio::time::timeout(RECHECK, msgs.next()).await {
                        Ok(Some(m)) => m,
                        Ok(None) => break,
                        Err(_) => {
                            if let Some(to) = ask_majority(conf).await {
                                switched(to, false).await;
                            }
                            continue;
                        }
                    };
                    let Ok(payload) = m.get_payload::<String>() else {
                        continue;
                    };
                    if let Some(to) = switched_to(&payload, &conf.master) {
                        switched(to, true).await;
                    }
                }
                warn!(sentinel = %format!("{host}:{port}"), "lost the sentinel's failover announcements: trying the next");
            }
            // Once per outage at warn, not once a second.
            Err(e) if !quiet => {
                warn!(sentinel = %format!("{host}:{port}"), error = %e, "cannot follow the sentinel's failover announcements");
                quiet = true;
            }
            Err(e) => {
                debug!(sentinel = %format!("{host}:{port}"), error = %e, "cannot follow the sentinel's failover announcements")
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn subscribe(
    conf: &SentinelConf,
    host: &str,
    port: u16,
) -> Result<redis::aio::PubSub, String> {
    let client = redis::Client::open(conf.sentinel_info(host, port)).map_err(|e| e.to_string())?;
    let sub = async {
        let mut p = client.get_async_pubsub().await?;
        p.subscribe("+switch-master").await?;
        Ok::<_, RedisError>(p)
    };
    tokio::time::timeout(SENTINEL_TIMEOUT * 3, sub)
        .await
        .map_err(|_| "no answer in time".to_string())?
        .map_err(|e| e.to_string())
}

/// The new address in a `+switch-master` payload (`<name> <old ip> <old
/// port> <new ip> <new port>`), if it is about `master`.
pub fn switched_to(payload: &str, master: &str) -> Option<String> {
    let f: Vec<&str> = payload.split_whitespace().collect();
    match f[..] {
        [name, _, _, ip, port] if name == master && port.parse::<u16>().is_ok() => {
            Some(format!("{ip}:{port}"))
        }
        _ => None,
    }
}

/// `host` and `port` of a `host:port` as `switched_to` and `ask_master`
/// write it (an IPv6 host unbracketed: the port is after the last colon).
pub fn split_addr(addr: &str) -> Option<(String, u16)> {
    let (host, port) = addr.rsplit_once(':')?;
    let port = port.parse().ok().filter(|&p: &u16| p > 0)?;
    (!host.is_empty()).then(|| (host.to_string(), port))
}

/// Whether the first element of a `ROLE` reply says "master".
pub fn is_master_role(role: &[redis::Value]) -> bool {
    role.first()
        .and_then(|v| redis::from_redis_value::<String>(v).ok())
        .is_some_and(|r| r == "master")
}

/// Whether an error suggests that the server is no longer the master (or
/// gone): worth asking the sentinels again. A plain command error (wrong
/// type, a script's error) is not.
pub fn switch_suspected(e: &RedisError) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ReadOnly
            | ErrorKind::MasterDown
            | ErrorKind::IoError
            | ErrorKind::BusyLoadingError
    ) || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.code() == Some("UNBLOCKED")
}

/// Whether a call that failed with `e` may still have run on the server:
/// the answer was lost, not refused. READONLY, MASTERDOWN and LOADING
/// refuse the command; a refused connection never sent it.
pub fn may_have_run(e: &RedisError) -> bool {
    !(matches!(
        e.kind(),
        ErrorKind::ReadOnly | ErrorKind::MasterDown | ErrorKind::BusyLoadingError
    ) || e.is_connection_refusal())
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::Value;

    #[test]
    fn switch_announcements() {
        let p = "tv 127.0.0.1 6379 127.0.0.1 6380";
        assert_eq!(switched_to(p, "tv").as_deref(), Some("127.0.0.1:6380"));
        assert_eq!(switched_to(p, "other"), None);
        assert_eq!(switched_to("tv 127.0.0.1 6379", "tv"), None);
        assert_eq!(switched_to("tv a 1 b port", "tv"), None);
    }

    #[test]
    fn the_recheck_follows_a_majority_only() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (old, new) = ("10.0.0.1:6379", "10.0.0.2:6379");
        assert_eq!(majority(&v(&[new, new, old]), 3).as_deref(), Some(new));
        // The minority sentinel first in the list does not win.
        assert_eq!(majority(&v(&[old, new, new]), 3).as_deref(), Some(new));
        // One answer of three is no majority, nor one of each.
        assert_eq!(majority(&v(&[old]), 3), None);
        assert_eq!(majority(&v(&[old, new]), 3), None);
        // Two of three agreeing is, the third unreachable.
        assert_eq!(majority(&v(&[new, new]), 3).as_deref(), Some(new));
        assert_eq!(majority(&v(&[old, new]), 2), None);
        assert_eq!(majority(&v(&[new]), 1).as_deref(), Some(new));
        assert_eq!(majority(&[], 3), None);
    }

    #[test]
    fn announced_addresses() {
        assert_eq!(
            split_addr("127.0.0.1:6380"),
            Some(("127.0.0.1".into(), 6380))
        );
        assert_eq!(split_addr("::1:6380"), Some(("::1".into(), 6380)));
        assert_eq!(split_addr("127.0.0.1"), None);
        assert_eq!(split_addr(":6380"), None);
        assert_eq!(split_addr("h:0"), None);
        assert_eq!(split_addr("h:port"), None);
        // What switched_to writes, split_addr reads.
        let to = switched_to("tv 10.0.0.1 6379 10.0.0.2 6380", "tv").unwrap();
        assert_eq!(split_addr(&to), Some(("10.0.0.2".into(), 6380)));
    }

    #[test]
    fn roles() {
        let s = |t: &str| Value::BulkString(t.as_bytes().to_vec());
        assert!(is_master_role(&[
            s("master"),
            Value::Int(5),
            Value::Array(vec![])
        ]));
        assert!(!is_master_role(&[
            s("slave"),
            s("127.0.0.1"),
            Value::Int(6379)
        ]));
        assert!(!is_master_role(&[]));
    }

    #[test]
    fn which_errors_ask_the_sentinels_again() {
        let err = |k, what: &'static str| RedisError::from((k, what));
        assert!(switch_suspected(&err(ErrorKind::ReadOnly, "READONLY")));
        assert!(switch_suspected(&err(ErrorKind::MasterDown, "MASTERDOWN")));
        assert!(switch_suspected(&RedisError::from(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused
        ))));
        assert!(switch_suspected(&RedisError::from(std::io::Error::from(
            std::io::ErrorKind::BrokenPipe
        ))));
        assert!(!switch_suspected(&err(ErrorKind::TypeError, "WRONGTYPE")));
        assert!(!switch_suspected(&err(
            ErrorKind::ResponseError,
            "ERR script"
        )));
        assert!(!switch_suspected(&err(
            ErrorKind::AuthenticationFailed,
            "auth"
        )));
    }

    #[test]
    fn which_failed_calls_may_have_run() {
        let err = |k, what: &'static str| RedisError::from((k, what));
        assert!(!may_have_run(&err(ErrorKind::ReadOnly, "READONLY")));
        assert!(!may_have_run(&err(ErrorKind::MasterDown, "MASTERDOWN")));
        assert!(!may_have_run(&err(ErrorKind::BusyLoadingError, "LOADING")));
        assert!(!may_have_run(&RedisError::from(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused
        ))));
        assert!(may_have_run(&RedisError::from(std::io::Error::from(
            std::io::ErrorKind::BrokenPipe
        ))));
        assert!(may_have_run(&RedisError::from(std::io::Error::from(
            std::io::ErrorKind::TimedOut
        ))));
    }
}
