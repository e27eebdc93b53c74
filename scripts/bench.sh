#!/bin/bash
# Benchmarks, side by side in one run, all on 127.0.0.1:
#   1. warm path: wrk on the same ready playlist and segment through a plain
#      static location, one with open_file_cache, and through the
#      stream_autostart locations; the playlist again while /metrics is
#      scraped every second; again with `worker_processes auto`
#   2. cold start: N cold starts of a copy-mode channel (1 s keyframes) at
#      random moments, from a plain live origin and from one with a GOP cache
#   3. herd: many concurrent first requests for one cold channel, with a
#      static-file probe running meanwhile (1 worker, then 2)
#   4. many channels: supervisor and nginx memory/CPU with N live channels
#   5. catalog: the channel M3U with 3,931 channels, plain and gzip, against
#      the same bytes as static files
#   6. idle reclaim: when a stream really stops after its last viewer
#   7. cluster: three nodes on one Redis: placement balance, an edge-served
#      segment against a local one, cold start through a non-owner node
#      (scripts/lib/bench-cluster.sh)
#   8. adaptive ladder: cold start, renditions, alignment, real time and a
#      player of an `abr` channel (scripts/lib/bench-abr.sh)
# Prints a table and writes BENCHMARKS.md and bench/*.png (gnuplot).
# Numbers only: nothing here passes or fails on a time.
#
#   scripts/bench.sh [--quick]     (--quick: fewer runs, a few minutes)
#   scripts/bench.sh --soak MINUTES  (1 to 120: only the soak, see
#                                   scripts/lib/soak.sh; its own section)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# shellcheck source=scripts/lib/stack.sh
. scripts/lib/stack.sh

quick=0 SOAK_MINUTES=0
case "${1:-}" in
--quick) quick=1 ;;
--soak)
    SOAK_MINUTES=${2:-}
    case $SOAK_MINUTES in
    [1-9] | [1-9][0-9] | 1[01][0-9] | 120) ;;
    *) echo "usage: $0 [--quick | --soak MINUTES (1-120)]" >&2; exit 2 ;;
    esac
    ;;
"") ;;
*) echo "usage: $0 [--quick | --soak MINUTES (1-120)]" >&2; exit 2 ;;
esac
if [ "$SOAK_MINUTES" != 0 ]; then
    COLD_RUNS=0; HERD=0; CHANNELS=30; WRK_SECS=0; ROUNDS=0; IDLE=15s
elif [ $quick = 1 ]; then
    COLD_RUNS=8; HERD=300; CHANNELS=20; WRK_SECS=4; ROUNDS=3; IDLE=20s
else
    COLD_RUNS=20; HERD=1000; CHANNELS=200; WRK_SECS=6; ROUNDS=5; IDLE=60s
fi

sh scripts/setup.sh
missing=""
for p in wrk gnuplot-nox; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
stage=$(sh scripts/build.sh | tail -n 1)
cargo build --release --locked --bin herd >&2

stack_init bench "$stage"
run=$STACK_RUN
mkdir -p "$run/hls" "$run/nginx" bench
chmod 755 "$run/hls"

PORT=18480 RPORT=18479 OPORT=18478
stack_redis $RPORT --maxclients 10000
stack_origin $OPORT --keyint 1 --size 160x120

sup() { "$stage/bin/stream-supervisor" --socket "$run/sup.sock" --redis-url "redis://127.0.0.1:$RPORT/0" "$@"; }
sup channels add 1 --source "http://127.0.0.1:$OPORT/live.ts" --quality copy >/dev/null
# The same source through a GOP cache (starts at its latest keyframe).
sup channels add g1 --source "http://127.0.0.1:$OPORT/gop/live.ts" --quality copy >/dev/null
for i in $(seq 2 $((CHANNELS + 10))); do
    echo "SET channel:$i '{\"source_url\":\"http://127.0.0.1:$OPORT/live.ts\",\"quality\":\"copy\"}'"
done | redis-cli -p $RPORT >/dev/null
sup users add bench >/dev/null
token=$(sup tokens issue bench)

ulimit -n 65536 2>/dev/null || true
# The stops below go through nginx's API: its workers (nobody) must be
# operators of the supervisor.
start_supervisor() {
    stack_supervisor "$run/sup.sock" --redis-url "redis://127.0.0.1:$RPORT/0" \
        --socket-mode 666 --hls-dir "$run/hls" --idle-timeout "$IDLE" \
        --max-streams $((CHANNELS + 20)) --segment-duration 4s \
        --allow-upstream-networks 127.0.0.0/8 \
        --operator-group "$(id -gn nobody 2>/dev/null || echo nogroup)"
    suppid=$(daemon_pid supervisor)
}
start_supervisor

cat >"$run/nginx/nginx.conf" <<EOF
load_module $stage/modules/ngx_http_stream_autostart_module.so;
worker_processes 1;
worker_rlimit_nofile 65536;
pid $run/nginx/nginx.pid;
error_log $run/nginx/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; text/plain txt; audio/x-mpegurl m3u; }
    client_body_temp_path $run/nginx/body;
    proxy_temp_path $run/nginx/proxy;
    fastcgi_temp_path $run/nginx/fastcgi;
    uwsgi_temp_path $run/nginx/uwsgi;
    scgi_temp_path $run/nginx/scgi;
    server {
        listen 127.0.0.1:$PORT backlog=4096;
        stream_autostart_supervisor unix:$run/sup.sock;
        stream_autostart_wait 60s;
        location /plain/ { alias $run/hls/; }
        # nginx's best static serving: open descriptors and sizes cached
        # (valid 1 s: a live playlist is replaced every segment).
        location /ofc/ {
            alias $run/hls/;
            open_file_cache max=1000 inactive=20s;
            open_file_cache_valid 1s;
        }
        # The module's channel M3U, the same bytes as static files (and
        # their .gz for clients that accept gzip).
        location /m3u/ {
            alias $run/m3u/;
            gzip_static on;
            gzip_vary on;
            open_file_cache max=1000 inactive=20s;
            open_file_cache_valid 1s;
        }
        # The module's segment location without the module: what the regex
        # match and the alias with a variable cost by themselves.
        location ~ ^/plainre/(?<pseg>stream_[A-Za-z0-9_-]+_[0-9]+\.ts)\$ {
            alias $run/hls/\$pseg;
        }
        location = /static.txt { alias $run/static.txt; }
        location = /playlist.m3u {
            stream_autostart_m3u "http://\$http_host/live/stream_{channel}.m3u8";
        }
        location /api/ { stream_autostart_api; }
        location = /metrics { stream_autostart_metrics; }
        location ~ ^/live/stream_(?<channel>[A-Za-z0-9_-]+)\.m3u8\$ {
            alias $run/hls/stream_\$channel.m3u8;
            stream_autostart \$channel;
        }
        # An adaptive ladder's rendition playlists (section 8); after the
        # channel playlists, so their warm path is not matched here first.
        location ~ ^/live/stream_(?<vch>[A-Za-z0-9_-]+)\.(?<v>[0-9]+)\.m3u8\$ {
            alias $run/hls/stream_\$vch.\$v.m3u8;
            stream_autostart \$vch;
        }
        location ~ ^/live/(?<segment>stream_(?<ch>[A-Za-z0-9_-]+)_[0-9]+\.ts)\$ {
            alias $run/hls/\$segment;
            stream_autostart_segment \$ch;
        }
    }
}
EOF
echo ok >"$run/static.txt"
stack_nginx nginx $PORT "$run/nginx" "$run/nginx/nginx.conf"
base="http://127.0.0.1:$PORT"

if [ "$SOAK_MINUTES" != 0 ]; then
    # shellcheck source=scripts/lib/soak.sh
    . scripts/lib/soak.sh
    exit 0
fi

ms() { awk '{ printf "%.0f", $1 * 1000 }'; }
stats() { # reads numbers, prints "median p95 max"
    sort -n | awk '{ a[NR] = $1 } END {
        m = a[int((NR + 1) / 2)]; p = a[int(NR * 0.95 + 0.999)]; if (p == "") p = a[NR];
        printf "%s %s %s\n", m, p, a[NR] }'
}
wrk_run() { # url [wrk options] -> "req/s p99_ms"
    # A run that got errors measured something else: said on stderr.
    wrk -t1 -c32 -d"${WRK_SECS}s" --latency "${@:2}" "$1" 2>/dev/null | awk -v url="${1%%\?*}" '
        /Non-2xx|Socket errors/ { print "bench: " url ": " $0 > "/dev/stderr" }
        /Requests\/sec/ { rps = $2 }
        /^ +99%/ { v = $2; if (v ~ /us$/) { sub(/us/, "", v); v = v / 1000 }
                   else if (v ~ /ms$/) { sub(/ms/, "", v) }
                   else if (v ~ /s$/) { sub(/s/, "", v); v = v * 1000 }
                   p99 = v }
        END { printf "%.0f %.2f\n", rps, p99 }'
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# wrk_run while a scraper asks for /metrics every second on one kept-alive
# connection, as Prometheus does (one curl, --rate); stopped by its PID.
wrk_scraped() {
    curl -s --rate 1/s "$base/metrics?scrape=[1-100000]" >/dev/null 2>&1 &
    local scraper=$!
    wrk_run "$1"
    kill "$scraper" 2>/dev/null || true
    wait "$scraper" 2>/dev/null || true
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
warm() { awk -v k="$1" -v f="$2" '$1 == k { print $f }' "$run/warm.txt" | median; }
# nginx's workers: `set_workers auto` reloads nginx with one per core and
# returns once only the new ones are left.
set_workers() {
    local master want old now
    master=$(daemon_pid nginx)
    want=$([ "$1" = auto ] && nproc || echo "$1")
    old=$(pgrep -P "$master" | sort)
    sed -i "s/^worker_processes .*/worker_processes $1;/" "$run/nginx/nginx.conf"
    kill -HUP "$master"
    for _ in $(seq 300); do
        now=$(pgrep -P "$master" | sort)
        if [ "$(echo "$now" | grep -c .)" = "$want" ] && [ -z "$(comm -12 <(echo "$old") <(echo "$now"))" ]; then
            return 0
        fi
        sleep 0.1
    done
    echo "bench: nginx did not reload with worker_processes $1" >&2
}
# One warm-path round; $1 prefixes the names ("" or "w2_"), $2 "full"
# also measures the scraped playlist and the regex location.
warm_round() {
    {
        echo "${1}pl_plain $(wrk_run "$base/plain/stream_1.m3u8")"
        echo "${1}pl_ofc $(wrk_run "$base/ofc/stream_1.m3u8")"
        echo "${1}pl_mod $(wrk_run "$base/live/stream_1.m3u8?token=$token")"
        [ "$2" != full ] || echo "${1}pl_scrape $(wrk_scraped "$base/live/stream_1.m3u8?token=$token")"
        # One segment for the segment runs, so every side sends the same
        # file: the newest, taken now (it stays on disk about nine
        # segments, 36 s; the four runs take 4 x WRK_SECS).
        seg=$(grep -o 'stream_1_[0-9]*\.ts' "$run/hls/stream_1.m3u8" | tail -n 1)
        seg_bytes=$(stat -c %s "$run/hls/$seg" 2>/dev/null || echo 0)
        echo "${1}sg_plain $(wrk_run "$base/plain/$seg")"
        echo "${1}sg_ofc $(wrk_run "$base/ofc/$seg")"
        [ "$2" != full ] || echo "${1}sg_re $(wrk_run "$base/plainre/$seg")"
        echo "${1}sg_mod $(wrk_run "$base/live/$seg?token=$token")"
    } >>"$run/warm.txt"
}

echo "== 1. warm path ($ROUNDS rounds, static and module alternating; 1 worker)" >&2
curl -s -o /dev/null "$base/live/stream_1.m3u8?token=$token"
sleep 9   # a few segments
: >"$run/warm.txt"
for _ in $(seq "$ROUNDS"); do warm_round "" full; done
for k in pl_plain pl_ofc pl_mod pl_scrape sg_plain sg_ofc sg_re sg_mod; do
    eval "${k}_rps=\$(warm $k 2); ${k}_p99=\$(warm $k 3)"
done
pl_ratio=$(ratio "$pl_mod_rps" "$pl_plain_rps")
pl_ofc_ratio=$(ratio "$pl_mod_rps" "$pl_ofc_rps")
sg_ratio=$(ratio "$sg_mod_rps" "$sg_plain_rps")
sg_ofc_ratio=$(ratio "$sg_mod_rps" "$sg_ofc_rps")
scrape_ratio=$(ratio "$pl_scrape_rps" "$pl_mod_rps")
scrape_bytes=$(curl -s "$base/metrics" | wc -c)

# shellcheck source=scripts/lib/bench-cold.sh
. scripts/lib/bench-cold.sh
cold_section

# One herd on cold channel $1; sets herd_<name> variables with prefix $2.
herd_run() {
    local h
    h=$("$root/target/release/herd" --addr 127.0.0.1:$PORT --path "/live/stream_$1.m3u8?token=$token" \
        --concurrency "$HERD" --probe /static.txt)
    eval "${2}herd_200=$(echo "$h" | sed -n 's/.*"200":\([0-9]*\).*/\1/p')"
    eval "${2}herd_p50=$(echo "$h" | sed -n 's/.*"p50_ms":\([0-9.]*\).*/\1/p' | awk '{ printf "%.0f", $1 }')"
    eval "${2}herd_p99=$(echo "$h" | sed -n 's/.*"p99_ms":\([0-9.]*\).*/\1/p' | awk '{ printf "%.0f", $1 }')"
    eval "${2}probe_p99=$(echo "$h" | sed -n 's/.*"probe_p99_ms":\([0-9.]*\).*/\1/p' | awk '{ printf "%.2f", $1 }')"
    eval "${2}probe_max=$(echo "$h" | sed -n 's/.*"probe_max_ms":\([0-9.]*\).*/\1/p' | awk '{ printf "%.0f", $1 }')"
    eval "${2}herd_ffmpeg=$(grep -c "ffmpeg started channel=$1 " "$run/supervisor.log" || true)"
}
echo "== 3. herd ($HERD concurrent first requests; 1 worker)" >&2
herd_run 2 ""

echo "== 1b, 3b. warm path ($ROUNDS rounds) and herd with worker_processes auto ($(nproc) workers)" >&2
set_workers auto
# Each worker's caches warm up on its own first requests.
for _ in 1 2 3 4; do curl -s -o /dev/null "$base/live/stream_1.m3u8?token=$token"; done
for _ in $(seq "$ROUNDS"); do warm_round w2_ part; done
for k in pl_plain pl_ofc pl_mod sg_plain sg_ofc sg_mod; do
    eval "w2_${k}_rps=\$(warm w2_$k 2); w2_${k}_p99=\$(warm w2_$k 3)"
done
w2_pl_ratio=$(ratio "$w2_pl_mod_rps" "$w2_pl_plain_rps")
w2_pl_ofc_ratio=$(ratio "$w2_pl_mod_rps" "$w2_pl_ofc_rps")
w2_sg_ratio=$(ratio "$w2_sg_mod_rps" "$w2_sg_plain_rps")
w2_sg_ofc_ratio=$(ratio "$w2_sg_mod_rps" "$w2_sg_ofc_rps")
herd_run $((CHANNELS + 5)) w2_
set_workers 1

echo "== 4. many channels ($CHANNELS)" >&2
rss() { awk '/VmRSS/ { print $2 }' "/proc/$1/status"; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
worker=$(pgrep -P "$(daemon_pid nginx)" | head -n 1)
# A fresh supervisor, so its memory before and after is its own per-stream
# cost and not what earlier measurements left in its allocator.
daemon_stop supervisor
start_supervisor
sleep 1
sup_rss0=$(rss "$suppid"); ngx_rss0=$(rss "$worker")
t0=$(date +%s%N)
seq 3 $((CHANNELS + 2)) | xargs -P 16 -I{} curl -s -o /dev/null -m 60 "$base/live/stream_{}.m3u8?token=$token"
start_all=$(awk -v t="$(( $(date +%s%N) - t0 ))" 'BEGIN { printf "%.1f", t / 1e9 }')
# (Processes may end while these loops run: they must not end the script.)
ffmpegs() {
    for p in $(pgrep -x ffmpeg || true); do
        if tr '\0' ' ' <"/proc/$p/environ" 2>/dev/null | grep "STREAM_SUPERVISOR_HLS_DIR=$run/hls" >/dev/null; then echo "$p"; fi
    done
}
ff_pids=$(ffmpegs)
ff_t0=$(for p in $ff_pids; do ticks "$p" 2>/dev/null || true; done | awk '{ s += $1 } END { print s + 0 }')
t0=$(ticks "$suppid"); sleep 10; t1=$(ticks "$suppid")
ff_t1=$(for p in $ff_pids; do ticks "$p" 2>/dev/null || true; done | awk '{ s += $1 } END { print s + 0 }')
live=$(sup list --json | grep -c '"state": "ready"' || true)
sup_cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" 'BEGIN { printf "%.1f", (b - a) / hz / 10 * 100 }')
ff_cpu=$(awk -v a="$ff_t0" -v b="$ff_t1" -v hz="$hz" 'BEGIN { printf "%.0f", (b - a) / hz / 10 * 100 }')
sup_rss=$(rss "$suppid"); ngx_rss=$(rss "$worker")
per_stream=$(awk -v a="$sup_rss0" -v b="$sup_rss" -v n="$live" 'BEGIN { if (n > 0) printf "%.0f", (b - a) / n; else print "-" }')
ffmpeg_rss=$(for p in $ff_pids; do rss "$p" 2>/dev/null || true; done | awk '{ s += $1; n++ } END { if (n) printf "%.0f", s / n; else print "-" }')
load=$(cut -d' ' -f1 /proc/loadavg)
for i in $(seq 3 $((CHANNELS + 2))); do echo "{\"channel_id\":\"$i\"}"; done \
    | xargs -d '\n' -P 16 -I{} curl -s -o /dev/null -X POST -H 'Content-Type: application/json' -d {} "$base/api/stream/stop"

echo "== 5. catalog (3931 channels)" >&2
for i in $(seq 100001 $((100000 + 3931 - CHANNELS - 11))); do
    echo "SET channel:$i '{\"source_url\":\"http://127.0.0.1:9/$i.ts\",\"name\":\"Channel $i\",\"group\":\"Bench\"}'"
done | redis-cli -p $RPORT >/dev/null
sleep 11   # both catalog caches expire
# The same bytes as static files: the plain M3U and the gzip member.
mkdir -p "$run/m3u"
curl -s -o "$run/m3u/catalog.m3u" "$base/playlist.m3u?token=$token"
curl -s -H 'Accept-Encoding: gzip' -o "$run/m3u/catalog.m3u.gz" "$base/playlist.m3u?token=$token"
m3u_count=$(grep -c '^#EXTINF' "$run/m3u/catalog.m3u")
m3u_bytes=$(stat -c %s "$run/m3u/catalog.m3u")
m3u_gz_bytes=$(stat -c %s "$run/m3u/catalog.m3u.gz")
gunzip -c "$run/m3u/catalog.m3u.gz" | cmp -s - "$run/m3u/catalog.m3u" \
    || echo "bench: the gzip M3U does not unzip to the plain one" >&2
gz=(-H 'Accept-Encoding: gzip')
: >"$run/m3u.txt"
for _ in $(seq "$ROUNDS"); do
    {
        echo "m3u_static $(wrk_run "$base/m3u/catalog.m3u")"
        echo "m3u_mod $(wrk_run "$base/playlist.m3u?token=$token")"
        echo "m3u_gz_static $(wrk_run "$base/m3u/catalog.m3u" "${gz[@]}")"
        echo "m3u_gz_mod $(wrk_run "$base/playlist.m3u?token=$token" "${gz[@]}")"
    } >>"$run/m3u.txt"
done
m3u() { awk -v k="$1" -v f="$2" '$1 == k { print $f }' "$run/m3u.txt" | median; }
for k in m3u_static m3u_mod m3u_gz_static m3u_gz_mod; do
    eval "${k}_rps=\$(m3u $k 2); ${k}_p99=\$(m3u $k 3)"
done
m3u_ratio=$(ratio "$m3u_mod_rps" "$m3u_static_rps")
m3u_gz_ratio=$(ratio "$m3u_gz_mod_rps" "$m3u_gz_static_rps")

echo "== 6. idle reclaim (idle timeout $IDLE)" >&2
# A viewer: the first request starts the channel, then a player's playlist
# refresh every second for 5 s, then nothing.
curl -s -o /dev/null "$base/live/stream_1.m3u8?token=$token"
for _ in 1 2 3 4 5; do sleep 1; curl -s -o /dev/null "$base/live/stream_1.m3u8?token=$token"; done
last=$(date +%s.%N)
while sup status 1 >/dev/null 2>&1; do sleep 0.1; done
gone=$(date +%s.%N)
reclaim=$(awk -v a="$last" -v b="$gone" 'BEGIN { printf "%.1f", b - a }')
# The module reports viewers every idle/3 (1 to 10 s), so the supervisor's
# last "watched" is up to that long before the last request.
touch_s=$(awk -v i="${IDLE%s}" 'BEGIN { t = i / 3; if (t > 10) t = 10; if (t < 1) t = 1; printf "%.1f", t }')

# shellcheck source=scripts/lib/bench-cluster.sh
. scripts/lib/bench-cluster.sh
# shellcheck source=scripts/lib/bench-abr.sh
. scripts/lib/bench-abr.sh

cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
cores=$(nproc)
mem=$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
nginx_v=$("$stage/sbin/nginx" -v 2>&1 | sed 's/.*\///')

cold_plots
cat >bench/warm.dat <<EOF
playlist $pl_plain_rps $pl_ofc_rps $pl_mod_rps
segment $sg_plain_rps $sg_ofc_rps $sg_mod_rps
playlist,2w $w2_pl_plain_rps $w2_pl_ofc_rps $w2_pl_mod_rps
segment,2w $w2_sg_plain_rps $w2_sg_ofc_rps $w2_sg_mod_rps
EOF
gnuplot <<EOF
set terminal png size 800,450 noenhanced
set output "bench/warm-path.png"
set title "Warm path: requests/s, nginx static vs stream_autostart (1 worker; 2w: worker_processes auto)"
set style data histograms; set style histogram clustered; set style fill solid 0.8
set ylabel "requests/s"; set yrange [0:*]; set grid ytics
plot "bench/warm.dat" using 2:xtic(1) title "plain static", "" using 3 title "static, open_file_cache", "" using 4 title "stream_autostart"
EOF

table=$(cat <<EOF
| measurement | result | target |
|---|---|---|
| warm playlist, plain static | $pl_plain_rps req/s, p99 $pl_plain_p99 ms | |
| warm playlist, static with open_file_cache | $pl_ofc_rps req/s, p99 $pl_ofc_p99 ms | |
| warm playlist, stream_autostart (token cached, URIs rewritten) | $pl_mod_rps req/s, p99 $pl_mod_p99 ms, **ratio $pl_ratio** to plain, **$pl_ofc_ratio** to open_file_cache | ≥ 0.90, ≥ 1.0 |
| warm playlist, stream_autostart, /metrics scraped every second ($scrape_bytes bytes) | $pl_scrape_rps req/s, p99 $pl_scrape_p99 ms, **ratio $scrape_ratio** to unscraped | ≥ 0.95 |
| warm segment ($seg_bytes bytes), plain static | $sg_plain_rps req/s, p99 $sg_plain_p99 ms | |
| warm segment, the same regex location without the module | $sg_re_rps req/s, p99 $sg_re_p99 ms | |
| warm segment, static with open_file_cache | $sg_ofc_rps req/s, p99 $sg_ofc_p99 ms | |
| warm segment, stream_autostart_segment | $sg_mod_rps req/s, p99 $sg_mod_p99 ms, **ratio $sg_ratio** to plain, $sg_ofc_ratio to open_file_cache | ≥ 0.95 |
| warm playlist, $(nproc) workers: plain / open_file_cache / stream_autostart | $w2_pl_plain_rps / $w2_pl_ofc_rps / $w2_pl_mod_rps req/s (p99 $w2_pl_plain_p99 / $w2_pl_ofc_p99 / $w2_pl_mod_p99 ms), **ratio $w2_pl_ratio** to plain, **$w2_pl_ofc_ratio** to open_file_cache | ≥ 1.0 |
| warm segment, $(nproc) workers: plain / open_file_cache / stream_autostart_segment | $w2_sg_plain_rps / $w2_sg_ofc_rps / $w2_sg_mod_rps req/s (p99 $w2_sg_plain_p99 / $w2_sg_ofc_p99 / $w2_sg_mod_p99 ms), **ratio $w2_sg_ratio** to plain, $w2_sg_ofc_ratio to open_file_cache | |
| cold start, live origin (1 s keyframes), $COLD_RUNS runs | median $cold_med ms, p95 $cold_p95 ms, max $cold_max ms | median < 1000 ms, p95 < 1500 ms |
| cold start, origin with a GOP cache, $COLD_RUNS runs | median $gop_med ms, p95 $gop_p95 ms, max $gop_max ms | |
| of which outside ffmpeg (request, supervisor, spawn, readiness, wake-up) | median $outside ms; ffmpeg's own exec: $exec_ms ms | |
| herd: $HERD concurrent first requests, one cold channel | $herd_200 × 200, ffmpeg started $herd_ffmpeg time(s), p50 $herd_p50 ms, p99 $herd_p99 ms | all 200, one ffmpeg |
| static probe during the herd | p99 $probe_p99 ms, max $probe_max ms | p99 < 10 ms |
| herd, $(nproc) workers: $HERD concurrent first requests, one cold channel | $w2_herd_200 × 200, ffmpeg started $w2_herd_ffmpeg time(s), p50 $w2_herd_p50 ms, p99 $w2_herd_p99 ms; static probe p99 $w2_probe_p99 ms, max $w2_probe_max ms | all 200, one ffmpeg |
| $CHANNELS copy channels at once | $live ready after 10 s (all started in $start_all s); supervisor RSS $sup_rss0 → $sup_rss KiB (**$per_stream KiB per stream**), CPU $sup_cpu % of a core; nginx worker RSS $ngx_rss0 → $ngx_rss KiB; ffmpeg: $ffmpeg_rss KiB RSS each, $ff_cpu % of a core in all; load $load | 200 |
| channel M3U, $m3u_count channels, as a static file (open_file_cache) | $m3u_bytes bytes, $m3u_static_rps req/s, p99 $m3u_static_p99 ms | |
| channel M3U, stream_autostart_m3u (viewer's token) | $m3u_mod_rps req/s, p99 $m3u_mod_p99 ms, **ratio $m3u_ratio** | ≥ 0.5 |
| channel M3U gzip, static (gzip_static, the same $m3u_gz_bytes bytes) | $m3u_gz_static_rps req/s, p99 $m3u_gz_static_p99 ms | |
| channel M3U gzip, stream_autostart_m3u (precompressed, viewer's token) | $m3u_gz_mod_rps req/s, p99 $m3u_gz_mod_p99 ms, **ratio $m3u_gz_ratio** | ≥ 0.5 |
$abr_row
| idle reclaim, idle timeout $IDLE | stopped $reclaim s after the last request (viewers reported every $touch_s s) | |
| cluster placement: $CL_CHANNELS cold channels through 3 nodes in turn | $cl_placed_ok × 200; channels per node $cl_spread (max $cl_max, min $cl_min); $cl_ffmpegs ffmpeg | one ffmpeg per channel |
| cluster: warm segment ($cl_seg_bytes bytes) from its owner | $cl_local_rps req/s, p99 $cl_local_p99 ms | |
| cluster: the same segment through an edge node (@location, proxy_cache off) | $cl_edge_rps req/s, p99 $cl_edge_p99 ms, **ratio $cl_edge_ratio** to the owner | |
| cluster: through an edge node with proxy_cache | $cl_cached_rps req/s, p99 $cl_cached_p99 ms, **ratio $cl_cached_ratio** to the owner | |
| cluster: through an edge node, proxy_cache off, keep-alive to the owner (upstream{} per node) | $cl_pooled_rps req/s, p99 $cl_pooled_p99 ms, **ratio $cl_pooled_ratio** to the owner | |
| cluster: the same with proxy_buffers that hold the segment (64 16k) | $cl_buffered_rps req/s, p99 $cl_buffered_p99 ms, **ratio $cl_buffered_ratio** to the owner | |
| cluster: cold start through the owner / through a non-owner (drained) node, $CL_COLD runs each | median $cl_cold_own_med / $cl_cold_edge_med ms (p95 $cl_cold_own_p95 / $cl_cold_edge_p95 ms), **ratio $cl_cold_ratio** | |
EOF
)
echo "$table"

# The soak section (bench.sh --soak) is its own run's: kept as it is.
soak_section=$(sed -n '/^<!-- soak:/,/^<!-- \/soak -->/p' BENCHMARKS.md 2>/dev/null || true)
cat >BENCHMARKS.md <<EOF
# Benchmarks

Produced by \`scripts/bench.sh$([ $quick = 1 ] && echo " --quick")\` on $(date -u +%Y-%m-%d): $cpu, $cores cores, $mem;
nginx $nginx_v (vendored, 1 worker unless a row says otherwise, access log off), module and supervisor
from this commit ($(git rev-parse --short HEAD)), all on 127.0.0.1. Rerun it
to get numbers for your machine; they are not asserted anywhere.

$table

![cold start](bench/cold-start.png)
![cold start stages](bench/cold-stages.png)
![warm path](bench/warm-path.png)

## Where a cold start's time goes

Medians in ms, from the supervisor's \`ready\` log line (the segmenter
times each stage of a copy-mode run) and curl:

| stage | live origin | origin with a GOP cache |
|---|---|---|
| request to ffmpeg spawned (module, token, supervisor's \`ensure\`, Redis, fork and exec) | $live_spawn | $gop_spawn |
| spawn to ffmpeg's first output byte (ffmpeg's start, connect, probe) | $live_first_byte | $gop_first_byte |
| spawn to the first key frame | $live_keyframe | $gop_keyframe |
| spawn to the first segment published | $live_segment | $gop_segment |
| spawn to ready (the run loop, woken by the segmenter) | $live_ready | $gop_ready |
| ready to the answer (the held request's wake-up, curl) | $live_wake | $gop_wake |
| request to answer | $cold_med | $gop_med |

- **ffmpeg's start**: $exec_ms ms to exec ffmpeg and load its shared
  libraries; then it connects and probes the source (0.2 s:
  \`-analyzeduration 200000 -fpsprobesize 0\`) before it writes a
  byte of MPEG-TS to the supervisor's pipe, and it writes no video
  before the first key frame.
- **The first key frame**: a live origin sends from the moment ffmpeg
  connects, so a segment's first key frame comes 0 to 1 s later (0.5 s
  at the median). An origin with a GOP cache starts at its latest key
  frame: no wait.
- **The first segment**: in copy mode the supervisor cuts the segments
  itself (\`supervisor/src/segmenter/\`): the first one ends at the first
  audio or video frame 0.2 s after the first key frame
  (\`--first-segment-duration\`), not at the next key frame a whole
  keyframe interval later, as ffmpeg's hls muxer would. The second
  segment runs to the next key frame; it does not begin with one, so the
  playlist never lets a player start there (it leaves the list when the
  fourth segment is published). ffmpeg writes each packet to the pipe at
  once (\`-flush_packets 1\`).

So a live origin's median is about ffmpeg's start + 0.5 s + 0.2 s. A
GOP cache sends its latest key frame and what followed at once, so the
first segment is there as soon as ffmpeg's probe is done.

## How each number is taken

1. **Warm path**: \`wrk -t1 -c32 -d${WRK_SECS}s --latency\` on the same ready
   playlist and segment, through \`location /plain/ { alias <hls>/; }\`,
   through nginx's best static serving (the same with
   \`open_file_cache max=1000 inactive=20s; open_file_cache_valid 1s;\`:
   no open or stat per request, a playlist up to 1 s old) and through
   the \`stream_autostart\` / \`stream_autostart_segment\` locations with a
   valid (cached) token (segments also through the same regex location
   without the module); $ROUNDS rounds with the sides alternating,
   medians reported (wrk and nginx share the cores, so single runs vary
   by 20 %). Then again after a reload with \`worker_processes auto\`
   ($(nproc) workers here, still one wrk thread). The module serves each playlist version
   from its per-worker cache: a \`stat\` of the path at most every
   0.1 s (a new version is served within 0.1 s of its rename), the token
   written into every segment URI from a pre-parsed template. What it
   does per request beyond static serving: the location's regex, the
   token check (a per-worker cache), masking the token for the logs (one
   pass over the request line, one over the URI, whose copy \`\$args\`
   shares). What it saves: the file itself (static serving, even with
   \`open_file_cache\`, looks the descriptor up and sends a header
   and then the file with \`sendfile\`; the module writes header and
   body from memory with one \`writev\`), which is why it can be
   faster than the best static configuration. The playlist is
   measured once more while one \`curl --rate 1/s\` asks
   \`stream_autostart_metrics\` for the module's and the supervisor's
   metrics every second on a kept-alive connection, as Prometheus does
   (counting itself, relaxed atomic adds in the worker's own slot of the
   shared zone, is in both playlist runs).
2. **Cold start**: \`stream-supervisor stop <channel>\`, a random pause of
   0 to 1 s (viewers do not arrive in step with the source's keyframes),
   then \`curl -w %{time_total}\` of the playlist: from the first request
   to a 200 with a segment. The source (test-origin) sends 1 s keyframes;
   the supervisor's segmenter ends the first segment 0.2 s after the
   first key frame. The live origin sends from the moment a client
   connects, each packet as it is made, so the first key frame comes 0
   to 1 s after ffmpeg connects. The GOP-cache origin (\`/gop/\`, as restreaming servers
   send) starts at its latest keyframe. "Outside ffmpeg" is each run's
   time minus the supervisor's ffmpeg-start-to-ready time; the stages
   come from the supervisor's \`ready\` log line of each run.
3. **Herd**: \`target/release/herd --concurrency $HERD\` opens that many
   connections at once for one cold channel while a probe (its own
   thread, another viewer) requests a static file every 5 ms; with 1
   worker, then another cold channel with \`worker_processes auto\`.
4. **Many channels**: a freshly started supervisor, then $CHANNELS channels
   asked for in parallel (16 at a time); 10 s later, the channels still
   ready, the supervisor's and ffmpegs' CPU over those 10 s from
   /proc/<pid>/stat, RSS from /proc/<pid>/status.
5. **Catalog**: 3,931 channel records; \`wrk\` on \`/playlist.m3u?token=…\`,
   without and with \`Accept-Encoding: gzip\`, against the same bytes
   (the module's own answers, saved) as static files with
   \`open_file_cache\` and \`gzip_static\`; $ROUNDS rounds, medians. The
   supervisor reads the catalog with SCAN + MGET and each worker keeps it
   for 5 s (then one request fetches it again while the others get the
   kept one); each worker renders the M3U once per catalog version, with
   the places of the token, and compresses it once (the first place of
   the token a stored block, the others back-references to it, the CRC
   from a precomputed linear map), so a request copies cached pieces
   with the viewer's token. Both sides are limited by moving the bytes
   over loopback; the module also copies the body into a buffer where
   nginx sends the file.
6. **Idle reclaim**: a viewer (one cold request, then a request a second
   for 5 s), then polling \`stream-supervisor status 1\` every 0.1 s until
   the channel is gone. The module reports viewers to the supervisor at
   most every $touch_s s per worker and channel, and the supervisor allows
   for that: a stream stops between idle timeout and idle timeout +
   $touch_s s after its last request.

## Cluster

Three nodes on 127.0.0.1 (\`scripts/lib/bench-cluster.sh\`), each a
supervisor (\`--node-id\`, lease TTL 10 s) and an nginx (1 worker) with
the cluster key and \`stream_autostart_cluster_proxy @cluster\`, on a
Redis of their own; all of them and wrk share the machine's cores, so
the ratios say more than the rates.

- **Placement**: $CL_CHANNELS cold channels asked for through the nodes in
  turn, 6 at a time; a node starts a channel itself while it has room,
  so the spread follows the requests; the ffmpeg count is every node's.
- **Proxy overhead**: wrk on one ready segment of a channel running on
  n1: from n1 itself, through n2 (\`@cluster\`: the edge checks the
  viewer's token, then proxies to n1 with the cluster key) and through
  n2 with the edge \`proxy_cache\` of [docs/cluster.md](docs/cluster.md)
  (after the first request n2 serves its cached copy); $ROUNDS rounds
  alternating, medians. The edge learns the owner from a playlist
  request first, as a player's own order does.
  Without the cache each edge request is a new HTTP/1.0 connection to
  the owner (a \`proxy_pass\` with variables opens one per request) and
  the segment is copied through the edge's buffers instead of sent with
  sendfile: the owner's work plus the edge's; with the cache, one fetch
  per segment and then the edge serves its file. The keep-alive row is
  the edge without a cache whose \`proxy_pass\` finds an \`upstream{}\`
  with \`keepalive 32\` named as the owner's URL (nodes' URLs are
  \`http://n1\` to \`http://n3\`, as in docs/cluster.md): the connect and
  accept per request are gone. The default \`proxy_buffers\` (8 × 4 KiB)
  hold a tenth of a segment, so the rest goes through a temporary file;
  the last row's buffers hold the segment in memory (1 MiB per request
  in flight). Each round measures two segments (a segment is listed for
  24 s): the owner, no cache and the cache on the first; the owner and the
  keep-alive rows on the second.
- **Cold start through a non-owner**: n3 drained, so a cold request there
  places the channel on n1 or n2 and n3 proxies the playlist (adding the
  viewer's token to its URIs); against a cold request through n1, which
  starts the channel itself. $CL_COLD runs each, random pauses, medians.
EOF
printf '\n%s\n' "$abr_doc" >>BENCHMARKS.md
[ -z "$soak_section" ] || printf '\n%s\n' "$soak_section" >>BENCHMARKS.md
echo "bench: wrote BENCHMARKS.md and bench/*.png" >&2
