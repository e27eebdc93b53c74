//! Configuration values from nginx.conf and the supervisor's flags:
//! durations (`shared::duration::parse_msec`), the supervisor address
//! (`supervisor_addr::SupervisorAddr::parse`), channel ids
//! (`shared::channel_id::validate`). A duration written as `<n>ms` reads
//! back as `n`; an accepted socket path fits `sun_path` with its NUL.

use shared::{channel_id, duration};

use crate::supervisor_addr::SupervisorAddr;

pub fn run(data: &[u8]) {
    let text = super::text(data);
    if let Ok(ms) = duration::parse_msec(&text) {
        assert_eq!(duration::parse_msec(&format!("{ms}ms")), Ok(ms));
    }
    if let Ok(addr) = SupervisorAddr::parse(&text) {
        assert!(addr.path.starts_with('/'));
        assert!(addr.path.len() < addr.sockaddr.sun_path.len());
        assert_eq!(
            addr.sockaddr.sun_path[addr.path.len()],
            0,
            "path not NUL-terminated"
        );
        assert!(addr.socklen as usize <= std::mem::size_of::<libc::sockaddr_un>());
    }
    match channel_id::validate(data) {
        Ok(id) => {
            assert!(id.len() <= 64 && !id.is_empty());
            assert!(id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}
