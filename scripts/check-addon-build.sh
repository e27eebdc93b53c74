#!/bin/bash
# Builds the module the way nginx's own build system does, from the nginx
# source the ngx crate vendors:
#   configure --with-compat --add-dynamic-module=<this repository>; make
# then checks that the nginx built there loads the module (nginx -t), and
# prints the build directory (objs/nginx, objs/*.so) as its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/nginx-src-*/nginx 2>/dev/null | sort | tail -n 1)
[ -n "$src" ] || { echo "check-addon-build: no vendored nginx source; run scripts/build.sh first" >&2; exit 1; }

work=$root/target/addon/nginx
rm -rf "$work"
mkdir -p "$(dirname "$work")"
cp -a "$src" "$work"
cd "$work"
# A release tarball has ./configure; the repository layout has auto/configure.
conf=./configure
[ -x "$conf" ] || conf=auto/configure
"$conf" --with-compat --add-dynamic-module="$root" >configure.log 2>&1 \
    || { tail -20 configure.log >&2; exit 1; }
make -j2 >make.log 2>&1 || { tail -40 make.log >&2; exit 1; }

t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
cat >"$t/nginx.conf" <<CONF
load_module $work/objs/ngx_http_stream_autostart_module.so;
pid $t/nginx.pid;
events {}
http {
    access_log off;
    server {
        listen 127.0.0.1:1;
        location / { stream_autostart \$arg_c; }
    }
}
CONF
objs/nginx -t -q -p "$t" -c "$t/nginx.conf" -e "$t/error.log" \
    || { echo "check-addon-build: nginx -t refused the module: $(cat "$t/error.log")" >&2; exit 1; }
echo "check-addon-build: objs/ngx_http_stream_autostart_module.so built by nginx's make loads into objs/nginx" >&2
echo "$work/objs"
