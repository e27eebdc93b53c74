use super::request::OP_NAMES;
use super::*;

#[test]
fn request_round_trip() {
    let req = Request {
        v: 1,
        id: 42,
        op: Op::Ensure {
            channel: "71386".into(),
            wait_ms: 15000,
            placed: false,
        },
    };
    let line = encode_line(&req);
    assert_eq!(line.last(), Some(&b'\n'));
    let text = std::str::from_utf8(&line).unwrap();
    assert!(text.contains("\"op\":\"ensure\""), "{text}");
    assert_eq!(decode_request(&line[..line.len() - 1]).unwrap(), req);
}

#[test]
fn version_defaults_to_one() {
    let req = decode_request(br#"{"id":1,"op":"authorize","token":"t"}"#).unwrap();
    assert_eq!(req.v, 1);
    assert_eq!(req.op, Op::Authorize { token: "t".into() });
}

#[test]
fn status_without_channel() {
    let req = decode_request(br#"{"id":3,"op":"status"}"#).unwrap();
    assert_eq!(req.op, Op::Status { channel: None });
}

#[test]
fn operator_ops() {
    let req = decode_request(br#"{"id":4,"op":"list"}"#).unwrap();
    assert_eq!(req.op, Op::List);
    let req = decode_request(br#"{"id":4,"op":"restart","channel":"a","wait_ms":5}"#).unwrap();
    assert_eq!(
        req.op,
        Op::Restart {
            channel: "a".into(),
            wait_ms: 5
        }
    );
    for op in OP_NAMES {
        let line = format!(r#"{{"id":1,"op":"{op}"}}"#);
        let err = decode_request(line.as_bytes()).err();
        // Ops without arguments parse; the others name the op.
        if let Some(err) = err {
            assert_eq!(err.code(), Some(ErrorCode::BadRequest), "{op}");
            assert!(err.message().contains(op), "{}", err.message());
        }
    }
}

#[test]
fn broken_json_is_a_bad_request() {
    let err = decode_request(b"{\"id\":1,").unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::BadRequest));
    assert!(err.message().starts_with("invalid JSON"));
    let err = decode_request(b"[1,2]").unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::BadRequest));
}

#[test]
fn unknown_op_echoes_id() {
    let err = decode_request(br#"{"id":9,"op":"explode"}"#).unwrap_err();
    assert_eq!(err.id, 9);
    assert_eq!(err.code(), Some(ErrorCode::UnknownOp));
}

#[test]
fn missing_fields_name_the_op() {
    let err = decode_request(br#"{"id":5,"op":"ensure","channel":"a"}"#).unwrap_err();
    assert_eq!(err.id, 5);
    assert_eq!(err.code(), Some(ErrorCode::BadRequest));
    assert!(err.message().contains("ensure"), "{}", err.message());
}

#[test]
fn unknown_fields_are_refused() {
    let err = decode_request(br#"{"id":5,"op":"touch","channel":"a","x":1}"#).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::BadRequest));
}

#[test]
fn wrong_version_is_refused() {
    let err = decode_request(br#"{"v":2,"id":5,"op":"status"}"#).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::UnsupportedVersion));
}

#[test]
fn bad_id_types() {
    for line in [
        &br#"{"id":-1,"op":"status"}"#[..],
        br#"{"id":"x","op":"status"}"#,
        br#"{"op":"status"}"#,
    ] {
        let err = decode_request(line).unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::BadRequest));
    }
}

#[test]
fn overlong_line() {
    let line = vec![b' '; MAX_LINE + 1];
    assert_eq!(
        decode_request(&line).unwrap_err().code(),
        Some(ErrorCode::TooLong)
    );
}

#[test]
fn reply_round_trip_and_code() {
    let reply = Reply::error(7, ErrorCode::Failed, "upstream answered HTTP 403 Forbidden");
    let line = encode_line(&reply);
    let back = decode_reply(&line[..line.len() - 1]).unwrap();
    assert_eq!(back, reply);
    assert_eq!(back.code(), Some(ErrorCode::Failed));
    let ok = Reply {
        state: Some(StreamState::Ready),
        ..Reply::ok(8)
    };
    let line = encode_line(&ok);
    let text = std::str::from_utf8(&line).unwrap();
    assert_eq!(text, "{\"id\":8,\"ok\":true,\"state\":\"ready\"}\n");
    assert_eq!(
        decode_reply(text.trim_end().as_bytes()).unwrap().code(),
        None
    );
}

#[test]
fn reply_without_error_body_is_internal() {
    let r = decode_reply(br#"{"id":1,"ok":false}"#).unwrap();
    assert_eq!(r.code(), Some(ErrorCode::Internal));
}

#[test]
fn overview_rows_are_compact() {
    use crate::overview::{ChannelRow, Event, EventKind, Overview};
    // A stopped channel with nothing to say is its id only.
    let row = ChannelRow {
        id: "7".into(),
        ..Default::default()
    };
    assert_eq!(serde_json::to_string(&row).unwrap(), r#"{"id":"7"}"#);
    let mut r = Reply::ok(3);
    r.overview = Some(Overview {
        now: 100,
        channels: vec![ChannelRow {
            id: "7".into(),
            state: Some(StreamState::Ready),
            viewers: 2,
            history: vec![Event {
                t: 99,
                kind: EventKind::Ready,
                ms: Some(1500),
                why: None,
            }],
            ..Default::default()
        }],
        ..Default::default()
    });
    let line = encode_line(&r);
    let back = decode_reply(&line[..line.len() - 1]).unwrap();
    assert_eq!(back, r);
    let text = String::from_utf8(line).unwrap();
    assert!(
        text.contains(r#""history":[{"t":99,"kind":"ready","ms":1500}]"#),
        "{text}"
    );
    assert_eq!(
        decode_request(br#"{"id":1,"op":"overview"}"#).unwrap().op,
        Op::Overview
    );
}

#[test]
fn an_elsewhere_reply_names_the_node_and_old_replies_still_parse() {
    let r = Reply {
        node: Some("n2".into()),
        node_url: Some("http://127.0.0.1:8082".into()),
        ..Reply::error(4, ErrorCode::Elsewhere, "channel 7 runs on node n2")
    };
    let line = encode_line(&r);
    let text = String::from_utf8(line.clone()).unwrap();
    assert!(text.contains(r#""code":"elsewhere""#), "{text}");
    assert!(
        text.contains(r#""node":"n2","node_url":"http://127.0.0.1:8082""#),
        "{text}"
    );
    assert_eq!(decode_reply(&line[..line.len() - 1]).unwrap(), r);
    // A reply of a single-node supervisor has neither field.
    let old = decode_reply(br#"{"id":1,"ok":true,"state":"ready"}"#).unwrap();
    assert_eq!((old.node, old.node_url), (None, None));
}

#[test]
fn placed_is_sent_only_when_set_and_old_lines_still_parse() {
    let op = |placed| Request {
        v: 1,
        id: 1,
        op: Op::Ensure {
            channel: "7".into(),
            wait_ms: 10,
            placed,
        },
    };
    let plain = encode_line(&op(false));
    assert!(!std::str::from_utf8(&plain).unwrap().contains("placed"));
    let line = encode_line(&op(true));
    assert!(std::str::from_utf8(&line)
        .unwrap()
        .contains(r#""placed":true"#));
    assert_eq!(decode_request(&line[..line.len() - 1]).unwrap(), op(true));
    let old = br#"{"v":1,"id":1,"op":"ensure","channel":"7","wait_ms":10}"#;
    assert_eq!(decode_request(old).unwrap(), op(false));
}

#[test]
fn locate_is_a_viewer_op_that_decodes() {
    let line = br#"{"v":1,"id":9,"op":"locate","channel":"7"}"#;
    let req = decode_request(line).unwrap();
    assert_eq!(
        req.op,
        Op::Locate {
            channel: "7".into()
        }
    );
    assert_eq!(req.op.privilege(), Privilege::Viewer);
    let again = encode_line(&req);
    assert_eq!(decode_request(&again[..again.len() - 1]).unwrap(), req);
    // Nothing but the channel: a locate cannot carry an ensure's fields.
    let extra = br#"{"v":1,"id":9,"op":"locate","channel":"7","wait_ms":1}"#;
    assert_eq!(
        decode_request(extra).unwrap_err().code(),
        Some(ErrorCode::BadRequest)
    );
}
