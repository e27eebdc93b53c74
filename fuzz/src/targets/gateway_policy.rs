//! Allowed networks and the address check
//! (`stream_supervisor::gateway::policy::Net::parse`, `parse_list`,
//! `restricted_kind`, `check`). With nothing allowed, only public
//! addresses pass; an allowed network lets its own addresses through.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use stream_supervisor::gateway::policy::{check, parse_list, restricted_kind, Net};

pub fn run(data: &[u8]) {
    // The first 16 bytes: an address (v4 when the first byte is even).
    let ip = match data.first_chunk::<16>() {
        Some(b) if b[0] % 2 == 0 => IpAddr::V4(Ipv4Addr::new(b[1], b[2], b[3], b[4])),
        Some(b) => IpAddr::V6(Ipv6Addr::from(*b)),
        None => return,
    };
    let text = super::text(&data[16..]);
    let open = check("h.test", ip, &[]);
    assert_eq!(open.is_ok(), restricted_kind(ip).is_none(), "{ip}");
    if let Ok(nets) = parse_list(&text) {
        if nets.iter().any(|n| n.contains(ip)) {
            assert!(
                check("h.test", ip, &nets).is_ok(),
                "{ip} allowed by {text:?}"
            );
        }
    }
    if let Ok(net) = Net::parse(&text) {
        let _ = net.contains(ip);
    }
}
