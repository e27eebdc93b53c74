#!/bin/bash
# Checks scripts/install.sh in a scratch root (DESTDIR): every file lands
# where Debian's nginx and systemd look, the unit passes
# `systemd-analyze verify` (where available) without a warning, and
# --uninstall removes what install put there.
#   check-install.sh MODULE.so SUPERVISOR-BINARY
set -euo pipefail
cd "$(dirname "$0")/.."
module=$1
supervisor=$2

d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
fail() { echo "check-install: $*" >&2; exit 1; }

DESTDIR=$d bash scripts/install.sh --module "$module" --supervisor "$supervisor" 2>/dev/null
for f in usr/lib/nginx/modules/ngx_http_stream_autostart_module.so \
         usr/share/nginx/modules-available/mod-http-stream-autostart.conf \
         usr/local/bin/stream-supervisor etc/default/stream-supervisor \
         lib/systemd/system/stream-supervisor.service \
         usr/share/stream-autostart/dashboard/index.html \
         usr/share/stream-autostart/dashboard/app.js \
         usr/share/stream-autostart/dashboard/style.css; do
    [ -s "$d/$f" ] || fail "$f missing"
done
link=$(readlink "$d/etc/nginx/modules-enabled/50-mod-http-stream-autostart.conf")
[ "$link" = /usr/share/nginx/modules-available/mod-http-stream-autostart.conf ] \
    || fail "modules-enabled link points at $link"
grep -qx 'load_module modules/ngx_http_stream_autostart_module.so;' \
    "$d/usr/share/nginx/modules-available/mod-http-stream-autostart.conf" || fail "bad load_module line"
"$d/usr/local/bin/stream-supervisor" --version >/dev/null || fail "installed supervisor does not run"

# The settings file may hold the Redis password and proxy credentials.
[ "$(stat -c %a "$d/etc/default/stream-supervisor")" = 600 ] \
    || fail "settings file is not mode 600"

# A second install keeps the operator's settings.
echo "# edited" >>"$d/etc/default/stream-supervisor"
DESTDIR=$d bash scripts/install.sh --module "$module" --supervisor "$supervisor" 2>/dev/null
grep -q '^# edited' "$d/etc/default/stream-supervisor" || fail "install overwrote the settings file"

if command -v systemd-analyze >/dev/null; then
    # verify wants ExecStart to exist: point it at the installed copy.
    u=$d/verify/stream-supervisor.service
    mkdir -p "$d/verify"
    sed "s|^ExecStart=/usr/local/bin/|ExecStart=$d/usr/local/bin/|" \
        "$d/lib/systemd/system/stream-supervisor.service" >"$u"
    out=$(systemd-analyze verify "$u" 2>&1) || fail "systemd-analyze verify: $out"
    [ -z "$out" ] || fail "systemd-analyze verify warns: $out"
    echo "check-install: systemd-analyze verify: clean" >&2
else
    echo "check-install: no systemd-analyze here; unit not verified" >&2
fi

DESTDIR=$d bash scripts/install.sh --uninstall --purge 2>/dev/null
left=$(cd "$d" && find . \( -type f -o -type l \) ! -path './verify/*' | sort)
[ -z "$left" ] || fail "uninstall left: $left"
echo "check-install: install, reinstall and uninstall in a scratch root: ok" >&2
