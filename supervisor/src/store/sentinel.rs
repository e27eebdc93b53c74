//! Asking Redis Sentinels which server is the master, and telling which
//! Redis errors mean that it may no longer be. The redis crate's own
//! `sentinel` feature has no connection manager and no timeouts on the
//! sentinels; this is the small part of it the store needs.

use std::time::Duration;

use redis::{ConnectionInfo, ErrorKind, RedisError};

use super::target::SentinelConf;

/// How long one sentinel may take to connect and answer: a dead one must
/// not hold up asking the next.
const SENTINEL_TIMEOUT: Duration = Duration::from_millis(500);

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

#[cfg(test)]
mod tests {
    use super::*;
    use redis::Value;

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
}
