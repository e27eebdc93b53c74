//! The client key of a viewing session: which player a request comes from,
//! as the supervisor's session list shows it. By default a short hex digest
//! of the client address and its `User-Agent`, so two players behind one
//! address (a TV and a phone at home) are two clients, while a player's
//! playlist and segment requests are one. Every worker computes the same
//! key (no per-process seed), so a player whose requests land on different
//! workers is still one client. The digest is not a secret and not meant
//! to hide the address from an operator; it only keeps keys short and free
//! of characters the protocol or a log would mangle.

/// Hex digits of a key (64 bits).
pub const KEY_LEN: usize = 16;

/// FNV-1a, 64 bits, then a finalizer (MurmurHash3's fmix64) so that
/// clients that differ in one character get keys an operator tells apart
/// at a glance. Stable across processes and builds.
fn digest(parts: &[&[u8]]) -> u64 {
    let mut h = fnv1a(parts);
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            // A separator no address holds, so ("1.2", "3") != ("1.", "23").
            h ^= 0xff;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        for &b in *part {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// The key of a client at `addr` (`$remote_addr`) with `user_agent`
/// (empty when it sends none).
pub fn client_key(addr: &[u8], user_agent: &[u8]) -> String {
    format!("{:016x}", digest(&[addr, user_agent]))
}

/// The key from an operator's `stream_autostart_session_key` value: the
/// digest of whatever it evaluates to (so it is as short and as safe to
/// log as the default).
pub fn custom_key(value: &[u8]) -> String {
    format!("{:016x}", digest(&[b"custom", value]))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Computed independently (FNV-1a 64 of "127.0.0.1" 0xff "A", then fmix64).
    const KNOWN: &str = "0dd61b7edfa1750a";

    #[test]
    fn short_stable_hex() {
        let k = client_key(b"127.0.0.1", b"VLC/3.0.20");
        assert_eq!(k.len(), KEY_LEN);
        assert!(k.bytes().all(|b| b.is_ascii_hexdigit()));
        // Same inputs, same key (every worker agrees).
        assert_eq!(k, client_key(b"127.0.0.1", b"VLC/3.0.20"));
        // Known value: keys must not change between builds (a reload would
        // otherwise make every player a new client).
        assert_eq!(client_key(b"127.0.0.1", b"A"), KNOWN);
    }

    #[test]
    fn address_and_agent_both_count() {
        // One character apart, keys far apart.
        let (a, b) = (
            client_key(b"127.0.0.1", b"A"),
            client_key(b"127.0.0.1", b"B"),
        );
        assert!(a.bytes().zip(b.bytes()).filter(|(x, y)| x != y).count() > 4);
        let k = client_key(b"127.0.0.1", b"VLC/3.0.20");
        assert_ne!(k, client_key(b"127.0.0.2", b"VLC/3.0.20"));
        assert_ne!(k, client_key(b"127.0.0.1", b"Kodi/20"));
        assert_ne!(client_key(b"1.2", b"3"), client_key(b"1.", b"23"));
        assert_ne!(custom_key(b"127.0.0.1"), client_key(b"127.0.0.1", b""));
    }
}
