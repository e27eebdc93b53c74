//! The output side: where HLS is written, keyframes on segment
//! boundaries, and the muxer's arguments (ffmpeg's hls muxer, or MPEG-TS
//! on stdout for the segmenter).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::Quality;
use crate::ffmpeg_ladder::{self, LADDER};

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
pub(super) fn mpegts_output(mut a: Vec<OsString>) -> Vec<OsString> {
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

/// The HLS muxer's arguments, ending with the output playlist.
pub(super) fn hls_output(mut a: Vec<OsString>, out: &HlsOutput, quality: Quality) -> Vec<OsString> {
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
