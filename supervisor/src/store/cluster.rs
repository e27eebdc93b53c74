//! Cluster mode's Redis side: channel leases with fencing numbers, node
//! heartbeats and the drained set. Every check-and-change is one Lua
//! script, so Redis runs it atomically: no other node's command can come
//! between the check and the change.

use std::time::Duration;

use super::{Keys, Kind, Req, Store, StoreError};

/// Takes a free lease: a new fencing number (INCR), then the lease
/// `<node> <fence>` with its TTL. A lease held by this node's earlier
/// incarnation (same id, a restarted supervisor whose ffmpegs died with
/// it) is taken over with a new number; another node's is answered.
const ACQUIRE: &str = r"
local cur = redis.call('GET', KEYS[1])
if cur and string.sub(cur, 1, string.len(ARGV[1]) + 1) ~= ARGV[1] .. ' ' then
  return {0, cur}
end
local f = redis.call('INCR', KEYS[2])
local v = ARGV[1] .. ' ' .. f
redis.call('SET', KEYS[1], v, 'PX', ARGV[2])
return {1, v}
";

/// Extends the lease only if it is still exactly ours (node and fence).
const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";

/// Deletes the lease only if it is still exactly ours.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// The owner's stream keys, written only under its lease (fencing).
const SET_STREAM: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], ARGV[3])
return 1
";

const CLEAR_STREAM: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2], KEYS[3])
return 1
";

/// The channel's HLS position, written only under its lease (fencing), so
/// an owner that lost it cannot move the position a new owner goes by.
const SET_POSITION: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
";

/// What an acquire found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    /// Ours now: the lease's value (`<node> <fence>`).
    Won(String),
    /// Another node's lease, as stored.
    Held(String),
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Store {
    async fn eval<T: redis::FromRedisValue>(
        &self,
        what: &str,
        script: &str,
        keys: &[String],
        args: &[String],
    ) -> Result<T, StoreError> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(script).arg(keys.len()).arg(keys).arg(args);
        self.query(Req::Cmd(&cmd), &|| format!("Redis {what} {}", keys[0]))
            .await
    }

    pub async fn acquire_lease(
        &self,
        channel: &str,
        node: &str,
        ttl: Duration,
    ) -> Result<Acquired, StoreError> {
        let keys = [
            self.key(&Keys::lease(channel)),
            self.key(&Keys::fence(channel)),
        ];
        let (won, value): (i64, String) = self
            .eval(
                "lease acquire",
                ACQUIRE,
                &keys,
                &[node.to_string(), ms(ttl).to_string()],
            )
            .await?;
        Ok(if won == 1 {
            Acquired::Won(value)
        } else {
            Acquired::Held(value)
        })
    }

    /// Whether the lease was still `value` (and now lasts `ttl` again).
    pub async fn renew_lease(
        &self,
        channel: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let keys = [self.key(&Keys::lease(channel))];
        let n: i64 = self
            .eval(
                "lease renew",
                RENEW,
                &keys,
                &[value.to_string(), ms(ttl).to_string()],
            )
            .await?;
        Ok(n == 1)
    }

    pub async fn release_lease(&self, channel: &str, value: &str) -> Result<bool, StoreError> {
        let keys = [self.key(&Keys::lease(channel))];
        let n: i64 = self
            .eval("lease release", RELEASE, &keys, &[value.to_string()])
            .await?;
        Ok(n == 1)
    }

    /// The lease's value (`<node> <fence>`), if anyone holds it.
    pub async fn lease_holder(&self, channel: &str) -> Result<Option<String>, StoreError> {
        self.get(&Keys::lease(channel)).await
    }

    /// The stream keys, if `lease` is still the channel's lease.
    pub async fn set_stream_keys_fenced(
        &self,
        channel: &str,
        lease: &str,
        pid: u32,
        started: u64,
    ) -> Result<bool, StoreError> {
        let keys = [
            self.key(&Keys::lease(channel)),
            self.key(&Keys::stream_pid(channel)),
            self.key(&Keys::stream_started(channel)),
        ];
        let args = [lease.to_string(), pid.to_string(), started.to_string()];
        let n: i64 = self.eval("fenced SET", SET_STREAM, &keys, &args).await?;
        Ok(n == 1)
    }

    pub async fn clear_stream_keys_fenced(
        &self,
        channel: &str,
        lease: &str,
    ) -> Result<bool, StoreError> {
        let keys = [
            self.key(&Keys::lease(channel)),
            self.key(&Keys::stream_pid(channel)),
            self.key(&Keys::stream_started(channel)),
        ];
        let n: i64 = self
            .eval("fenced DEL", CLEAR_STREAM, &keys, &[lease.to_string()])
            .await?;
        Ok(n == 1)
    }

    /// Records where the channel's HLS numbering stands (value made by
    /// cluster/hls_position.rs), if `lease` is still the channel's lease.
    pub async fn set_hls_position_fenced(
        &self,
        channel: &str,
        lease: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let keys = [
            self.key(&Keys::lease(channel)),
            self.key(&Keys::hls_position(channel)),
        ];
        let args = [lease.to_string(), value.to_string(), ms(ttl).to_string()];
        let n: i64 = self.eval("fenced SET", SET_POSITION, &keys, &args).await?;
        Ok(n == 1)
    }

    /// The recorded HLS position's value, if any.
    pub async fn hls_position(&self, channel: &str) -> Result<Option<String>, StoreError> {
        self.get(&Keys::hls_position(channel)).await
    }

    /// This node's heartbeat: its record, gone unless renewed within `ttl`.
    pub async fn heartbeat(
        &self,
        node: &str,
        record: &str,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let key = self.key(&Keys::node(node));
        self.query(
            Req::Cmd(
                redis::cmd("SET")
                    .arg(&key)
                    .arg(record)
                    .arg("PX")
                    .arg(ms(ttl)),
            ),
            &|| format!("Redis SET {key}"),
        )
        .await
    }

    /// Every live node: (id, heartbeat record).
    pub async fn nodes(&self) -> Result<Vec<(String, String)>, StoreError> {
        let ids = self.ids(Kind::Node).await?;
        let keys: Vec<_> = ids.iter().map(|id| Keys::node(id)).collect();
        let values = self.get_many(&keys).await?;
        Ok(ids
            .into_iter()
            .zip(values)
            .filter_map(|(id, v)| v.map(|v| (id, v)))
            .collect())
    }

    pub async fn is_draining(&self, node: &str) -> Result<bool, StoreError> {
        let key = self.key(&Keys::draining());
        self.query::<i64>(
            Req::Cmd(redis::cmd("SISMEMBER").arg(&key).arg(node)),
            &|| format!("Redis SISMEMBER {key}"),
        )
        .await
        .map(|n| n == 1)
    }

    /// Operator: drain a node (no new channels start there) or undo it.
    pub async fn set_draining(&self, node: &str, on: bool) -> Result<(), StoreError> {
        let key = self.key(&Keys::draining());
        let op = if on { "SADD" } else { "SREM" };
        self.query::<i64>(Req::Cmd(redis::cmd(op).arg(&key).arg(node)), &|| {
            format!("Redis {op} {key}")
        })
        .await
        .map(|_| ())
    }
}
