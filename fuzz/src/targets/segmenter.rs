//! The copy-mode segmenter on the bytes of ffmpeg's MPEG-TS output, which
//! carries what a channel's source sent: `shared::mpegts` (framing, PAT,
//! PMT, PES times), the splitter and the cutter, fed in chunks of any size
//! as the pipe delivers them, and the playlist the segments make. Data
//! goes only into an open segment, as whole packets; a segment the writer
//! would publish (a positive length) renders with an `#EXTINF` no longer
//! than the list's `#EXT-X-TARGETDURATION`.

use shared::mpegts::{self, Framer, PACKET, SYNC};
use stream_supervisor::segmenter::cut::Cutter;
use stream_supervisor::segmenter::playlist::Playlist;
use stream_supervisor::segmenter::split::{Out, Splitter};

pub fn run(data: &[u8]) {
    // Two bytes of settings: first segment, segment length, whether the
    // PMT is expected to list video, and the pipe's chunk size.
    let [cfg, chunk, rest @ ..] = data else {
        return;
    };
    let first = [0.0, 0.2, 1.0][*cfg as usize % 3];
    let segment = [1.0, 4.0][(*cfg as usize / 3) % 2];
    let mut splitter = Splitter::new(Cutter::new(first, segment, cfg & 0x40 != 0));
    let mut list = Playlist::new("1", 6);
    // The open segment: (start time, begins with a key frame).
    let mut open: Option<(u64, bool)> = None;
    let mut framer = Framer::default();
    for piece in rest.chunks(*chunk as usize + 1) {
        framer.feed(piece, |p| {
            assert_eq!(p.len(), PACKET);
            splitter.packet(p, &mut |o| match o {
                Out::Begin { time, key } => {
                    close(&mut list, open.take(), time);
                    open = Some((time, key));
                }
                Out::Data(d) => {
                    assert!(open.is_some(), "data outside a segment");
                    assert!(d.len() == PACKET && d[0] == SYNC, "not a packet");
                }
                Out::End { time } => {
                    close(&mut list, open.take(), time);
                    list.break_here();
                }
            });
        });
    }
    check(&list.render());
}

/// As the writer: a segment of no positive length is not published.
fn close(list: &mut Playlist, open: Option<(u64, bool)>, end: u64) {
    if let Some((start, key)) = open {
        let ticks = mpegts::ticks_between(start, end);
        if ticks > 0 {
            list.push(ticks as f64 / mpegts::CLOCK as f64, key);
        }
    }
}

fn check(text: &str) {
    let value = |prefix: &str| text.lines().find_map(|l| l.strip_prefix(prefix));
    let target: f64 = value("#EXT-X-TARGETDURATION:")
        .and_then(|v| v.parse().ok())
        .expect("a target duration");
    for line in text.lines() {
        if let Some(d) = line.strip_prefix("#EXTINF:") {
            let d: f64 = d.trim_end_matches(',').parse().expect("a duration");
            assert!(d > 0.0 && d <= target, "#EXTINF:{d} with target {target}");
        }
    }
}
