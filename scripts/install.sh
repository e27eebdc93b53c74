#!/bin/bash
# Installs ngx-stream-autostart beside the distribution's nginx (Debian
# layout), or removes it.
#
#   install.sh [--module PATH] [--supervisor PATH]   install
#   install.sh --uninstall [--purge]                  remove (--purge: also
#                                                     the settings file)
#
# Without --module / --supervisor it builds them: the module for the
# installed nginx (build-module.sh --system), the supervisor with cargo.
# DESTDIR installs into a scratch root (nothing outside it is touched, no
# user is made, systemd is not asked).
#
# Installs:
#   /usr/lib/nginx/modules/ngx_http_stream_autostart_module.so
#   /usr/share/nginx/modules-available/mod-http-stream-autostart.conf
#   /etc/nginx/modules-enabled/50-mod-http-stream-autostart.conf (symlink)
#   /usr/local/bin/stream-supervisor
#   /usr/share/stream-autostart/dashboard/ (the operator dashboard's page)
#   /etc/default/stream-supervisor (kept if it exists)
#   /lib/systemd/system/stream-supervisor.service
#   /var/www/hls (owned by the service user, group www-data)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

DESTDIR=${DESTDIR:-}
module=""
supervisor=""
uninstall=no
purge=no
while [ $# -gt 0 ]; do
    case $1 in
        --module) module=$2; shift ;;
        --supervisor) supervisor=$2; shift ;;
        --uninstall) uninstall=yes ;;
        --purge) purge=yes ;;
        *) echo "usage: $0 [--module PATH] [--supervisor PATH] | --uninstall [--purge]" >&2; exit 2 ;;
    esac
    shift
done

say() { echo "install: $*" >&2; }

moddir=/usr/lib/nginx/modules
if [ -z "$DESTDIR" ] && command -v nginx >/dev/null; then
    # Where this nginx looks for modules.
    m=$(nginx -V 2>&1 | sed -n 's/.*--modules-path=\([^ ]*\).*/\1/p')
    [ -n "$m" ] && moddir=$m
fi
so=$moddir/ngx_http_stream_autostart_module.so
available=/usr/share/nginx/modules-available/mod-http-stream-autostart.conf
enabled=/etc/nginx/modules-enabled/50-mod-http-stream-autostart.conf
bin=/usr/local/bin/stream-supervisor
defaults=/etc/default/stream-supervisor
unit=/lib/systemd/system/stream-supervisor.service
dashboard=/usr/share/stream-autostart/dashboard
dashboard_files="index.html app.js style.css"
hls=/var/www/hls
live=no
[ -z "$DESTDIR" ] && [ -d /run/systemd/system ] && live=yes

if [ $uninstall = yes ]; then
    if [ $live = yes ]; then
        systemctl disable --now stream-supervisor.service 2>/dev/null || true
    fi
    rm -f "$DESTDIR$enabled" "$DESTDIR$available" "$DESTDIR$so" "$DESTDIR$bin" "$DESTDIR$unit"
    for f in $dashboard_files; do rm -f "$DESTDIR$dashboard/$f"; done
    rmdir "$DESTDIR$dashboard" "$DESTDIR$(dirname "$dashboard")" 2>/dev/null || true
    [ $purge = yes ] && rm -f "$DESTDIR$defaults"
    [ $live = yes ] && systemctl daemon-reload
    say "removed; reload nginx (nginx -t && systemctl reload nginx). $hls and Redis data are left alone."
    exit 0
fi

if [ -z "$module" ]; then
    module=$(bash scripts/build-module.sh --system | tail -n 1)
fi
if [ -z "$supervisor" ]; then
    cargo build --release --locked --bin stream-supervisor >&2
    supervisor=$root/target/release/stream-supervisor
fi
[ -f "$module" ] || { say "no module at $module"; exit 1; }
[ -x "$supervisor" ] || { say "no supervisor binary at $supervisor"; exit 1; }

install -D -m 644 "$module" "$DESTDIR$so"
install -D -m 644 packaging/mod-http-stream-autostart.conf "$DESTDIR$available"
mkdir -p "$DESTDIR$(dirname "$enabled")"
ln -sfn "$available" "$DESTDIR$enabled"
install -D -m 755 "$supervisor" "$DESTDIR$bin"
for f in $dashboard_files; do
    install -D -m 644 "dashboard/$f" "$DESTDIR$dashboard/$f"
done
if [ -e "$DESTDIR$defaults" ]; then
    say "keeping $defaults"
else
    install -D -m 600 packaging/stream-supervisor.default "$DESTDIR$defaults"
fi
install -D -m 644 packaging/stream-supervisor.service "$DESTDIR$unit"
mkdir -p "$DESTDIR$hls"

if [ -z "$DESTDIR" ]; then
    if ! id stream-supervisor >/dev/null 2>&1; then
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin stream-supervisor
    fi
    getent group www-data >/dev/null || groupadd --system www-data
    chown stream-supervisor:www-data "$hls"
    chmod 2755 "$hls"
    if [ $live = yes ]; then
        systemctl daemon-reload
        systemctl enable --now stream-supervisor.service
    fi
fi

say "installed. Next: nginx -t && systemctl reload nginx; add stream_autostart locations (see nginx-conf/nginx.conf; the dashboard: docs/dashboard.md)."
