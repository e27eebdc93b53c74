# shellcheck shell=bash
# Section 8 of scripts/bench.sh (sourced after section 7, before the
# table): the adaptive ladder (quality `abr`, docs/supervisor.md). A
# second test-origin sends 1280x720 at 25 fps with 1 s keyframes; channel
# a1 transcodes it into the ladder.
#   - cold start: ABR_RUNS cold starts of the master playlist at random
#     moments (cold_runs of bench-cold.sh);
#   - the master: its renditions (RESOLUTION, BANDWIDTH, CODECS);
#   - alignment: the newest segment all renditions have, through ffprobe:
#     each begins with a key frame at the same PTS;
#   - real time: the media seconds rendition 0 published over the wall
#     time between its first and last listed segment (file mtimes), and
#     the channel's ffmpeg CPU over 10 s;
#   - a player: ffmpeg reads the master through nginx with the viewer's
#     token for ABR_PLAY s and decodes every rendition's video.
# Uses from bench.sh: stage, run, sup, base, token, quick, COLD_RUNS,
# cold_runs, stats, hz, ticks; sets the abr_* variables its rows read.

echo "== 8. adaptive ladder (abr, 1280x720 source)" >&2
APORT=18477
if [ "$quick" = 1 ]; then ABR_RUNS=3 ABR_PLAY=10; else ABR_RUNS=8 ABR_PLAY=20; fi
stack_tcp test-origin-hd $APORT "$run/origin-hd.log" "$stage/bin/test-origin" \
    --listen "127.0.0.1:$APORT" --keyint 1 --size 1280x720
sup channels add a1 --source "http://127.0.0.1:$APORT/live.ts" --quality abr >/dev/null

COLD_RUNS=$ABR_RUNS cold_runs a1 >"$run/cold_abr.txt"
read -r abr_med abr_p95 abr_max < <(cut -d' ' -f1 "$run/cold_abr.txt" | stats)
# Long enough for a full rendition list to measure real time on, with a
# viewer, so the channel does not idle out meanwhile.
for _ in 1 2 3 4 5 6; do
    sleep 5
    curl -s -o /dev/null "$base/live/stream_a1.1.m3u8?token=$token"
done

# "WxH BANDWIDTH CODECS" per rendition, in the master's order.
abr_master=$(curl -s "$base/live/stream_a1.m3u8?token=$token")
abr_variants=$(printf '%s\n' "$abr_master" | sed -n 's/^#EXT-X-STREAM-INF://p' | awk -F',' '{
        r = "-"; b = "-"; c = "-"
        for (i = 1; i <= NF; i++) {
            if ($i ~ /^RESOLUTION=/) { r = substr($i, 12) }
            else if ($i ~ /^BANDWIDTH=/) { b = sprintf("%.0f", substr($i, 11) / 1000) }
            else if ($i ~ /^CODECS=/) { c = substr($i, 8) "," $(i + 1); gsub(/"/, "", c) }
        }
        printf "%s%s %s kbit/s (%s)", (NR > 1 ? "; " : ""), r, b, c }')
abr_n=$(printf '%s\n' "$abr_master" | grep -c '^#EXT-X-STREAM-INF' || true)
# Every variant URI carries the viewer's token.
abr_tokens=$(printf '%s\n' "$abr_master" | grep -v '^#' | grep -c "token=$token" || true)

# The newest media sequence every rendition lists, and its file in each.
_abr_list() { # rendition -> "sequence file" lines
    awk '/^#EXT-X-MEDIA-SEQUENCE:/ { s = substr($0, 23) } !/^#/ && NF { print s++, $0 }' \
        "$run/hls/stream_a1.$1.m3u8"
}
abr_seq=$(for v in $(seq 0 $((abr_n - 1))); do _abr_list "$v" | tail -n 1; done | awk '{ print $1 }' | sort -n | head -n 1)
abr_starts=""
for v in $(seq 0 $((abr_n - 1))); do
    f=$(_abr_list "$v" | awk -v s="$abr_seq" '$1 == s { print $2 }')
    # First video packet: its PTS and whether it is a key frame.
    abr_starts="$abr_starts $(ffprobe -v error -select_streams v:0 -read_intervals '%+#1' \
        -show_entries packet=pts_time,flags -of csv=p=0 "$run/hls/$f" 2>/dev/null | head -n 1)"
done
abr_aligned=$(echo "$abr_starts" | tr ' ' '\n' | grep . | awk -F',' '
    { pts[NR] = $1; if ($2 !~ /K/) nk++ }
    END { ok = (NR > 0 && nk == 0); for (i = 2; i <= NR; i++) if (pts[i] != pts[1]) ok = 0
          print (ok ? "yes" : "no") " (segment " seq ": first video PTS " pts[1] (nk ? ", not all key frames" : ", key frames") ")" }' seq="$abr_seq")

# Real time: media published per wall second by rendition 0.
abr_speed=$(_abr_list 0 | while read -r _ f; do
    d=$(grep -B1 -x "$f" "$run/hls/stream_a1.0.m3u8" | sed -n 's/^#EXTINF:\([0-9.]*\).*/\1/p')
    echo "$(stat -c %.3Y "$run/hls/$f") $d"
done | awk 'NR == 1 { t0 = $1; next } { media += $2; t1 = $1 } END { if (t1 > t0) printf "%.2f", media / (t1 - t0); else print "-" }')
abr_pid=""
for p in $(pgrep -x ffmpeg || true); do
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "STREAM_SUPERVISOR_CHANNEL=a1"; then abr_pid=$p; fi
done
abr_cpu=-
if [ -n "$abr_pid" ]; then
    t0=$(ticks "$abr_pid"); sleep 10; t1=$(ticks "$abr_pid")
    abr_cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" 'BEGIN { printf "%.0f", (b - a) / hz / 10 * 100 }')
fi

# A player: every rendition's video decoded from the master through nginx.
abr_play=$(timeout $((ABR_PLAY + 30)) ffmpeg -hide_banner -nostats -v error \
    -i "$base/live/stream_a1.m3u8?token=$token" -t "$ABR_PLAY" \
    $(for v in $(seq 0 $((abr_n - 1))); do printf -- '-map 0:p:%s:v ' "$v"; done) \
    -f null - 2>&1 | grep -c . || true)
abr_play=$([ "$abr_play" = 0 ] && echo "decoded $ABR_PLAY s of all $abr_n renditions without an error" \
    || echo "$abr_play error lines from ffmpeg")
sup stop a1 >/dev/null 2>&1 || true
daemon_stop test-origin-hd

abr_row="| adaptive ladder (abr), 1280x720 25 fps source, 1 s keyframes | $abr_n renditions: $abr_variants; variant URIs with the token: $abr_tokens of $abr_n; aligned: $abr_aligned; ffmpeg at **${abr_speed}× real time**, $abr_cpu % of a core; a player: $abr_play | renditions play, aligned |
| adaptive ladder, cold start of the master, $ABR_RUNS runs | median $abr_med ms, p95 $abr_p95 ms, max $abr_max ms | |"

abr_doc="## Adaptive ladder

\`scripts/lib/bench-abr.sh\`: a second test-origin sends 1280x720 at 25 fps
with 1 s keyframes, and channel a1 (quality \`abr\`) transcodes it into the
ladder of [docs/supervisor.md](docs/supervisor.md) with one ffmpeg
(x264 \`veryfast\`; the first six segments 0.5 s, then 4 s; keyframes
forced on the same boundaries in every rendition).

- **Cold start**: $ABR_RUNS cold requests for the master playlist at random
  moments, as section 2. ffmpeg's hls muxer writes the master once every
  rendition has its first segment: ffmpeg's start, its 0.2 s probe, the
  wait for the source's first key frame, the encoders' delay (x264's
  lookahead) and that 0.5 s segment. With a 1 s probe and 1 s first
  segments it was 2.1 s at the median; the shorter probe alone, 1.8 s.
- **Renditions**: the master as a viewer gets it through nginx
  (\`RESOLUTION\`, \`BANDWIDTH\` as the cap the master announces,
  \`CODECS\`), and how many variant URIs carry the viewer's token.
- **Aligned**: the newest media sequence every rendition lists; ffprobe
  reads the first video packet of that segment in each: all must be key
  frames at the same PTS, so a player can switch at any segment.
- **Real time**: the media seconds of rendition 0's listed segments over
  the wall time between the first and the last of them being written
  (their mtimes), after 30 s of running; 1.00 is keeping up. The CPU is
  the channel's ffmpeg over 10 s (/proc/<pid>/stat), with the origin's own
  encoder running on the same 2 cores.
- **A player**: \`ffmpeg -i <master>?token=… -t $ABR_PLAY\` through nginx,
  mapping every rendition's video (\`-map 0:p:N:v\`), decoded to null;
  any line ffmpeg prints at \`-v error\` counts against it."
