//! MPEG-TS reading, the part both the supervisor's segmenter (cutting
//! segments) and the test origin's GOP cache need: 188-byte packets
//! (resynchronised on 0x47), their PID, PES starts with their time and
//! random-access flag, and the PAT/PMT that say which PID is video.
//! Pure: bytes in, facts out; no dependencies, as the nginx module builds
//! this crate too.

pub const PACKET: usize = 188;
pub const SYNC: u8 = 0x47;

/// PES time stamps run at 90 kHz and wrap at 2^33.
pub const CLOCK: u64 = 90_000;
const WRAP: u64 = 1 << 33;

/// Splits a byte stream into aligned packets. Bytes before a sync byte
/// (or a packet whose next one does not start with one) are skipped.
#[derive(Default)]
pub struct Framer {
    buf: Vec<u8>,
}

impl Framer {
    /// Adds bytes; `each` is called with every complete packet.
    pub fn feed(&mut self, bytes: &[u8], mut each: impl FnMut(&[u8])) {
        self.buf.extend_from_slice(bytes);
        let mut at = 0;
        while self.buf.len() - at >= PACKET {
            if self.buf[at] != SYNC {
                at += 1;
                continue;
            }
            // A sync byte inside payload would look like a start: trust it
            // only if the next packet (when already here) agrees.
            if self.buf.len() - at > PACKET && self.buf[at + PACKET] != SYNC {
                at += 1;
                continue;
            }
            each(&self.buf[at..at + PACKET]);
            at += PACKET;
        }
        self.buf.drain(..at);
    }
}

/// The header facts of one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub pid: u16,
    /// payload_unit_start_indicator: a PES or section starts here.
    pub start: bool,
    /// The adaptation field's random_access_indicator (ffmpeg sets it on
    /// every key frame's first packet).
    pub random_access: bool,
    /// Offset of the payload in the packet (None: no payload).
    pub payload: Option<usize>,
}

pub fn header(p: &[u8]) -> Option<Header> {
    if p.len() != PACKET || p[0] != SYNC {
        return None;
    }
    let pid = (u16::from(p[1] & 0x1f) << 8) | u16::from(p[2]);
    let start = p[1] & 0x40 != 0;
    let control = (p[3] >> 4) & 3;
    let mut random_access = false;
    let mut offset = 4;
    if control & 2 != 0 {
        let len = usize::from(p[4]);
        random_access = len > 0 && p[5] & 0x40 != 0;
        offset = 5 + len;
    }
    let payload = (control & 1 != 0 && offset < PACKET).then_some(offset);
    Some(Header {
        pid,
        start,
        random_access,
        payload,
    })
}

/// The decode time of a PES that starts in this payload: its DTS, else its
/// PTS (cuts are placed in decode order, the order packets arrive in).
pub fn pes_time(payload: &[u8]) -> Option<u64> {
    if payload.len() < 14 || payload[..3] != [0, 0, 1] {
        return None;
    }
    let flags = payload[7] >> 6;
    match flags {
        3 => stamp(&payload[14..]).or_else(|| stamp(&payload[9..])),
        2 => stamp(&payload[9..]),
        _ => None,
    }
}

fn stamp(b: &[u8]) -> Option<u64> {
    if b.len() < 5 {
        return None;
    }
    let v = (u64::from(b[0] >> 1) & 7) << 30
        | u64::from(b[1]) << 22
        | (u64::from(b[2]) >> 1) << 15
        | u64::from(b[3]) << 7
        | u64::from(b[4]) >> 1;
    Some(v)
}

/// `later - earlier` in 90 kHz ticks across the 33-bit wrap; negative when
/// `later` is in fact earlier (by less than half the range).
pub fn ticks_between(earlier: u64, later: u64) -> i64 {
    let d = later.wrapping_sub(earlier) & (WRAP - 1);
    if d >= WRAP / 2 {
        d as i64 - WRAP as i64
    } else {
        d as i64
    }
}

/// A section's body from a PSI packet's payload (past the pointer field),
/// up to its end, if it fits in this one packet (ffmpeg's PAT and PMT do).
fn section(payload: &[u8]) -> Option<&[u8]> {
    let pointer = usize::from(*payload.first()?);
    let s = payload.get(1 + pointer..)?;
    if s.len() < 3 {
        return None;
    }
    let len = (usize::from(s[1] & 0x0f) << 8) | usize::from(s[2]);
    // Without the 4-byte CRC.
    s.get(..3 + len)
        .filter(|_| len >= 9)
        .map(|s| &s[..s.len() - 4])
}

/// The PMT PID of the first program of a PAT.
pub fn pat_pmt_pid(payload: &[u8]) -> Option<u16> {
    let s = section(payload)?;
    if s[0] != 0 {
        return None;
    }
    s[8..].chunks_exact(4).find_map(|e| {
        let program = u16::from_be_bytes([e[0], e[1]]);
        (program != 0).then(|| (u16::from(e[2] & 0x1f) << 8) | u16::from(e[3]))
    })
}

/// What a PMT says: its elementary streams as (stream type, PID).
pub fn pmt_streams(payload: &[u8]) -> Option<Vec<(u8, u16)>> {
    let s = section(payload)?;
    if s[0] != 2 || s.len() < 12 {
        return None;
    }
    let info = (usize::from(s[10] & 0x0f) << 8) | usize::from(s[11]);
    let mut at = 12 + info;
    let mut out = Vec::new();
    while at + 5 <= s.len() {
        let kind = s[at];
        let pid = (u16::from(s[at + 1] & 0x1f) << 8) | u16::from(s[at + 2]);
        let es_info = (usize::from(s[at + 3] & 0x0f) << 8) | usize::from(s[at + 4]);
        out.push((kind, pid));
        at += 5 + es_info;
    }
    Some(out)
}

/// The PID of the first video stream of a PMT's (stream type, PID) list.
pub fn first_video(streams: &[(u8, u16)]) -> Option<u16> {
    streams
        .iter()
        .find(|(t, _)| is_video(*t))
        .map(|(_, pid)| *pid)
}

/// Video stream types (ISO 13818-1 and the registered private ones ffmpeg
/// writes): MPEG-1/2 (and its 3D form), MPEG-4 part 2, H.264 and its
/// SVC/MVC sub-bitstreams, JPEG 2000, HEVC and its subsets and layers, VVC,
/// AVS, AVS2, AVS3, Dirac, VC-1. Anything else is cut like audio.
///
/// A key frame is never found by parsing the codec's own bitstream: only
/// by the random access indicator of the PES's first packet, which ffmpeg
/// sets from the packet's key flag whatever the codec. So a video stream
/// type we do not know the bitstream of is still cut on key frames alone.
pub fn is_video(stream_type: u8) -> bool {
    matches!(
        stream_type,
        0x01 | 0x02 | 0x10 | 0x1b | 0x1e..=0x2a | 0x33 | 0x42 | 0xd1 | 0xd2 | 0xd4 | 0xea
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mpegts_fixtures::{packet, pat, pes, pmt};

    #[test]
    fn headers_and_times() {
        let p = packet(0x100, true, true, &pes(123_456, Some(120_000)));
        let h = header(&p).unwrap();
        assert_eq!((h.pid, h.start, h.random_access), (0x100, true, true));
        assert_eq!(pes_time(&p[h.payload.unwrap()..]), Some(120_000));
        let p = packet(0x101, true, false, &pes(WRAP - 1, None));
        let h = header(&p).unwrap();
        assert!(!h.random_access);
        assert_eq!(pes_time(&p[h.payload.unwrap()..]), Some(WRAP - 1));
        assert_eq!(header(&p[..100]), None);
    }

    #[test]
    fn time_wraps() {
        assert_eq!(ticks_between(WRAP - 90, 90), 180);
        assert_eq!(ticks_between(90, WRAP - 90), -180);
        assert_eq!(ticks_between(1000, 91_000), 90_000);
    }

    #[test]
    fn pat_and_pmt() {
        assert_eq!(pat_pmt_pid(&pat(0x1000)), Some(0x1000));
        let streams = pmt_streams(&pmt(&[(0x1b, 0x100), (0x0f, 0x101)])).unwrap();
        assert_eq!(streams, vec![(0x1b, 0x100), (0x0f, 0x101)]);
        assert!(is_video(0x1b) && is_video(0x24) && !is_video(0x0f));
        for t in [0x20, 0x33, 0x42, 0xd2, 0xea] {
            assert!(is_video(t), "{t:#x}");
        }
        // AAC, LATM, MP3, AC-3, E-AC-3, private data (Opus), ID3.
        for t in [0x0f, 0x11, 0x03, 0x81, 0x87, 0x06, 0x15] {
            assert!(!is_video(t), "{t:#x}");
        }
        assert_eq!(pmt_streams(&pat(0x1000)), None);
    }

    #[test]
    fn first_video_stream() {
        assert_eq!(first_video(&[(0x0f, 0x101), (0x1b, 0x100)]), Some(0x100));
        assert_eq!(first_video(&[(0x24, 0x100), (0x1b, 0x102)]), Some(0x100));
        assert_eq!(first_video(&[(0x0f, 0x101), (0x06, 0x102)]), None);
    }

    #[test]
    fn framer_resyncs() {
        let mut bytes = vec![0x00, 0x12, SYNC];
        bytes.extend(packet(1, false, false, &[SYNC; 10]));
        bytes.extend(packet(2, false, false, &[]));
        let mut pids = Vec::new();
        let mut f = Framer::default();
        // Fed in odd pieces.
        for chunk in bytes.chunks(50) {
            f.feed(chunk, |p| pids.push(header(p).unwrap().pid));
        }
        assert_eq!(pids, vec![1, 2]);
    }
}
