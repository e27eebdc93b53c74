//! The operator API nginx answers with `stream_autostart_api`: routes, the
//! request bodies, and the JSON replies (the endpoints the old Python API
//! had, now answered by talking to the supervisor's socket).
//!
//! - `POST /api/stream/start`  `{"channel_id", "source_url"?, "quality"?}`
//! - `POST /api/stream/stop`   `{"channel_id"}`
//! - `POST /api/stream/restart` `{"channel_id"}`
//! - `GET  /api/channels` (every configured channel, for the dashboard)
//! - `GET  /api/streams/active`
//! - `GET  /api/streams/<id>`
//! - `POST /channel/<id>/start`
//! - `GET  /api/sessions[?user=<user>]`
//! - `POST /api/sessions/end`  `{"user", "channel"?, "client"?}`
//!
//! Nothing reached with GET changes state. Who may ask at all (origin, API
//! key, content type) is decided in `crate::api_guard`.

use serde::Deserialize;
use serde_json::{json, Value};

use shared::channel_id;
use shared::protocol::{ErrorCode, Reply};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Start; the channel comes from the body (`None`) or the path.
    Start(Option<String>),
    Stop,
    /// Stop if running, then start afresh; the channel comes from the body.
    Restart,
    Active,
    /// Every configured channel with state, viewers and recent history.
    Channels,
    Stream(String),
    /// The live viewing sessions, of one user (`?user=`) or of all.
    Sessions(Option<String>),
    /// End sessions; who and which come from the body.
    EndSession,
}

impl Route {
    pub fn needs_body(&self) -> bool {
        matches!(
            self,
            Route::Start(None) | Route::Stop | Route::Restart | Route::EndSession
        )
    }
}

/// An API refusal: HTTP status, machine code, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// The methods a 405 names in its `Allow` header.
    pub allow: Option<&'static str>,
}

pub fn err(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        code,
        message: message.into(),
        allow: None,
    }
}

fn not_allowed(path: &str, allow: &'static str) -> ApiError {
    ApiError {
        allow: Some(allow),
        ..err(405, "method_not_allowed", format!("{path} takes {allow}"))
    }
}

fn checked_id(id: &str) -> Result<String, ApiError> {
    channel_id::validate(id.as_bytes())
        .map(str::to_string)
        .map_err(|e| err(400, "invalid_channel", e.to_string()))
}

/// Matches the request on the end of its path, so the API can sit under
/// any prefix (`/api/...`, `/admin/api/...`).
pub fn route(method: &str, path: &str) -> Result<Route, ApiError> {
    let path = path.trim_end_matches('/');
    let post_only = |r: Route| {
        if method == "POST" {
            Ok(r)
        } else {
            Err(not_allowed(path, "POST"))
        }
    };
    let get_only = |r: Route| {
        if method == "GET" || method == "HEAD" {
            Ok(r)
        } else {
            Err(not_allowed(path, "GET, HEAD"))
        }
    };
    if path.ends_with("/stream/start") {
        return post_only(Route::Start(None));
    }
    if path.ends_with("/stream/stop") {
        return post_only(Route::Stop);
    }
    if path.ends_with("/stream/restart") {
        return post_only(Route::Restart);
    }
    if path.ends_with("/channels") {
        return get_only(Route::Channels);
    }
    if path.ends_with("/streams/active") {
        return get_only(Route::Active);
    }
    if path.ends_with("/sessions/end") {
        return post_only(Route::EndSession);
    }
    if path.ends_with("/sessions") {
        return get_only(Route::Sessions(None));
    }
    let segs: Vec<&str> = path.rsplit('/').take(3).collect();
    if let [last, id, kind] = segs[..] {
        if last == "start" && kind == "channel" {
            // A start changes state: POST only, so that no link, image
            // or prefetch can start a channel.
            return post_only(Route::Start(Some(checked_id(id)?)));
        }
    }
    if let [id, kind, ..] = segs[..] {
        if kind == "streams" {
            return get_only(Route::Stream(checked_id(id)?));
        }
    }
    Err(err(404, "not_found", format!("no API endpoint {path}")))
}

/// The body of `POST .../stream/start` and `.../stream/stop`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    pub channel_id: Value,
    #[serde(default)]
    pub source_url: Option<String>,
    #[serde(default)]
    pub quality: Option<String>,
}

/// Parses a body; `channel_id` may be a string or a number (the old API
/// took both).
pub fn parse_body(
    bytes: &[u8],
    route: &Route,
) -> Result<(String, Option<String>, Option<String>), ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(err(
            400,
            "bad_request",
            "a JSON body with \"channel_id\" is required",
        ));
    }
    let body: Body = serde_json::from_slice(bytes)
        .map_err(|e| err(400, "bad_request", format!("invalid JSON body: {e}")))?;
    let id = match &body.channel_id {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_u64() => n.to_string(),
        _ => {
            return Err(err(
                400,
                "bad_request",
                "\"channel_id\" must be a string or a number",
            ))
        }
    };
    let id = checked_id(&id)?;
    let only_id = matches!(route, Route::Stop | Route::Restart);
    if only_id && (body.source_url.is_some() || body.quality.is_some()) {
        return Err(err(
            400,
            "bad_request",
            "stop and restart take only \"channel_id\"",
        ));
    }
    Ok((id, body.source_url, body.quality))
}

/// A user name as the API takes it (`?user=`, the end body): 1–256 bytes,
/// no control characters.
pub fn checked_user(user: &str) -> Result<String, ApiError> {
    if user.is_empty() || user.len() > 256 || user.chars().any(char::is_control) {
        return Err(err(
            400,
            "bad_request",
            "\"user\" must be 1-256 bytes without control characters",
        ));
    }
    Ok(user.to_string())
}

/// The body of `POST .../sessions/end`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndBody {
    pub user: String,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub client: Option<String>,
}

/// Parses the body of `POST .../sessions/end`: the user, and optionally
/// the channel and client (a key as `GET .../sessions` lists it).
pub fn parse_end_body(bytes: &[u8]) -> Result<EndBody, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(err(
            400,
            "bad_request",
            "a JSON body with \"user\" is required",
        ));
    }
    let body: EndBody = serde_json::from_slice(bytes)
        .map_err(|e| err(400, "bad_request", format!("invalid JSON body: {e}")))?;
    checked_user(&body.user)?;
    if let Some(c) = &body.channel {
        checked_id(c)?;
    }
    if let Some(c) = &body.client {
        if c.is_empty() || c.len() > 64 || !c.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(err(
                400,
                "bad_request",
                "\"client\" must be a client key as GET sessions lists it",
            ));
        }
    }
    Ok(body)
}

/// HTTP status for a supervisor error code: the outcome table's, so the
/// API and the playlist path answer the same supervisor reply alike.
pub fn status_for(code: ErrorCode) -> u16 {
    crate::outcome::supervisor_error(Some(code)).http()
}

/// The JSON an API error answers with.
pub fn error_json(e: &ApiError) -> Vec<u8> {
    let v = json!({"ok": false, "error": {"code": e.code, "message": e.message}});
    let mut out = serde_json::to_vec(&v).unwrap_or_default();
    out.push(b'\n');
    out
}

/// Status and JSON for a supervisor reply to `route`.
pub fn reply_json(route: &Route, channel: &str, reply: &Reply) -> (u16, Vec<u8>) {
    if !reply.ok {
        let code = reply.code().unwrap_or(ErrorCode::Internal);
        let e = err(status_for(code), code.as_str(), reply.message());
        return (e.status, error_json(&e));
    }
    let v = match route {
        Route::Start(_) => json!({
            "ok": true,
            "channel_id": channel,
            "state": "ready",
            "started": reply.started,
            "playlist": reply.playlist,
        }),
        Route::Restart => json!({
            "ok": true,
            "channel_id": channel,
            "state": "ready",
            "playlist": reply.playlist,
        }),
        Route::Stop => json!({"ok": true, "channel_id": channel, "state": "stopped"}),
        Route::Channels => channels_json(reply),
        Route::Active => json!({"ok": true, "streams": reply.streams.clone().unwrap_or_default()}),
        Route::Stream(_) => json!({
            "ok": true,
            "stream": reply.streams.as_ref().and_then(|s| s.first()),
        }),
        Route::Sessions(_) => json!({
            "ok": true,
            "sessions": reply.sessions.clone().unwrap_or_default(),
        }),
        Route::EndSession => json!({"ok": true, "ended": reply.ended.unwrap_or(0)}),
    };
    let mut out = serde_json::to_vec(&v).unwrap_or_default();
    out.push(b'\n');
    (200, out)
}

/// The overview as the dashboard reads it: `ok` beside its fields.
fn channels_json(reply: &Reply) -> Value {
    let mut v = serde_json::to_value(reply.overview.clone().unwrap_or_default())
        .unwrap_or_else(|_| json!({}));
    if let Some(o) = v.as_object_mut() {
        o.insert("ok".into(), Value::Bool(true));
    }
    v
}

#[cfg(test)]
#[path = "api_tests.rs"]
mod tests;
