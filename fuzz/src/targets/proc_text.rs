//! Kernel text the supervisor reads about itself and its peers
//! (`peer_access::parse_proc_status`, `conn_limits::parse_nofile`) and
//! about its ffmpeg children for the metrics (`metrics::procfs`). Parsed
//! ids come from the `Uid:` line; a limit from `Max open files`; CPU ticks
//! from after the command name's closing parenthesis.

use stream_supervisor::conn_limits::parse_nofile;
use stream_supervisor::metrics::procfs::{auxv_value, parse_stat_ticks, parse_statm_pages};
use stream_supervisor::peer_access::parse_proc_status;

pub fn run(data: &[u8]) {
    let text = super::text(data);
    if let Some(ids) = parse_proc_status(&text) {
        assert!(!ids.uids.is_empty());
        assert!(text.contains("Uid:") && text.contains("Groups:"));
    }
    if let Some(n) = parse_nofile(&text) {
        assert!(text.contains("Max open files"), "{n}");
    }
    if parse_stat_ticks(&text).is_some() {
        assert!(text.contains(')'));
    }
    if parse_statm_pages(&text).is_some() {
        assert!(text.split_ascii_whitespace().count() >= 2);
    }
    for wanted in [6, 17] {
        let _ = auxv_value(data, wanted);
    }
}
