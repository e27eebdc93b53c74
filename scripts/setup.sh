#!/bin/sh
# Installs what building, testing and running ngx-stream-autostart needs
# from Debian's packages. Idempotent: does nothing when all are present.
set -eu

PACKAGES="build-essential pkg-config clang libclang-dev libssl-dev libpcre2-dev
zlib1g-dev ffmpeg redis-server redis-tools redis-sentinel perl curl ca-certificates openssl
tinyproxy-bin microsocks vlc-bin vlc-plugin-base nginx-core nginx-dev
libnginx-mod-http-perl valgrind runit"
# tv_validate_file, which checks the rendered programme guide
# (t/supervisor_guide.t).
PACKAGES="$PACKAGES xmltv-util"
# promtool, which checks the metrics text (t/supervisor_metrics.t,
# t/stream_autostart_metrics.t) and the dashboard's queries
# (t/grafana_dashboard.t), and prometheus itself, which scrapes nginx in
# t/stream_autostart_metrics.t.
PACKAGES="$PACKAGES prometheus"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $p"
done

if [ -n "$missing" ]; then
    echo "setup: installing$missing" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: need root to install packages (run as root or with sudo)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    # Packages with services (nginx, redis-server) must not start them:
    # the project runs its own, on loopback, and stops them.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: cargo not found; install a Rust toolchain (1.85 or newer, e.g. with rustup)" >&2
    exit 1
fi
