//! Socket protocol, nginx worker -> supervisor: `shared::protocol::decode_request`.
//! A request that decodes re-encodes (`encode_line`) to a line that decodes
//! to the same request; a refusal is itself a reply the module can decode.

use shared::protocol::{decode_reply, decode_request, encode_line, ErrorCode};

pub fn run(data: &[u8]) {
    match decode_request(data) {
        Ok(req) => {
            let line = encode_line(&req);
            let again = decode_request(&line[..line.len() - 1]);
            assert_eq!(again.as_ref().ok(), Some(&req), "request round trip");
        }
        Err(reply) => {
            assert!(!reply.ok, "a refusal is not ok");
            assert!(reply.code().is_some_and(|c| c != ErrorCode::Internal));
            let line = encode_line(&*reply);
            let back = decode_reply(&line[..line.len() - 1]).expect("refusal decodes");
            assert_eq!(back, *reply, "refusal round trip");
        }
    }
}
