//! The ffmpeg argument vector for one channel (never a shell command line).
//! Everything in it is readable by every local user (/proc/PID/cmdline):
//! http(s) sources are gateway URLs, and no header, cookie or credential
//! is ever an argument.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::ffmpeg_ladder::{self, LADDER};

/// Output encoding. `Copy` remuxes; the others re-encode to H.264/AAC with
/// keyframes forced on segment boundaries, so every segment starts with one.
/// `Abr` encodes the adaptive ladder of `ffmpeg_ladder` behind a master
/// playlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quality {
    Copy,
    Low,
    Medium,
    High,
    Abr,
}

impl Quality {
    pub fn parse(name: Option<&str>) -> Result<Quality, String> {
        match name.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("medium") => Ok(Quality::Medium),
            Some("copy") => Ok(Quality::Copy),
            Some("low") => Ok(Quality::Low),
            Some("high") => Ok(Quality::High),
            Some("abr") => Ok(Quality::Abr),
            Some(other) => Err(format!(
                "unknown quality preset \"{other}\" (use copy, low, medium, high or abr)"
            )),
        }
    }

    /// How many variant playlists the preset writes besides the master
    /// (0: a single media playlist).
    pub fn variants(self) -> usize {
        match self {
            Quality::Abr => LADDER.len(),
            _ => 0,
        }
    }

    /// (height, video kbit/s, audio kbit/s) of a single-rendition preset.
    fn ladder(self) -> Option<(u32, u32, u32)> {
        match self {
            Quality::Copy | Quality::Abr => None,
            Quality::Low => Some((360, 800, 96)),
            Quality::Medium => Some((720, 2500, 128)),
            Quality::High => Some((1080, 5000, 160)),
        }
    }
}

/// What to read.
#[derive(Debug, Clone)]
pub struct Input {
    /// A gateway URL, or a direct source of another scheme.
    pub url: String,
    /// ffmpeg's socket timeout (connect and each read).
    pub read_timeout: std::time::Duration,
    /// Reconnect when a live HTTP stream drops.
    pub reconnect: bool,
    /// Source schemes allowed (the protocol whitelist adds what they need).
    pub schemes: Vec<String>,
}

impl Default for Input {
    fn default() -> Input {
        Input {
            url: String::new(),
            read_timeout: std::time::Duration::from_secs(10),
            reconnect: true,
            schemes: vec!["http".into(), "https".into()],
        }
    }
}

/// Where and how to write HLS.
#[derive(Debug, Clone)]
pub struct HlsOutput {
    pub dir: PathBuf,
    pub channel: String,
    pub segment_secs: f64,
    /// Length of the first segments, so a cold start has its first segment
    /// after about one keyframe interval rather than a whole segment.
    pub init_secs: f64,
    pub list_size: u32,
    /// Continue the playlist an earlier run of this channel left (a
    /// restart), so its media sequence and segment numbers move on.
    pub resume: bool,
    /// A fresh run that takes over another node's channel: its first
    /// segment's number (cluster/hls_position.rs); marked a discontinuity.
    pub start_number: Option<u64>,
}

impl HlsOutput {
    pub fn playlist_path(&self) -> PathBuf {
        playlist_path(&self.dir, &self.channel)
    }
}

pub fn playlist_path(dir: &Path, channel: &str) -> PathBuf {
    dir.join(format!("stream_{channel}.m3u8"))
}

fn secs(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Where the encoder must put keyframes: on every segment boundary. The
/// first `list_size` segments are `init_secs` long (a quick cold start),
/// the rest `segment_secs`; a keyframe anywhere else would be wasted bits.
pub fn keyframe_expr(out: &HlsOutput) -> String {
    let seg = secs(out.segment_secs);
    if out.init_secs > 0.0 && out.init_secs < out.segment_secs && !out.resume {
        let init = secs(out.init_secs);
        let n = out.list_size;
        let end = secs(out.init_secs * f64::from(n));
        format!("expr:if(lt(t,{end}),gte(t,n_forced*{init}),gte(t,{end}+(n_forced-{n})*{seg}))")
    } else {
        format!("expr:gte(t,n_forced*{seg})")
    }
}

/// Only network protocols: a channel record must never reach local files.
/// http(s) sources come through the gateway as plain http (crypto for
/// AES-128 HLS); other enabled schemes are ffmpeg's own.
pub fn protocol_whitelist(schemes: &[String]) -> String {
    let mut protocols: Vec<&str> = vec!["http", "tcp", "crypto"];
    for s in schemes {
        if s != "https" && !protocols.contains(&s.as_str()) {
            protocols.push(s);
        }
    }
    if schemes.iter().any(|s| s == "rtmps" || s == "srt") {
        protocols.push("tls");
    }
    protocols.join(",")
}

/// Input formats ffmpeg may use: live stream containers, and for enabled
/// RTSP/RTP what they need.
pub fn format_whitelist(schemes: &[String]) -> String {
    let mut formats = vec![
        "hls", "mpegts", "mov", "flv", "live_flv", "aac", "ac3", "eac3", "mp3", "matroska", "mpeg",
        "h264", "hevc", "webvtt",
    ];
    if schemes.iter().any(|s| s == "rtsp" || s == "rtp") {
        formats.extend(["rtsp", "sdp", "rtp"]);
    }
    formats.join(",")
}

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
    // ffmpeg writes nothing until the probe ends, so in copy mode, where
    // the first segment ends 0.25 s past the first keyframe, the probe was
    // the last wait. A remux needs no frame rate or picture size, only the
    // streams (an MPEG-TS source's PMT, an FLV header): 0.2 s of probing
    // and no frame-rate probe (measured from the live test origin, first
    // segment 1.36 s -> 0.75 s after the spawn, median; 0.5 s: 0.92 s).
    // Not an HLS source: its segments come in bursts, so a 0.2 s window can
    // close before the first audio frame (ffmpeg then cannot set up the
    // audio output and exits), while a longer probe costs it little time.
    if quality == Quality::Copy && !is_hls_url(&input.url) {
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

/// Whether a preset's segments are cut by the supervisor (`segmenter`)
/// from ffmpeg's MPEG-TS on stdout rather than by ffmpeg's hls muxer: copy
/// mode, where ffmpeg could end a segment only on the source's key frames.
pub fn uses_segmenter(quality: Quality) -> bool {
    quality == Quality::Copy
}

/// MPEG-TS on stdout for the segmenter. `-flush_packets 1`: each packet
/// reaches the pipe at once (else 32 KiB are buffered, delaying every cut);
/// `-pes_payload_size 0`: each audio frame is its own PES, so a cut can
/// fall between any two frames.
fn mpegts_output(mut a: Vec<OsString>) -> Vec<OsString> {
    for s in [
        "-f",
        "mpegts",
        "-flush_packets",
        "1",
        "-pes_payload_size",
        "0",
        "pipe:1",
    ] {
        a.push(s.into());
    }
    a
}

/// Whether a source URL names an HLS playlist (`.m3u8`/`.m3u`, before
/// any query or fragment).
fn is_hls_url(url: &str) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let path = path.to_ascii_lowercase();
    path.ends_with(".m3u8") || path.ends_with(".m3u")
}

/// The HLS muxer's arguments, ending with the output playlist.
fn hls_output(mut a: Vec<OsString>, out: &HlsOutput, quality: Quality) -> Vec<OsString> {
    let mut push = |s: &str| a.push(s.into());
    let name = |suffix: &str| -> String {
        out.dir
            .join(format!("stream_{}{suffix}", out.channel))
            .to_string_lossy()
            .into_owned()
    };
    // A resumed run (restart, failover) keeps the list's segment length.
    let init = if out.init_secs > 0.0 && out.init_secs < out.segment_secs && !out.resume {
        Some(secs(out.init_secs))
    } else {
        None
    };
    push("-f");
    push("hls");
    push("-hls_time");
    push(&secs(out.segment_secs));
    if let Some(init) = &init {
        push("-hls_init_time");
        push(init);
    }
    push("-hls_list_size");
    push(&out.list_size.to_string());
    push("-hls_delete_threshold");
    push("3");
    push("-hls_flags");
    // temp_file: the playlist (and segments) appear atomically by rename;
    // omit_endlist: a dead channel's playlist goes stale instead of looking
    // like a finished recording.
    // append_list (restarts): carry on the old list and its numbering; ffmpeg
    // marks the join with #EXT-X-DISCONTINUITY.
    // discont_start (a takeover): #EXT-X-DISCONTINUITY before the first
    // segment; ffmpeg writes no EXT-X-DISCONTINUITY-SEQUENCE itself.
    push(match (out.resume, out.start_number) {
        (true, _) => "delete_segments+temp_file+omit_endlist+independent_segments+append_list",
        (false, Some(_)) => {
            "delete_segments+temp_file+omit_endlist+independent_segments+discont_start"
        }
        (false, None) => "delete_segments+temp_file+omit_endlist+independent_segments",
    });
    if let (false, Some(n)) = (out.resume, out.start_number) {
        push("-start_number");
        push(&n.to_string());
    }
    let (segments, playlist) = if quality == Quality::Abr {
        for s in ffmpeg_ladder::master_args(&LADDER, &out.channel) {
            push(&s);
        }
        ffmpeg_ladder::output_names(out)
    } else {
        (name("_%03d.ts"), name(".m3u8"))
    };
    push("-hls_segment_filename");
    push(&segments);
    push(&playlist);
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hls_sources_keep_the_longer_probe() {
        assert!(is_hls_url("http://h/u/0/s.m3u8"));
        assert!(is_hls_url("http://h/live/index.M3U8?token=x"));
        assert!(is_hls_url("http://h/a.m3u#f"));
        assert!(!is_hls_url("http://h/live.ts"));
        assert!(!is_hls_url("http://h/x?f=a.m3u8"));
    }

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
        assert_eq!(after(&v, "-analyzeduration"), "1000000");
        assert!(!v.iter().any(|s| s == "-fpsprobesize"));
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
    fn whitelists_follow_the_enabled_schemes() {
        let s = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            protocol_whitelist(&s(&["http", "https"])),
            "http,tcp,crypto"
        );
        assert_eq!(
            protocol_whitelist(&s(&["https", "rtmps"])),
            "http,tcp,crypto,rtmps,tls"
        );
        assert!(format_whitelist(&s(&["rtsp"])).ends_with("rtsp,sdp,rtp"));
        assert!(!format_whitelist(&s(&["http"])).contains("sdp"));
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
    fn preset_names() {
        assert_eq!(Quality::parse(Some(" Abr ")), Ok(Quality::Abr));
        assert_eq!(Quality::parse(None), Ok(Quality::Medium));
        assert_eq!(Quality::parse(Some("COPY")), Ok(Quality::Copy));
        assert!(Quality::parse(Some("ultra")).unwrap_err().contains("ultra"));
    }

    #[test]
    fn no_init_time_when_not_shorter() {
        let mut o = out();
        o.init_secs = 4.0;
        let v = strs(&build(&Input::default(), Quality::Low, &o));
        assert!(!v.iter().any(|s| s == "-hls_init_time"));
    }
}
