# shellcheck shell=bash
# shellcheck disable=SC2154 # set by bench.sh
# bench.sh's soak mode (scripts/bench.sh --soak MINUTES), sourced once its
# stack runs: viewers join and leave channels for MINUTES (tools'
# `viewers`, each staying 20 s on average, then moving to another channel),
# channels start for them, stop when idle and are stopped by an operator
# every 10 s; file descriptors and RSS of the nginx workers and the
# supervisor before, during and after, and the responses by status.
# Writes the soak section of BENCHMARKS.md (between the soak markers;
# a full bench run keeps it). Uses bench.sh's $run, $base, $token,
# $suppid, $root, $SOAK_MINUTES, $IDLE, sup and daemon_pid.

# Fewer viewers than channels, so channels go idle and stop, and start
# again when a viewer comes back.
SOAK_CHANNELS=30
SOAK_VIEWERS=40
soak_secs=$((SOAK_MINUTES * 60))
cargo build --release --locked --bin viewers >&2

fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
rss_kib() { awk '/VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# ffmpegs writing into this run's HLS directory (by the supervisor's mark
# in their environment: a copy channel's command line names no file).
soak_ffmpegs() {
    local p
    for p in $(pgrep -x ffmpeg || true); do
        { tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null | grep -xF "STREAM_SUPERVISOR_HLS_DIR=$run/hls" >/dev/null && echo "$p"
    done
    return 0
}
workers() { pgrep -P "$(daemon_pid nginx)" | sort -n; }
# "fd/RSS" of the supervisor and of each worker (summed), and the ffmpegs.
sample() {
    local w wf=0 wr=0
    for w in $(workers); do
        wf=$((wf + $(fds "$w"))); wr=$((wr + $(rss_kib "$w")))
    done
    echo "$(fds "$suppid") $(rss_kib "$suppid") $wf $wr $(sup list 2>/dev/null | grep -c ' ready ' || true)"
}

channels=$(seq -s, 3 $((SOAK_CHANNELS + 2)))
echo "== soak ($SOAK_MINUTES min, $SOAK_VIEWERS viewers over $SOAK_CHANNELS channels, idle timeout $IDLE)" >&2
sleep 2
read -r s_fd0 s_rss0 w_fd0 w_rss0 _ < <(sample)
starts0=$(grep -c 'ffmpeg started' "$run/supervisor.log" || true)
"$root/target/release/viewers" --addr "127.0.0.1:$PORT" --playlist "/live/stream_{channel}.m3u8?token=$token" \
    --channels "$channels" --viewers "$SOAK_VIEWERS" --duration "$soak_secs" --ramp 20 \
    --session 20 --timeout 60 --events "$run/soak.events" >"$run/soak.json" &
soak_viewers=$!
# Operator stops while viewers watch, and the peak of what is held.
peak_sfd=0 peak_wfd=0 peak_ready=0 ops=0
end=$(($(date +%s) + soak_secs))
while [ "$(date +%s)" -lt "$end" ]; do
    sleep 10
    sup stop $((3 + RANDOM % SOAK_CHANNELS)) >/dev/null 2>&1 && ops=$((ops + 1))
    read -r sfd _ wfd _ ready < <(sample)
    [ "$sfd" -le "$peak_sfd" ] || peak_sfd=$sfd
    [ "$wfd" -le "$peak_wfd" ] || peak_wfd=$wfd
    [ "$ready" -le "$peak_ready" ] || peak_ready=$ready
done
wait "$soak_viewers" || true
read -r s_fd1 s_rss1 w_fd1 w_rss1 ready1 < <(sample)
# Then every channel stopped: what is left is what the soak kept.
for c in $(seq 3 $((SOAK_CHANNELS + 2))); do sup stop "$c" >/dev/null 2>&1 || true; done
sleep 3
read -r s_fd2 s_rss2 w_fd2 w_rss2 _ < <(sample)
ff_left=$(soak_ffmpegs | wc -l)
starts=$(($(grep -c 'ffmpeg started' "$run/supervisor.log" || true) - starts0))
idle_stops=$(grep -c 'idle, stopped' "$run/supervisor.log" || true)
by_status=$(perl -MJSON::PP -e 'my $j = decode_json(do { local $/; <STDIN> } || "{}");
    for my $k (qw/playlist segment/) { my $h = $j->{$k} || {};
        print "$k: ", join(", ", map { "$h->{$_} × $_" } sort keys %$h), "; " }
    print "$j->{sessions} viewer sessions"' <"$run/soak.json")
bad=$(perl -MJSON::PP -e 'print decode_json(do { local $/; <STDIN> } || "{}")->{bad} // "?"' <"$run/soak.json")
bad_kinds=$(awk '$3 != 200 { n[$2 " " $3]++ } END { for (k in n) printf "%s × %d; ", k, n[k] }' "$run/soak.events" 2>/dev/null | sed 's/; $//')

section=$(cat <<EOF
<!-- soak: written by scripts/bench.sh --soak; a full run keeps it -->
## Soak

\`scripts/bench.sh --soak $SOAK_MINUTES\` on $(date -u +%Y-%m-%d) ($(git rev-parse --short HEAD)):
$SOAK_VIEWERS simulated viewers (tools' \`viewers\`: a playlist every
second and each new segment) over $SOAK_CHANNELS copy channels for
$SOAK_MINUTES minutes; each viewer stays 20 s on average, then moves to
another channel at random; channels stop after $IDLE without viewers, and
an operator \`stop\` of a random channel every 10 s ($ops stops) makes its
viewers start it again. nginx: 1 worker.

| | before | end of the soak | all channels stopped | peak |
|---|---|---|---|---|
| supervisor fds | $s_fd0 | $s_fd1 | $s_fd2 | $peak_sfd |
| supervisor RSS (KiB) | $s_rss0 | $s_rss1 | $s_rss2 | |
| nginx worker fds | $w_fd0 | $w_fd1 | $w_fd2 | $peak_wfd |
| nginx worker RSS (KiB) | $w_rss0 | $w_rss1 | $w_rss2 | |
| channels ready | 0 | $ready1 | 0 | $peak_ready |

- ffmpeg started $starts times; $idle_stops idle stops; $ops operator
  stops; ffmpeg processes left once every channel was stopped: $ff_left.
- Responses: $by_status.
- Not 200: $bad${bad_kinds:+ ($bad_kinds)}.
<!-- /soak -->
EOF
)
echo "$section"
if grep -q '^<!-- soak:' BENCHMARKS.md; then
    keep=$(sed '/^<!-- soak:/,/^<!-- \/soak -->/d' BENCHMARKS.md)
    printf '%s\n\n%s\n' "$keep" "$section" | cat -s >BENCHMARKS.md
else
    printf '\n%s\n' "$section" >>BENCHMARKS.md
fi
echo "bench: wrote the soak section of BENCHMARKS.md" >&2
