//! ffmpeg's MPEG-TS output split into segments: which packets go into which
//! segment, and where each segment begins. Pure: packets in, `Out` events
//! out (the writer does the files).
//!
//! ffmpeg (`-pes_payload_size 0`) writes each PES's packets one after the
//! other, so a cut at a PES start keeps every PES whole. Every segment
//! begins with the latest PAT and PMT: a player may start on any segment.

use super::cut::{Cut, Cutter, Unit};
use shared::mpegts::{self as ts, Header, PACKET};

/// What the splitter asks the writer to do, in order.
#[derive(Debug, PartialEq, Eq)]
pub enum Out<'a> {
    /// End the open segment (if any) and open a new one beginning at
    /// `time` (90 kHz); `key`: it begins with a random access point.
    Begin { time: u64, key: bool },
    /// Append to the open segment.
    Data(&'a [u8]),
    /// The time stamps jumped: end the open segment at `time` (90 kHz, its
    /// own timeline); the next segment follows a discontinuity.
    End { time: u64 },
}

pub struct Splitter {
    cutter: Cutter,
    pmt_pid: Option<u16>,
    video_pid: Option<u16>,
    /// Elementary stream PIDs from the PMT.
    streams: Vec<u16>,
    pat: Option<[u8; PACKET]>,
    pmt: Option<[u8; PACKET]>,
    /// A segment is open (the first key frame has come).
    open: bool,
    /// The first key frame was seen (for the ready log line).
    pub keyframe_seen: bool,
}

impl Splitter {
    pub fn new(cutter: Cutter) -> Splitter {
        Splitter {
            cutter,
            pmt_pid: None,
            video_pid: None,
            streams: Vec::new(),
            pat: None,
            pmt: None,
            open: false,
            keyframe_seen: false,
        }
    }

    /// One 188-byte packet.
    pub fn packet(&mut self, p: &[u8], out: &mut impl FnMut(Out)) {
        let Some(h) = ts::header(p) else { return };
        if self.psi(p, &h) {
            if self.open {
                out(Out::Data(p));
            }
            return;
        }
        if h.start && self.streams.contains(&h.pid) {
            let time = h.payload.and_then(|o| ts::pes_time(&p[o..]));
            if let Some(time) = time {
                let unit = if Some(h.pid) == self.video_pid {
                    Unit::Video {
                        key: h.random_access,
                    }
                } else {
                    Unit::Other
                };
                match self.cutter.unit(unit, time) {
                    Cut::Drop => return,
                    Cut::Keep => {}
                    Cut::Begin { key } => self.begin(time, key, out),
                    Cut::Jump { end, begin } => {
                        self.open = false;
                        out(Out::End { time: end });
                        if !begin {
                            return;
                        }
                        self.begin(time, true, out);
                    }
                }
            }
        }
        if self.open {
            out(Out::Data(p));
        }
    }

    fn begin(&mut self, time: u64, key: bool, out: &mut impl FnMut(Out)) {
        self.keyframe_seen = true;
        self.open = true;
        out(Out::Begin { time, key });
        for t in [&self.pat, &self.pmt].into_iter().flatten() {
            out(Out::Data(t));
        }
    }

    /// Keeps the PAT and PMT (and learns the PIDs); true if `p` was one.
    fn psi(&mut self, p: &[u8], h: &Header) -> bool {
        let is_pat = h.pid == 0;
        let is_pmt = Some(h.pid) == self.pmt_pid;
        if !is_pat && !is_pmt {
            return false;
        }
        let (Some(o), true) = (h.payload, h.start) else {
            return true;
        };
        let mut copy = [0u8; PACKET];
        copy.copy_from_slice(p);
        if is_pat {
            if let Some(pid) = ts::pat_pmt_pid(&p[o..]) {
                self.pmt_pid = Some(pid);
                self.pat = Some(copy);
            }
        } else if let Some(streams) = ts::pmt_streams(&p[o..]) {
            self.video_pid = ts::first_video(&streams);
            self.streams = streams.iter().map(|(_, pid)| *pid).collect();
            let others = streams.iter().any(|(t, _)| !ts::is_video(*t));
            self.cutter.set_streams(self.video_pid.is_some(), others);
            self.pmt = Some(copy);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::mpegts_fixtures::{packet, pat, pes, pmt};

    const S: u64 = ts::CLOCK;

    #[derive(Debug, PartialEq)]
    enum Ev {
        Begin(u64, bool),
        End(u64),
        /// (PID, PUSI) of a packet written.
        Pkt(u16, bool),
    }

    fn run(s: &mut Splitter, packets: &[Vec<u8>]) -> Vec<Ev> {
        let mut ev = Vec::new();
        for p in packets {
            s.packet(p, &mut |o| match o {
                Out::Begin { time, key } => ev.push(Ev::Begin(time, key)),
                Out::End { time } => ev.push(Ev::End(time)),
                Out::Data(d) => {
                    let h = ts::header(d).unwrap();
                    ev.push(Ev::Pkt(h.pid, h.start));
                }
            });
        }
        ev
    }

    #[test]
    fn segments_begin_with_pat_pmt_and_whole_pes() {
        let mut s = Splitter::new(Cutter::new(0.25, 2.0, true));
        let v = |t: u64, key: bool| packet(0x100, true, key, &pes(t, Some(t)));
        let a = |t: u64| packet(0x101, true, false, &pes(t, None));
        let cont = |pid: u16| packet(pid, false, false, &[]);
        let ev = run(
            &mut s,
            &[
                packet(0, true, false, &pat(0x1000)),
                packet(0x1000, true, false, &pmt(&[(0x1b, 0x100), (0x0f, 0x101)])),
                // Before K0: dropped with its continuation.
                v(S / 2, false),
                cont(0x100),
                a(S / 2),
                v(S, true),
                cont(0x100),
                a(S + S / 10),
                a(S + S / 4),
                cont(0x101),
                packet(0x11, true, false, &[]),
            ],
        );
        use Ev::*;
        assert_eq!(
            ev,
            vec![
                Begin(S, true),
                Pkt(0, true),
                Pkt(0x1000, true),
                Pkt(0x100, true),
                Pkt(0x100, false),
                Pkt(0x101, true),
                Begin(S + S / 4, false),
                Pkt(0, true),
                Pkt(0x1000, true),
                Pkt(0x101, true),
                Pkt(0x101, false),
                Pkt(0x11, true),
            ]
        );
        assert!(s.keyframe_seen);
    }

    #[test]
    fn audio_only_and_nothing_before_a_pmt() {
        let mut s = Splitter::new(Cutter::new(0.0, 1.0, true));
        let a = |t: u64| packet(0x101, true, false, &pes(t, None));
        // Streams are unknown before the PMT: nothing is written.
        assert!(run(&mut s, &[a(0)]).is_empty());
        let ev = run(
            &mut s,
            &[
                packet(0, true, false, &pat(0x1000)),
                packet(0x1000, true, false, &pmt(&[(0x0f, 0x101)])),
                a(10),
                a(10 + S),
            ],
        );
        assert_eq!(ev[0], Ev::Begin(10, true));
        assert_eq!(ev[4], Ev::Begin(10 + S, true));
    }

    #[test]
    fn other_video_types_are_video() {
        // VVC: its audio does not cut, its key frames (by the random
        // access indicator) do.
        let mut s = Splitter::new(Cutter::new(0.0, 1.0, true));
        let v = |t: u64, key: bool| packet(0x100, true, key, &pes(t, Some(t)));
        let a = |t: u64| packet(0x101, true, false, &pes(t, None));
        let ev = run(
            &mut s,
            &[
                packet(0, true, false, &pat(0x1000)),
                packet(0x1000, true, false, &pmt(&[(0x33, 0x100), (0x0f, 0x101)])),
                a(0),
                v(10, true),
                a(10 + S),
                v(10 + S, false),
                a(10 + 2 * S),
                v(10 + 2 * S, true),
            ],
        );
        let begins: Vec<&Ev> = ev.iter().filter(|e| matches!(e, Ev::Begin(..))).collect();
        assert_eq!(
            begins,
            vec![&Ev::Begin(10, true), &Ev::Begin(10 + 2 * S, true)]
        );
    }

    #[test]
    fn a_jump_ends_the_segment_and_drops_until_a_key_frame() {
        let mut s = Splitter::new(Cutter::new(0.0, 2.0, true));
        let v = |t: u64, key: bool| packet(0x100, true, key, &pes(t, Some(t)));
        let cont = |pid: u16| packet(pid, false, false, &[]);
        let t0 = 500 * S;
        let ev = run(
            &mut s,
            &[
                packet(0, true, false, &pat(0x1000)),
                packet(0x1000, true, false, &pmt(&[(0x1b, 0x100)])),
                v(t0, true),
                v(t0 + 3600, false),
                // Back to 0, not a key frame: dropped with its packets.
                v(0, false),
                cont(0x100),
                packet(0x1000, true, false, &pmt(&[(0x1b, 0x100)])),
                v(3600, true),
            ],
        );
        use Ev::*;
        assert_eq!(
            ev,
            vec![
                Begin(t0, true),
                Pkt(0, true),
                Pkt(0x1000, true),
                Pkt(0x100, true),
                Pkt(0x100, true),
                End(t0 + 7200),
                Begin(3600, true),
                Pkt(0, true),
                Pkt(0x1000, true),
                Pkt(0x100, true),
            ]
        );
    }
}
