//! The nginx side: every `unsafe` block of the module lives in this folder.

mod api_handler;
mod client;
mod conf;
mod handler;
mod peer;
mod shared_ensure;
mod variables;

pub use conf::ngx_http_stream_autostart_module;
