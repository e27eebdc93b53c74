//! What one client can make the supervisor hold, and how much of it: open
//! connections (in all, and per client process), requests in flight per
//! connection, and how long a connection may sit idle, take to send a line
//! or leave its replies unread. The decisions are pure; `Registry` counts
//! the connections open now.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::warn;

use super::peer_access::PeerCred;

/// Limits on the socket's clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Connections open at once, in all.
    pub max_connections: usize,
    /// Connections open at once from one client process.
    pub per_client: usize,
    /// Requests of one connection being answered at once; beyond it the
    /// supervisor reads no more from that connection until one is done.
    pub in_flight: usize,
    /// A connection with nothing in flight that sends nothing for this long
    /// is closed.
    pub idle: Duration,
    /// A request line must be complete this long after its first byte.
    pub read: Duration,
    /// A reply the client does not take within this long ends the
    /// connection (its requests are dropped).
    pub write: Duration,
}

/// Whether a new connection may stay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admit {
    Yes,
    /// Refused: why, for the log.
    No(String),
}

/// Decides on a connection from a client that already has `from_client`
/// open, when `total` are open in all.
pub fn admit(total: usize, from_client: usize, limits: &Limits) -> Admit {
    if from_client >= limits.per_client {
        Admit::No(format!(
            "{from_client} connections open from this client, the most allowed (--max-client-connections {})",
            limits.per_client
        ))
    } else if total >= limits.max_connections {
        Admit::No(format!(
            "{total} connections open, the most allowed (--max-connections {})",
            limits.max_connections
        ))
    } else {
        Admit::Yes
    }
}

/// File descriptors the supervisor keeps for everything but socket
/// clients: Redis, ffmpeg's pipes and bridges per stream, logs.
pub fn reserved_fds(max_streams: usize) -> u64 {
    128 + 8 * max_streams as u64
}

/// `--max-connections`, lowered so that accepting never runs out of file
/// descriptors (`nofile`: the soft limit, if known).
pub fn effective_max_connections(wanted: usize, nofile: Option<u64>, max_streams: usize) -> usize {
    match nofile {
        Some(n) => {
            let room = n.saturating_sub(reserved_fds(max_streams)).max(16);
            wanted.min(usize::try_from(room).unwrap_or(usize::MAX))
        }
        None => wanted,
    }
}

/// The soft `Max open files` of `/proc/self/limits` text (`None` for
/// "unlimited" or when it cannot be read).
pub fn parse_nofile(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_ascii_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The soft limit on open files of this process.
pub fn nofile_limit() -> Option<u64> {
    parse_nofile(&std::fs::read_to_string("/proc/self/limits").ok()?)
}

/// Which client a connection counts against: its process, or its user
/// when the kernel gave no pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientKey {
    Pid(i32),
    Uid(u32),
}

impl ClientKey {
    pub fn of(peer: &PeerCred) -> ClientKey {
        peer.pid
            .filter(|p| *p > 0)
            .map_or(ClientKey::Uid(peer.uid), ClientKey::Pid)
    }
}

/// The connections open now, by client, and the reports of what was shed.
#[derive(Default, Debug)]
pub struct Registry {
    open: Mutex<Counts>,
    /// One report per kind, so a flood of one kind never hides another.
    shed: [Mutex<Reports>; 3],
    forbidden: Mutex<Reports>,
}

/// Why a connection was shed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shed {
    /// Refused when it came: too many connections.
    Refused = 0,
    /// A request line took too long.
    SlowLine = 1,
    /// Its replies were not read.
    Unread = 2,
}

#[derive(Default, Debug)]
struct Counts {
    total: usize,
    by_client: HashMap<ClientKey, usize>,
}

/// Held while a connection is open; dropping it gives its place back.
#[derive(Debug)]
pub struct Slot {
    registry: Arc<Registry>,
    key: ClientKey,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.registry.open.lock().unwrap();
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.by_client.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                c.by_client.remove(&self.key);
            }
        }
    }
}

impl Registry {
    /// A slot for a connection from `peer`, or why there is none (logged,
    /// at most every few seconds however many are refused).
    pub fn open(self: &Arc<Self>, peer: &PeerCred, limits: &Limits) -> Result<Slot, String> {
        let key = ClientKey::of(peer);
        let mut c = self.open.lock().unwrap();
        let from_client = c.by_client.get(&key).copied().unwrap_or(0);
        match admit(c.total, from_client, limits) {
            Admit::Yes => {
                c.total += 1;
                *c.by_client.entry(key).or_insert(0) += 1;
                Ok(Slot {
                    registry: self.clone(),
                    key,
                })
            }
            Admit::No(why) => {
                drop(c);
                self.shed(Shed::Refused, peer, &format!("connection refused: {why}"));
                Err(why)
            }
        }
    }

    /// Connections open now.
    pub fn total(&self) -> usize {
        self.open.lock().unwrap().total
    }

    /// A connection was refused or dropped to protect the others: logged
    /// at most every few seconds, with how many since the last report.
    pub fn shed(&self, kind: Shed, peer: &PeerCred, why: &str) {
        if let Some(n) = self.shed[kind as usize].lock().unwrap().hit(Instant::now()) {
            warn!(peer = %peer, shed = n, "connection shed: {why} ({n} shed since the last report)");
        }
    }

    /// Reports what was counted but not yet logged (called every few
    /// seconds, so the tail of a burst is reported too).
    pub fn flush_reports(&self) {
        let now = Instant::now();
        for (kind, r) in [
            "connection refused",
            "slow request line",
            "replies not read",
        ]
        .iter()
        .zip(&self.shed)
        {
            if let Some(n) = r.lock().unwrap().flush(now) {
                warn!(
                    shed = n,
                    "connection shed: {n} more ({kind}) since the last report"
                );
            }
        }
        if let Some(n) = self.forbidden.lock().unwrap().flush(now) {
            warn!(
                refused = n,
                "operator operation refused: {n} more since the last report"
            );
        }
    }

    /// An operator op was refused to a peer: logged like `shed`.
    pub fn forbidden(&self, peer: &PeerCred, op: &str) {
        if let Some(n) = self.forbidden.lock().unwrap().hit(Instant::now()) {
            warn!(
                peer = %peer,
                op,
                refused = n,
                "operator operation refused: the peer is not root, the supervisor's user or in an --operator-group ({n} refused since the last report)"
            );
        }
    }
}

/// A report made at most once per interval, counting what it stands for.
#[derive(Default, Debug)]
struct Reports {
    last: Option<Instant>,
    unreported: u64,
}

const REPORT_EVERY: Duration = Duration::from_secs(5);

impl Reports {
    /// Counts one event; `Some(n)` when a report of `n` events is due.
    fn hit(&mut self, now: Instant) -> Option<u64> {
        self.unreported += 1;
        if !should_log(self.last, now, REPORT_EVERY) {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.unreported))
    }

    /// `Some(n)` when `n` events wait to be reported and a report is due.
    fn flush(&mut self, now: Instant) -> Option<u64> {
        if self.unreported == 0 || !should_log(self.last, now, REPORT_EVERY) {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.unreported))
    }
}

/// Whether a rate-limited report is due (the first one always is).
pub fn should_log(last: Option<Instant>, now: Instant, every: Duration) -> bool {
    last.is_none_or(|t| now.duration_since(t) >= every)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: usize, per: usize) -> Limits {
        Limits {
            max_connections: max,
            per_client: per,
            in_flight: 4,
            idle: Duration::from_secs(60),
            read: Duration::from_secs(10),
            write: Duration::from_secs(10),
        }
    }

    #[test]
    fn admission() {
        let l = limits(10, 3);
        assert_eq!(admit(0, 0, &l), Admit::Yes);
        assert_eq!(admit(9, 2, &l), Admit::Yes);
        let Admit::No(why) = admit(5, 3, &l) else {
            panic!()
        };
        assert!(why.contains("--max-client-connections 3"), "{why}");
        let Admit::No(why) = admit(10, 0, &l) else {
            panic!()
        };
        assert!(why.contains("--max-connections 10"), "{why}");
    }

    #[test]
    fn the_connection_limit_fits_the_file_limit() {
        assert_eq!(reserved_fds(100), 928);
        assert_eq!(effective_max_connections(4096, None, 100), 4096);
        assert_eq!(effective_max_connections(4096, Some(65536), 100), 4096);
        assert_eq!(effective_max_connections(4096, Some(1024), 100), 96);
        // Never below a handful, even when the limit is absurdly low.
        assert_eq!(effective_max_connections(4096, Some(100), 100), 16);
    }

    #[test]
    fn nofile_from_proc_limits() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \nMax cpu time              unlimited            unlimited            seconds   \nMax open files            1024                 524288               files     \n";
        assert_eq!(parse_nofile(text), Some(1024));
        assert_eq!(
            parse_nofile(
                "Max open files            unlimited            unlimited            files\n"
            ),
            None
        );
        assert_eq!(parse_nofile(""), None);
        assert!(nofile_limit().is_some());
    }

    #[test]
    fn clients_are_processes() {
        let p = |pid| PeerCred {
            uid: 33,
            gid: 33,
            pid,
        };
        assert_eq!(ClientKey::of(&p(Some(7))), ClientKey::Pid(7));
        assert_eq!(ClientKey::of(&p(None)), ClientKey::Uid(33));
        assert_eq!(ClientKey::of(&p(Some(0))), ClientKey::Uid(33));
    }

    #[test]
    fn slots_are_counted_and_given_back() {
        let reg = Arc::new(Registry::default());
        let l = limits(3, 2);
        let a = PeerCred {
            uid: 1,
            gid: 1,
            pid: Some(10),
        };
        let b = PeerCred { pid: Some(11), ..a };
        let s1 = reg.open(&a, &l).unwrap();
        let _s2 = reg.open(&a, &l).unwrap();
        assert!(reg.open(&a, &l).unwrap_err().contains("from this client"));
        let _s3 = reg.open(&b, &l).unwrap();
        assert!(reg
            .open(&b, &l)
            .unwrap_err()
            .contains("--max-connections 3"));
        assert_eq!(reg.total(), 3);
        drop(s1);
        assert_eq!(reg.total(), 2);
        let _s4 = reg.open(&b, &l).unwrap();
    }

    #[test]
    fn reports_are_rate_limited() {
        let t0 = Instant::now();
        let every = Duration::from_secs(5);
        assert!(should_log(None, t0, every));
        assert!(!should_log(Some(t0), t0 + Duration::from_secs(1), every));
        assert!(should_log(Some(t0), t0 + every, every));
        let mut r = Reports::default();
        assert_eq!(r.hit(t0), Some(1));
        assert_eq!(r.hit(t0 + Duration::from_secs(1)), None);
        assert_eq!(r.hit(t0 + Duration::from_secs(2)), None);
        assert_eq!(r.hit(t0 + every), Some(3));
        // The tail of a burst is reported by the periodic flush.
        assert_eq!(r.hit(t0 + every + Duration::from_secs(1)), None);
        assert_eq!(r.flush(t0 + every + Duration::from_secs(2)), None);
        assert_eq!(r.flush(t0 + every * 2), Some(1));
        assert_eq!(r.flush(t0 + every * 3), None);
    }
}
