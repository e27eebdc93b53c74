//! Fuzz targets: one function per parser family that sees outside bytes.
//! Each `src/bin/<name>.rs` hands AFL's input to `targets::<name>::run`;
//! `tests/corpus.rs` replays every seed through every target without AFL.
//! A target panics (a crash for AFL) when the code under test panics or
//! when a property it checks does not hold.

// The nginx module's pure parsers, compiled from the module's own files:
// the module crate links against nginx (nginx-sys builds it), which a fuzz
// build neither needs nor wants. `api.rs` names `crate::outcome`, so they
// sit at this crate's root.
#[path = "../../src/api.rs"]
pub mod api;
#[path = "../../src/api_guard.rs"]
pub mod api_guard;
#[path = "../../src/call_error.rs"]
pub mod call_error;
#[path = "../../src/log_mask.rs"]
pub mod log_mask;
#[path = "../../src/log_text.rs"]
pub mod log_text;
#[path = "../../src/login_key.rs"]
pub mod login_key;
#[path = "../../src/m3u_render.rs"]
pub mod m3u_render;
#[path = "../../src/outcome.rs"]
pub mod outcome;
#[path = "../../src/path_mask.rs"]
pub mod path_mask;
#[path = "../../src/playlist_cache.rs"]
pub mod playlist_cache;
#[path = "../../src/playlist_rewrite.rs"]
pub mod playlist_rewrite;
#[path = "../../src/supervisor_addr.rs"]
pub mod supervisor_addr;
#[path = "../../src/xtream_args.rs"]
pub mod xtream_args;

pub mod targets;
