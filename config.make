# Appended to nginx's objs/Makefile by configure (see `config`): builds the
# Rust static library with cargo against this configured nginx tree, before
# the module is linked.

cat << END                                                  >> $NGX_MAKEFILE

$ngx_stream_autostart_lib: $NGX_OBJS/ngx_auto_config.h ngx_stream_autostart_force
	cd $ngx_addon_dir && \\
	NGINX_SOURCE_DIR="\$(CURDIR)" NGINX_BUILD_DIR="\$(CURDIR)/$NGX_OBJS" \\
	cargo rustc --release --locked -p ngx-stream-autostart --lib --no-default-features \\
		--crate-type staticlib --target-dir "\$(CURDIR)/$NGX_OBJS/stream_autostart"

$NGX_OBJS/ngx_http_stream_autostart_module$ngx_modext: $ngx_stream_autostart_lib

ngx_stream_autostart_force:

END
