# shellcheck shell=bash
# Waiting for a daemon to come up, bounded. Sourced by bash after
# scripts/lib/daemons.sh.
#
#   need_port NAME PORT   fail unless 127.0.0.1:PORT is free to start NAME on
#   wait_tcp NAME PORT    until something accepts on 127.0.0.1:PORT
#   wait_unix NAME PATH   until the Unix socket PATH exists
#
# A wait fails as soon as NAME's process has exited, or after STACK_WAIT
# seconds, naming NAME and showing the end of its log.

STACK_WAIT=${STACK_WAIT:-10}

_tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A port already taken would make wait_tcp find another program's
# listener. A few seconds' grace for one held only briefly.
need_port() {
    local i=0
    while _tcp_open "$2"; do
        [ $i -lt 30 ] || stack_fail "cannot start $1: 127.0.0.1:$2 is already in use by another program"
        sleep 0.1
        i=$((i + 1))
    done
}

_wait_for() { # name where test...
    local name=$1 where=$2 i=0
    shift 2
    until "$@"; do
        daemon_alive "$name" || daemon_failed "$name" "exited before it listened on $where"
        [ $i -lt $((STACK_WAIT * 10)) ] ||
            daemon_failed "$name" "did not come up: nothing on $where after ${STACK_WAIT}s"
        sleep 0.1
        i=$((i + 1))
    done
    daemon_alive "$name" || daemon_failed "$name" "exited just after it listened on $where"
}

wait_tcp() { _wait_for "$1" "127.0.0.1:$2" _tcp_open "$2"; }

# The caller removes PATH before starting NAME, so an old file is not taken
# for its socket.
wait_unix() { _wait_for "$1" "socket $2" test -S "$2"; }
