# shellcheck shell=bash
# shellcheck disable=SC2154,SC2016,SC2034 # set by faults.sh; eval'd on purpose
# The faults of scripts/faults.sh, one function each (fault_NAME), and the
# helpers they share. Sourced by scripts/faults.sh once its stack runs:
# uses $run, $base, $token, $PORT, $PORT2, $RPORT, $OPORT, $stage,
# $VIEWERS, supctl, sup_pid, ngx_pid and the daemons of scripts/lib.

_ok=1
check() { # description command...
    local what=$1
    shift
    if "$@"; then echo "  ok:   $what"; else echo "  FAIL: $what"; _ok=0; fi
}
say() { printf '%-13s %s\n' "$1:" "$2"; }
header() { _ok=1; echo; echo "== $1: $2"; }
verdict() { [ $_ok = 1 ]; }
# What should hold and does not yet: an open defect, reported in
# docs/faults.md. Fails the run only with FAULTS_STRICT=1.
gap() { # description command...
    local what=$1
    shift
    if "$@"; then
        echo "  ok:   $what"
    else
        echo "  GAP:  $what (open, see docs/faults.md)"
        [ "${FAULTS_STRICT:-0}" = 0 ] || _ok=0
    fi
}

# Simulated viewers in the background; their summary goes to NAME.json.
declare -A _vpid=() _vt0=()
now_ms() { date +%s%3N; }
vstart() { # name viewers-args...
    local name=$1 playlist=(--playlist "/live/stream_{channel}.m3u8?token=$token")
    shift
    case " $* " in *" --playlist "*) playlist=() ;; esac
    "$VIEWERS" --addr "127.0.0.1:$PORT" "${playlist[@]}" \
        --events "$run/$name.events" "$@" >"$run/$name.json" 2>>"$run/viewers.log" &
    _vpid[$name]=$!
    _vt0[$name]=$(now_ms)
}
vwait() { wait "${_vpid[$1]}" || true; }
# A value of a summary (JSON path like playlist.200), 0 if absent.
vget() { # name path
    perl -MJSON::PP -e 'my $j = decode_json(do { local $/; <STDIN> } || "{}");
        my $v = $j; $v = ref $v eq "HASH" ? $v->{$_} : undef for split /\./, $ARGV[0];
        print $v // 0' "$2" <"$run/$1.json"
}
# Responses of a kind and status between two moments (now_ms values).
vcount() { # name kind status from_ms to_ms
    awk -v k="$2" -v s="$3" -v a=$(($4 - ${_vt0[$1]})) -v b=$(($5 - ${_vt0[$1]})) \
        '$2 == k && $3 == s && $1 >= a && $1 <= b { n++ } END { print n + 0 }' "$run/$1.events"
}
# "playlist 200×N 503×M; segment 200×K; longest gap X s"
vsum() {
    perl -MJSON::PP -e 'my $j = decode_json(do { local $/; <STDIN> } || "{}");
        my @p;
        for my $k (qw/playlist segment/) {
            my $h = $j->{$k} || {};
            push @p, "$k " . (join(" ", map { "${_}x$h->{$_}" } sort keys %$h) || "none");
        }
        printf "%s; %d sessions; longest wait for a playlist %.1f s\n", join("; ", @p),
            $j->{sessions} // 0, ($j->{longest_gap_ms} // 0) / 1000' <"$run/$1.json"
}
# Responses that were not 200, by kind and status, with when (s after the
# viewers started) the first and last came.
vbad() {
    grep -qv ' 200 ' "$run/$1.events" 2>/dev/null || { echo "none"; return; }
    awk '$3 != 200 { k = $2 " " $3; n[k]++; if (!(k in f)) f[k] = $1; l[k] = $1 }
        END { for (k in n) printf "%s x%d (+%.1f..+%.1f s); ", k, n[k], f[k] / 1000, l[k] / 1000 }' \
        "$run/$1.events" | sed 's/; $//'
}
vnon200() { echo $(($(vget "$1" bad))); }

status_of() { curl -s -o /dev/null -m 90 -w '%{http_code}' "$1"; }
# Until the channel plays (the first request starts it).
warm() {
    local c
    for c in "$@"; do
        for _ in 1 2 3 4 5; do
            [ "$(status_of "$base/live/stream_$c.m3u8?token=$token")" = 200 ] && break
            sleep 1
        done
    done
}

# N requests for a cold channel, held until it plays; statuses in files.
declare -A _held=()
held() { # channel n name
    local i pids=""
    for i in $(seq "$2"); do
        status_of "$base/live/stream_$1.m3u8?token=$token" >"$run/$3.$i" &
        pids="$pids $!"
    done
    _held[$3]=$pids
}
held_wait() { # name (not in a subshell: they are this shell's children)
    local p
    for p in ${_held[$1]}; do wait "$p" || true; done
}
held_200() { # n name: how many answered 200 (after held_wait)
    local i n=0
    for i in $(seq "$1"); do [ "$(cat "$run/$2.$i" 2>/dev/null)" = 200 ] && n=$((n + 1)); done
    echo $n
}

# Channel, user and token records in Redis (db 0), as "channels/users/tokens".
records() {
    local k out=""
    for k in channel user token; do
        out="$out/$(redis-cli -p "$RPORT" --scan --pattern "$k:*" | wc -l)"
    done
    echo "${out#/}"
}

# ffmpeg processes of a channel of the supervisor writing into DIR, by the
# marks the supervisor puts in each ffmpeg's environment (a copy channel's
# command line names no file: it writes to the supervisor's pipe).
ffmpeg_of() { # channel [dir]
    local p dir=${2:-$run/hls}
    for p in $(pgrep -x ffmpeg || true); do
        # (grep reads all its input: with pipefail, an early exit (-q)
        # would fail the pipe on tr's SIGPIPE.)
        { tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null |
            grep -xF -e "STREAM_SUPERVISOR_HLS_DIR=$dir" -e "STREAM_SUPERVISOR_CHANNEL=$1" |
            wc -l | grep -qx 2 && echo "$p"
    done
    return 0
}

size() { stat -c %s "$1" 2>/dev/null || echo 0; }
since() { tail -c +"$(($2 + 1))" "$1"; } # file offset
# Distinct log lines since offset, without timestamps, most frequent first.
log_lines() { # file offset regex [max]
    since "$1" "$2" | grep -E "$3" | sed -E 's/^[0-9/: .TZ-]+//; s/[0-9a-f]{16,}/…/g; s/\*[0-9]+ /*N /; s/ [0-9]+#[0-9]+:/ N#N:/; s/(pid|ms|client)[=:][ ]?[0-9.]+/\1=…/g' |
        sort | uniq -c | sort -rn | head -n "${4:-4}" | sed 's/^ *\([0-9]*\) /\1x /'
}
wait_for() { # seconds command...
    local i=0 n=$(($1 * 10))
    shift
    until "$@"; do
        [ $i -lt $n ] || return 1
        sleep 0.1
        i=$((i + 1))
    done
}
sup_answers() { supctl status >/dev/null 2>&1; }
gone() { ! kill -0 "$1" 2>/dev/null || [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = Z ]; }

fault_redis() {
    local out=40 before after slog elog rpid during tok2 code supp ngxp t_kill t_back refused
    header redis "Redis killed (SIGKILL) for ${out} s, then restarted, while 50 viewers watch 2 ready channels"
    warm 1 2
    before=$(records); supp=$(sup_pid); ngxp=$(ngx_pid)
    slog=$(size "$run/supervisor.log"); elog=$(size "$run/nginx/error.log")
    vstart r_view --viewers 50 --channels 1,2 --duration $((out + 15)) --ramp 1
    vstart r_bad --viewers 5 --channels 1,2 --duration $((out + 15)) \
        --playlist "/live/stream_{channel}.m3u8?token=unknown0token0abcdef"
    sleep 10
    rpid=$(daemon_pid redis)
    t_kill=$(now_ms)
    { kill -KILL "$rpid"; daemon_stop redis; } 2>/dev/null
    sleep 5
    during=$(supctl status 2>&1 | head -n 3 | tr -s ' ' | tr '\n' ' ')
    code=$(status_of "$base/live/stream_3.m3u8?token=$token")
    sleep $((out - 5))
    stack_redis "$RPORT" "${redis_args[@]}"
    t_back=$(now_ms)
    vwait r_view
    vwait r_bad
    after=$(records)
    tok2=$(supctl tokens issue viewer)
    vstart r_after --viewers 20 --channels 1,2 --duration 8 \
        --playlist "/live/stream_{channel}.m3u8?token=$tok2"
    vwait r_after
    refused=$(awk '$3 != 200 && $3 != 503' "$run/r_view.events" | wc -l)
    say injected "kill -KILL of redis-server 10 s into the viewing, started again ${out} s later (its append-only file brings the records back)"
    say "viewers saw" "$(vsum r_view); not 200: $(vbad r_view)"
    say "outage" "$(vcount r_view playlist 200 "$t_kill" "$t_back") playlists and $(vcount r_view segment 200 "$t_kill" "$t_back") segments answered 200, $(vcount r_view playlist 503 "$t_kill" "$t_back") playlists 503, while Redis was down"
    say "unknown token" "$(vsum r_bad)"
    say "cold channel" "a viewer asking for a channel not running during the outage: $code"
    say "operator saw" "stream-supervisor status during the outage: ${during:-nothing}"
    log_lines "$run/supervisor.log" "$slog" 'WARN|ERROR|redis|Redis' | sed 's/^/              supervisor: /'
    log_lines "$run/nginx/error.log" "$elog" '\[(warn|error|crit|alert)\]' | sed 's/^/              nginx: /'
    say lost "records (channels/users/tokens) before $before, after $after; after the restart: $(vsum r_after)"
    check "viewers of ready channels kept getting 200s while Redis was down" \
        [ "$(vcount r_view playlist 200 "$t_kill" "$t_back")" -gt 0 ]
    check "a viewer's token was never refused (only 200 or 503)" [ "$refused" = 0 ]
    check "an unknown token never got a 200" [ "$(vget r_bad playlist.200)" = 0 ]
    check "a token issued after the restart plays (no restart of anything)" [ "$(vnon200 r_after)" = 0 ]
    check "the supervisor and nginx kept running (same pids)" [ "$(sup_pid)/$(ngx_pid)" = "$supp/$ngxp" ]
    check "no record lost" [ "$before" = "$after" ]
    check "ready streams served only 200s through the whole outage" [ "$(vnon200 r_view)" = 0 ]
    verdict
}

fault_supervisor() {
    local before after old oldff slog elog t0 back ngxp p left=""
    header supervisor "the supervisor killed (SIGKILL) under 200 viewers of 4 channels; runit's runsv restarts it"
    warm 1 2 3 4
    before=$(records); old=$(sup_pid); ngxp=$(ngx_pid)
    oldff=$(for c in 1 2 3 4; do ffmpeg_of $c; done | tr '\n' ' ')
    slog=$(size "$run/supervisor.log"); elog=$(size "$run/nginx/error.log")
    vstart s_view --viewers 200 --channels 1,2,3,4 --duration 30 --interval 2 --ramp 2
    sleep 10
    t0=$(date +%s.%N)
    kill -KILL "$old"
    wait_for 60 eval '[ "$(sup_pid)" != "$old" ] && [ -n "$(sup_pid)" ] && sup_answers' || true
    back=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    for p in $oldff; do gone "$p" || left="$left $p"; done
    vwait s_view
    vstart s_after --viewers 200 --channels 1,2,3,4 --duration 10 --interval 2 --ramp 2
    vwait s_after
    after=$(records)
    say injected "kill -KILL of the supervisor (pid $old) 10 s into the viewing; runsv started pid $(sup_pid), answering ${back} s after the kill"
    say "viewers saw" "$(vsum s_view); not 200: $(vbad s_view)"
    say "afterwards" "200 viewers for 10 s more: $(vsum s_after)"
    say "operator saw" "$(sv status "$run/sv/supervisor" 2>&1 | sed "s|$run/||")"
    log_lines "$run/supervisor.log" "$slog" 'WARN|ERROR|listening|clear|stale|remov' | sed 's/^/              supervisor: /'
    log_lines "$run/nginx/error.log" "$elog" '\[(warn|error|crit|alert)\]' | sed 's/^/              nginx: /'
    say lost "records before $before, after $after; ffmpegs of the killed supervisor left running:${left:- none}"
    check "runsv restarted the supervisor" [ "$(sup_pid)" != "$old" ]
    check "every ffmpeg of the killed supervisor ended with it" [ -z "$left" ]
    check "viewers recovered: only 200s afterwards" [ "$(vnon200 s_after)" = 0 ]
    check "one ffmpeg per channel afterwards" [ "$(for c in 1 2 3 4; do ffmpeg_of $c | wc -l; done | tr -d '\n ')" = 1111 ]
    check "nginx kept running" [ "$(ngx_pid)" = "$ngxp" ]
    check "no record lost" [ "$before" = "$after" ]
    verdict
}

fault_nginx() {
    local elog old new h1 h2 after
    header nginx "nginx reload (HUP) and binary upgrade (USR2, WINCH, QUIT) with 20 requests held for a cold channel each time and 100 viewers"
    warm 1 2
    supctl stop hold1 >/dev/null 2>&1 || true
    supctl stop hold2 >/dev/null 2>&1 || true
    supctl stop hold3 >/dev/null 2>&1 || true
    elog=$(size "$run/nginx/error.log")
    vstart n_view --viewers 100 --channels 1,2 --duration 30 --ramp 1
    sleep 4
    held hold1 20 h1
    sleep 0.3
    kill -HUP "$(ngx_pid)"
    held_wait h1
    h1=$(held_200 20 h1)
    sleep 4
    old=$(ngx_pid)
    held hold2 20 h2
    sleep 0.3
    kill -USR2 "$old"
    wait_for 30 eval '[ -s "$run/nginx/nginx.pid.oldbin" ] && [ "$(ngx_pid)" != "$old" ] && [ -n "$(ngx_pid)" ]' || true
    new=$(ngx_pid)
    [ "$new" = "$old" ] || daemon_adopt --stop-with QUIT nginx-upgraded "$run/nginx/error.log" "$new"
    sleep 2
    kill -WINCH "$old"
    sleep 3
    kill -QUIT "$old"
    wait_for 60 gone "$old" || true
    held_wait h2
    h2=$(held_200 20 h2)
    vwait n_view
    after=$(status_of "$base/live/stream_hold3.m3u8?token=$token")
    say injected "kill -HUP of the master with 20 requests held; 8 s later kill -USR2 (new master $new from the same binary) with 20 more held, WINCH and QUIT to the old master $old"
    say "viewers saw" "$(vsum n_view); not 200: $(vbad n_view)"
    say "held" "through the reload: $h1 of 20 got 200; through the upgrade: $h2 of 20 got 200"
    say "operator saw" "nginx's error log:"
    log_lines "$run/nginx/error.log" "$elog" 'signal|reconfiguring|binary|shutting|exit|\[(warn|error|crit|alert)\]' 8 | sed 's/^/              /'
    say lost "nothing: a cold channel after the upgrade answered $after from the new master"
    check "no failed request on ready streams" [ "$(vnon200 n_view)" = 0 ]
    check "every request held through the reload got the stream" [ "$h1" = 20 ]
    check "every request held through the binary upgrade got the stream" [ "$h2" = 20 ]
    check "the old master exited, the new one serves" eval 'gone "$old" && [ "$after" = 200 ]'
    check "no alert or crit in nginx's error log" eval '! since "$run/nginx/error.log" "$elog" | grep -E "\[(alert|crit|emerg)\]" >/dev/null'
    verdict
}

fault_full() {
    local slog elog code reason st filled tok again filler states
    header full "the HLS directory's file system (a 4 MB tmpfs) stays full for 30 s under a channel with 5 viewers"
    if ! mount -t tmpfs -o size=4m,mode=755 tmpfs "$run/full" 2>"$run/mount.err"; then
        say skipped "cannot mount a tmpfs here: $(cat "$run/mount.err")"
        return 0
    fi
    mounted=1
    sup2() { "$stage/bin/stream-supervisor" --socket "$run/sup2.sock" --redis-url "redis://127.0.0.1:$RPORT/1" "$@"; }
    sup2 channels add big --source "http://127.0.0.1:$OPORT/live.ts" --quality copy >/dev/null
    sup2 users add viewer >/dev/null
    tok=$(sup2 tokens issue viewer)
    stack_supervisor "$run/sup2.sock" --socket-mode 666 --redis-url "redis://127.0.0.1:$RPORT/1" \
        --hls-dir "$run/full" --segment-duration 2s --max-failures 3 --failure-window 120s \
        --failed-cooldown 15s --restart-delay 200ms --restart-max-delay 1s --min-free-space 1M \
        --allow-upstream-networks 127.0.0.0/8
    slog=$(size "$run/supervisor.log"); elog=$(size "$run/nginx/error.log")
    "$VIEWERS" --addr "127.0.0.1:$PORT2" --playlist "/live/stream_{channel}.m3u8?token=$tok" \
        --events "$run/f_view.events" --channels big --viewers 5 --duration 50 >"$run/f_view.json" &
    _vpid[f_view]=$!
    sleep 8
    # Something else keeps writing there: what ffmpeg frees by deleting
    # old segments is taken again at once.
    (
        i=0
        while [ $i -lt 150 ]; do
            dd if=/dev/zero of="$run/full/filler.$i" bs=16k 2>/dev/null
            sleep 0.2
            i=$((i + 1))
        done
    ) &
    filler=$!
    sleep 1
    filled=$(df -k --output=avail "$run/full" | tail -n 1 | tr -d ' ')
    states=""
    for _ in $(seq 30); do
        st=$(sup2 status big 2>&1 | sed -n 2p | tr -s ' ' | cut -d' ' -f2)
        case " $states " in *" $st "*) ;; *) states="$states $st" ;; esac
        sleep 1
    done
    st=$(sup2 status big 2>&1 | sed -n 2p | tr -s ' ')
    reason=$st
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT2/live/stream_big.m3u8?token=$tok")
    kill "$filler" 2>/dev/null || true
    wait "$filler" 2>/dev/null || true
    rm -f "$run/full"/filler.*
    vwait f_view
    sup2 start big --wait 30s >/dev/null 2>&1 || true
    again=$(curl -s -o /dev/null -m 60 -w '%{http_code}' "http://127.0.0.1:$PORT2/live/stream_big.m3u8?token=$tok")
    say injected "8 s into the viewing, files written into the HLS directory until the file system is full, again every 0.2 s for 30 s ($filled KiB left)"
    say "viewers saw" "$(vsum f_view); not 200: $(vbad f_view)"
    say "at the end" "a viewer: $code"
    say "operator saw" "states while full:${states}; then status: $st"
    log_lines "$run/supervisor.log" "$slog" 'big' 6 | sed 's/^/              supervisor: /'
    log_lines "$run/nginx/error.log" "$elog" '\[(error|crit|alert)\]' 3 | cut -c1-300 | sed 's/^/              nginx: /'
    say lost "the filler removed, 'stream-supervisor start big' then a viewer: $again"
    check "after space is freed, the channel plays again" [ "$again" = 200 ]
    check "the channel is marked failed while the disk is full" eval 'grep -qw failed <<<"$states"'
    check "the reason says the disk is full" eval 'grep -qi "is full (no space left" <<<"$reason"'
    check "once the channel failed, viewers are told so (502 with the reason), never a configuration error" \
        eval '! since "$run/nginx/error.log" "$elog" | awk "/channel \"big\" failed/ { f = 1 } f && /not where nginx looks/ { bad = 1 } END { exit !bad }"'
    check "no viewer is told of a configuration error, even in the half second before the supervisor notices" \
        eval '! since "$run/nginx/error.log" "$elog" | grep "not where nginx looks" >/dev/null'
    check "nginx's error log gives the reason" \
        eval 'since "$run/nginx/error.log" "$elog" | grep "is full (no space left" >/dev/null'
    daemon_stop supervisor
    umount "$run/full" && mounted=0
    verdict
}

# Whether the channel's ffmpeg is one other than PID (one look: two could
# straddle the old one's end).
replaced() { # channel pid
    local n
    n=$(ffmpeg_of "$1" | head -n 1)
    [ -n "$n" ] && [ "$n" != "$2" ]
}

fault_stop() {
    local pid new st slog
    header stop "a channel's ffmpeg stopped (SIGSTOP) while 10 viewers watch; stall timeout 6 s"
    warm st
    pid=$(ffmpeg_of st | head -n 1)
    slog=$(size "$run/supervisor.log")
    vstart p_view --viewers 10 --channels st --duration 30
    sleep 6
    kill -STOP "$pid"
    wait_for 60 replaced st "$pid" || true
    new=$(ffmpeg_of st | head -n 1)
    vwait p_view
    st=$(supctl status st 2>&1 | sed -n 2p | tr -s ' ')
    say injected "kill -STOP of the channel's ffmpeg (pid $pid) 6 s into the viewing"
    say "viewers saw" "$(vsum p_view); not 200: $(vbad p_view)"
    say "operator saw" "stream-supervisor status: $st"
    log_lines "$run/supervisor.log" "$slog" 'stall|restart|WARN|ERROR' | sed 's/^/              supervisor: /'
    say lost "the stopped ffmpeg: $(gone "$pid" && echo gone || echo "still there") ; the new one: pid ${new:-none}"
    check "the stopped ffmpeg was ended" gone "$pid"
    check "a new ffmpeg took over" eval '[ -n "$new" ] && [ "$new" != "$pid" ]'
    check "status shows the stall as the reason" eval 'grep -q "stalled" <<<"$st"'
    check "viewers got no 5xx" eval '! grep -qE " 5[0-9][0-9] " "$run/p_view.events" 2>/dev/null'
    verdict
}
