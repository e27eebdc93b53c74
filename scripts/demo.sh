#!/bin/bash
# Sets everything up and runs the product for real on 127.0.0.1: a private
# redis-server, a local live test origin (ffmpeg: moving picture and a
# tone), the supervisor and nginx with the module. Prints a PLAY line per
# channel to open in VLC, the M3U and API URLs, an XTREAM line (server,
# user, password) for Xtream players, the EPG URL, the Prometheus
# metrics URL and the operator dashboard's; runs until SIGINT/SIGTERM,
# then stops everything it started.
#
#   DEMO_PORT        nginx port (default 8080)
#   DEMO_REDIS_PORT  private Redis port (default 16379)
#   DEMO_ORIGIN_PORT test origin port (default 18090)
#   DEMO_PICKY_PORT  port of the origin behind 403 + SOCKS5 (default 18091)
#   DEMO_SOCKS_PORT  port of the SOCKS5 proxy (default 11080)
#   DEMO_IDLE        supervisor idle timeout (default 60s)
#   DEMO_LEASE_TTL   with --nodes: the supervisors' --lease-ttl (default 10s)
#
# With `--nodes N` (cluster mode, docs/cluster.md) it runs N nodes on the
# one Redis: per node a supervisor (--node-id nN, its own socket and HLS
# directory) and an nginx on DEMO_PORT+n-1 with the shared cluster key and
# `stream_autostart_cluster_proxy redirect;`. It prints `NODE <n> <url>`
# per node and PLAY lines for every node (each plays, one ffmpeg per
# channel cluster-wide); the other lines are node 1's. Without --nodes the
# demo is the single node it always was.
#
# Channel 1 reads the test origin directly. Channel 2 reads an origin that
# answers 403 unless the request has the right User-Agent and Referer and
# comes through the SOCKS5 proxy the demo starts (microsocks, binding its
# outgoing connections to 127.0.0.2, the only address that origin allows).
# Both have a number, a logo (served by the demo's nginx) and a guide id;
# the demo writes a small XMLTV guide for them (programmes for the hours
# around now) and imports it with `epg import`.
# Channel 3 is the test origin again with the `abr` preset: a master
# playlist over three renditions (transcoded while watched: CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/stack.sh
. scripts/lib/stack.sh

NODES=""
while [ $# -gt 0 ]; do
    case $1 in
    --nodes) NODES=${2:-}; shift 2 || shift ;;
    --nodes=*) NODES=${1#--nodes=}; shift ;;
    *) echo "usage: $0 [--nodes N]" >&2; exit 2 ;;
    esac
done
case $NODES in
'') ;;
[1-9] | [1-9][0-9]) ;;
*) echo "demo: --nodes wants a number of nodes, 1 to 99" >&2; exit 2 ;;
esac

PORT=${DEMO_PORT:-8080}
REDIS_PORT=${DEMO_REDIS_PORT:-16379}
ORIGIN_PORT=${DEMO_ORIGIN_PORT:-18090}
PICKY_PORT=${DEMO_PICKY_PORT:-18091}
SOCKS_PORT=${DEMO_SOCKS_PORT:-11080}
IDLE=${DEMO_IDLE:-60s}

sh scripts/setup.sh
stage=$(sh scripts/build.sh | tail -n 1)

STACK_ANNOUNCE=1
stack_init demo "$stage"
run=$STACK_RUN
mkdir -p "$run/hls" "$run/nginx/logos" "$run/supervisor" "$run/origin"
chmod 755 "$run/hls"

stack_redis "$REDIS_PORT"
stack_origin "$ORIGIN_PORT"
stack_tcp microsocks "$SOCKS_PORT" "$run/socks.log" \
    microsocks -i 127.0.0.1 -p "$SOCKS_PORT" -b 127.0.0.2

# The picky origin: a second nginx (the same binary, no module needed).
sed -e "s|@PREFIX@|$run/origin|g" -e "s|@LISTEN@|127.0.0.1:$PICKY_PORT|" \
    -e "s|@UPSTREAM@|127.0.0.1:$ORIGIN_PORT|" \
    nginx-conf/demo-origin.conf >"$run/origin/nginx.conf"
stack_nginx origin-nginx "$PICKY_PORT" "$run/origin" "$run/origin/nginx.conf"

# The data commands of the supervisor binary write Redis, checked (the
# guide is rendered into the HLS directory, the supervisor's --guide-dir).
data() {
    "$stage/bin/stream-supervisor" --redis-url "redis://127.0.0.1:$REDIS_PORT/0" \
        --hls-dir "$run/hls" "$@"
}
# Logos: a coloured square per channel, made by ffmpeg.
for c in 1:steelblue 2:darkorange; do
    ffmpeg -nostdin -loglevel error -f lavfi -i "color=c=${c#*:}:s=128x128" \
        -frames:v 1 -y "$run/nginx/logos/${c%%:*}.png"
done
logos="http://127.0.0.1:$PORT/logos"
data channels add 1 --source "http://127.0.0.1:$ORIGIN_PORT/live.ts" --quality copy \
    --name "Test pattern" --group Demo --number 1 --guide-id pattern.demo \
    --logo "$logos/1.png" >/dev/null
data channels add 2 --source "http://127.0.0.1:$PICKY_PORT/live.ts" --quality copy \
    --name "Behind 403 and SOCKS5" --group Demo --user-agent DemoPlayer/1.0 \
    --referer http://portal.demo/ --proxy "socks5h://127.0.0.1:$SOCKS_PORT" \
    --number 2 --guide-id picky.demo --logo "$logos/2.png" >/dev/null
data channels add 3 --source "http://127.0.0.1:$ORIGIN_PORT/live.ts" --quality abr \
    --name "Adaptive ladder" --group Demo --number 3 >/dev/null
# The demo user's password: generated, given on stdin (never as an
# argument), printed only in the XTREAM line. The account ends in a year:
# some Xtream apps (pyxtream, Hypnotix) cannot read an account without an
# end date.
password=$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 16)
printf '%s\n' "$password" | data users add demo --password \
    --expires "$(date -u -d '+1 year' +%Y-%m-%dT%H:%M:%SZ)" >/dev/null
token=$(data tokens issue demo)

# A small XMLTV guide for the two channels: an hour-long programme each
# hour from three hours ago to five hours ahead.
xmltv_time() { date -u -d "@$1" '+%Y%m%d%H%M%S +0000'; }
guide_source() {
    local hour=$(( $(date +%s) / 3600 * 3600 )) h start
    echo '<?xml version="1.0" encoding="UTF-8"?>'
    echo '<!DOCTYPE tv SYSTEM "xmltv.dtd">'
    echo '<tv generator-info-name="ngx-stream-autostart demo">'
    echo '  <channel id="pattern.demo"><display-name>Test pattern</display-name></channel>'
    echo '  <channel id="picky.demo"><display-name>Behind 403 and SOCKS5</display-name></channel>'
    for h in -3 -2 -1 0 1 2 3 4; do
        start=$(( hour + h * 3600 ))
        for c in pattern.demo:"Colour bars" picky.demo:"Through the proxy"; do
            printf '  <programme start="%s" stop="%s" channel="%s"><title lang="en">%s at %s</title><desc lang="en">A demo programme.</desc></programme>\n' \
                "$(xmltv_time "$start")" "$(xmltv_time $(( start + 3600 )))" \
                "${c%%:*}" "${c#*:}" "$(date -u -d "@$start" +%H:00)"
        done
    done
    echo '</tv>'
}
guide_source >"$run/guide-source.xml"
data epg import "$run/guide-source.xml" >/dev/null

# nginx workers run as nobody/nogroup: give them the socket through its group.
# The demo serves the operator API through nginx (/api/), so their group is
# also an operator group; without it the API answers 403 "forbidden".
group=$(id -gn nobody 2>/dev/null || echo nogroup)
supervisor_args=(--socket-group "$group" --operator-group "$group"
    --redis-url "redis://127.0.0.1:$REDIS_PORT/0" --idle-timeout "$IDLE"
    --allow-upstream-networks 127.0.0.0/8)
# nginx.conf for a node: PREFIX HLS_DIR SOCKET PORT [LINE...], the lines
# added to its server block after `listen`.
nginx_conf() {
    local prefix=$1 hls=$2 socket=$3 port=$4 line extra=""
    shift 4
    for line in "$@"; do extra="$extra\n        $line"; done
    sed -e "s|@MODULE@|$stage/modules/ngx_http_stream_autostart_module.so|" \
        -e "s|@PREFIX@|$prefix|g" -e "s|@LISTEN@|127.0.0.1:$port|" \
        -e "s|@HLS_DIR@|$hls|g" -e "s|@SOCKET@|$socket|" \
        -e "s|@DASHBOARD@|$PWD/dashboard|" \
        -e "s|^\( *listen 127.0.0.1:$port;\)\$|\1$extra|" \
        nginx-conf/nginx.conf >"$prefix/nginx.conf"
}

if [ -z "$NODES" ]; then
    stack_supervisor "$run/supervisor/supervisor.sock" "${supervisor_args[@]}" \
        --hls-dir "$run/hls"
    chmod 755 "$run/supervisor"

    nginx_conf "$run/nginx" "$run/hls" "$run/supervisor/supervisor.sock" "$PORT"
    stack_nginx nginx "$PORT" "$run/nginx" "$run/nginx/nginx.conf"

    echo "demo: logs in $run (nginx/error.log, supervisor.log); Ctrl-C to stop" >&2
    echo "demo: channel state: $stage/bin/stream-supervisor --socket $run/supervisor/supervisor.sock status" >&2
    echo "PLAY http://127.0.0.1:$PORT/live/stream_1.m3u8?token=$token"
    echo "PLAY http://127.0.0.1:$PORT/live/stream_2.m3u8?token=$token"
    echo "PLAY http://127.0.0.1:$PORT/live/stream_3.m3u8?token=$token"
else
    # The node-to-node key: one file all nodes' nginx read (never in
    # nginx.conf, never printed).
    head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32 >"$run/cluster.key"
    chmod 600 "$run/cluster.key"
    for n in $(seq 1 "$NODES"); do
        node=$run/node$n port=$((PORT + n - 1))
        mkdir -p "$node/hls" "$node/nginx" "$node/supervisor"
        chmod 755 "$node" "$node/hls"
        cp -a "$run/nginx/logos" "$node/nginx/"
        stack_supervisor_as "supervisor-n$n" "$node/supervisor/supervisor.sock" \
            "${supervisor_args[@]}" --hls-dir "$node/hls" --node-id "n$n" \
            --node-url "http://127.0.0.1:$port" --lease-ttl "${DEMO_LEASE_TTL:-10s}"
        chmod 755 "$node/supervisor"
        nginx_conf "$node/nginx" "$node/hls" "$node/supervisor/supervisor.sock" "$port" \
            "stream_autostart_cluster_key $run/cluster.key;" \
            "stream_autostart_cluster_proxy redirect;"
        stack_nginx "nginx-n$n" "$port" "$node/nginx" "$node/nginx/nginx.conf"
    done

    echo "demo: logs in $run (node<n>/nginx/error.log, supervisor-n<n>.log); Ctrl-C to stop" >&2
    echo "demo: nodes: $stage/bin/stream-supervisor --redis-url redis://127.0.0.1:$REDIS_PORT/0 nodes list" >&2
    for n in $(seq 1 "$NODES"); do
        echo "NODE $n http://127.0.0.1:$((PORT + n - 1))"
    done
    for n in $(seq 1 "$NODES"); do
        echo "PLAY http://127.0.0.1:$((PORT + n - 1))/live/stream_1.m3u8?token=$token"
        echo "PLAY http://127.0.0.1:$((PORT + n - 1))/live/stream_2.m3u8?token=$token"
        echo "PLAY http://127.0.0.1:$((PORT + n - 1))/live/stream_3.m3u8?token=$token"
    done
fi
echo "M3U http://127.0.0.1:$PORT/playlist.m3u?token=$token"
echo "API http://127.0.0.1:$PORT/api/streams/active"
echo "XTREAM http://127.0.0.1:$PORT demo $password"
echo "EPG http://127.0.0.1:$PORT/epg.xml?token=$token"
echo "METRICS http://127.0.0.1:$PORT/metrics"
echo "DASHBOARD http://127.0.0.1:$PORT/api/dashboard/"

stack_idle
