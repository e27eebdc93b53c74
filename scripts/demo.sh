#!/bin/bash
# Sets everything up and runs the product for real on 127.0.0.1: a private
# redis-server, a local live test origin (ffmpeg: moving picture and a
# tone), the supervisor and nginx with the module. Prints a PLAY line per
# channel to open in VLC, runs until SIGINT/SIGTERM, then stops everything
# it started.
#
#   DEMO_PORT        nginx port (default 8080)
#   DEMO_REDIS_PORT  private Redis port (default 16379)
#   DEMO_ORIGIN_PORT test origin port (default 18090)
#   DEMO_PICKY_PORT  port of the origin behind 403 + SOCKS5 (default 18091)
#   DEMO_SOCKS_PORT  port of the SOCKS5 proxy (default 11080)
#   DEMO_IDLE        supervisor idle timeout (default 60s)
#
# Channel 1 reads the test origin directly. Channel 2 reads an origin that
# answers 403 unless the request has the right User-Agent and Referer and
# comes through the SOCKS5 proxy the demo starts (microsocks, binding its
# outgoing connections to 127.0.0.2, the only address that origin allows).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

PORT=${DEMO_PORT:-8080}
REDIS_PORT=${DEMO_REDIS_PORT:-16379}
ORIGIN_PORT=${DEMO_ORIGIN_PORT:-18090}
PICKY_PORT=${DEMO_PICKY_PORT:-18091}
SOCKS_PORT=${DEMO_SOCKS_PORT:-11080}
IDLE=${DEMO_IDLE:-60s}

sh scripts/setup.sh
stage=$(sh scripts/build.sh | tail -n 1)

run=$(mktemp -d /tmp/stream-autostart-demo.XXXXXX)
chmod 755 "$run"
mkdir -p "$run/hls" "$run/nginx" "$run/supervisor" "$run/origin"
chmod 755 "$run/hls"

pids=""
sleeper=""
cleanup() {
    # A second Ctrl-C must not cut the clean-up short.
    trap '' INT TERM
    trap - EXIT
    echo "demo: stopping" >&2
    [ -n "$sleeper" ] && kill "$sleeper" 2>/dev/null || true
    for n in nginx origin; do
        [ -f "$run/$n/nginx.pid" ] && kill -QUIT "$(cat "$run/$n/nginx.pid")" 2>/dev/null || true
    done
    for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
    for p in $pids; do
        i=0
        while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        kill -KILL "$p" 2>/dev/null || true
    done
    i=0
    while { [ -f "$run/nginx/nginx.pid" ] || [ -f "$run/origin/nginx.pid" ]; } && [ $i -lt 50 ]; do
        sleep 0.1; i=$((i + 1))
    done
    rm -rf "$run"
    echo "demo: stopped" >&2
}
trap cleanup EXIT
trap "exit 130" INT
trap "exit 143" TERM

wait_port() {
    i=0
    until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
        i=$((i + 1)); [ $i -gt 100 ] && { echo "demo: nothing listens on port $1" >&2; exit 1; }
        sleep 0.1
    done
}

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$run" --logfile "$run/redis.log" &
pids="$pids $!"
"$stage/bin/test-origin" --listen "127.0.0.1:$ORIGIN_PORT" 2>"$run/origin.log" &
pids="$pids $!"
microsocks -i 127.0.0.1 -p "$SOCKS_PORT" -b 127.0.0.2 >"$run/socks.log" 2>&1 &
pids="$pids $!"
wait_port "$REDIS_PORT"
wait_port "$ORIGIN_PORT"
wait_port "$SOCKS_PORT"

# The picky origin: a second nginx (the same binary, no module needed).
sed -e "s|@PREFIX@|$run/origin|g" -e "s|@LISTEN@|127.0.0.1:$PICKY_PORT|" \
    -e "s|@UPSTREAM@|127.0.0.1:$ORIGIN_PORT|" \
    nginx-conf/demo-origin.conf >"$run/origin/nginx.conf"
"$stage/sbin/nginx" -p "$run/origin/" -c "$run/origin/nginx.conf" -e "$run/origin/error.log"
wait_port "$PICKY_PORT"

# The data commands of the supervisor binary write Redis, checked.
data() { "$stage/bin/stream-supervisor" --redis-url "redis://127.0.0.1:$REDIS_PORT/0" "$@"; }
data channels add 1 --source "http://127.0.0.1:$ORIGIN_PORT/live.ts" --quality copy \
    --name "Test pattern" --group Demo >/dev/null
data channels add 2 --source "http://127.0.0.1:$PICKY_PORT/live.ts" --quality copy \
    --name "Behind 403 and SOCKS5" --group Demo --user-agent DemoPlayer/1.0 \
    --referer http://portal.demo/ --proxy "socks5h://127.0.0.1:$SOCKS_PORT" >/dev/null
data users add demo >/dev/null
token=$(data tokens issue demo)

# nginx workers run as nobody/nogroup: give them the socket through its group.
group=$(id -gn nobody 2>/dev/null || echo nogroup)
"$stage/bin/stream-supervisor" --socket "$run/supervisor/supervisor.sock" \
    --socket-group "$group" --redis-url "redis://127.0.0.1:$REDIS_PORT/0" \
    --hls-dir "$run/hls" --idle-timeout "$IDLE" 2>>"$run/supervisor.log" &
pids="$pids $!"
i=0
until [ -S "$run/supervisor/supervisor.sock" ]; do
    i=$((i + 1)); [ $i -gt 100 ] && { cat "$run/supervisor.log" >&2; exit 1; }
    sleep 0.1
done
chmod 755 "$run/supervisor"

sed -e "s|@MODULE@|$stage/modules/ngx_http_stream_autostart_module.so|" \
    -e "s|@PREFIX@|$run/nginx|g" -e "s|@LISTEN@|127.0.0.1:$PORT|" \
    -e "s|@HLS_DIR@|$run/hls|g" -e "s|@SOCKET@|$run/supervisor/supervisor.sock|" \
    nginx-conf/nginx.conf >"$run/nginx/nginx.conf"
"$stage/sbin/nginx" -p "$run/nginx/" -c "$run/nginx/nginx.conf" -e "$run/nginx/error.log" -t -q
"$stage/sbin/nginx" -p "$run/nginx/" -c "$run/nginx/nginx.conf" -e "$run/nginx/error.log"

echo "demo: logs in $run (nginx/error.log, supervisor.log); Ctrl-C to stop" >&2
echo "demo: channel state: $stage/bin/stream-supervisor --socket $run/supervisor/supervisor.sock status" >&2
echo "PLAY http://127.0.0.1:$PORT/live/stream_1.m3u8?token=$token"
echo "PLAY http://127.0.0.1:$PORT/live/stream_2.m3u8?token=$token"
echo "M3U http://127.0.0.1:$PORT/playlist.m3u?token=$token"
echo "API http://127.0.0.1:$PORT/api/streams/active"

# Run until told to stop; `wait` returns early on a trapped signal.
while :; do
    sleep 3600 &
    sleeper=$!
    wait $sleeper || true
done
