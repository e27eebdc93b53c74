//! One module per target; `ALL` lists them for the corpus replay and for
//! `scripts/fuzz.sh`, which finds the binaries by these names.

pub mod api;
pub mod api_guard;
pub mod catalog_m3u;
pub mod channel_record;
pub mod config_values;
pub mod gateway_chunked;
pub mod gateway_cookies;
pub mod gateway_peer;
pub mod gateway_playlist;
pub mod gateway_policy;
pub mod gateway_url;
pub mod log_mask;
pub mod log_text;
pub mod m3u_import;
pub mod playlist;
pub mod playlist_cache;
pub mod playlist_rewrite;
pub mod proc_text;
pub mod protocol_reply;
pub mod protocol_request;
pub mod proxy_head;
pub mod redact;
pub mod segmenter;
pub mod token;
pub mod users;
pub mod xmltv;

/// A target's entry point: panics on a finding.
pub type Target = fn(&[u8]);

/// Every target by name, with its entry point.
pub const ALL: &[(&str, Target)] = &[
    ("api", api::run),
    ("api_guard", api_guard::run),
    ("catalog_m3u", catalog_m3u::run),
    ("channel_record", channel_record::run),
    ("config_values", config_values::run),
    ("gateway_chunked", gateway_chunked::run),
    ("gateway_cookies", gateway_cookies::run),
    ("gateway_peer", gateway_peer::run),
    ("gateway_playlist", gateway_playlist::run),
    ("gateway_policy", gateway_policy::run),
    ("gateway_url", gateway_url::run),
    ("log_mask", log_mask::run),
    ("log_text", log_text::run),
    ("m3u_import", m3u_import::run),
    ("playlist", playlist::run),
    ("playlist_cache", playlist_cache::run),
    ("playlist_rewrite", playlist_rewrite::run),
    ("proc_text", proc_text::run),
    ("protocol_reply", protocol_reply::run),
    ("protocol_request", protocol_request::run),
    ("proxy_head", proxy_head::run),
    ("redact", redact::run),
    ("segmenter", segmenter::run),
    ("token", token::run),
    ("users", users::run),
    ("xmltv", xmltv::run),
];

/// The input as text, the way the code under test gets it: callers that
/// take `&str` get bytes that were checked or decoded lossily before.
pub fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}
