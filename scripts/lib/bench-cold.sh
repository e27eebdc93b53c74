# shellcheck shell=bash
# scripts/bench.sh section 2, cold start: COLD_RUNS cold starts of a
# channel at random moments, each split into its stages from the
# supervisor's `ready` log line (the segmenter's first_byte_ms,
# keyframe_ms, segment_ms; cold_ms from the supervisor's ensure; ms from
# the spawn). Needs from bench.sh: sup, base, token, run, ms, stats, median.
#
#   cold_runs CHANNEL    lines "e2e cold spawn_to_ready first_byte keyframe segment" (ms)
#   cold_section         both origins: sets cold_* / gop_* / stage variables,
#                        writes bench/cold*.dat
#   cold_plots           bench/cold-start.png and bench/cold-stages.png

# One field of a ready line ("-" when the line has none).
_ready_field() { # line name
    local v
    v=$(printf '%s\n' "$1" | grep -o " $2=[0-9]*" | head -n 1 | cut -d= -f2)
    echo "${v:--}"
}

cold_runs() {
    local i t e2e n line
    for i in $(seq "$COLD_RUNS"); do
        sup stop "$1" >/dev/null 2>&1 || true
        # Viewers arrive at any moment, not in step with the source's
        # keyframes (back-to-back runs would always just miss one).
        sleep "0.$(printf %03d $((RANDOM % 1000)))"
        n=$(grep -c "ready channel=$1 " "$run/supervisor.log" || true)
        t=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' "$base/live/stream_$1.m3u8?token=$token")
        [ "${t%% *}" = 200 ] || echo "bench: cold start $i of channel $1 answered ${t%% *}" >&2
        e2e=$(echo "${t##* }" | ms)
        # The request is woken as the state changes; the line follows.
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            [ "$(grep -c "ready channel=$1 " "$run/supervisor.log" || true)" -gt "$n" ] && break
            sleep 0.05
        done
        line=$(grep "ready channel=$1 " "$run/supervisor.log" | tail -n 1)
        echo "$e2e $(_ready_field "$line" cold_ms) $(_ready_field "$line" ms)" \
            "$(_ready_field "$line" first_byte_ms) $(_ready_field "$line" keyframe_ms)" \
            "$(_ready_field "$line" segment_ms)"
    done
}

# Median of column $2 of file $1 ("-" when no run has it).
_col_median() {
    local v
    v=$(awk -v c="$2" '$c != "-" { print $c }' "$1" | median)
    echo "${v:--}"
}

# Stage medians of one origin's runs into <prefix>_spawn, _first_byte,
# _keyframe, _segment, _wake (ms; spawn from the supervisor's ensure,
# the others from the spawn, wake-up = request to answer minus ensure to
# ready).
_stages() { # file prefix
    local f=$1 p=$2
    awk '$2 != "-" && $3 != "-" { print $2 - $3 }' "$f" >"$f.spawn"
    awk '$2 != "-" { print $1 - $2 }' "$f" >"$f.wake"
    printf -v "${p}_spawn" '%s' "$(median <"$f.spawn")"
    printf -v "${p}_first_byte" '%s' "$(_col_median "$f" 4)"
    printf -v "${p}_keyframe" '%s' "$(_col_median "$f" 5)"
    printf -v "${p}_segment" '%s' "$(_col_median "$f" 6)"
    printf -v "${p}_ready" '%s' "$(_col_median "$f" 3)"
    printf -v "${p}_wake" '%s' "$(median <"$f.wake")"
}

cold_section() {
    echo "== 2. cold start ($COLD_RUNS runs per origin)" >&2
    # ffmpeg's own start-up (exec, ~200 shared libraries), for the breakdown.
    local t0
    t0=$(date +%s%N)
    for _ in 1 2 3 4 5 6 7 8 9 10; do ffmpeg -hide_banner -version >/dev/null; done
    exec_ms=$((($(date +%s%N) - t0) / 10000000))
    cold_runs 1 >"$run/cold.txt"
    cold_runs g1 >"$run/cold_gop.txt"
    sup stop g1 >/dev/null 2>&1 || true
    read -r cold_med cold_p95 cold_max < <(cut -d' ' -f1 "$run/cold.txt" | stats)
    read -r gop_med gop_p95 gop_max < <(cut -d' ' -f1 "$run/cold_gop.txt" | stats)
    # Time outside ffmpeg: request, token, supervisor, spawn, readiness
    # check and the held request's wake-up.
    outside=$(cat "$run/cold.txt" "$run/cold_gop.txt" | awk '$3 != "-" { print $1 - $3 }' | median)
    _stages "$run/cold.txt" live
    _stages "$run/cold_gop.txt" gop
    mkdir -p bench
    cut -d' ' -f1 "$run/cold.txt" | sort -n | awk '{ print NR, $1 }' >bench/cold.dat
    cut -d' ' -f1 "$run/cold_gop.txt" | sort -n | awk '{ print NR, $1 }' >bench/cold-gop.dat
    # Per run, sorted by its total: when each stage was reached, from the
    # request (spawn, first byte, key frame, segment, answer).
    local f
    for f in cold cold_gop; do
        awk '$2 != "-" && $3 != "-" && $6 != "-" {
                s = $2 - $3; print $1, s, s + $4, s + $5, s + $6 }' "$run/$f.txt" |
            sort -n | awk '{ print NR, $2, $3, $4, $5, $1 }' >"bench/${f//_/-}-stages.dat"
    done
}

cold_plots() {
    gnuplot <<EOF
set terminal png size 800,450 noenhanced
set output "bench/cold-start.png"
set title "Cold start: first request to a playable playlist ($COLD_RUNS runs each, copy, 1 s keyframes)"
set xlabel "run (sorted)"; set ylabel "ms"; set yrange [0:*]; set grid
plot "bench/cold.dat" using 1:2 with linespoints title "live origin", \
     "bench/cold-gop.dat" using 1:2 with linespoints title "origin with a GOP cache"
EOF
    gnuplot <<EOF
set terminal png size 1000,450 noenhanced
set output "bench/cold-stages.png"
set multiplot layout 1,2 title "Cold start stages: ms from the first request, each run (sorted by total)"
set xlabel "run (sorted)"; set ylabel "ms"; set yrange [0:*]; set grid; set key top left
set title "live origin, 1 s keyframes"
plot "bench/cold-stages.dat" using 1:2 with lines title "ffmpeg spawned", \
     "" using 1:3 with lines title "first byte", "" using 1:4 with lines title "first key frame", \
     "" using 1:5 with lines title "first segment", "" using 1:6 with linespoints title "answered"
set title "origin with a GOP cache"
plot "bench/cold-gop-stages.dat" using 1:2 with lines title "ffmpeg spawned", \
     "" using 1:3 with lines title "first byte", "" using 1:4 with lines title "first key frame", \
     "" using 1:5 with lines title "first segment", "" using 1:6 with linespoints title "answered"
unset multiplot
EOF
}
