//! The `abr` preset: one ffmpeg encodes a ladder of keyframe-aligned
//! renditions and writes a multi-variant (master) playlist.
//!
//! File names keep the channel one unit for nginx and the supervisor:
//! - `stream_<id>.m3u8`: the master playlist, the URL players already use;
//! - `stream_<id>.<v>.m3u8`: variant `v`'s media playlist (`.` is never in
//!   an id, so no other channel's name can look like it);
//! - `stream_<id>_<v><nnn>.ts`: its segments, which the existing segment
//!   location (`stream_<id>_<digits>.ts`) and cleanup already own.

use std::path::{Path, PathBuf};

use super::ffmpeg_args::{keyframe_expr, HlsOutput};

/// One rendition of the ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rung {
    /// Picture height cap.
    pub max_height: u32,
    /// Height as a share of the source's (num, den): a small source gets a
    /// smaller ladder instead of being scaled up.
    pub share: (u32, u32),
    /// Peak video bit rate (kbit/s): x264 runs constant quality under it,
    /// and the master playlist's BANDWIDTH is derived from it.
    pub video_kbps: u32,
    pub audio_kbps: u32,
}

/// 1080p, 720p and 480p from a 1080p source; never above the source.
pub const LADDER: [Rung; 3] = [
    Rung {
        max_height: 1080,
        share: (1, 1),
        video_kbps: 5000,
        audio_kbps: 128,
    },
    Rung {
        max_height: 720,
        share: (2, 3),
        video_kbps: 2800,
        audio_kbps: 128,
    },
    Rung {
        max_height: 480,
        share: (4, 9),
        video_kbps: 1200,
        audio_kbps: 96,
    },
];

/// Variant `v`'s media playlist.
pub fn variant_playlist_path(dir: &Path, channel: &str, v: usize) -> PathBuf {
    dir.join(format!("stream_{channel}.{v}.m3u8"))
}

/// One decode, split and scaled per rung: `[v0]`, `[v1]`, ... Heights are
/// even (H.264 4:2:0), widths follow the aspect ratio.
pub fn filter_graph(ladder: &[Rung]) -> String {
    let splits: String = (0..ladder.len()).map(|i| format!("[s{i}]")).collect();
    let mut g = format!("[0:v:0]split={}{splits}", ladder.len());
    for (i, r) in ladder.iter().enumerate() {
        let (num, den) = r.share;
        g.push_str(&format!(
            ";[s{i}]scale=-2:'trunc(min({},ih*{num}/{den})/2)*2'[v{i}]",
            r.max_height
        ));
    }
    g
}

/// `v:0,a:0 v:1,a:1 ...`: each variant muxes its own copy of the audio,
/// which every HLS player (VLC, hls.js, Safari) plays without audio groups.
pub fn var_stream_map(n: usize) -> String {
    (0..n)
        .map(|i| format!("v:{i},a:{i}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Encoder arguments (after `-i`): video streams first, then audio, in
/// ladder order, so `v:i` and `a:i` are rung `i`'s.
pub fn encoder_args(ladder: &[Rung], out: &HlsOutput) -> Vec<String> {
    let mut a: Vec<String> = vec!["-filter_complex".into(), filter_graph(ladder)];
    for i in 0..ladder.len() {
        a.push("-map".into());
        a.push(format!("[v{i}]"));
    }
    for _ in ladder {
        a.extend(["-map".into(), "0:a:0".into()]);
    }
    for s in [
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-profile:v",
        "high",
        "-pix_fmt",
        "yuv420p",
        "-crf",
        "23",
    ] {
        a.push(s.into());
    }
    for (i, r) in ladder.iter().enumerate() {
        a.push(format!("-maxrate:v:{i}"));
        a.push(format!("{}k", r.video_kbps));
        a.push(format!("-bufsize:v:{i}"));
        a.push(format!("{}k", r.video_kbps * 2));
    }
    // The same forced keyframes in every rendition: segments are cut on
    // them, so segment n of every variant covers the same time.
    a.push("-force_key_frames".into());
    a.push(keyframe_expr(out));
    a.push("-sc_threshold".into());
    a.push("0".into());
    a.push("-c:a".into());
    a.push("aac".into());
    for (i, r) in ladder.iter().enumerate() {
        a.push(format!("-b:a:{i}"));
        a.push(format!("{}k", r.audio_kbps));
    }
    a.push("-ac".into());
    a.push("2".into());
    a
}

/// Output arguments that go before the HLS muxer's own: the master
/// playlist, republished with every segment of the first variant so its
/// age shows the channel is alive (the module treats an old playlist as
/// abandoned), and the variants.
pub fn master_args(ladder: &[Rung], channel: &str) -> Vec<String> {
    vec![
        "-master_pl_name".into(),
        format!("stream_{channel}.m3u8"),
        "-master_pl_publish_rate".into(),
        "1".into(),
        "-var_stream_map".into(),
        var_stream_map(ladder.len()),
    ]
}

/// (segment file pattern, variant playlist pattern) for ffmpeg's `%v`.
pub fn output_names(out: &HlsOutput) -> (String, String) {
    let name = |suffix: &str| -> String {
        out.dir
            .join(format!("stream_{}{suffix}", out.channel))
            .to_string_lossy()
            .into_owned()
    };
    // One digit of variant, then the sequence: `_%v%03d` stays a single
    // `_<digits>` (the ladder has fewer than ten rungs).
    (name("_%v%03d.ts"), name(".%v.m3u8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out() -> HlsOutput {
        HlsOutput {
            dir: "/var/www/hls".into(),
            channel: "71386".into(),
            segment_secs: 4.0,
            init_secs: 1.0,
            list_size: 6,
            resume: false,
            start_number: None,
        }
    }

    #[test]
    fn ladder_is_single_digit_and_descending() {
        assert!(LADDER.len() < 10);
        for w in LADDER.windows(2) {
            assert!(w[0].max_height > w[1].max_height);
            assert!(w[0].video_kbps > w[1].video_kbps);
        }
    }

    #[test]
    fn graph_splits_once_and_caps_heights() {
        assert_eq!(
            filter_graph(&LADDER[..2]),
            "[0:v:0]split=2[s0][s1];[s0]scale=-2:'trunc(min(1080,ih*1/1)/2)*2'[v0];\
             [s1]scale=-2:'trunc(min(720,ih*2/3)/2)*2'[v1]"
        );
        assert_eq!(var_stream_map(3), "v:0,a:0 v:1,a:1 v:2,a:2");
    }

    #[test]
    fn encoder_per_rung_rates_and_shared_keyframes() {
        let a = encoder_args(&LADDER, &out());
        let after = |flag: &str| {
            let i = a.iter().position(|s| s == flag).expect(flag);
            a[i + 1].as_str()
        };
        assert_eq!(after("-maxrate:v:1"), "2800k");
        assert_eq!(after("-bufsize:v:2"), "2400k");
        assert_eq!(after("-b:a:2"), "96k");
        assert_eq!(after("-force_key_frames"), keyframe_expr(&out()));
        assert_eq!(after("-sc_threshold"), "0");
        let maps: Vec<&str> = a
            .iter()
            .enumerate()
            .filter(|(_, s)| *s == "-map")
            .map(|(i, _)| a[i + 1].as_str())
            .collect();
        assert_eq!(maps, ["[v0]", "[v1]", "[v2]", "0:a:0", "0:a:0", "0:a:0"]);
    }

    #[test]
    fn names_fit_the_channel() {
        let (seg, pl) = output_names(&out());
        assert_eq!(seg, "/var/www/hls/stream_71386_%v%03d.ts");
        assert_eq!(pl, "/var/www/hls/stream_71386.%v.m3u8");
        assert_eq!(
            master_args(&LADDER, "71386")[..2],
            ["-master_pl_name", "stream_71386.m3u8"]
        );
        assert_eq!(
            variant_playlist_path(Path::new("/h"), "7", 2),
            PathBuf::from("/h/stream_7.2.m3u8")
        );
    }
}
