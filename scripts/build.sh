#!/bin/sh
# Builds nginx (from the source the ngx crate vendors), the module, the
# supervisor and the test origin, once, in release mode, and stages them:
#   target/stage/sbin/nginx
#   target/stage/modules/ngx_http_stream_autostart_module.so
#   target/stage/bin/stream-supervisor, target/stage/bin/test-origin
# Prints the stage directory as its last line.
set -eu
cd "$(dirname "$0")/.."

cargo build --release --locked >&2

# nginx-sys builds nginx in its build-script output directory; the newest
# one is this build's.
nginx=$(ls -t target/release/build/nginx-sys-*/out/objs/nginx 2>/dev/null | head -n 1)
if [ -z "$nginx" ] || [ ! -x "$nginx" ]; then
    echo "build: the vendored nginx binary was not found under target/release/build" >&2
    exit 1
fi

stage=target/stage
mkdir -p "$stage/sbin" "$stage/modules" "$stage/bin"
# install(1) unlinks the old file before it writes the new one: running
# processes keep the old inode. cp would write over it in place, and an
# nginx still running from the stage (a demo, a test) has the module
# mapped: its workers die of SIGSEGV once they touch a changed page.
install -m 755 "$nginx" "$stage/sbin/nginx"
install -m 644 target/release/libngx_http_stream_autostart_module.so \
    "$stage/modules/ngx_http_stream_autostart_module.so"
install -m 755 target/release/stream-supervisor target/release/test-origin "$stage/bin/"
echo "$(pwd)/$stage"
