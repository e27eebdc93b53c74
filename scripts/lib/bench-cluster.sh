# shellcheck shell=bash
# Section 7 of scripts/bench.sh (sourced after section 6, before the
# table): cluster mode (docs/cluster.md). Three nodes on 127.0.0.1, each a
# supervisor (--node-id nN) and an nginx with the cluster key and
# `stream_autostart_cluster_proxy @cluster` (and @cached under /c/: the
# same with the edge proxy_cache of docs/cluster.md, and @pooled under
# /p/: keep-alive to the owner, and @buffered under /b/: that with 1 MiB
# of proxy_buffers), on a Redis of their own; the bench's
# origin is their source. A node's URL is http://nN, an upstream{} of
# every node's nginx.
#   - placement: CL_CHANNELS cold channels asked for through the nodes in
#     turn (6 at a time): channels per node, max/min;
#   - proxy overhead: wrk on a ready segment through an edge node
#     (proxy_cache off, on; off with a keep-alive upstream{} per node,
#     and that with 1 MiB of proxy_buffers) against the owner serving it
#     itself; ROUNDS rounds alternating, two segments a round (a segment
#     is listed for 24 s), medians;
#   - cold start through a node that does not run the channel (n3,
#     drained, so the channel starts elsewhere and is proxied) against
#     through the node that starts it; COLD medians.
# Uses from bench.sh: stage, run, quick, ROUNDS, OPORT, wrk_run, median,
# ratio, ms, stats; sets the cl_* variables its table rows read.

echo "== 7. cluster (3 nodes, one Redis)" >&2
CL_RPORT=18470 CL_PORT=18481
if [ "$quick" = 1 ]; then CL_CHANNELS=9 CL_COLD=4; else CL_CHANNELS=30 CL_COLD=10; fi
cl=$run/cluster
mkdir -p "$cl"
chmod 755 "$cl"
stack_tcp redis-cluster $CL_RPORT "$cl/redis.log" redis-server --port $CL_RPORT --bind 127.0.0.1 \
    --save '' --appendonly no --dir "$cl" --logfile "$cl/redis.log"
cl_data() { "$stage/bin/stream-supervisor" --redis-url "redis://127.0.0.1:$CL_RPORT/0" "$@"; }
for i in $(seq 1 $((CL_CHANNELS + CL_COLD * 2 + 2))); do
    echo "SET channel:c$i '{\"source_url\":\"http://127.0.0.1:$OPORT/live.ts\",\"quality\":\"copy\"}'"
done | redis-cli -p $CL_RPORT >/dev/null
cl_data users add cbench >/dev/null
cl_token=$(cl_data tokens issue cbench)
head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32 >"$cl/cluster.key"

cl_url() { echo "http://127.0.0.1:$((CL_PORT + $1 - 1))"; }
# A node's playlist and segment locations under /PREFIX/, diverted to
# another node through the named location NAMED.
cl_edge_locations() { # PREFIX NAMED
    cat <<EOF
        location ~ ^/$1/live/stream_(?<$1channel>[A-Za-z0-9_-]+)\.m3u8\$ {
            alias $node/hls/stream_\$$1channel.m3u8;
            stream_autostart \$$1channel;
            stream_autostart_cluster_proxy $2;
        }
        location ~ ^/$1/live/(?<$1segment>stream_(?<$1ch>[A-Za-z0-9_-]+)_[0-9]+\.ts)\$ {
            alias $node/hls/\$$1segment;
            stream_autostart_segment \$$1ch;
            stream_autostart_cluster_proxy $2;
        }
EOF
}
for n in 1 2 3; do
    node=$cl/n$n port=$((CL_PORT + n - 1))
    mkdir -p "$node/hls" "$node/nginx"
    chmod 755 "$node" "$node/hls"
    stack_supervisor_as "supervisor-n$n" "$node/sup.sock" --socket-mode 666 \
        --redis-url "redis://127.0.0.1:$CL_RPORT/0" --hls-dir "$node/hls" \
        --idle-timeout 60s --max-streams $((CL_CHANNELS + 10)) --segment-duration 4s \
        --allow-upstream-networks 127.0.0.0/8 \
        --node-id "n$n" --node-url "http://n$n" --lease-ttl 10s
    cat >"$node/nginx/nginx.conf" <<EOF
load_module $stage/modules/ngx_http_stream_autostart_module.so;
worker_processes 1;
worker_rlimit_nofile 65536;
pid $node/nginx/nginx.pid;
error_log $node/nginx/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    sendfile on;
    types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
    client_body_temp_path $node/nginx/body;
    proxy_temp_path $node/nginx/proxy;
    fastcgi_temp_path $node/nginx/fastcgi;
    uwsgi_temp_path $node/nginx/uwsgi;
    scgi_temp_path $node/nginx/scgi;
    proxy_cache_path $node/nginx/cache keys_zone=hls:10m max_size=1g inactive=1m;
    map \$uri \$playlist {
        ~\\.m3u8\$ 1;
        default  "";
    }
$(for m in 1 2 3; do printf '    upstream n%s { server 127.0.0.1:%s; keepalive 32; }\n' \
        $m $((CL_PORT + m - 1)); done)
    server {
        listen 127.0.0.1:$port backlog=4096;
        stream_autostart_supervisor unix:$node/sup.sock;
        stream_autostart_wait 60s;
        stream_autostart_cluster_key $cl/cluster.key;
        stream_autostart_cluster_proxy @cluster;
        location ~ ^/live/stream_(?<channel>[A-Za-z0-9_-]+)\.m3u8\$ {
            alias $node/hls/stream_\$channel.m3u8;
            stream_autostart \$channel;
        }
        location ~ ^/live/(?<segment>stream_(?<ch>[A-Za-z0-9_-]+)_[0-9]+\.ts)\$ {
            alias $node/hls/\$segment;
            stream_autostart_segment \$ch;
        }
        location @cluster {
            proxy_pass \$stream_autostart_owner_url\$stream_autostart_cluster_uri;
            proxy_set_header Accept-Encoding "";
            proxy_connect_timeout 2s;
        }
        # The same through the edge cache of docs/cluster.md (/c/); with a
        # keep-alive pool per node (/p/: a node's URL is http://nN, and a
        # proxy_pass with variables uses the upstream{} named as its host;
        # every location here does, only these keep connections open); and
        # that with buffers that hold a whole segment in memory (/b/).
$(cl_edge_locations c @cached; cl_edge_locations p @pooled; cl_edge_locations b @buffered)
        location @pooled {
            proxy_pass \$stream_autostart_owner_url\$stream_autostart_cluster_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Accept-Encoding "";
            proxy_connect_timeout 2s;
        }
        location @buffered {
            proxy_pass \$stream_autostart_owner_url\$stream_autostart_cluster_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Accept-Encoding "";
            proxy_connect_timeout 2s;
            proxy_buffers 64 16k;
        }
        location @cached {
            proxy_pass \$stream_autostart_owner_url\$stream_autostart_cluster_uri;
            proxy_set_header Accept-Encoding "";
            proxy_connect_timeout 2s;
            proxy_cache hls;
            proxy_cache_key \$stream_autostart_owner_url\$uri;
            proxy_cache_valid 200 30s;
            proxy_cache_bypass \$playlist;
            proxy_no_cache \$playlist;
        }
    }
}
EOF
    stack_nginx "nginx-n$n" "$port" "$node/nginx" "$node/nginx/nginx.conf"
done

# The node holding a channel's lease (1..3), or nothing.
cl_owner() { redis-cli -p $CL_RPORT GET "lease:$1" | sed -n 's/^n\([0-9]*\) .*/\1/p'; }
cl_stop() { # channel: stopped on whichever node runs it
    for n in 1 2 3; do
        "$stage/bin/stream-supervisor" --socket "$cl/n$n/sup.sock" stop "$1" >/dev/null 2>&1 || true
    done
}

# Placement: channel c<i> asked for through node (i mod 3) + 1.
for i in $(seq 1 "$CL_CHANNELS"); do
    echo "$(cl_url $(( (i - 1) % 3 + 1 )))/live/stream_c$i.m3u8?token=$cl_token"
done | xargs -P 6 -I{} curl -s -o /dev/null -m 60 -w '%{http_code}\n' {} >"$cl/placement.txt"
cl_placed_ok=$(grep -c '^200$' "$cl/placement.txt" || true)
cl_per_node=$(for i in $(seq 1 "$CL_CHANNELS"); do cl_owner "c$i"; done | sort | uniq -c | awk '{ print $2, $1 }')
cl_counts=$(for n in 1 2 3; do echo "$cl_per_node" | awk -v n=$n '$1 == n { c = $2 } END { print c + 0 }'; done)
cl_spread=$(echo "$cl_counts" | paste -sd/)
cl_max=$(echo "$cl_counts" | sort -n | tail -n 1)
cl_min=$(echo "$cl_counts" | sort -n | head -n 1)
cl_ffmpegs=$({ pgrep -x ffmpeg || true; } | while read -r p; do
    tr '\0' ' ' <"/proc/$p/environ" 2>/dev/null | grep -o "STREAM_SUPERVISOR_HLS_DIR=$cl/n[0-9]/hls" || true
done | wc -l)
for i in $(seq 1 "$CL_CHANNELS"); do cl_stop "c$i"; done

# Proxy overhead: channel p runs on n1; n2 is the edge.
pch=c$((CL_CHANNELS + 1))
curl -s -o /dev/null -m 60 "$(cl_url 1)/live/stream_$pch.m3u8?token=$cl_token"
sleep 9   # a few segments
: >"$cl/proxy.txt"
# The newest segment of the channel (it stays for about 24 s: two or three
# wrk runs each).
cl_newest() { grep -o "stream_${pch}_[0-9]*\.ts" "$cl/n1/hls/stream_$pch.m3u8" | tail -n 1; }
cl_seg_bytes=0
for _ in $(seq "$ROUNDS"); do
    # The edge learns the owner from a playlist request (for 30 s).
    curl -s -o /dev/null "$(cl_url 2)/live/stream_$pch.m3u8?token=$cl_token"
    seg=$(cl_newest)
    {
        echo "local $(wrk_run "$(cl_url 1)/live/$seg?token=$cl_token")"
        echo "edge $(wrk_run "$(cl_url 2)/live/$seg?token=$cl_token")"
        echo "cached $(wrk_run "$(cl_url 2)/c/live/$seg?token=$cl_token")"
    } >>"$cl/proxy.txt"
    seg=$(cl_newest)
    cl_seg_bytes=$(stat -c %s "$cl/n1/hls/$seg" 2>/dev/null || echo 0)
    {
        echo "local $(wrk_run "$(cl_url 1)/live/$seg?token=$cl_token")"
        echo "pooled $(wrk_run "$(cl_url 2)/p/live/$seg?token=$cl_token")"
        echo "buffered $(wrk_run "$(cl_url 2)/b/live/$seg?token=$cl_token")"
    } >>"$cl/proxy.txt"
done
cl_proxy() { awk -v k="$1" -v f="$2" '$1 == k { print $f }' "$cl/proxy.txt" | median; }
for k in local edge cached pooled buffered; do
    eval "cl_${k}_rps=\$(cl_proxy $k 2); cl_${k}_p99=\$(cl_proxy $k 3)"
done
cl_edge_ratio=$(ratio "$cl_edge_rps" "$cl_local_rps")
cl_cached_ratio=$(ratio "$cl_cached_rps" "$cl_local_rps")
cl_pooled_ratio=$(ratio "$cl_pooled_rps" "$cl_local_rps")
cl_buffered_ratio=$(ratio "$cl_buffered_rps" "$cl_local_rps")
cl_stop "$pch"

# Cold start through the owner (n1 places a cold channel on itself), then
# through n3 drained: it starts nothing, the channel starts on n1 or n2
# and n3 proxies the playlist (and rewrites it).
cl_cold() { # node first-channel-number -> lines "ms"
    local i ch t
    for i in $(seq "$CL_COLD"); do
        ch=c$(($2 + i))
        sleep "0.$(printf %03d $((RANDOM % 1000)))"
        t=$(curl -s -o /dev/null -m 60 -w '%{http_code} %{time_total}' "$(cl_url "$1")/live/stream_$ch.m3u8?token=$cl_token")
        [ "${t%% *}" = 200 ] || echo "bench: cluster cold start $i through n$1 answered ${t%% *}" >&2
        echo "${t##* }" | ms
        echo
        cl_stop "$ch"
    done
}
first=$((CL_CHANNELS + 1))
cl_cold 1 "$first" >"$cl/cold_owner.txt"
cl_data nodes drain n3 >/dev/null
sleep 4   # the next heartbeat carries it
cl_cold 3 $((first + CL_COLD)) >"$cl/cold_edge.txt"
cl_data nodes undrain n3 >/dev/null
read -r cl_cold_own_med cl_cold_own_p95 _ < <(stats <"$cl/cold_owner.txt")
read -r cl_cold_edge_med cl_cold_edge_p95 _ < <(stats <"$cl/cold_edge.txt")
cl_cold_ratio=$(ratio "$cl_cold_edge_med" "$cl_cold_own_med")

for n in 1 2 3; do daemon_stop "nginx-n$n"; daemon_stop "supervisor-n$n"; done
daemon_stop redis-cluster
