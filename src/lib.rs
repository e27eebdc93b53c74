//! ngx_http_stream_autostart_module: on-demand HLS for nginx.
//!
//! The module checks a viewer's token and whether a channel's playlist
//! really has segments; if not, it asks the stream supervisor over a Unix
//! socket to start the channel, holding the request on nginx's event loop
//! until the stream is ready. The pure-Rust parts (protocol, validation,
//! playlist checks, caches) are plain modules with unit tests; the nginx
//! glue is in `module/`.

pub mod api;
pub mod api_guard;
pub mod call_error;
pub mod cluster_route;
pub mod cors;
pub mod directive_mode;
pub mod edge_playlist;
pub mod log_mask;
pub mod log_text;
pub mod login_key;
pub mod m3u_cache;
pub mod m3u_gzip;
pub mod m3u_render;
pub mod metrics_counters;
pub mod metrics_text;
pub mod outcome;
pub mod owner_cache;
pub mod path_mask;
pub mod playlist_cache;
pub mod playlist_rewrite;
pub mod segment_locate;
pub mod session_key;
pub mod session_limiter;
pub mod supervisor_addr;
pub mod token_cache;
pub mod touch_limiter;
pub mod xtream_args;

// The nginx glue references symbols only the nginx binary provides, so a
// unit-test executable cannot link it; tests cover the pure modules above.
#[cfg(not(test))]
mod module;

#[cfg(not(test))]
pub use module::ngx_http_stream_autostart_module;

// The module table nginx looks up in a dynamic module built outside its own
// build system.
#[cfg(all(feature = "export-modules", not(test)))]
ngx::ngx_modules!(ngx_http_stream_autostart_module);
