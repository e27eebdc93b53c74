//! The channel M3U precompressed once per catalog version, yet with each
//! viewer's own token in it: a gzip member whose deflate stream is cut
//! around the token's first place.
//!
//! The body is compressed once with a placeholder of the pair's length
//! where every pair goes. The placeholder is made of bytes UTF-8 never
//! contains, and no three of its bytes in a row repeat within it, so the
//! compressor can only encode a later placeholder as back-references to the
//! same offsets of an earlier one. Its first place is sync-flushed on both
//! sides and replaced per request by a stored block holding the real pair:
//! a decoder then copies the real pair into every later place. The CRC-32
//! of the body is affine in the pair, so it is the placeholder body's CRC
//! plus a precomputed linear map of the pair's difference.
//!
//! A request is four copies (head, stored block, tail, trailer); the
//! template is checked at build by decoding it with a probe pair.

use std::io::Read;

use flate2::{Compress, Compression, FlushCompress, Status};

use crate::m3u_render::M3uTemplate;

/// Bytes never found in UTF-8 text, so never in the rendered M3U.
const NOT_UTF8: [u8; 13] = [
    0xc0, 0xc1, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff,
];

/// A de Bruijn sequence over `NOT_UTF8` for windows of 3: every 3 bytes
/// in a row occur once (2,199 bytes, the longest pair served gzipped).
fn placeholder(len: usize) -> Option<Vec<u8>> {
    const K: usize = NOT_UTF8.len();
    fn db(t: usize, p: usize, a: &mut [usize; 4], seq: &mut Vec<usize>) {
        if t > 3 {
            if 3 % p == 0 {
                seq.extend_from_slice(&a[1..=p]);
            }
        } else {
            a[t] = a[t - p];
            db(t + 1, p, a, seq);
            for j in a[t - p] + 1..K {
                a[t] = j;
                db(t + 1, t, a, seq);
            }
        }
    }
    let mut seq = Vec::with_capacity(K * K * K + 2);
    db(1, 1, &mut [0; 4], &mut seq);
    // The cyclic sequence made linear: its first two symbols again.
    seq.extend_from_within(..2);
    (len <= seq.len()).then(|| seq[..len].iter().map(|&i| NOT_UTF8[i]).collect())
}

/// A gzip M3U for pairs of one length.
#[derive(Debug, Clone)]
pub struct GzTemplate {
    /// gzip header and the deflate stream up to the pair's first place,
    /// ending on a byte boundary (the whole member but its trailer when
    /// there is no place).
    head: Vec<u8>,
    /// The rest of the deflate stream, final block included.
    tail: Vec<u8>,
    pair_len: usize,
    slots: bool,
    /// Length of the uncompressed body (the gzip trailer's ISIZE).
    plain_len: usize,
    placeholder: Vec<u8>,
    /// CRC-32 of the body with the placeholder.
    crc_base: u32,
    /// CRC-32 of `pair_len` zero bytes.
    crc_zeros: u32,
    /// Column `i`: the change to the body's CRC when the pair's own
    /// zero-initialised CRC has bit `i` set.
    cols: [u32; 32],
}

impl GzTemplate {
    /// Compresses `t` for pairs of `pair_len` bytes; `None` when this
    /// cannot be done (a pair shorter than 4 or longer than a placeholder
    /// can be) or the result does not decode to the plain body.
    pub fn build(t: &M3uTemplate, pair_len: usize, level: u32) -> Option<GzTemplate> {
        let slots = t.slots() > 0;
        if slots && !(4..=65_535).contains(&pair_len) {
            return None;
        }
        let ph = if slots {
            placeholder(pair_len)?
        } else {
            Vec::new()
        };
        let mut c = Compress::new(Compression::new(level), false);
        let mut head = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
        let mut tail = Vec::new();
        let mut pieces = t.pieces();
        let first = pieces.next().unwrap_or_default();
        if slots {
            deflate(&mut c, first, FlushCompress::Sync, &mut head)?;
            // The placeholder's own output is dropped: the stored block
            // with the real pair takes its place.
            deflate(&mut c, &ph, FlushCompress::Sync, &mut Vec::new())?;
            for (i, piece) in pieces.enumerate() {
                if i > 0 {
                    deflate(&mut c, &ph, FlushCompress::None, &mut tail)?;
                }
                deflate(&mut c, piece, FlushCompress::None, &mut tail)?;
            }
        } else {
            deflate(&mut c, first, FlushCompress::None, &mut head)?;
        }
        let fin = if slots { &mut tail } else { &mut head };
        deflate(&mut c, &[], FlushCompress::Finish, fin)?;
        let plain_len = t.len_with(pair_len);
        let mut body = t.join(&ph);
        let crc_base = crc32fast::hash(&body);
        let crc_zeros = crc32fast::hash(&vec![0; pair_len]);
        let cols = if slots {
            crc_columns(t, pair_len, &mut body)
        } else {
            [0; 32]
        };
        let g = GzTemplate {
            head,
            tail,
            pair_len,
            slots,
            plain_len,
            placeholder: ph,
            crc_base,
            crc_zeros,
            cols,
        };
        // Checked once per build: a probe pair decodes to the plain body.
        let probe: Vec<u8> = (0..pair_len).map(|i| b'a' + (i % 26) as u8).collect();
        let probe = if slots { probe } else { Vec::new() };
        let mut out = Vec::with_capacity(plain_len);
        flate2::read::GzDecoder::new(&g.join(&probe)[..])
            .read_to_end(&mut out)
            .ok()?;
        (out == t.join(&probe)).then_some(g)
    }

    /// The pair length this template serves.
    pub fn pair_len(&self) -> usize {
        self.pair_len
    }

    /// The gzip member's length.
    pub fn len(&self) -> usize {
        self.head.len() + if self.slots { 5 + self.pair_len } else { 0 } + self.tail.len() + 8
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// Writes the member for `pair` (of `pair_len` bytes; ignored without
    /// slots) into `out`, which is `len` long.
    pub fn write(&self, out: &mut [u8], pair: &[u8]) {
        let mut at = 0;
        let mut put = |b: &[u8]| {
            out[at..at + b.len()].copy_from_slice(b);
            at += b.len();
        };
        put(&self.head);
        let crc = if self.slots {
            let n = self.pair_len as u16;
            put(&[0]);
            put(&n.to_le_bytes());
            put(&(!n).to_le_bytes());
            put(pair);
            self.crc_for(pair)
        } else {
            self.crc_base
        };
        put(&self.tail);
        put(&crc.to_le_bytes());
        put(&(self.plain_len as u32).to_le_bytes());
    }

    pub fn join(&self, pair: &[u8]) -> Vec<u8> {
        let mut out = vec![0; self.len()];
        self.write(&mut out, pair);
        out
    }

    /// The body's CRC-32 with `pair` in every place.
    fn crc_for(&self, pair: &[u8]) -> u32 {
        let diff: Vec<u8> = pair
            .iter()
            .zip(&self.placeholder)
            .map(|(a, b)| a ^ b)
            .collect();
        let x = crc32fast::hash(&diff) ^ self.crc_zeros;
        (0..32)
            .filter(|i| x >> i & 1 == 1)
            .fold(self.crc_base, |crc, i| crc ^ self.cols[i])
    }
}

/// Feeds `input` to `c` with `flush`, appending the output to `out`.
fn deflate(c: &mut Compress, input: &[u8], flush: FlushCompress, out: &mut Vec<u8>) -> Option<()> {
    let start = c.total_in();
    let mut stuck = 0;
    loop {
        out.reserve(64 * 1024);
        let before = (c.total_in(), c.total_out());
        let fed = (c.total_in() - start) as usize;
        let status = c.compress_vec(&input[fed..], out, flush).ok()?;
        let done_in = (c.total_in() - start) as usize == input.len();
        let room = out.capacity() > out.len();
        match status {
            Status::StreamEnd => return Some(()),
            _ if done_in && room && !matches!(flush, FlushCompress::Finish) => return Some(()),
            _ if before == (c.total_in(), c.total_out()) => {
                stuck += 1;
                if stuck > 2 {
                    return None;
                }
            }
            _ => {}
        }
    }
}

/// CRC-32 with a zero start and no final inversion: linear in the data.
fn raw_crc(data: &[u8]) -> u32 {
    crc32fast::hash(data) ^ crc32fast::hash(&vec![0; data.len()])
}

/// The linear map from a pair difference's raw CRC to the body's CRC
/// change. Column `i` is found by placing, at the end of every place, the
/// four bytes whose raw CRC is bit `i`, in an otherwise zero body.
fn crc_columns(t: &M3uTemplate, pair_len: usize, buf: &mut [u8]) -> [u32; 32] {
    let ends: Vec<usize> = {
        let mut at = 0;
        let mut ends = Vec::new();
        for (i, piece) in t.pieces().enumerate() {
            if i > 0 {
                at += pair_len;
                ends.push(at);
            }
            at += piece.len();
        }
        ends
    };
    // Raw CRC over 4 bytes is a bijection: invert it for the unit vectors.
    let forward: [u32; 32] = core::array::from_fn(|j| raw_crc(&(1u32 << j).to_le_bytes()));
    let inverse = invert(forward);
    buf.fill(0);
    let zeros = crc32fast::hash(buf);
    core::array::from_fn(|i| {
        let w = inverse[i].to_le_bytes();
        for &e in &ends {
            buf[e - 4..e].copy_from_slice(&w);
        }
        let col = crc32fast::hash(buf) ^ zeros;
        for &e in &ends {
            buf[e - 4..e].fill(0);
        }
        col
    })
}

/// Inverts a bijective GF(2) 32×32 map given by its columns: returns the
/// columns of the inverse (Gauss-Jordan on [A | I]).
fn invert(cols: [u32; 32]) -> [u32; 32] {
    // rows[r]: row r of A in the low 32 bits, of I in the high 32.
    let mut rows: [u64; 32] = core::array::from_fn(|r| {
        let a = (0..32).fold(0u64, |acc, c| acc | u64::from(cols[c] >> r & 1) << c);
        a | 1u64 << (32 + r)
    });
    for c in 0..32 {
        let p = (c..32).find(|&r| rows[r] >> c & 1 == 1).unwrap_or(c);
        rows.swap(c, p);
        for r in 0..32 {
            if r != c && rows[r] >> c & 1 == 1 {
                rows[r] ^= rows[c];
            }
        }
    }
    // Row r of the inverse is rows[r] >> 32; return its columns.
    core::array::from_fn(|c| {
        (0..32).fold(0u32, |acc, r| acc | ((rows[r] >> (32 + c) & 1) as u32) << r)
    })
}

/// Whether an `Accept-Encoding` value accepts gzip: `gzip` or `x-gzip`,
/// else `*`, with a q-value above zero.
pub fn accepts_gzip(value: &[u8]) -> bool {
    let mut star = None;
    for item in value.split(|b| *b == b',') {
        let mut parts = item.split(|b| *b == b';');
        let name = parts.next().unwrap_or_default().trim_ascii();
        let q_zero = parts.any(|p| {
            let p = p.trim_ascii();
            p.len() > 2
                && p[..2].eq_ignore_ascii_case(b"q=")
                && p[2..].iter().all(|b| matches!(b, b'0' | b'.'))
        });
        if name.eq_ignore_ascii_case(b"gzip") || name.eq_ignore_ascii_case(b"x-gzip") {
            return !q_zero;
        }
        if name == b"*" {
            star = Some(!q_zero);
        }
    }
    star.unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::m3u_render::template;
    use shared::protocol::ChannelEntry;

    fn gunzip(b: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(b)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn entries(n: u32) -> Vec<ChannelEntry> {
        (0..n)
            .map(|i| ChannelEntry {
                id: format!("{}", 10_000 + i),
                name: Some(format!("Channel {i} «é»")),
                group: Some("Bulk".into()),
                ..ChannelEntry::default()
            })
            .collect()
    }

    #[test]
    fn placeholder_windows_are_unique_and_not_utf8() {
        let p = placeholder(2199).unwrap();
        let mut seen = std::collections::HashSet::new();
        assert!(p.windows(3).all(|w| seen.insert(w.to_vec())));
        assert!(std::str::from_utf8(&p[..1]).is_err());
        assert!(placeholder(2200).is_none());
    }

    #[test]
    fn every_pair_decodes_to_the_plain_body() {
        let t = template(
            &entries(500),
            "http://h/live/stream_",
            ".m3u8",
            true,
            Some("/epg"),
        );
        let g = GzTemplate::build(&t, 54, 6).unwrap();
        for token in ["a", "b", "0123456789abcdef"] {
            let pair = format!("token={token:0>48}");
            let gz = g.join(pair.as_bytes());
            assert_eq!(gz.len(), g.len());
            // The decoder checks the CRC and the length.
            assert_eq!(gunzip(&gz), t.join(pair.as_bytes()));
        }
        // Real precompression: far smaller than the body.
        assert!(
            g.len() * 4 < t.len_with(54),
            "{} of {}",
            g.len(),
            t.len_with(54)
        );
    }

    #[test]
    fn without_slots_and_odd_lengths() {
        let t = template(&entries(20), "/s_", "", false, None);
        let g = GzTemplate::build(&t, 0, 9).unwrap();
        assert_eq!(gunzip(&g.join(b"")), t.join(b""));
        let t = template(&entries(20), "/s_", "?x=1", true, None);
        assert!(GzTemplate::build(&t, 3, 6).is_none());
        assert!(GzTemplate::build(&t, 3000, 6).is_none());
        let g = GzTemplate::build(&t, 300, 6).unwrap();
        let pair = vec![b'z'; 300];
        assert_eq!(gunzip(&g.join(&pair)), t.join(&pair));
        // An empty catalog still has the header's places (no guide: none).
        let t = template(&[], "/s_", "", true, Some("/g?a=1"));
        let g = GzTemplate::build(&t, 10, 6).unwrap();
        assert_eq!(gunzip(&g.join(b"token=abcd")), t.join(b"token=abcd"));
    }

    #[test]
    fn invert_undoes_the_map() {
        let fwd: [u32; 32] = core::array::from_fn(|j| raw_crc(&(1u32 << j).to_le_bytes()));
        let inv = invert(fwd);
        for (i, &w) in inv.iter().enumerate() {
            let image = (0..32)
                .filter(|j| w >> j & 1 == 1)
                .fold(0, |acc, j| acc ^ fwd[j]);
            assert_eq!(image, 1 << i);
        }
    }

    #[test]
    fn accept_encoding() {
        assert!(accepts_gzip(b"gzip, deflate, br"));
        assert!(accepts_gzip(b"br;q=1.0, GZip;q=0.5"));
        assert!(accepts_gzip(b"x-gzip"));
        assert!(accepts_gzip(b"*"));
        assert!(!accepts_gzip(b"gzip;q=0"));
        assert!(!accepts_gzip(b"gzip; q=0.000, *"));
        assert!(!accepts_gzip(b"identity"));
        assert!(!accepts_gzip(b"*;q=0"));
        assert!(!accepts_gzip(b""));
        assert!(!accepts_gzip(b"gzipped"));
    }
}
