#!/bin/bash
# Builds ngx_http_stream_autostart_module.so for one nginx and prints the
# absolute path of the .so as its last line.
#
#   build-module.sh [--vendored]   the nginx source the ngx crate vendors
#   build-module.sh --source DIR   a configured nginx source tree (DIR/objs,
#                                  or NGINX_BUILD_DIR for another build dir)
#   build-module.sh --system       the distribution's nginx: its version and
#                                  configure arguments (nginx -V), the source
#                                  from Debian's nginx-dev, plus --with-compat;
#                                  then checked with nginx -t and load_module
#
# A dynamic module loads only into the nginx version it was built for, with
# the same --with-compat signature; --system makes sure of both.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

mode=vendored
src=""
case "${1:-}" in
    ""|--vendored) ;;
    --source) mode=source; src=${2:?"--source needs a directory"} ;;
    --system) mode=system ;;
    *) echo "usage: $0 [--vendored | --source DIR | --system]" >&2; exit 2 ;;
esac

die() { echo "build-module: $*" >&2; exit 1; }

so=libngx_http_stream_autostart_module.so

build_against() { # source dir, build dir, target dir
    NGINX_SOURCE_DIR="$1" NGINX_BUILD_DIR="$2" CARGO_TARGET_DIR="$3" \
        cargo build --release --locked -p ngx-stream-autostart --lib \
        --no-default-features --features export-modules >&2
    echo "$3/release/$so"
}

case $mode in
vendored)
    cargo build --release --locked -p ngx-stream-autostart --lib >&2
    echo "$root/target/release/$so"
    ;;

source)
    abs=$(cd "$src" 2>/dev/null && pwd) || die "no directory $src"
    src=$abs
    [ -f "$src/src/core/nginx.h" ] || die "$src is not an nginx source tree (no src/core/nginx.h)"
    objs=${NGINX_BUILD_DIR:-$src/objs}
    [ -f "$objs/ngx_auto_config.h" ] || die "$objs has no ngx_auto_config.h: run ./configure --with-compat ... in $src first (or set NGINX_BUILD_DIR)"
    grep -q NGX_COMPAT "$objs/ngx_auto_config.h" \
        || echo "build-module: warning: $src was configured without --with-compat; the module loads only into an nginx built with exactly the same options" >&2
    build_against "$src" "$objs" "$root/target/source"
    ;;

system)
    nginx=$(command -v nginx || true)
    [ -n "$nginx" ] || die "no nginx found; install it first (Debian: apt-get install nginx-core)"
    info=$("$nginx" -V 2>&1)
    version=$(printf '%s\n' "$info" | sed -n 's|^nginx version: nginx/\([0-9.]*\).*|\1|p')
    [ -n "$version" ] || die "cannot read the version from '$nginx -V'"
    printf '%s\n' "$info" | grep -q -- '--with-compat' \
        || die "$nginx $version was built without --with-compat: dynamic modules built elsewhere cannot load into it; use an nginx package built with --with-compat (Debian's is) or build nginx and the module together (--source)"
    dev=/usr/share/nginx/src
    [ -f "$dev/conf_flags" ] && [ -f "$dev/src/core/nginx.h" ] \
        || die "no nginx source in $dev: install Debian's nginx-dev $version (apt-get install nginx-dev)"
    devversion=$(sed -n 's|^#define NGINX_VERSION *"\(.*\)"|\1|p' "$dev/src/core/nginx.h")
    [ "$devversion" = "$version" ] \
        || die "nginx-dev has the source of $devversion but $nginx is $version: install matching packages (apt-get install nginx-core=<v> nginx-dev=<v>)"

    # Configure a private copy: the packaged tree stays untouched.
    work=$root/target/system/nginx-$version
    if [ ! -f "$work/objs/ngx_auto_config.h" ] || [ "$dev/conf_flags" -nt "$work/objs/ngx_auto_config.h" ]; then
        rm -rf "$work"
        mkdir -p "$work"
        cp -a "$dev/." "$work/"
        # conf_flags defines NGX_CONF_FLAGS, the arguments Debian builds
        # nginx with (they include --with-compat).
        # shellcheck disable=SC1091
        (cd "$work" && . ./conf_flags && ./configure "${NGX_CONF_FLAGS[@]}" --with-compat >/dev/null) \
            || die "configure failed in $work"
    fi
    out=$(build_against "$work" "$work/objs" "$root/target/system")

    # Does it load? nginx -t with load_module, in a scratch prefix.
    t=$(mktemp -d)
    trap 'rm -rf "$t"' EXIT
    cat >"$t/nginx.conf" <<EOF
load_module $out;
pid $t/nginx.pid;
error_log $t/error.log;
events {}
http {
    access_log off;
    client_body_temp_path $t/body;
    proxy_temp_path $t/proxy;
    fastcgi_temp_path $t/fastcgi;
    uwsgi_temp_path $t/uwsgi;
    scgi_temp_path $t/scgi;
    server {
        listen 127.0.0.1:1;
        location / { stream_autostart \$arg_c; }
    }
}
EOF
    "$nginx" -t -q -p "$t" -c "$t/nginx.conf" -e "$t/error.log" >&2 \
        || die "$nginx -t refused the module: $(cat "$t/error.log" 2>/dev/null)"
    echo "build-module: $out loads into $nginx $version" >&2
    echo "$out"
    ;;
esac
