#!/bin/sh
# Installs the tools of the player tests (t/stream_autostart_players.t),
# after scripts/setup.sh: Debian's chromium and xmltv-util
# (tv_validate_file), a Python venv with pyxtream (an Xtream client
# library, pinned) under target/player-tools/venv, and puppeteer-core and
# hls.js in t/browser/node_modules (npm ci from the committed
# package-lock.json; puppeteer does not download a browser: the tests drive
# Debian's chromium). Idempotent: does nothing when all are in place; once
# installed they work offline.
#
# The tests find them by these paths (or TEST_PYTHON, TEST_BROWSER_DIR,
# CHROMIUM); see docs/testing.md.
set -eu
cd "$(dirname "$0")/.."

PACKAGES="chromium xmltv-util python3-venv nodejs npm"
PYXTREAM=pyxtream==0.8.0
VENV=target/player-tools/venv

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $p"
done
# A node and npm from elsewhere (nodesource ships npm inside nodejs) will do.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    missing=$(echo "$missing" | sed 's/ nodejs//; s/ npm//')
fi
missing=$(echo "$missing" | sed 's/^ *//')

if [ -n "$missing" ]; then
    echo "setup-test-tools: installing $missing" >&2
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup-test-tools: need root to install packages" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# Debian's python3 (with its venv module), not whatever python3 is first
# on PATH: the venv must outlive shells and version managers.
if ! "$VENV/bin/python" -c 'import pyxtream' >/dev/null 2>&1 \
    || ! "$VENV/bin/pip" freeze 2>/dev/null | grep -qx "$PYXTREAM"; then
    echo "setup-test-tools: python venv with $PYXTREAM in $VENV" >&2
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    /usr/bin/python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "$PYXTREAM"
fi

# npm ci only when the lock file changed since the last install.
stamp=t/browser/node_modules/.package-lock.json
if [ ! -f "$stamp" ] || ! cmp -s t/browser/package-lock.json "$stamp.ci"; then
    echo "setup-test-tools: npm ci in t/browser" >&2
    (cd t/browser && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
    cp t/browser/package-lock.json "$stamp.ci"
fi

# Each tool, checked working (fails here rather than as a skip later).
"$VENV/bin/python" -c 'import pyxtream' \
    || { echo "setup-test-tools: pyxtream does not import" >&2; exit 1; }
command -v tv_validate_file >/dev/null \
    || { echo "setup-test-tools: no tv_validate_file" >&2; exit 1; }
(cd t/browser && node -e 'require("puppeteer-core"); require.resolve("hls.js/dist/hls.min.js")') \
    || { echo "setup-test-tools: t/browser/node_modules is incomplete" >&2; exit 1; }
/usr/bin/chromium --headless=new --no-sandbox --disable-gpu --dump-dom \
    'data:text/html,<p>chromium-ok</p>' 2>/dev/null | grep -q chromium-ok \
    || { echo "setup-test-tools: chromium --headless does not render a page" >&2; exit 1; }
