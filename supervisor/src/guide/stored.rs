//! What the guide keeps per guide id in Redis (`epg:channel:<guide_id>`):
//! the source's channel names and icon, and its programmes sorted by start.

use serde::{Deserialize, Serialize};

use super::parse::{ChannelInfo, Programme};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredGuide {
    #[serde(default)]
    pub channel: ChannelInfo,
    #[serde(default)]
    pub programmes: Vec<Programme>,
}

impl StoredGuide {
    /// A stored value; an unreadable one (written by something else) is
    /// an empty guide, never an error for viewers.
    pub fn from_json(s: &str) -> StoredGuide {
        serde_json::from_str(s).unwrap_or_default()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The programme on at `now`, then the ones after it: at most `limit`.
    pub fn from_now(&self, now: i64, limit: usize) -> Vec<&Programme> {
        self.programmes
            .iter()
            .enumerate()
            .filter(|(i, p)| self.end_of(*i, p) > now)
            .map(|(_, p)| p)
            .take(limit)
            .collect()
    }

    /// A programme's end: its stop, else the next one's start, else an hour.
    pub fn end_of(&self, i: usize, p: &Programme) -> i64 {
        p.stop
            .or_else(|| self.programmes.get(i + 1).map(|n| n.start))
            .unwrap_or(p.start + 3600)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(start: i64, stop: Option<i64>) -> Programme {
        Programme {
            start,
            stop,
            title: format!("p{start}"),
            desc: None,
            lang: None,
        }
    }

    #[test]
    fn now_and_next() {
        let g = StoredGuide {
            channel: ChannelInfo::default(),
            programmes: vec![p(0, Some(10)), p(10, None), p(20, Some(30)), p(30, None)],
        };
        let titles = |v: Vec<&Programme>| v.iter().map(|p| p.title.clone()).collect::<Vec<_>>();
        assert_eq!(titles(g.from_now(15, 2)), ["p10", "p20"]);
        assert_eq!(titles(g.from_now(10, 4)), ["p10", "p20", "p30"]);
        assert_eq!(g.end_of(3, &g.programmes[3]), 3630);
        assert_eq!(StoredGuide::from_json("nope"), StoredGuide::default());
        assert_eq!(StoredGuide::from_json(&g.to_json()), g);
    }
}
