//! The stream supervisor as a library: `main.rs` is a thin entry point, and
//! the fuzz targets in `fuzz/` reach the parsers that see outside bytes.

pub mod accounts;
pub mod argv_secrets;
pub mod catalog;
pub mod channel_record;
pub mod cluster;
pub mod config;
pub mod conn_limits;
pub mod ctl;
pub mod data;
pub mod disk_space;
pub mod ffmpeg_args;
pub mod ffmpeg_ladder;
pub mod ffmpeg_reason;
pub mod gateway;
pub mod guide;
pub mod history;
pub mod hls_files;
pub mod m3u_import;
pub mod metrics;
pub mod overview;
pub mod peer_access;
pub mod process;
pub mod proxy;
pub mod reconcile;
pub mod redact;
pub mod restart_policy;
pub mod secret;
pub mod segmenter;
pub mod server;
pub mod server_ops;
pub mod store;
pub mod streams;
pub mod user_time;
pub mod users;
pub mod xtream;
