# shellcheck shell=bash
# Background daemons started by this script, and stopping exactly those.
# Sourced by bash (scripts/lib/stack.sh).
#
#   daemon_start [--stop-with SIG] NAME LOG CMD [ARG...]
#   daemon_adopt [--stop-with SIG] NAME LOG PID  one that daemonized itself
#   daemon_pid NAME / daemon_alive NAME
#   daemon_stop NAME / daemon_stop_all
#
# Each daemon runs in its own session: a terminal's Ctrl-C reaches only the
# script, whose trap then stops the daemons in order. A daemon is recorded
# with its start time, so a PID the system has since reused is never
# signalled. Stopping sends its signal (TERM unless told), waits up to
# STACK_STOP_WAIT seconds for it, its descendants (nginx workers, ffmpegs)
# and anything left in its session, then KILLs what is left. Nothing is
# found by name or command line.

STACK_TAG=${STACK_TAG:-stack}
STACK_STOP_WAIT=${STACK_STOP_WAIT:-5}

_daemon_names=()
declare -A _daemon_pid=() _daemon_stamp=() _daemon_log=() _daemon_sig=()

stack_fail() {
    echo "$STACK_TAG: $*" >&2
    exit 1
}

# A process's start time (clock ticks since boot); with "live", fails for
# a zombie. Fails for a gone one.
_proc_start() { # pid [live]
    local stat f
    { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
    # The command name, in parentheses, may hold spaces: fields after it.
    read -r -a f <<<"${stat##*) }"
    [ -z "${2:-}" ] || [ "${f[0]}" != Z ] || return 1
    echo "${f[19]}"
}

_proc_alive() { # pid stamp
    [ -n "$2" ] && [ "$(_proc_start "$1" live 2>/dev/null)" = "$2" ]
}

# What stopping a daemon must leave gone, as "pid:stamp": the daemon and
# its descendants, and what is left in its session (children it lost, even
# after it died). Only processes started since the daemon itself count.
_daemon_procs() { # pid stamp
    local root=$1 stamp=$2 mode=all p s
    [ -n "$stamp" ] || return 0
    if ! _proc_alive "$root" "$stamp"; then
        s=$(_proc_start "$root") && [ "$s" != "$stamp" ] && return 0 # PID reused
        mode=session
    fi
    for p in $(ps -e -o pid=,ppid=,sid= | awk -v root="$root" -v mode="$mode" '
        { kids[$2] = kids[$2] " " $1; if ($3 == root) sess[$1] = 1 }
        END {
            n = 0
            if (mode == "all") { n = 1; list[1] = root }
            for (i = 1; i <= n; i++) {
                m = split(kids[list[i]], c, " ")
                for (j = 1; j <= m; j++) list[++n] = c[j]
            }
            for (i = 1; i <= n; i++) { print list[i]; seen[list[i]] = 1 }
            for (p in sess) if (!(p in seen)) print p
        }'); do
        s=$(_proc_start "$p" live) && [ "$s" -ge "$stamp" ] && echo "$p:$s"
    done
}

daemon_start() {
    local sig=TERM
    if [ "$1" = --stop-with ]; then sig=$2; shift 2; fi
    local name=$1 log=$2
    shift 2
    [ -z "${_daemon_pid[$name]:-}" ] || stack_fail "$name is already running"
    # setsid execs in place (a background job is no group leader), so $!
    # is the daemon itself.
    setsid "$@" >>"$log" 2>&1 </dev/null &
    _daemon_names+=("$name")
    _daemon_pid[$name]=$!
    _daemon_stamp[$name]=$(_proc_start "$!" || true)
    _daemon_log[$name]=$log
    _daemon_sig[$name]=$sig
}

# A daemon that forked away from what we started (nginx with `daemon on`,
# found by its pid file), recorded as if daemon_start had started it.
daemon_adopt() {
    local sig=TERM
    if [ "$1" = --stop-with ]; then sig=$2; shift 2; fi
    local name=$1 log=$2 pid=$3
    [ -z "${_daemon_pid[$name]:-}" ] || stack_fail "$name is already running"
    _daemon_names+=("$name")
    _daemon_pid[$name]=$pid
    _daemon_stamp[$name]=$(_proc_start "$pid" || true)
    _daemon_log[$name]=$log
    _daemon_sig[$name]=$sig
}

daemon_pid() { echo "${_daemon_pid[$1]:-}"; }

daemon_alive() {
    _proc_alive "${_daemon_pid[$1]:-0}" "${_daemon_stamp[$1]:-}"
}

# Fails naming the daemon, with how it ended and the end of its log.
daemon_failed() { # name reason
    local name=$1 pid=${_daemon_pid[$1]:-} log=${_daemon_log[$1]:-} rc=""
    if [ -n "$pid" ] && ! daemon_alive "$name"; then
        if wait "$pid" 2>/dev/null; then rc=0; else rc=$?; fi
        rc=" (exit status $rc)"
    fi
    echo "$STACK_TAG: $name $2$rc" >&2
    if [ -s "$log" ]; then
        echo "$STACK_TAG: the end of $log:" >&2
        tail -n 15 "$log" | sed 's/^/    /' >&2
    fi
    exit 1
}

daemon_stop() {
    local name=$1 pid=${_daemon_pid[$1]:-} e procs=()
    [ -n "$pid" ] || return 0
    mapfile -t procs < <(_daemon_procs "$pid" "${_daemon_stamp[$name]}")
    if daemon_alive "$name"; then
        # It stops its own children (nginx workers, ffmpegs) its own way.
        kill -"${_daemon_sig[$name]}" "$pid" 2>/dev/null || true
    elif [ ${#procs[@]} -gt 0 ]; then
        kill -TERM "${procs[@]%%:*}" 2>/dev/null || true
    fi
    # bash's own "Killed" job notice is noise here: only ours go out (fd 3).
    _daemon_reap "$name" "${procs[@]}" 3>&2 2>/dev/null
    wait "$pid" 2>/dev/null || true
    unset "_daemon_pid[$name]" "_daemon_stamp[$name]" "_daemon_log[$name]" "_daemon_sig[$name]"
    local rest=()
    for e in "${_daemon_names[@]}"; do [ "$e" = "$name" ] || rest+=("$e"); done
    _daemon_names=("${rest[@]}")
}

# Waits until none of the "pid:stamp" processes is left; after
# STACK_STOP_WAIT seconds, KILLs those that are.
_daemon_reap() { # name pid:stamp...
    local name=$1 e i=0 left
    shift
    while :; do
        left=()
        for e in "$@"; do
            if _proc_alive "${e%%:*}" "${e#*:}"; then left+=("${e%%:*}"); fi
        done
        [ ${#left[@]} -gt 0 ] || return 0
        if [ $i -eq $((STACK_STOP_WAIT * 10)) ]; then
            echo "$STACK_TAG: $name did not stop within ${STACK_STOP_WAIT}s: killing what is left (${left[*]})" >&3
            kill -KILL "${left[@]}" 2>/dev/null || true
        elif [ $i -gt $((STACK_STOP_WAIT * 10 + 20)) ]; then
            echo "$STACK_TAG: $name: ${left[*]} survived KILL" >&3
            return 0
        fi
        sleep 0.1
        i=$((i + 1))
    done
}

# The last started first: nginx before the supervisor before Redis.
daemon_stop_all() {
    local i names=("${_daemon_names[@]}")
    for ((i = ${#names[@]} - 1; i >= 0; i--)); do
        daemon_stop "${names[$i]}"
    done
}
