//! Lines of /proc/net/tcp as the gateway reads them to learn who connects
//! (`stream_supervisor::gateway::peer::parse_tcp_line`, `find`). An entry
//! parsed from a line reads back from that line written again.

use std::net::SocketAddrV4;

use stream_supervisor::gateway::peer::{find, parse_tcp_line};

fn hex(a: SocketAddrV4) -> String {
    format!(
        "{:08X}:{:04X}",
        u32::from_ne_bytes(a.ip().octets()),
        a.port()
    )
}

pub fn run(data: &[u8]) {
    let text = super::text(data);
    for line in text.lines() {
        if let Some(e) = parse_tcp_line(line) {
            let again = format!(
                "0: {} {} 01 0:0 0:0 0 {} 0 {}",
                hex(e.local),
                hex(e.remote),
                e.uid,
                e.inode
            );
            assert_eq!(parse_tcp_line(&again), Some(e), "{line:?}");
            let found = find(&text, e.local, e.remote).expect("a parsed entry is found");
            assert_eq!((found.local, found.remote), (e.local, e.remote));
        }
    }
}
