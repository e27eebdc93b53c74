#!/bin/sh
# The whole test suite: installs and builds what it needs, runs the Rust
# unit tests and the nginx-style suite in t/ against real nginx, Redis,
# supervisor and ffmpeg. Exits non-zero on any failure.
set -eu
cd "$(dirname "$0")/.."

sh scripts/setup.sh
stage=$(sh scripts/build.sh | tail -n 1)

echo "== cargo test" >&2
cargo test --release --locked

echo "== prove t/ (vendored nginx $("$stage/sbin/nginx" -v 2>&1 | sed 's/.*\///'))" >&2
TEST_NGINX_BINARY="$stage/sbin/nginx" \
TEST_NGINX_GLOBALS="load_module $stage/modules/ngx_http_stream_autostart_module.so;" \
TEST_SUPERVISOR_BINARY="$stage/bin/stream-supervisor" \
TEST_ORIGIN_BINARY="$stage/bin/test-origin" \
    prove -j2 t/

# The same suite against the distribution's nginx, with the module built
# for it (its version and configure arguments, --with-compat).
system_so=$(bash scripts/build-module.sh --system | tail -n 1)
echo "== prove t/ (distribution nginx $(nginx -v 2>&1 | sed 's/.*\///'))" >&2
TEST_NGINX_BINARY="$(command -v nginx)" \
TEST_NGINX_GLOBALS="load_module $system_so;" \
TEST_SUPERVISOR_BINARY="$stage/bin/stream-supervisor" \
TEST_ORIGIN_BINARY="$stage/bin/test-origin" \
    prove -j2 t/

# install.sh in a scratch root, with the module for the distribution's nginx.
echo "== install.sh" >&2
bash scripts/check-install.sh "$system_so" "$stage/bin/stream-supervisor"

# nginx's own build system: configure --add-dynamic-module=. and make, then
# the playlist test against that nginx and module.
echo "== nginx --add-dynamic-module build" >&2
objs=$(bash scripts/check-addon-build.sh | tail -n 1)
TEST_NGINX_BINARY="$objs/nginx" \
TEST_NGINX_GLOBALS="load_module $objs/ngx_http_stream_autostart_module.so;" \
TEST_SUPERVISOR_BINARY="$stage/bin/stream-supervisor" \
TEST_ORIGIN_BINARY="$stage/bin/test-origin" \
    prove t/stream_autostart.t
