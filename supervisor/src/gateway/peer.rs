//! Who is connecting to the gateway: the kernel's socket table
//! (/proc/self/net/tcp) gives the connecting socket's owner and inode; the
//! connection is this run's ffmpeg's only if that inode is among ffmpeg's
//! open files and the owner is the supervisor's user.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

/// One line of /proc/net/tcp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpEntry {
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    pub uid: u32,
    pub inode: u64,
}

/// `0100007F:1F90` (address as the kernel's native-endian word, port in
/// hex) to 127.0.0.1:8080.
fn hex_addr(s: &str) -> Option<SocketAddrV4> {
    let (a, p) = s.split_once(':')?;
    if a.len() != 8 || p.len() != 4 {
        return None;
    }
    let a = u32::from_str_radix(a, 16).ok()?;
    let p = u16::from_str_radix(p, 16).ok()?;
    Some(SocketAddrV4::new(Ipv4Addr::from(a.to_ne_bytes()), p))
}

/// Parses one line of /proc/net/tcp (`None` for the header or junk).
pub fn parse_tcp_line(line: &str) -> Option<TcpEntry> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 10 || !f[0].ends_with(':') {
        return None;
    }
    Some(TcpEntry {
        local: hex_addr(f[1])?,
        remote: hex_addr(f[2])?,
        uid: f[7].parse().ok()?,
        inode: f[9].parse().ok()?,
    })
}

/// The socket at `local` connected to `remote`, from a /proc/net/tcp text.
pub fn find(table: &str, local: SocketAddrV4, remote: SocketAddrV4) -> Option<TcpEntry> {
    table
        .lines()
        .filter_map(parse_tcp_line)
        .find(|e| e.local == local && e.remote == remote)
}

/// Why a connection to the gateway is refused, or `Ok` if it is from
/// `pid` (this run's ffmpeg), running as `uid`.
pub fn check(peer: SocketAddr, gateway: SocketAddr, pid: u32, uid: u32) -> Result<(), String> {
    let (SocketAddr::V4(peer), SocketAddr::V4(gateway)) = (peer, gateway) else {
        return Err("not an IPv4 loopback connection".into());
    };
    if pid == 0 {
        return Err("no ffmpeg is running for this gateway yet".into());
    }
    // /proc/self/net: /proc/net itself is hidden under ProcSubset=pid.
    let table = std::fs::read_to_string("/proc/self/net/tcp")
        .map_err(|e| format!("cannot read the socket table: {e}"))?;
    let entry = find(&table, peer, gateway)
        .ok_or_else(|| format!("no socket {peer} -> {gateway} in the socket table"))?;
    if entry.uid != uid {
        return Err(format!(
            "the connecting socket belongs to uid {}",
            entry.uid
        ));
    }
    let link = format!("socket:[{}]", entry.inode);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map_err(|e| format!("cannot list ffmpeg's files: {e}"))?;
    let owned = fds
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .any(|target| target.as_os_str() == link.as_str());
    if owned {
        Ok(())
    } else {
        Err(format!("the connecting socket is not ffmpeg's (pid {pid})"))
    }
}

/// The user the supervisor runs as (the owner of its /proc entry), without
/// a libc call.
pub fn my_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 21470 1 0000000000000000 100 0 0 10 0
   1: 0100007F:A1B2 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 99811 1 0000000000000000 20 4 30 10 -1
   2: 0200007F:0050 0100007F:C000 01 00000000:00000000 00:00000000 00000000    33        0 5 1 0000000000000000 20 4 30 10 -1
";

    fn a(s: &str) -> SocketAddrV4 {
        s.parse().unwrap()
    }

    #[test]
    fn lines_of_the_socket_table() {
        assert_eq!(parse_tcp_line(TABLE.lines().next().unwrap()), None);
        let e = parse_tcp_line(TABLE.lines().nth(2).unwrap()).unwrap();
        if cfg!(target_endian = "little") {
            assert_eq!(e.local, a("127.0.0.1:41394"));
            assert_eq!(e.remote, a("127.0.0.1:8080"));
        }
        assert_eq!((e.uid, e.inode), (1000, 99811));
        assert_eq!(parse_tcp_line(""), None);
        assert_eq!(parse_tcp_line("   0: zz:1 0:0 01 0 0 0 0 0 1"), None);
        assert_eq!(
            parse_tcp_line("   0: 0100007F:1F90 0100007F:1F90 01 x y z x"),
            None
        );
    }

    #[test]
    fn finds_the_connecting_socket_by_its_four_tuple() {
        if cfg!(target_endian = "big") {
            return;
        }
        let e = find(TABLE, a("127.0.0.1:41394"), a("127.0.0.1:8080")).unwrap();
        assert_eq!(e.inode, 99811);
        // The listening socket and the reverse direction are not it.
        assert_eq!(find(TABLE, a("127.0.0.1:8080"), a("127.0.0.1:41394")), None);
        let e = find(TABLE, a("127.0.0.2:80"), a("127.0.0.1:49152")).unwrap();
        assert_eq!(e.uid, 33);
    }

    #[test]
    fn a_real_connection_is_found_and_refused_for_another_pid() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (_s, peer) = l.accept().unwrap();
        assert_eq!(peer, c.local_addr().unwrap());
        let me = std::process::id();
        // Our own process holds the client socket.
        assert_eq!(check(peer, l.local_addr().unwrap(), me, my_uid()), Ok(()));
        assert!(check(peer, l.local_addr().unwrap(), me, my_uid() + 1)
            .unwrap_err()
            .contains("uid"));
        assert!(check(peer, l.local_addr().unwrap(), 1, my_uid()).is_err());
        assert!(check(peer, l.local_addr().unwrap(), 0, my_uid()).is_err());
    }
}
