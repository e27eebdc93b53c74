#!/bin/bash
# The fault suite: real redis-server, supervisor (kept running by runit's
# runsv, a real service manager), ffmpeg, test origin and nginx (daemon
# on, as deployed) on 127.0.0.1, simulated HLS viewers (tools' `viewers`),
# and one fault injected at a time:
#   redis       Redis killed (SIGKILL) and restarted while viewers watch
#   supervisor  the supervisor killed (SIGKILL) under 200 viewers; runsv
#               brings it back
#   nginx       reload (HUP) and binary upgrade (USR2, WINCH, QUIT) with
#               requests held for a cold channel and viewers watching
#   full        the HLS directory's file system (a small tmpfs) fills up
#               under a running channel (skipped if mount is not allowed)
#   stop        a channel's ffmpeg stopped with SIGSTOP
# For each it prints what was injected, what viewers saw, what the
# operator saw (status, logs) and what was lost, checks what must hold,
# and exits non-zero if anything did not. Results: docs/faults.md.
#
#   scripts/faults.sh [FAULT...]    (default: all, about 5 minutes)
# FAULTS_KEEP=1 keeps the logs in /tmp/stream-autostart-faults.kept.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# shellcheck source=scripts/lib/stack.sh
. scripts/lib/stack.sh

faults=("$@")
[ ${#faults[@]} -gt 0 ] || faults=(redis supervisor nginx full stop)
for f in "${faults[@]}"; do
    case $f in redis | supervisor | nginx | full | stop) ;;
    *) echo "usage: $0 [redis|supervisor|nginx|full|stop]..." >&2; exit 2 ;;
    esac
done

command -v runsv >/dev/null || { echo "faults: no runsv (scripts/setup.sh installs runit)" >&2; exit 2; }
stage=$(sh scripts/build.sh | tail -n 1)
cargo build --release --locked --bin viewers >&2
VIEWERS="$root/target/release/viewers"

stack_init faults "$stage"
run=$STACK_RUN
# Copies, so that a build meanwhile (build.sh copies over the stage's
# files in place) cannot change the binaries and module that run here.
mkdir -p "$run/stage/sbin" "$run/stage/modules" "$run/stage/bin"
cp "$stage/sbin/nginx" "$run/stage/sbin/"
cp "$stage/modules/ngx_http_stream_autostart_module.so" "$run/stage/modules/"
cp "$stage/bin/stream-supervisor" "$stage/bin/test-origin" "$run/stage/bin/"
stage=$run/stage STACK_STAGE=$run/stage
mkdir -p "$run/hls" "$run/nginx" "$run/sv/supervisor" "$run/full"
chmod 755 "$run/hls" "$run/full"
STACK_WAIT=30

# The tmpfs of the "full" fault is unmounted before the run directory goes.
mounted=0
# shellcheck disable=SC2317 # run by the trap
faults_cleanup() {
    trap '' INT TERM
    set +e
    daemon_stop_all
    [ "$mounted" = 0 ] || umount "$run/full"
    if [ "${FAULTS_KEEP:-0}" = 1 ]; then
        rm -rf /tmp/stream-autostart-faults.kept
        cp -r "$run" /tmp/stream-autostart-faults.kept
        echo "faults: logs kept in /tmp/stream-autostart-faults.kept" >&2
    fi
    _stack_cleanup
}
trap faults_cleanup EXIT

free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 30000))
        _tcp_open "$p" || { echo "$p"; return; }
    done
}
RPORT=$(free_port) OPORT=$(free_port) PORT=$(free_port) PORT2=$(free_port)

# Redis with an append-only file, as a deployment keeps its records: a
# restarted Redis has them again.
redis_args=(--appendonly yes --appendfsync always --maxclients 10000)
stack_redis "$RPORT" "${redis_args[@]}"
stack_origin "$OPORT" --keyint 1 --size 160x120

supctl() { "$stage/bin/stream-supervisor" --socket "$run/sup.sock" --redis-url "redis://127.0.0.1:$RPORT/0" "$@"; }
for c in 1 2 3 4 hold1 hold2 hold3 st; do
    supctl channels add "$c" --source "http://127.0.0.1:$OPORT/live.ts" --quality copy >/dev/null
done
supctl users add viewer >/dev/null
token=$(supctl tokens issue viewer)

# The supervisor as a runit service: runsv restarts it whenever it exits.
cat >"$run/sv/supervisor/run" <<EOF
#!/bin/sh
exec 2>>"$run/supervisor.log"
exec "$stage/bin/stream-supervisor" --socket "$run/sup.sock" --socket-mode 666 \\
    --redis-url "redis://127.0.0.1:$RPORT/0" --hls-dir "$run/hls" \\
    --idle-timeout 300s --segment-duration 2s --stall-timeout 6s \\
    --max-streams 50 --failed-cooldown 10s \\
    --allow-upstream-networks 127.0.0.0/8
EOF
chmod 755 "$run/sv/supervisor/run"
: >"$run/supervisor.log"
rm -f "$run/sup.sock"
daemon_start runsv "$run/runsv.log" runsv "$run/sv/supervisor"
wait_unix runsv "$run/sup.sock"
# shellcheck disable=SC2317 # used by scripts/lib/faults.sh
sup_pid() { cat "$run/sv/supervisor/supervise/pid" 2>/dev/null || true; }

cat >"$run/nginx/nginx.conf" <<EOF
load_module $stage/modules/ngx_http_stream_autostart_module.so;
user root;
worker_processes 2;
worker_rlimit_nofile 16384;
pid $run/nginx/nginx.pid;
error_log $run/nginx/error.log info;
events { worker_connections 4096; }
http {
    log_format faults '\$msec \$server_port \$status \$stream_autostart_status';
    access_log $run/nginx/access.log faults;
    types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
    client_body_temp_path $run/nginx/body;
    proxy_temp_path $run/nginx/proxy;
    fastcgi_temp_path $run/nginx/fastcgi;
    uwsgi_temp_path $run/nginx/uwsgi;
    scgi_temp_path $run/nginx/scgi;
    stream_autostart_wait 60s;
    server {
        listen 127.0.0.1:$PORT backlog=4096;
        stream_autostart_supervisor unix:$run/sup.sock;
        location ~ ^/live/stream_(?<channel>.*)\.m3u8\$ {
            alias $run/hls/stream_\$channel.m3u8;
            stream_autostart \$channel;
        }
        location ~ ^/live/(?<segment>stream_(?<ch>[A-Za-z0-9_-]+)_[0-9]+\.ts)\$ {
            alias $run/hls/\$segment;
            stream_autostart_segment \$ch;
        }
    }
    # The "full" fault: a second supervisor whose HLS directory is a tmpfs.
    server {
        listen 127.0.0.1:$PORT2;
        stream_autostart_supervisor unix:$run/sup2.sock;
        location ~ ^/live/stream_(?<channel>.*)\.m3u8\$ {
            alias $run/full/stream_\$channel.m3u8;
            stream_autostart \$channel;
        }
        location ~ ^/live/(?<segment>stream_(?<ch>[A-Za-z0-9_-]+)_[0-9]+\.ts)\$ {
            alias $run/full/\$segment;
            stream_autostart_segment \$ch;
        }
    }
}
EOF
ngx=("$stage/sbin/nginx" -p "$run/nginx/" -c "$run/nginx/nginx.conf" -e "$run/nginx/error.log")
"${ngx[@]}" -t -q
need_port nginx "$PORT"
"${ngx[@]}"   # daemon on: the master forks away and writes its pid file
ngx_pid() { cat "$run/nginx/nginx.pid" 2>/dev/null || true; }
for _ in $(seq 100); do [ -s "$run/nginx/nginx.pid" ] && break; sleep 0.1; done
daemon_adopt --stop-with QUIT nginx "$run/nginx/error.log" "$(ngx_pid)"
wait_tcp nginx "$PORT"
base="http://127.0.0.1:$PORT"

# shellcheck source=scripts/lib/faults.sh
. scripts/lib/faults.sh

failed=0
for f in "${faults[@]}"; do
    "fault_$f" || failed=1
done
echo
if [ $failed = 0 ]; then
    echo "faults: PASS (${faults[*]})"
else
    echo "faults: FAIL (see the checks marked FAIL above)"
fi
exit $failed
