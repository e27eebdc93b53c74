//! A GOP cache, as restreaming servers keep one: a client that asks for
//! it gets the stream from the latest keyframe on (with the PAT and PMT
//! first), so its player has a picture at once instead of waiting up to a
//! keyframe interval. Only what finding the keyframe needs of MPEG-TS is
//! parsed: the PAT, the PMT, and the random-access flag of video packets.

pub const PACKET: usize = 188;
const SYNC: u8 = 0x47;
/// A source without keyframes must not grow the cache without end.
const MAX_GOP_BYTES: usize = 16 << 20;

/// Turns reads of any size into whole TS packets, resynchronising on the
/// sync byte after garbage.
#[derive(Default)]
pub struct Aligner {
    pending: Vec<u8>,
}

impl Aligner {
    pub fn push(&mut self, data: &[u8]) -> Vec<u8> {
        self.pending.extend_from_slice(data);
        let mut out = Vec::with_capacity(self.pending.len());
        let mut i = 0;
        while i + PACKET <= self.pending.len() {
            if self.pending[i] == SYNC {
                out.extend_from_slice(&self.pending[i..i + PACKET]);
                i += PACKET;
            } else {
                i += 1;
            }
        }
        self.pending.drain(..i);
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

struct Packet<'a> {
    pid: u16,
    start: bool,
    random_access: bool,
    payload: &'a [u8],
}

fn parse(p: &[u8]) -> Packet<'_> {
    let pid = (u16::from(p[1] & 0x1f) << 8) | u16::from(p[2]);
    let start = p[1] & 0x40 != 0;
    let control = (p[3] >> 4) & 3;
    let mut random_access = false;
    let mut at = 4;
    if control & 2 != 0 {
        let len = usize::from(p[4]);
        random_access = len > 0 && p[5] & 0x40 != 0;
        at = 5 + len;
    }
    let payload = if control & 1 != 0 && at < PACKET {
        &p[at..]
    } else {
        &[]
    };
    Packet {
        pid,
        start,
        random_access,
        payload,
    }
}

/// The PSI section a packet starts (after its pointer field), if whole.
fn section(payload: &[u8]) -> Option<&[u8]> {
    let pointer = usize::from(*payload.first()?);
    let s = payload.get(1 + pointer..)?;
    if s.len() < 3 {
        return None;
    }
    let len = (usize::from(s[1] & 0x0f) << 8) | usize::from(s[2]);
    // Up to the CRC, which is not checked: the origin is our own ffmpeg.
    s.get(..(3 + len).checked_sub(4)?)
}

impl GopCache {
    /// Takes whole packets (see `Aligner`).
    pub fn feed(&mut self, packets: &[u8]) {
        for p in packets.chunks_exact(PACKET) {
            let pk = parse(p);
            if pk.pid == 0 && pk.start {
                if let Some(s) = section(pk.payload) {
                    self.pmt_pid = s
                        .get(8..)
                        .unwrap_or(&[])
                        .chunks_exact(4)
                        .find(|e| e[0] != 0 || e[1] != 0)
                        .map(|e| (u16::from(e[2] & 0x1f) << 8) | u16::from(e[3]));
                    self.pat = Some(p.to_vec());
                }
            } else if Some(pk.pid) == self.pmt_pid && pk.start {
                if let Some(s) = section(pk.payload) {
                    self.video_pid = video_pid(s);
                    self.pmt = Some(p.to_vec());
                }
            }
            if Some(pk.pid) == self.video_pid && pk.start && pk.random_access {
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

/// The first video stream of a PMT section.
fn video_pid(s: &[u8]) -> Option<u16> {
    let info = (usize::from(*s.get(10)? & 0x0f) << 8) | usize::from(*s.get(11)?);
    let mut i = 12 + info;
    while i + 5 <= s.len() {
        let kind = s[i];
        let pid = (u16::from(s[i + 1] & 0x1f) << 8) | u16::from(s[i + 2]);
        // MPEG-1/2 video, H.264, HEVC.
        if matches!(kind, 0x01 | 0x02 | 0x1b | 0x24) {
            return Some(pid);
        }
        i += 5 + ((usize::from(s[i + 3] & 0x0f) << 8) | usize::from(s[i + 4]));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(pid: u16, start: bool, random_access: bool, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![SYNC, (pid >> 8) as u8 & 0x1f, pid as u8, 0x10];
        if start {
            p[1] |= 0x40;
        }
        if random_access {
            p[3] = 0x30;
            p.extend_from_slice(&[1, 0x40]);
        }
        p.extend_from_slice(payload);
        p.resize(PACKET, 0xff);
        p
    }

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
