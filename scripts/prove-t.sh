#!/bin/sh
# Runs the nginx-style suite t/*.t against one nginx and its build of the
# module: first under this project's Test::Nginx (t/lib), then under
# nginx-tests' own library when a checkout of nginx-tests sits beside the
# repository (../shared/nginx-tests, or NGINX_TESTS_DIR). Exits non-zero
# if either run fails.
#
# usage: scripts/prove-t.sh NGINX_BINARY MODULE_SO [T_FILE...]
#   T_FILE defaults to every t/*.t.
# environment:
#   TEST_SUPERVISOR_BINARY, TEST_ORIGIN_BINARY  (see t/lib/StreamAutostart.pm)
#   TEST_NGINX_GLOBALS   more main-context directives, kept
#   NGINX_TESTS_DIR      nginx-tests checkout (default ../shared/nginx-tests)
#   PROVE_JOBS           parallel test files (default 2)
set -eu
unset NGINX_TESTS_LIB

if [ $# -lt 2 ]; then
    echo "usage: $0 NGINX_BINARY MODULE_SO [T_FILE...]" >&2
    exit 2
fi

# Absolute paths: the runs below start in the repository's root and each
# t file changes into t/.
abspath() {
    case $1 in
    */*) readlink -f -- "$1" ;;
    *) command -v -- "$1" || echo "$1" ;;
    esac
}
nginx=$(abspath "$1")
so=$(readlink -f -- "$2")
shift 2
[ -x "$nginx" ] || { echo "prove-t: no nginx binary $nginx" >&2; exit 2; }
[ -f "$so" ] || { echo "prove-t: no module $so" >&2; exit 2; }

files=""
for f in "$@"; do
    files="$files $(readlink -f -- "$f")"
done

cd "$(dirname "$0")/.."
[ -n "$files" ] || files=$(ls t/*.t)

globals="${TEST_NGINX_GLOBALS:+$TEST_NGINX_GLOBALS }load_module $so;"
# Run as root, nginx's workers would be nobody, who cannot enter
# nginx-tests' private (0700) test directories.
if [ "$(id -u)" -eq 0 ]; then
    case $globals in
    *"user "*) ;;
    *) globals="user root; $globals" ;;
    esac
fi

export TEST_NGINX_BINARY="$nginx"
export TEST_NGINX_GLOBALS="$globals"
jobs=${PROVE_JOBS:-2}
version=$("$nginx" -v 2>&1 | sed 's/.*\///')
failed=0

echo "== prove t/ (nginx $version, Test::Nginx of t/lib)" >&2
# shellcheck disable=SC2086
prove -j"$jobs" $files || failed=1

ntests=${NGINX_TESTS_DIR:-../shared/nginx-tests}
if [ ! -f "$ntests/lib/Test/Nginx.pm" ]; then
    echo "== prove t/ under nginx-tests' lib: skipped: no $ntests" >&2
    exit $failed
fi
ntests=$(readlink -f -- "$ntests")

# nginx-tests loads every module nginx -V lists as =dynamic, from
# TEST_NGINX_MODULES (default: the binary's directory); a packaged nginx
# keeps them in its --modules-path.
configure=$("$nginx" -V 2>&1)
if [ -z "${TEST_NGINX_MODULES:-}" ]; then
    modules=$(printf '%s\n' "$configure" | tr ' ' '\n' \
        | sed -n 's/^--modules-path=//p')
    [ -z "$modules" ] || export TEST_NGINX_MODULES="$modules"
fi
modules=${TEST_NGINX_MODULES:-$(dirname "$nginx")}
missing=""
for m in http_geoip:ngx_http_geoip_module \
    http_image_filter:ngx_http_image_filter_module \
    http_perl:ngx_http_perl_module http_xslt:ngx_http_xslt_filter_module \
    mail:ngx_mail_module stream:ngx_stream_module \
    stream_geoip:ngx_stream_geoip_module; do
    flag=${m%%:*} file=${m#*:}.so
    case $configure in
    *"--with-${flag}_module=dynamic"* | *"--with-$flag=dynamic"*)
        [ -f "$modules/$file" ] || missing="$missing $modules/$file" ;;
    esac
done

echo "== prove t/ (nginx $version, Test::Nginx of $ntests)" >&2
if [ -n "$missing" ]; then
    echo "prove-t: nginx-tests' lib loads every dynamic module of this nginx;" \
        "missing:$missing (Debian: the libnginx-mod-* package)" >&2
    exit 1
fi
# shellcheck disable=SC2086
NGINX_TESTS_LIB="$ntests/lib" prove -j"$jobs" $files || failed=1

exit $failed
