#!/bin/sh
# The whole test suite: installs and builds what it needs, runs the Rust
# unit tests, the nginx-style suite in t/ against real nginx, Redis,
# supervisor and ffmpeg (under this project's Test::Nginx and under
# nginx-tests' own library), and a slice of nginx's own tests bare and with
# the module loaded, on the vendored nginx and on the distribution's; the
# fault suite (scripts/faults.sh) and valgrind memcheck (scripts/memcheck.sh)
# once.
# Exits non-zero on any failure.
set -eu
cd "$(dirname "$0")/.."

sh scripts/setup.sh
# The player tests' browser, Xtream client and XMLTV validator; here they
# must run, not skip (t/stream_autostart_players.t fails without them).
sh scripts/setup-test-tools.sh
export TEST_REQUIRE_PLAYER_TOOLS=1
stage=$(sh scripts/build.sh | tail -n 1)
so=ngx_http_stream_autostart_module.so

echo "== cargo test" >&2
cargo test --release --locked

export TEST_SUPERVISOR_BINARY="$stage/bin/stream-supervisor"
export TEST_ORIGIN_BINARY="$stage/bin/test-origin"

# The vendored nginx 1.28 and the module built with it.
sh scripts/prove-t.sh "$stage/sbin/nginx" "$stage/modules/$so"
bash scripts/nginx-suite.sh "$stage/sbin/nginx" "$stage/modules/$so"
# The fault suite (real processes, a few minutes), once: it is about the
# supervisor and the deployment, not about which nginx.
bash scripts/faults.sh
# The module's t files again with nginx under valgrind memcheck (vendored
# nginx; the unsafe code is the same on every nginx).
bash scripts/memcheck.sh

# The distribution's nginx, with the module built for it (its version and
# configure arguments, --with-compat).
system_so=$(bash scripts/build-module.sh --system | tail -n 1)
sh scripts/prove-t.sh "$(command -v nginx)" "$system_so"
bash scripts/nginx-suite.sh "$(command -v nginx)" "$system_so"

# install.sh in a scratch root, with the module for the distribution's nginx.
echo "== install.sh" >&2
bash scripts/check-install.sh "$system_so" "$stage/bin/stream-supervisor"

# nginx's own build system: configure --add-dynamic-module=. and make, then
# the playlist test against that nginx and module.
echo "== nginx --add-dynamic-module build" >&2
objs=$(bash scripts/check-addon-build.sh | tail -n 1)
sh scripts/prove-t.sh "$objs/nginx" "$objs/$so" t/stream_autostart.t

# Every fuzz seed through every parser, then each fuzz target briefly.
bash scripts/fuzz.sh --ci
