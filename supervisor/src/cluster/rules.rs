//! Cluster decisions as pure functions: lease timing (when to renew, when
//! a node that cannot renew must have stopped its ffmpeg), reading a
//! lease's value, and placement (which node starts a channel).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How often the owner renews a lease: a third of its life, so one lost
/// renewal still leaves another try before the stop.
pub fn renew_every(ttl: Duration) -> Duration {
    ttl / 3
}

/// How long before the lease's end an owner that could not renew has
/// already stopped its ffmpeg: a fifth of the TTL, 1 s at least. It covers
/// what the owner's clock cannot see: the rate drift between its clock
/// and Redis', a pause (GC-free here, but a stopped VM or SIGSTOP), and
/// the time SIGKILL takes to end ffmpeg.
pub fn safety_margin(ttl: Duration) -> Duration {
    (ttl / 5).max(Duration::from_secs(1))
}

/// Time after the last confirmed renewal (measured from when that
/// renewal was *sent*, before Redis restarted the TTL) at which an owner
/// stops its channel.
pub fn stop_after(ttl: Duration) -> Duration {
    ttl.saturating_sub(safety_margin(ttl))
}

/// What the lease keeper does next, `held` after the last renewal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Sleep this long, then renew (giving the call at most `timeout`).
    Renew { after: Duration, timeout: Duration },
    /// The lease may end before another renewal could land: stop now.
    Stop,
}

/// The keeper's next step. A renewal is tried every `renew_every`; one
/// that has not answered by the stop time is given up on.
pub fn next_step(held: Duration, since_try: Duration, ttl: Duration) -> Step {
    let stop = stop_after(ttl);
    if held >= stop {
        return Step::Stop;
    }
    let after = renew_every(ttl).saturating_sub(since_try);
    let at = held + after;
    if at >= stop {
        return Step::Stop;
    }
    Step::Renew {
        after,
        timeout: (stop - at).min(renew_every(ttl)),
    }
}

/// The node id in a lease's value (`<node> <fence>`).
pub fn lease_node(value: &str) -> &str {
    value.split_once(' ').map_or(value, |(node, _)| node)
}

/// What a node publishes in its heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    pub url: String,
    pub capacity: usize,
    /// Channels running there.
    pub load: usize,
    #[serde(default)]
    pub draining: bool,
}

/// Where a channel nobody runs should start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    Here,
    /// On this other node, at its URL.
    There(String, String),
    /// No live node has room (or every one drains).
    Nowhere,
}

fn has_room(n: &NodeRecord) -> bool {
    !n.draining && n.load < n.capacity
}

/// Here if this node has room and does not drain; else the least loaded
/// live node with room (fewest channels for its capacity, then its id).
pub fn place(me: &str, mine: &NodeRecord, nodes: &[(String, NodeRecord)]) -> Placement {
    if has_room(mine) {
        return Placement::Here;
    }
    nodes
        .iter()
        .filter(|(id, n)| id != me && has_room(n))
        .min_by(|(ia, a), (ib, b)| {
            // load/capacity compared without floats: a.load*b.cap vs b.load*a.cap.
            (a.load * b.capacity)
                .cmp(&(b.load * a.capacity))
                .then(ia.cmp(ib))
        })
        .map_or(Placement::Nowhere, |(id, n)| {
            Placement::There(id.clone(), n.url.clone())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;
    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn an_owner_that_cannot_renew_stops_before_its_lease_ends() {
        assert_eq!(renew_every(S(10)).as_millis(), 3333);
        assert_eq!(safety_margin(S(10)), S(2));
        assert_eq!(stop_after(S(10)), S(8));
        // Short leases keep a 1 s margin.
        assert_eq!(safety_margin(S(3)), S(1));
        assert_eq!(stop_after(S(3)), S(2));
        assert_eq!(safety_margin(S(60)), S(12));
    }

    #[test]
    fn the_keeper_renews_on_time_and_gives_up_at_the_stop_time() {
        let ttl = S(10);
        let renew = |held, tried| match next_step(held, tried, ttl) {
            Step::Renew { after, timeout } => (after.as_millis(), timeout.as_millis()),
            Step::Stop => panic!("stopped"),
        };
        // Just renewed: next try a third later.
        assert_eq!(renew(S(0), S(0)), (3333, 3333));
        // Tried a second ago: two seconds to wait.
        assert_eq!(renew(S(1), S(1)), (2333, 3333));
        // One renewal failed (3.4 s held, just tried): one more try, whose
        // call may take only what is left before the stop at 8 s.
        assert_eq!(renew(ms(3400), S(0)), (3333, 1266));
        // The next try would land after the stop time: stop now.
        assert_eq!(next_step(ms(6700), S(0), ttl), Step::Stop);
        assert_eq!(next_step(S(8), S(0), ttl), Step::Stop);
        assert_eq!(next_step(S(30), S(0), ttl), Step::Stop);
    }

    #[test]
    fn lease_values_name_their_node() {
        assert_eq!(lease_node("n2 41"), "n2");
        assert_eq!(lease_node("n2"), "n2");
    }

    fn node(load: usize, capacity: usize, draining: bool) -> NodeRecord {
        NodeRecord {
            url: format!("http://127.0.0.1:{}", 8000 + load),
            capacity,
            load,
            draining,
        }
    }

    #[test]
    fn placement_prefers_here_then_the_least_loaded_node_with_room() {
        let others = vec![
            ("a".to_string(), node(5, 10, false)),
            ("b".to_string(), node(2, 10, false)),
            ("c".to_string(), node(0, 10, true)),
            ("d".to_string(), node(4, 4, false)),
        ];
        assert_eq!(place("me", &node(9, 10, false), &others), Placement::Here);
        // Full here: the least loaded with room; a drained node never.
        assert_eq!(
            place("me", &node(10, 10, false), &others),
            Placement::There("b".into(), "http://127.0.0.1:8002".into())
        );
        // Draining here: elsewhere even with room.
        assert!(matches!(
            place("me", &node(0, 10, true), &others),
            Placement::There(id, _) if id == "b"
        ));
        // Load is weighed against capacity: 2 of 10 beats 1 of 2.
        let weighed = vec![
            ("x".to_string(), node(1, 2, false)),
            ("y".to_string(), node(2, 10, false)),
        ];
        assert!(matches!(
            place("me", &node(1, 1, false), &weighed),
            Placement::There(id, _) if id == "y"
        ));
        // This node's own heartbeat is not another node.
        let only_me = vec![("me".to_string(), node(0, 10, false))];
        assert_eq!(
            place("me", &node(0, 10, true), &only_me),
            Placement::Nowhere
        );
        assert_eq!(place("me", &node(1, 1, false), &[]), Placement::Nowhere);
    }
}
