//! A GOP cache, as restreaming servers keep one: a client that asks for
//! it gets the stream from the latest keyframe on (with the PAT and PMT
//! first), so its player has a picture at once instead of waiting up to a
//! keyframe interval. Only what finding the keyframe needs of MPEG-TS is
//! read, with the segmenter's reader (`shared::mpegts`): the PAT, the PMT,
//! and the random-access flag of video packets.

pub use shared::mpegts::PACKET;
use shared::mpegts::{self, Framer};

/// A source without keyframes must not grow the cache without end.
const MAX_GOP_BYTES: usize = 16 << 20;

/// Turns reads of any size into whole TS packets, resynchronising on the
/// sync byte after garbage.
#[derive(Default)]
pub struct Aligner {
    framer: Framer,
}

impl Aligner {
    pub fn push(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() + PACKET);
        self.framer.feed(data, |p| out.extend_from_slice(p));
        out
    }
}

#[derive(Default)]
pub struct GopCache {
    pmt_pid: Option<u16>,
    video_pid: Option<u16>,
    pat: Option<Vec<u8>>,
    pmt: Option<Vec<u8>>,
    gop: Vec<u8>,
}

impl GopCache {
    /// Takes whole packets (see `Aligner`).
    pub fn feed(&mut self, packets: &[u8]) {
        for p in packets.chunks_exact(PACKET) {
            let Some(h) = mpegts::header(p) else { continue };
            let payload = h.payload.map_or(&[][..], |o| &p[o..]);
            if h.pid == 0 && h.start {
                if let Some(pid) = mpegts::pat_pmt_pid(payload) {
                    self.pmt_pid = Some(pid);
                    self.pat = Some(p.to_vec());
                }
            } else if Some(h.pid) == self.pmt_pid && h.start {
                if let Some(streams) = mpegts::pmt_streams(payload) {
                    self.video_pid = mpegts::first_video(&streams);
                    self.pmt = Some(p.to_vec());
                }
            }
            if Some(h.pid) == self.video_pid && h.start && h.random_access {
                self.gop.clear();
            } else if self.gop.is_empty() {
                continue;
            }
            if self.gop.len() + PACKET > MAX_GOP_BYTES {
                self.gop.clear();
                continue;
            }
            self.gop.extend_from_slice(p);
        }
    }

    /// PAT, PMT and everything since the latest keyframe; empty before the
    /// first keyframe.
    pub fn snapshot(&self) -> Vec<u8> {
        match (&self.pat, &self.pmt) {
            (Some(pat), Some(pmt)) if !self.gop.is_empty() => {
                [pat.as_slice(), pmt.as_slice(), self.gop.as_slice()].concat()
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::mpegts_fixtures::packet;

    fn psi(table: &[u8]) -> Vec<u8> {
        // pointer field, then the section with room for a CRC.
        let mut s = vec![0];
        s.extend_from_slice(table);
        s.extend_from_slice(&[0, 0, 0, 0]);
        let len = table.len() + 4 - 3;
        s[2] = 0xb0 | (len >> 8) as u8;
        s[3] = len as u8;
        s
    }

    fn pat() -> Vec<u8> {
        // program 1 -> PMT PID 0x1000
        packet(
            0,
            true,
            false,
            &psi(&[0, 0, 0, 0, 1, 0xc1, 0, 0, 0, 1, 0xf0, 0x00]),
        )
    }

    fn pmt() -> Vec<u8> {
        // PCR PID 0x100; audio (0x0f) on 0x101 listed first, H.264 on 0x100
        let table = [
            2, 0, 0, 0, 1, 0xc1, 0, 0, 0xe1, 0x00, 0xf0, 0x00, 0x0f, 0xe1, 0x01, 0xf0, 0x00, 0x1b,
            0xe1, 0x00, 0xf0, 0x00,
        ];
        packet(0x1000, true, false, &psi(&table))
    }

    #[test]
    fn clients_start_at_the_latest_keyframe() {
        let mut c = GopCache::default();
        let before = packet(0x100, true, false, b"P-frame");
        c.feed(&[pat(), pmt(), before.clone()].concat());
        assert!(c.snapshot().is_empty(), "nothing before the first keyframe");
        let audio_key = packet(0x101, true, true, b"audio");
        let key = packet(0x100, true, true, b"IDR");
        let next = packet(0x100, true, false, b"P");
        c.feed(
            &[
                audio_key.clone(),
                key.clone(),
                audio_key.clone(),
                next.clone(),
            ]
            .concat(),
        );
        assert_eq!(
            c.snapshot(),
            [pat(), pmt(), key.clone(), audio_key.clone(), next.clone()].concat()
        );
        let key2 = packet(0x100, true, true, b"IDR2");
        c.feed(&key2);
        assert_eq!(c.snapshot(), [pat(), pmt(), key2].concat());
    }

    #[test]
    fn reads_of_any_size_become_whole_packets() {
        let stream = [pat(), pmt(), packet(0x100, true, true, b"IDR")].concat();
        let mut a = Aligner::default();
        let mut out = a.push(b"\x00garbage");
        for piece in stream.chunks(100) {
            out.extend(a.push(piece));
        }
        assert_eq!(out, stream);
    }
}
