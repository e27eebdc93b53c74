//! The store's one Redis connection (a connection manager, shared by every
//! caller), made on first use and, with Sentinel, made again to whatever
//! master the sentinels name after a call failed in a way that suggests a
//! failover (sentinel::switch_suspected). Such a call is tried once more
//! on the new master; its first error is counted in the metrics like any.
//! Running a store call twice is harmless for what it leaves in Redis:
//! sets, deletes, compare-and-set scripts; a lease acquire run twice takes
//! the lease again under a new fencing number; the guide's version may go
//! up by two. What a call reports may differ: a DEL whose first try may
//! have run finds nothing the second time, so callers of a count get
//! `Ran::maybe_ran_before` to judge it (Store::del).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use redis::FromRedisValue;
use tracing::{debug, info, warn};

use super::sentinel;
use super::target::Target;
use super::{timed, Store, StoreError};

/// The connection in use, with the master it reaches.
#[derive(Clone)]
pub(super) struct Live {
    /// Which connection this is: a caller that saw it fail forgets only it,
    /// not one another caller made since.
    generation: u64,
    mgr: ConnectionManager,
    master: String,
}

/// The connection, or why the last try to make one failed and when.
#[derive(Default)]
pub(super) struct Slot {
    live: Option<Live>,
    failed: Option<(Instant, String)>,
}

/// How long a failed try to connect answers for the callers after it:
/// they fail at once instead of each waiting through a try of its own
/// (N queued calls would wait N tries).
const FAIL_FAST: Duration = Duration::from_secs(1);

/// The last failure to connect, if it is recent enough to answer with.
fn recent_failure(failed: Option<&(Instant, String)>, now: Instant) -> Option<&str> {
    failed
        .filter(|(at, _)| now.saturating_duration_since(*at) < FAIL_FAST)
        .map(|(_, why)| why.as_str())
}

/// A call's answer, with how it was got.
pub(super) struct Ran<T> {
    pub value: T,
    /// The connection that answered (a SCAN cursor is only good on it).
    pub generation: u64,
    /// A first try failed in a way that may have run it (a timeout, a
    /// dropped connection) before this answer came from a second.
    pub maybe_ran_before: bool,
}

/// One command or one pipeline.
pub(super) enum Req<'a> {
    Cmd(&'a redis::Cmd),
    Pipe(&'a redis::Pipeline),
}

static GENERATION: AtomicU64 = AtomicU64::new(0);

fn manager_config() -> redis::aio::ConnectionManagerConfig {
    redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Duration::from_secs(2))
        .set_response_timeout(Duration::from_secs(2))
        .set_number_of_retries(1)
}

impl Store {
    /// The connection, made now if there is none (Redis may come up after
    /// us). Callers queue on the lock while one is made; making one is
    /// bounded by the sentinel and connection timeouts, and a failure
    /// answers the callers of the next `FAIL_FAST` without a new try.
    pub(super) async fn live(&self) -> Result<Live, StoreError> {
        let mut slot = self.conn.lock().await;
        if let Some(l) = slot.live.as_ref() {
            return Ok(l.clone());
        }
        if let Some(why) = recent_failure(slot.failed.as_ref(), Instant::now()) {
            crate::metrics::redis_call(None, false);
            return Err(StoreError(format!("Redis unreachable: {why}")));
        }
        let made = self.make(None).await;
        settle(&mut slot, made)
    }

    /// A new connection to the master: with Sentinel, to `named` (a
    /// `+switch-master`'s new address, or a majority's answer) if it
    /// answers as a master, else to the one the sentinels name when asked
    /// in order. Asking first could reach the old master through a
    /// sentinel that has not heard of the switch yet.
    async fn make(&self, named: Option<&str>) -> Result<Live, String> {
        let conf = match &self.target {
            Target::Url(info) => return self.connect(info.clone(), String::new()).await,
            Target::Sentinel(conf) => conf,
        };
        if let Some(to) = named {
            let tried = match sentinel::split_addr(to) {
                Some((host, port)) => {
                    self.connect(conf.master_info(&host, port), to.to_string())
                        .await
                }
                None => Err("not HOST:PORT".to_string()),
            };
            match tried {
                Ok(live) => return Ok(live),
                Err(e) => {
                    warn!(to = %to, error = %e, "cannot use the Redis master the sentinels named: asking them again")
                }
            }
        }
        match sentinel::ask_master(conf).await {
            Ok((addr, info)) => self.connect(info, addr).await,
            Err(e) => Err(format!(
                "no sentinel named the Redis master {:?}: {e}",
                conf.master
            )),
        }
    }

    async fn connect(&self, info: redis::ConnectionInfo, master: String) -> Result<Live, String> {
        let client = redis::Client::open(info).map_err(|e| e.to_string())?;
        let mut mgr = client
            .get_connection_manager_with_config(manager_config())
            .await
            .map_err(|e| e.to_string())?;
        if let Target::Sentinel(_) = self.target {
            // Just after a failover a sentinel may still name the old
            // master, now a replica: its writes would fail.
            let role: Vec<redis::Value> = redis::cmd("ROLE")
                .query_async(&mut mgr)
                .await
                .map_err(|e| format!("ROLE on {master}: {e}"))?;
            if !sentinel::is_master_role(&role) {
                return Err(format!(
                    "{master}, named by the sentinels, is not a master (yet)"
                ));
            }
            self.note_master(&master);
        }
        Ok(Live {
            generation: GENERATION.fetch_add(1, Ordering::Relaxed),
            mgr,
            master,
        })
    }

    /// Logs the first master and every switch to another.
    fn note_master(&self, master: &str) {
        let mut seen = self.master_seen.lock().unwrap();
        match seen.as_deref() {
            None => info!(master = %master, "Redis master from the sentinels"),
            Some(old) if old != master => {
                warn!(from = %old, to = %master, "Redis master switched (sentinel failover)")
            }
            Some(_) => {}
        }
        *seen = Some(master.to_string());
    }

    /// With Sentinel: follows the sentinels' failover announcements and
    /// moves to the new master at once (sentinel::follow_switches says
    /// why errors alone are not enough). For the long-running supervisor.
    pub fn follow_failovers(self: &Arc<Self>) -> Option<tokio::task::JoinHandle<()>> {
        let Target::Sentinel(conf) = &self.target else {
            return None;
        };
        let conf = conf.clone();
        let store = Arc::downgrade(self);
        Some(tokio::spawn(async move {
            sentinel::follow_switches(&conf, |to, announced| {
                let store = store.clone();
                async move {
                    if let Some(s) = store.upgrade() {
                        s.switch_to(&to, announced).await;
                    }
                }
            })
            .await
        }))
    }

    /// Leaves a connection to any master but `to` and connects to `to`
    /// now (logging the switch), so the next call need not. With no
    /// connection, an announced `to` is connected to the same way
    /// (quietly: Redis may be down); one the sentinels were asked for is
    /// left to the next call (it may be a dead master they have not yet
    /// replaced, the reason there is no connection).
    async fn switch_to(&self, to: &str, announced: bool) {
        let mut slot = self.conn.lock().await;
        let had = match slot.live.as_ref() {
            Some(l) if l.master == to => return,
            Some(_) => {
                info!(to = %to, "the sentinels announced a new Redis master");
                true
            }
            None if announced => false,
            None => return,
        };
        slot.live = None;
        let made = self.make(Some(to)).await;
        if let Err(e) = settle(&mut slot, made) {
            if had {
                warn!(error = %e, "cannot connect to the new Redis master yet");
            } else {
                debug!(error = %e, "cannot connect to the Redis master the sentinels name");
            }
        }
    }

    /// Drops the connection `generation` so the next call makes a new one.
    async fn forget(&self, generation: u64) {
        let mut slot = self.conn.lock().await;
        if slot
            .live
            .as_ref()
            .is_some_and(|l| l.generation == generation)
        {
            slot.live = None;
        }
    }

    /// Runs `req`; `what` words its failure ("Redis GET key"). With
    /// Sentinel, a failover-like error makes a new connection to the
    /// master the sentinels name now and runs `req` once more there.
    pub(super) async fn query<T: FromRedisValue>(
        &self,
        req: Req<'_>,
        what: &(dyn Fn() -> String + Sync),
    ) -> Result<T, StoreError> {
        self.run(req, what).await.map(|r| r.value)
    }

    /// `query`, saying how the answer was got.
    pub(super) async fn run<T: FromRedisValue>(
        &self,
        req: Req<'_>,
        what: &(dyn Fn() -> String + Sync),
    ) -> Result<Ran<T>, StoreError> {
        let sentinel = matches!(self.target, Target::Sentinel(_));
        let mut retried = false;
        let mut maybe_ran_before = false;
        loop {
            let live = self.live().await?;
            let mut c = live.mgr.clone();
            let r = match req {
                Req::Cmd(cmd) => timed(cmd.query_async::<T>(&mut c)).await,
                Req::Pipe(p) => timed(p.query_async::<T>(&mut c)).await,
            };
            match r {
                Ok(value) => {
                    return Ok(Ran {
                        value,
                        generation: live.generation,
                        maybe_ran_before,
                    })
                }
                Err(e) if sentinel && sentinel::switch_suspected(&e) => {
                    maybe_ran_before |= sentinel::may_have_run(&e);
                    warn!(master = %live.master, error = %e, retry = !retried,
                        "Redis master lost or read-only: asking the sentinels again");
                    self.forget(live.generation).await;
                    if retried {
                        return Err(StoreError(format!("{}: {e}", what())));
                    }
                    retried = true;
                }
                Err(e) => return Err(StoreError(format!("{}: {e}", what()))),
            }
        }
    }
}

/// Keeps a new connection, or the failure to make one (counted as a
/// failed Redis call) for `recent_failure`.
fn settle(slot: &mut Slot, made: Result<Live, String>) -> Result<Live, StoreError> {
    match made {
        Ok(live) => {
            slot.live = Some(live.clone());
            slot.failed = None;
            Ok(live)
        }
        Err(e) => {
            crate::metrics::redis_call(None, false);
            slot.failed = Some((Instant::now(), e.clone()));
            Err(StoreError(format!("Redis unreachable: {e}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_to_connect_answers_for_a_second() {
        let t0 = Instant::now();
        let failed = (t0, "refused".to_string());
        assert_eq!(recent_failure(Some(&failed), t0), Some("refused"));
        let soon = t0 + Duration::from_millis(900);
        assert_eq!(recent_failure(Some(&failed), soon), Some("refused"));
        assert_eq!(recent_failure(Some(&failed), t0 + FAIL_FAST), None);
        assert_eq!(recent_failure(None, t0), None);
    }
}
