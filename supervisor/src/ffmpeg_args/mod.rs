//! The ffmpeg argument vector for one channel (never a shell command line).
//! Everything in it is readable by every local user (/proc/PID/cmdline):
//! http(s) sources are gateway URLs, and no header, cookie or credential
//! is ever an argument.
//!
//! The presets are in `quality`, the input options in `input`, the output
//! (HLS or the segmenter's MPEG-TS) in `output`; `build` puts them in
//! ffmpeg's order.

mod input;
mod output;
mod quality;

use std::ffi::OsString;

use super::ffmpeg_ladder::{self, LADDER};
use input::is_hls_url;
pub use input::{format_whitelist, protocol_whitelist, Input};
use output::{hls_output, mpegts_output};
pub use output::{keyframe_expr, playlist_path, uses_segmenter, HlsOutput};
pub use quality::Quality;

pub fn build(input: &Input, quality: Quality, out: &HlsOutput) -> Vec<OsString> {
    let mut a: Vec<OsString> = Vec::new();
    let mut push = |s: &str| a.push(s.into());
    for s in ["-hide_banner", "-nostdin", "-loglevel", "warning"] {
        push(s);
    }
    push("-protocol_whitelist");
    push(&protocol_whitelist(&input.schemes));
    // Demuxers that never open URLs of their own (dash, concat, sdp and
    // the like would, around the gateway); hls's URIs are rewritten.
    push("-format_whitelist");
    push(&format_whitelist(&input.schemes));
    let is_http = input.url.starts_with("http://") || input.url.starts_with("https://");
    if input.reconnect && is_http {
        // A live stream that drops mid-way is picked up again by ffmpeg
        // itself; a refused connection or an HTTP error still fails.
        for s in [
            "-reconnect",
            "1",
            "-reconnect_streamed",
            "1",
            "-reconnect_delay_max",
            "4",
        ] {
            push(s);
        }
    }
    // Give up on an upstream that stops sending (microseconds).
    push("-rw_timeout");
    push(
        &input
            .read_timeout
            .as_micros()
            .min(i32::MAX as u128)
            .to_string(),
    );
    // Probe 1 s of input, not the default 5 s: a live source's streams are
    // known after its first keyframe, and every probed second delays the
    // first segment (measured: 5.3 s -> 2.0 s to the first segment).
    // ffmpeg writes nothing until the probe ends. A remux needs no frame
    // rate or picture size, only the streams (an MPEG-TS source's PMT, an
    // FLV header), and a transcode sets its decoders and encoders up from
    // the first frames, not from the probe: 0.2 s of probing and no
    // frame-rate probe (copy, live test origin: first segment 1.36 s ->
    // 0.75 s after the spawn, median; abr from a 1280x720 origin: master
    // cold start 2.10 s -> 1.78 s).
    // Not an HLS source: its segments come in bursts, so a 0.2 s window can
    // close before the first audio frame (ffmpeg then cannot set up the
    // audio output and exits), while a longer probe costs it little time.
    if !is_hls_url(&input.url) {
        for s in ["-analyzeduration", "200000", "-fpsprobesize", "0"] {
            push(s);
        }
    } else {
        push("-analyzeduration");
        push("1000000");
    }
    push("-i");
    push(&input.url);
    if quality == Quality::Abr {
        for s in ffmpeg_ladder::encoder_args(&LADDER, out) {
            push(&s);
        }
        return hls_output(a, out, quality);
    }
    for s in ["-map", "0:v:0?", "-map", "0:a:0?"] {
        push(s);
    }
    match quality.ladder() {
        None => {
            push("-c");
            push("copy");
            // A remux keeps the source's own interleaving. ffmpeg's default
            // (wait for every stream up to 10 s) holds the keyframe that
            // ends a segment until the source's late-muxed audio catches
            // up: measured 0 to 0.3 s on every cold start.
            push("-max_interleave_delta");
            push("10000");
            return mpegts_output(a);
        }
        Some((height, vk, ak)) => {
            let vf = format!("scale=-2:{height}");
            let force = keyframe_expr(out);
            let (b, max, buf) = (
                format!("{vk}k"),
                format!("{}k", vk * 11 / 10),
                format!("{}k", vk * 2),
            );
            let ab = format!("{ak}k");
            for s in [
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-profile:v",
                "high",
                "-pix_fmt",
                "yuv420p",
                "-vf",
                &vf,
                "-b:v",
                &b,
                "-maxrate",
                &max,
                "-bufsize",
                &buf,
                "-force_key_frames",
                &force,
                "-sc_threshold",
                "0",
                "-c:a",
                "aac",
                "-b:a",
                &ab,
                "-ac",
                "2",
            ] {
                push(s);
            }
        }
    }
    hls_output(a, out, quality)
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

    fn strs(v: &[OsString]) -> Vec<String> {
        v.iter().map(|s| s.to_string_lossy().into_owned()).collect()
    }

    fn after<'a>(v: &'a [String], flag: &str) -> &'a str {
        let i = v
            .iter()
            .position(|s| s == flag)
            .unwrap_or_else(|| panic!("{flag} missing"));
        &v[i + 1]
    }

    #[test]
    fn copy_mode_pipes_mpegts_to_the_segmenter() {
        let input = Input {
            url: "http://127.0.0.1:9/live.ts".into(),
            ..Input::default()
        };
        let v = strs(&build(&input, Quality::Copy, &out()));
        assert!(uses_segmenter(Quality::Copy) && !uses_segmenter(Quality::Low));
        assert_eq!(after(&v, "-i"), "http://127.0.0.1:9/live.ts");
        assert_eq!(after(&v, "-c"), "copy");
        assert_eq!(after(&v, "-max_interleave_delta"), "10000");
        assert_eq!(after(&v, "-analyzeduration"), "200000");
        assert_eq!(after(&v, "-fpsprobesize"), "0");
        assert_eq!(after(&v, "-f"), "mpegts");
        assert_eq!(after(&v, "-flush_packets"), "1");
        assert_eq!(after(&v, "-pes_payload_size"), "0");
        assert!(!v.iter().any(|s| s.starts_with("-hls")));
        assert_eq!(v.last().unwrap(), "pipe:1");
        let v = strs(&build(&input, Quality::Medium, &out()));
        assert_eq!(after(&v, "-analyzeduration"), "200000");
        assert_eq!(after(&v, "-fpsprobesize"), "0");
        assert_eq!(after(&v, "-hls_time"), "4");
        assert_eq!(after(&v, "-hls_init_time"), "1");
        assert!(after(&v, "-hls_flags").contains("temp_file"));
        assert!(after(&v, "-hls_flags").contains("delete_segments"));
        assert_eq!(
            after(&v, "-hls_segment_filename"),
            "/var/www/hls/stream_71386_%03d.ts"
        );
        assert_eq!(v.last().unwrap(), "/var/www/hls/stream_71386.m3u8");
        let wl = after(&v, "-protocol_whitelist");
        assert_eq!(wl, "http,tcp,crypto");
        // The whitelist and headers are input options: they precede -i.
        let i = v.iter().position(|s| s == "-i").unwrap();
        assert!(v.iter().position(|s| s == "-protocol_whitelist").unwrap() < i);
    }

    #[test]
    fn nothing_secret_and_only_the_gateway() {
        let input = Input {
            url: "http://127.0.0.1:4000/u/0/s.m3u8".into(),
            read_timeout: std::time::Duration::from_millis(2500),
            ..Input::default()
        };
        let v = strs(&build(&input, Quality::Copy, &out()));
        for flag in [
            "-headers",
            "-user_agent",
            "-referer",
            "-http_proxy",
            "-cookies",
        ] {
            assert!(!v.iter().any(|s| s == flag), "{flag}");
        }
        assert_eq!(after(&v, "-rw_timeout"), "2500000");
        assert_eq!(after(&v, "-reconnect_streamed"), "1");
        assert!(!after(&v, "-format_whitelist").contains("dash"));
        assert!(!after(&v, "-format_whitelist").contains("concat"));
        let quiet = Input {
            reconnect: false,
            ..input
        };
        let v = strs(&build(&quiet, Quality::Copy, &out()));
        assert!(!v.iter().any(|s| s == "-reconnect"));
    }

    #[test]
    fn presets_force_keyframes_on_segment_boundaries() {
        let input = Input {
            url: "http://x/y".into(),
            ..Input::default()
        };
        let v = strs(&build(&input, Quality::Low, &out()));
        assert_eq!(after(&v, "-c:v"), "libx264");
        assert_eq!(after(&v, "-vf"), "scale=-2:360");
        assert_eq!(
            after(&v, "-force_key_frames"),
            "expr:if(lt(t,6),gte(t,n_forced*1),gte(t,6+(n_forced-6)*4))"
        );
        assert_eq!(after(&v, "-sc_threshold"), "0");
        // Encoders' output is interleaved by ffmpeg as usual.
        assert!(!v.iter().any(|s| s == "-max_interleave_delta"));
        let resumed = HlsOutput {
            resume: true,
            ..out()
        };
        let v = strs(&build(&input, Quality::Low, &resumed));
        assert_eq!(after(&v, "-force_key_frames"), "expr:gte(t,n_forced*4)");
        assert!(!v.iter().any(|s| s == "-hls_init_time"));
        assert!(!v.iter().any(|s| s == "-start_number"));
        // A takeover: numbering past the old owner's, the join marked.
        let taken = HlsOutput {
            start_number: Some(1234),
            ..out()
        };
        let v = strs(&build(&input, Quality::Low, &taken));
        assert_eq!(after(&v, "-start_number"), "1234");
        assert!(after(&v, "-hls_flags").ends_with("+discont_start"));
        assert!(v.iter().any(|s| s == "-hls_init_time"));
    }

    #[test]
    fn abr_writes_a_master_and_variants() {
        let input = Input {
            url: "http://x/y".into(),
            ..Input::default()
        };
        let v = strs(&build(&input, Quality::Abr, &out()));
        assert!(after(&v, "-filter_complex").starts_with("[0:v:0]split=3"));
        assert!(!v.iter().any(|s| s == "0:v:0?"));
        assert_eq!(after(&v, "-master_pl_name"), "stream_71386.m3u8");
        assert_eq!(after(&v, "-var_stream_map"), "v:0,a:0 v:1,a:1 v:2,a:2");
        assert_eq!(
            after(&v, "-hls_segment_filename"),
            "/var/www/hls/stream_71386_%v%03d.ts"
        );
        assert_eq!(v.last().unwrap(), "/var/www/hls/stream_71386.%v.m3u8");
        // The muxer's options precede the output, after the encoders'.
        let fk = v.iter().position(|s| s == "-force_key_frames").unwrap();
        assert!(fk < v.iter().position(|s| s == "-f").unwrap());
        assert_eq!(Quality::Abr.variants(), 3);
        assert_eq!(Quality::High.variants(), 0);
    }

    #[test]
    fn no_init_time_when_not_shorter() {
        let mut o = out();
        o.init_secs = 4.0;
        let v = strs(&build(&Input::default(), Quality::Low, &o));
        assert!(!v.iter().any(|s| s == "-hls_init_time"));
    }
}
