//! How `stream-supervisor sessions` and `status` show viewing sessions.

use std::collections::BTreeMap;

use crate::ctl::{columns, span};
use shared::protocol::SessionInfo;

/// Live sessions per channel.
pub fn viewers(list: &[SessionInfo]) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    for s in list {
        *out.entry(s.channel.clone()).or_insert(0) += 1;
    }
    out
}

/// The sessions as a table (in the order given: the supervisor sorts).
pub fn table(list: &[SessionInfo], now: u64) -> String {
    if list.is_empty() {
        return "no sessions\n".to_string();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|s| {
            vec![
                s.user.clone(),
                s.channel.clone(),
                s.client.clone(),
                span(now.saturating_sub(s.started)),
                format!("{} ago", span(s.idle_secs)),
            ]
        })
        .collect();
    columns(&["USER", "CHANNEL", "CLIENT", "FOR", "LAST REQUEST"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_as_rows_and_viewers() {
        assert_eq!(table(&[], 0), "no sessions\n");
        let s = |user: &str, channel: &str, client: &str| SessionInfo {
            user: user.into(),
            channel: channel.into(),
            client: client.into(),
            started: 1000,
            idle_secs: 2,
        };
        let list = [
            s("alice", "7", "3f9a0c1d"),
            s("bob", "7", "aa"),
            s("bob", "9", "bb"),
        ];
        let t = table(&list, 1075);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "USER   CHANNEL  CLIENT    FOR    LAST REQUEST");
        assert_eq!(lines[1], "alice  7        3f9a0c1d  1m15s  2s ago");
        assert_eq!(lines.len(), 4);
        let v = viewers(&list);
        assert_eq!(v.get("7"), Some(&2));
        assert_eq!(v.get("9"), Some(&1));
    }
}
