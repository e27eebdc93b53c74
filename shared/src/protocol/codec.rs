//! Lines on the wire: encoding a message, decoding (and refusing) a
//! request or a reply.

use serde::Serialize;

use super::request::OP_NAMES;
use super::{ErrorCode, Reply, Request, MAX_LINE, MAX_REPLY_LINE, PROTOCOL_VERSION};

/// Encodes a message as one line (JSON plus `\n`).
pub fn encode_line<T: Serialize>(msg: &T) -> Vec<u8> {
    // Serializing these plain structs cannot fail.
    let mut out = serde_json::to_vec(msg).unwrap_or_default();
    out.push(b'\n');
    out
}

/// Parses one request line (without its newline). On failure returns the
/// reply to send: it echoes the request's `id` when one could be read.
pub fn decode_request(line: &[u8]) -> Result<Request, Box<Reply>> {
    if line.len() > MAX_LINE {
        return Err(bad(
            0,
            ErrorCode::TooLong,
            format!("request line longer than {MAX_LINE} bytes"),
        ));
    }
    let value: serde_json::Value = serde_json::from_slice(line)
        .map_err(|e| bad(0, ErrorCode::BadRequest, format!("invalid JSON: {e}")))?;
    let obj = value
        .as_object()
        .ok_or_else(|| bad(0, ErrorCode::BadRequest, "request is not a JSON object"))?;
    let id = match obj.get("id") {
        Some(v) => v.as_u64().ok_or_else(|| {
            bad(
                0,
                ErrorCode::BadRequest,
                "\"id\" must be a non-negative integer",
            )
        })?,
        None => return Err(bad(0, ErrorCode::BadRequest, "missing \"id\"")),
    };
    if let Some(v) = obj.get("v") {
        match v.as_u64() {
            Some(v) if v == u64::from(PROTOCOL_VERSION) => {}
            _ => {
                return Err(bad(
                    id,
                    ErrorCode::UnsupportedVersion,
                    format!("protocol version {v} not supported (this supervisor speaks {PROTOCOL_VERSION})"),
                ))
            }
        }
    }
    let op = match obj.get("op") {
        Some(serde_json::Value::String(op)) => op.clone(),
        Some(_) => return Err(bad(id, ErrorCode::BadRequest, "\"op\" must be a string")),
        None => return Err(bad(id, ErrorCode::BadRequest, "missing \"op\"")),
    };
    if !OP_NAMES.contains(&op.as_str()) {
        return Err(bad(id, ErrorCode::UnknownOp, format!("unknown op {op:?}")));
    }
    serde_json::from_value::<Request>(value)
        .map_err(|e| bad(id, ErrorCode::BadRequest, format!("bad {op} request: {e}")))
}

fn bad(id: u64, code: ErrorCode, message: impl Into<String>) -> Box<Reply> {
    Box::new(Reply::error(id, code, message))
}

/// Parses one reply line (without its newline).
pub fn decode_reply(line: &[u8]) -> Result<Reply, String> {
    if line.len() > MAX_REPLY_LINE {
        return Err(format!("reply longer than {MAX_REPLY_LINE} bytes"));
    }
    serde_json::from_slice(line).map_err(|e| format!("invalid reply from supervisor: {e}"))
}
