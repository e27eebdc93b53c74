# shellcheck shell=bash
# The project's stack on 127.0.0.1, for scripts/demo.sh and
# scripts/bench.sh: a private redis-server, the live test origin, the
# supervisor and nginx, each started in the background, waited for with a
# bounded timeout, and stopped by the PID it was started with (see
# daemons.sh) when the script ends, however it ends.
#
#   stack_init TAG STAGE        run directory $STACK_RUN, traps; STAGE from build.sh
#   stack_tcp NAME PORT LOG CMD [ARG...]  any daemon listening on 127.0.0.1:PORT
#   stack_redis PORT [ARG...]   redis-server, no persistence, log redis.log
#   stack_origin PORT [ARG...]  test-origin, log origin.log
#   stack_supervisor SOCKET [ARG...]  stream-supervisor, log supervisor.log
#   stack_supervisor_as NAME SOCKET [ARG...]  another one, log NAME.log
#   stack_nginx NAME PORT PREFIX CONF  nginx (checked with -t first), log PREFIX/error.log
#   stack_idle                  wait for INT/TERM
#
# Set STACK_ANNOUNCE=1 for "TAG: stopping" / "TAG: stopped" on stderr.

_stack_lib=${BASH_SOURCE[0]%/*}
# shellcheck source=scripts/lib/daemons.sh
. "$_stack_lib/daemons.sh"
# shellcheck source=scripts/lib/wait.sh
. "$_stack_lib/wait.sh"

STACK_RUN=""
_stack_sleeper=""

stack_init() {
    STACK_TAG=$1
    STACK_STAGE=$2
    STACK_RUN=$(mktemp -d "/tmp/stream-autostart-$1.XXXXXX")
    chmod 755 "$STACK_RUN"
    trap _stack_cleanup EXIT
    # Through exit, so the EXIT trap does the stopping, once.
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

_stack_cleanup() {
    # A second Ctrl-C must not cut the clean-up short, nor a failing step
    # (set -e) leave the rest running.
    trap '' INT TERM
    trap - EXIT
    set +e
    [ "${STACK_ANNOUNCE:-0}" != 1 ] || echo "$STACK_TAG: stopping" >&2
    if [ -n "$_stack_sleeper" ]; then kill "$_stack_sleeper" 2>/dev/null || true; fi
    daemon_stop_all
    rm -rf "$STACK_RUN"
    [ "${STACK_ANNOUNCE:-0}" != 1 ] || echo "$STACK_TAG: stopped" >&2
}

stack_tcp() {
    local name=$1 port=$2
    need_port "$name" "$port"
    shift 2
    daemon_start "$name" "$@"
    wait_tcp "$name" "$port"
}

stack_redis() {
    local port=$1
    shift
    stack_tcp redis "$port" "$STACK_RUN/redis.log" redis-server --port "$port" --bind 127.0.0.1 \
        --save '' --appendonly no --dir "$STACK_RUN" --logfile "$STACK_RUN/redis.log" "$@"
}

stack_origin() {
    local port=$1
    shift
    stack_tcp test-origin "$port" "$STACK_RUN/origin.log" \
        "$STACK_STAGE/bin/test-origin" --listen "127.0.0.1:$port" "$@"
}

stack_supervisor() {
    stack_supervisor_as supervisor "$@"
}

# Several supervisors in one stack (demo.sh --nodes) need their own names.
stack_supervisor_as() {
    local name=$1 socket=$2
    shift 2
    rm -f "$socket"
    daemon_start "$name" "$STACK_RUN/$name.log" \
        "$STACK_STAGE/bin/stream-supervisor" --socket "$socket" "$@"
    wait_unix "$name" "$socket"
}

# In the foreground (daemon off) so the PID recorded is the master's;
# stopped with QUIT, nginx's graceful shutdown, as before.
stack_nginx() {
    local name=$1 port=$2 prefix=$3 conf=$4
    local nginx=("$STACK_STAGE/sbin/nginx" -p "$prefix/" -c "$conf" -e "$prefix/error.log")
    "${nginx[@]}" -t -q || stack_fail "$name: $conf does not pass nginx -t"
    need_port "$name" "$port"
    daemon_start --stop-with QUIT "$name" "$prefix/error.log" "${nginx[@]}" -g 'daemon off;'
    wait_tcp "$name" "$port"
}

# Until INT/TERM: `wait` returns at once on a trapped signal, a foreground
# sleep would hold the trap back.
stack_idle() {
    while :; do
        sleep 3600 &
        _stack_sleeper=$!
        wait "$_stack_sleeper" || true
    done
}
