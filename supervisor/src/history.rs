//! Each channel's recent events (start, ready with its cold start time,
//! failure class, stop and why) for the dashboard, kept here rather than
//! derived from the dashboard's polling: the supervisor sees every
//! transition, including the ones between two polls, and the history
//! survives a reload of the page and outlives the channel's run. Bounded
//! twice: a few events per channel, and a most number of channels (the
//! one quiet longest is forgotten first).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use shared::overview::{Event, EventKind};

/// Events kept per channel.
pub const PER_CHANNEL: usize = 16;

/// Channels remembered (a catalog of thousands, and ad-hoc ids).
pub const MAX_CHANNELS: usize = 10_000;

#[derive(Default)]
pub struct History {
    map: Mutex<HashMap<String, VecDeque<Event>>>,
}

impl History {
    /// Records an event of `channel` at Unix time `t`.
    pub fn record(
        &self,
        channel: &str,
        t: u64,
        kind: EventKind,
        ms: Option<u64>,
        why: Option<&str>,
    ) {
        let ev = Event {
            t,
            kind,
            ms,
            why: why.map(str::to_string),
        };
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        push(&mut map, channel, ev, PER_CHANNEL, MAX_CHANNELS);
    }

    /// Every channel's events, oldest first.
    pub fn snapshot(&self) -> HashMap<String, Vec<Event>> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.iter()
            .map(|(k, v)| (k.clone(), v.iter().cloned().collect()))
            .collect()
    }
}

/// Appends `ev` to `channel`'s ring, dropping its oldest event past
/// `per_channel`, and the quietest channel when a new one would make more
/// than `max_channels`.
fn push(
    map: &mut HashMap<String, VecDeque<Event>>,
    channel: &str,
    ev: Event,
    per_channel: usize,
    max_channels: usize,
) {
    if !map.contains_key(channel) && map.len() >= max_channels {
        let quietest = map
            .iter()
            .min_by_key(|(_, evs)| evs.back().map_or(0, |e| e.t))
            .map(|(k, _)| k.clone());
        if let Some(k) = quietest {
            map.remove(&k);
        }
    }
    let ring = map.entry(channel.to_string()).or_default();
    if ring.len() >= per_channel {
        ring.pop_front();
    }
    ring.push_back(ev);
}

/// Unix time now, in seconds.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Why a channel's run ended, as a short word for its `stop` event: the
/// operator's or the supervisor's reason for stopping it (`request_stop`),
/// or how it ended by itself.
pub fn stop_class(stop_reason: Option<&str>, ended_message: &str) -> &'static str {
    match stop_reason {
        Some("operator restart") => "restart",
        Some(r) if r.starts_with("operator") => "operator",
        Some(r) if r.contains("shutting down") => "shutdown",
        Some(_) => "operator",
        None if ended_message.ends_with("stopped: idle") => "idle",
        None if ended_message.ends_with("cool-down over") => "cooldown",
        None => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(t: u64) -> Event {
        Event {
            t,
            kind: EventKind::Start,
            ms: None,
            why: None,
        }
    }

    #[test]
    fn rings_are_bounded_per_channel() {
        let mut map = HashMap::new();
        for t in 0..10 {
            push(&mut map, "7", ev(t), 4, 100);
        }
        let times: Vec<u64> = map["7"].iter().map(|e| e.t).collect();
        assert_eq!(times, [6, 7, 8, 9]);
    }

    #[test]
    fn the_quietest_channel_is_forgotten_first() {
        let mut map = HashMap::new();
        push(&mut map, "a", ev(5), 4, 2);
        push(&mut map, "b", ev(1), 4, 2);
        push(&mut map, "a", ev(6), 4, 2);
        push(&mut map, "c", ev(7), 4, 2);
        let mut keys: Vec<&String> = map.keys().collect();
        keys.sort();
        assert_eq!(keys, ["a", "c"]);
        // A known channel never evicts another.
        push(&mut map, "a", ev(8), 4, 2);
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn recorded_events_come_back_in_order() {
        let h = History::default();
        h.record("7", 1, EventKind::Start, None, None);
        h.record("7", 2, EventKind::Ready, Some(1500), None);
        h.record("7", 9, EventKind::Stop, None, Some("idle"));
        let s = h.snapshot();
        let kinds: Vec<EventKind> = s["7"].iter().map(|e| e.kind).collect();
        assert_eq!(kinds, [EventKind::Start, EventKind::Ready, EventKind::Stop]);
        assert_eq!(s["7"][1].ms, Some(1500));
        assert_eq!(s["7"][2].why.as_deref(), Some("idle"));
    }

    #[test]
    fn stop_classes() {
        assert_eq!(stop_class(Some("operator request"), ""), "operator");
        assert_eq!(stop_class(Some("operator restart"), ""), "restart");
        assert_eq!(stop_class(Some("operator start"), ""), "operator");
        assert_eq!(stop_class(Some("supervisor shutting down"), ""), "shutdown");
        assert_eq!(stop_class(None, "channel 7 stopped: idle"), "idle");
        assert_eq!(stop_class(None, "channel 7 cool-down over"), "cooldown");
        assert_eq!(
            stop_class(None, "no channel 7: Redis has no channel:7 key"),
            "error"
        );
    }
}
