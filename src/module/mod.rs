//! The nginx side. Every `unsafe` block of the module is in this folder,
//! each with why it is sound: at the `extern "C"` entry points, in the
//! request wrapper (`request`), at the event loop (`mailbox`, `peer`,
//! `park`'s resume, `shared_ensure`'s delivery), the metrics zone
//! (`metrics_zone`) and in the configuration
//! (`directives`, `settings`).
//!
//! Layers, each using only those above it:
//! - `conf` (a location's configuration), `client`/`peer` (supervisor calls)
//! - `mailbox` (a call's result and the event that resumes its request),
//!   `shared_ensure` (one `ensure` per channel per worker)
//! - `request` (the request wrapper), `ctx` (per-request state)
//! - `park` (waiting and resuming), `touch`, `session` (the session
//!   step of the access phase), `cors` (header filter and preflight),
//!   `edge` (the cluster edge's playlist filter)
//! - one file per phase: `masking` (post-read and log), `access`,
//!   `playlist`, `catalog`, `api`, `xtream`, `metrics` (and the counting
//!   in `metrics_zone`, the shared memory zone); `variables`;
//!   `credentials` (username/password viewers)
//! - `settings` (directive arguments), `directives`: the module
//!   definition, the only file naming handlers

mod access;
mod api;
mod catalog;
mod client;
mod cluster;
mod conf;
mod cors;
mod credentials;
mod ctx;
mod directives;
mod edge;
mod locate;
mod mailbox;
mod masking;
mod metrics;
mod metrics_zone;
mod park;
mod peer;
mod playlist;
mod request;
mod session;
mod settings;
mod shared_ensure;
mod touch;
mod variables;
mod xtream;

pub use directives::ngx_http_stream_autostart_module;
