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
# shellcheck source=scripts/lib/stack.sh
. scripts/lib/stack.sh

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
mkdir -p "$run/hls" "$run/nginx" "$run/supervisor" "$run/origin"
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
# The demo serves the operator API through nginx (/api/), so their group is
# also an operator group; without it the API answers 403 "forbidden".
group=$(id -gn nobody 2>/dev/null || echo nogroup)
stack_supervisor "$run/supervisor/supervisor.sock" --socket-group "$group" \
    --operator-group "$group" \
    --redis-url "redis://127.0.0.1:$REDIS_PORT/0" --hls-dir "$run/hls" --idle-timeout "$IDLE" \
    --allow-upstream-networks 127.0.0.0/8
chmod 755 "$run/supervisor"

sed -e "s|@MODULE@|$stage/modules/ngx_http_stream_autostart_module.so|" \
    -e "s|@PREFIX@|$run/nginx|g" -e "s|@LISTEN@|127.0.0.1:$PORT|" \
    -e "s|@HLS_DIR@|$run/hls|g" -e "s|@SOCKET@|$run/supervisor/supervisor.sock|" \
    nginx-conf/nginx.conf >"$run/nginx/nginx.conf"
stack_nginx nginx "$PORT" "$run/nginx" "$run/nginx/nginx.conf"

echo "demo: logs in $run (nginx/error.log, supervisor.log); Ctrl-C to stop" >&2
echo "demo: channel state: $stage/bin/stream-supervisor --socket $run/supervisor/supervisor.sock status" >&2
echo "PLAY http://127.0.0.1:$PORT/live/stream_1.m3u8?token=$token"
echo "PLAY http://127.0.0.1:$PORT/live/stream_2.m3u8?token=$token"
echo "M3U http://127.0.0.1:$PORT/playlist.m3u?token=$token"
echo "API http://127.0.0.1:$PORT/api/streams/active"

stack_idle
