//! What a location does is decided by one directive: `stream_autostart`
//! (playlists), `stream_autostart_segment`, `stream_autostart_m3u`,
//! `stream_autostart_api`, `stream_autostart_xtream`,
//! `stream_autostart_auth` or `stream_autostart_metrics`. Two of them in
//! one location is a configuration error, whatever their order.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModeKind {
    Playlist,
    Segment,
    Catalog,
    Api,
    Xtream,
    Auth,
    Metrics,
}

impl ModeKind {
    pub fn directive(self) -> &'static str {
        match self {
            ModeKind::Playlist => "stream_autostart",
            ModeKind::Segment => "stream_autostart_segment",
            ModeKind::Catalog => "stream_autostart_m3u",
            ModeKind::Api => "stream_autostart_api",
            ModeKind::Xtream => "stream_autostart_xtream",
            ModeKind::Auth => "stream_autostart_auth",
            ModeKind::Metrics => "stream_autostart_metrics",
        }
    }
}

/// Why `new` cannot be added to a location that already has `existing`,
/// worded to follow nginx's `"<new>" directive `; `None` when it can.
pub fn conflict(existing: Option<ModeKind>, new: ModeKind) -> Option<String> {
    match existing {
        None => None,
        Some(e) if e == new => Some("is duplicate".into()),
        Some(e) => Some(format!(
            "cannot be combined with \"{}\" in one location",
            e.directive()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [ModeKind; 7] = [
        ModeKind::Playlist,
        ModeKind::Segment,
        ModeKind::Catalog,
        ModeKind::Api,
        ModeKind::Xtream,
        ModeKind::Auth,
        ModeKind::Metrics,
    ];

    #[test]
    fn one_mode_per_location_in_any_order() {
        for a in ALL {
            assert_eq!(conflict(None, a), None);
            for b in ALL {
                let why = conflict(Some(a), b).expect("a second mode is refused");
                if a == b {
                    assert_eq!(why, "is duplicate");
                } else {
                    // The message names the other directive; nginx adds
                    // the one being set.
                    assert!(why.contains(&format!("\"{}\"", a.directive())), "{why}");
                }
            }
        }
    }
}
