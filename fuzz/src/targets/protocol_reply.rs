//! Socket protocol, supervisor -> nginx worker: `shared::protocol::decode_reply`,
//! then what the module makes of a reply (`outcome::authorize`, `ensure`,
//! `catalog`, `api::reply_json`). A reply round-trips through `encode_line`;
//! a reply that is not ok never grants a viewer access (fail closed).

use shared::protocol::{decode_reply, encode_line, ErrorCode};

use crate::api::{reply_json, Route};
use crate::outcome::{self, Authorized};

pub fn run(data: &[u8]) {
    let Ok(reply) = decode_reply(data) else {
        return;
    };
    let line = encode_line(&reply);
    let back = decode_reply(&line[..line.len() - 1]).expect("re-encoded reply decodes");
    assert_eq!(back, reply, "reply round trip");

    let result = Ok(reply.clone());
    match outcome::authorize(&result, 30_000) {
        Authorized::Granted { ttl_ms, .. } => {
            assert!(reply.ok, "grant from a reply that is not ok");
            assert!(ttl_ms <= 30_000, "grant longer than configured");
        }
        Authorized::Denied { .. } => assert_eq!(reply.code(), Some(ErrorCode::Denied)),
        Authorized::Unavailable => assert!(!reply.ok),
    }
    let ensured = outcome::ensure(&result, false);
    assert_eq!(ensured.is_ok(), reply.ok, "ensure follows ok");
    let _ = outcome::catalog(&result);

    for route in [
        Route::Start(None),
        Route::Stop,
        Route::Restart,
        Route::Active,
        Route::Channels,
        Route::Stream("c1".into()),
    ] {
        let (status, body) = reply_json(&route, "c1", &reply);
        assert!((200..600).contains(&status), "HTTP status {status}");
        serde_json::from_slice::<serde_json::Value>(&body).expect("API reply is JSON");
    }
}
