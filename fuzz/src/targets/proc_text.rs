//! Kernel text the supervisor reads about itself and its peers
//! (`peer_access::parse_proc_status`, `conn_limits::parse_nofile`). Parsed
//! ids come from the `Uid:` line; a limit from `Max open files`.

use stream_supervisor::conn_limits::parse_nofile;
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
}
