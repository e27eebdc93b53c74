#!/bin/bash
# Runs a slice of nginx's own test suite (nginx-tests) against one nginx
# twice, bare and with our module loaded, and fails if loading the module
# makes any test fail that passes bare.
#
#   scripts/nginx-suite.sh NGINX_BINARY [MODULE_SO]
#
# MODULE_SO defaults to scripts/build.sh's stage layout: DIR/sbin/nginx,
# DIR/modules/ngx_http_stream_autostart_module.so. nginx-tests is used in
# place, read-only, from ../shared/nginx-tests next to the repository (or
# NGINX_TESTS=DIR); without it the check is skipped (exit 0).
# Tests are compared one by one (file, number, description): a test that
# fails bare (a feature this nginx lacks, a flaky one) never counts
# against the module.
set -uo pipefail
die() { echo "nginx-suite: $*" >&2; exit 2; }
abs() { (cd "$(dirname "$1")" 2>/dev/null && echo "$(pwd)/$(basename "$1")"); }

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: $0 NGINX_BINARY [MODULE_SO]"
nginx=$(abs "$1")
so_arg=${2:-$(dirname "$(dirname "$nginx")")/modules/ngx_http_stream_autostart_module.so}
so=$(abs "$so_arg")
tests=${NGINX_TESTS:-$(cd "$(dirname "$0")/.." && pwd)/../shared/nginx-tests}
if [ ! -f "$tests/lib/Test/Nginx.pm" ]; then
    echo "nginx-suite: skipped: no nginx-tests at $tests (set NGINX_TESTS=DIR)"
    exit 0
fi
tests=$(cd "$tests" && pwd)
[ -x "$nginx" ] || die "no executable nginx at $1"
[ -f "$so" ] || die "no module at $so_arg"
command -v prove >/dev/null || die "no prove (Debian: perl)"

# The issue's list, then the neighbours of what the module touches: it
# adds an access-phase handler to every location (auth, limits, request
# bodies, subrequests, internal redirects) and writes responses itself
# (filters, keepalive). About 30 s per run.
SLICE="access auth_request headers http_location http_try_files index
limit_req map rewrite secure_link range not_modified
auth_basic auth_request_satisfy auth_request_set limit_conn realip
body http_expect_100_continue http_method http_host http_server_name
http_uri http_keepalive proxy proxy_cache ssi addition mirror post_action
http_error_page gzip autoindex"

work=$(mktemp -d "${TMPDIR:-/tmp}/nginx-suite.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Test::Nginx adds a load_module line for every =dynamic module in nginx -V
# (Debian: perl, xslt, mail, stream, ...), from TEST_NGINX_MODULES; one
# whose package is not installed stops every test from starting. So the
# tests see an nginx -V without the absent ones, through a wrapper.
mods=$("$nginx" -V 2>&1 | sed -n 's/.*--modules-path=\([^ ]*\).*/\1/p')
mods=${mods:-$(dirname "$nginx")}
"$nginx" -V >"$work/V" 2>&1
for arg in $(grep -o -- '--with-[a-z_]*=dynamic' "$work/V"); do
    n=${arg#--with-}; n=${n%=dynamic}; n=${n%_module}
    ls "$mods"/ngx_"$n"*.so >/dev/null 2>&1 || sed -i "s/ $arg//" "$work/V"
done
printf '#!/bin/sh\n[ "$1" = -V ] && exec cat "%s"\nexec "%s" "$@"\n' "$work/V" "$nginx" >"$work/nginx"
chmod +x "$work/nginx"

# As root, nginx's workers run as nobody and cannot read the test dirs.
globals=${TEST_NGINX_GLOBALS:-}
[ "$(id -u)" = 0 ] && globals="${globals:+$globals }user root;"
with_module="${globals:+$globals }load_module $so;"

# Does the module load at all? Otherwise every test would just fail.
printf '%s\nevents {}\n' "$with_module" >"$work/preflight.conf"
"$nginx" -t -q -p "$work/" -c "$work/preflight.conf" -e "$work/preflight.log" -g "pid $work/pre.pid;" 2>/dev/null \
    || die "$nginx does not load $so: $(cat "$work/preflight.log")"

files=""
for t in $SLICE; do [ -f "$tests/$t.t" ] && files="$files $t.t"; done

echo "nginx:       $nginx ($("$nginx" -v 2>&1 | sed 's/^nginx version: //'))"
echo "module:      $so"
echo "nginx-tests: $tests"
echo "slice:      $files"

run() { # name, TEST_NGINX_GLOBALS
    local start=$SECONDS
    mkdir -p "$work/$1/tmp"
    (cd "$tests" && TMPDIR="$work/$1/tmp" TEST_NGINX_BINARY="$work/nginx" \
        TEST_NGINX_MODULES="$mods" TEST_NGINX_GLOBALS="$2" \
        PERL_TEST_HARNESS_DUMP_TAP="$work/$1/tap" \
        prove -j2 $files >"$work/$1.log" 2>&1)
    echo "$1 run: $((SECONDS - start)) s"
}
run bare "$globals"
run module "$with_module"

# One line per file ("ok 21", "skipped: ...", "FAIL 2 of 21"), and every
# failing test as "file #N - description" into DIR/fails: a "not ok" that
# is not TODO, or a planned test that never ran (nginx died, say).
summarize() { # run dir, file
    awk -v f="$2" -v fails="$1/fails" '
        /^1\.\.0/ { skip = $0; sub(/^1\.\.0 *(# *[Ss][Kk][Ii][Pp]+[a-z]*:? *)?/, "", skip) }
        /^1\.\.[0-9]+/ { plan = substr($1, 4) + 0 }
        /^ok [0-9]/ { seen[$2] = 1 }
        /^not ok [0-9]/ {
            seen[$3] = 1
            if ($0 !~ /# *TODO/) { bad++; d = $0; sub(/^not ok /, "", d); print f " #" d >> fails }
        }
        END {
            if (skip != "") { print "skipped: " skip; exit }
            for (i = 1; i <= plan; i++) if (!(i in seen)) {   # a run of them is one line
                for (j = i; j < plan && !((j + 1) in seen); j++);
                bad += j - i + 1
                print f " #" i (j > i ? "-" j : "") " (not run)" >> fails
                i = j
            }
            if (plan == 0) { bad++; print f " (no plan: did not run)" >> fails }
            print (bad ? "FAIL " bad " of " plan : "ok " plan)
        }' "$1/tap/$2" 2>/dev/null || { echo "FAIL (no output)"; echo "$2 (no output)" >>"$1/fails"; }
}

printf '\n%-28s %-36s %s\n' file bare module
for f in $files; do
    printf '%-28s %-36s %s\n' "$f" "$(summarize "$work/bare" "$f")" "$(summarize "$work/module" "$f")"
done
touch "$work/bare/fails" "$work/module/fails"
export LC_ALL=C   # one collation for sort and comm
sort -o "$work/bare/fails" "$work/bare/fails"
sort -o "$work/module/fails" "$work/module/fails"
only=$(comm -13 "$work/bare/fails" "$work/module/fails" | sort -V)
nbare=$(wc -l <"$work/bare/fails")

echo
if [ -z "$only" ]; then
    echo "nginx-suite: PASS: the module adds no failure ($nbare test(s) fail bare too, not counted)"
    exit 0
fi
echo "failing only with the module:"
printf '%s\n' "$only" | sed 's/^/  /'
# nginx's own complaints that only the module run has (a test dir's path
# stripped), often the why.
emerg() { grep -ho 'nginx: \[\(emerg\|alert\|crit\)\].*' "$1" | sed 's| in /[^ ]*nginx-test-[^ ]*||' | sort -u; }
new=$(comm -13 <(emerg "$work/bare.log") <(emerg "$work/module.log") | head -n 5)
[ -z "$new" ] || { echo "nginx said, only with the module:"; printf '%s\n' "$new" | sed 's/^/  /'; }
trap - EXIT
echo "one file by hand (TEST_NGINX_LEAVE keeps its nginx.conf and error.log):"
echo "  cd $tests && TEST_NGINX_BINARY=$work/nginx TEST_NGINX_MODULES=$mods TEST_NGINX_GLOBALS='$with_module' TEST_NGINX_LEAVE=1 prove -v FILE.t"
echo "nginx-suite: FAIL: the module adds failures in $(printf '%s\n' "$only" | cut -d' ' -f1 | sort -u | wc -l) file(s); prove logs in $work/{bare,module}.log"
exit 1
