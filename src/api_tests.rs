//! Tests of `crate::api`: routes, bodies and replies.

use super::*;

#[test]
fn routes() {
    assert_eq!(route("POST", "/api/stream/start"), Ok(Route::Start(None)));
    assert_eq!(route("POST", "/api/stream/stop/"), Ok(Route::Stop));
    assert_eq!(route("GET", "/api/streams/active"), Ok(Route::Active));
    assert_eq!(
        route("GET", "/api/streams/71386"),
        Ok(Route::Stream("71386".into()))
    );
    assert_eq!(
        route("POST", "/channel/71386/start"),
        Ok(Route::Start(Some("71386".into())))
    );
    // Nothing reached with GET changes state.
    let e = route("GET", "/channel/71386/start").unwrap_err();
    assert_eq!((e.status, e.allow), (405, Some("POST")));
    assert_eq!(
        route("HEAD", "/channel/71386/start").unwrap_err().status,
        405
    );
    assert_eq!(
        route("GET", "/api/stream/stop").unwrap_err().allow,
        Some("POST")
    );
    assert_eq!(
        route("POST", "/api/streams/active").unwrap_err().allow,
        Some("GET, HEAD")
    );
    assert_eq!(route("GET", "/admin/api/streams/active"), Ok(Route::Active));
    assert_eq!(route("GET", "/api/stream/start").unwrap_err().status, 405);
    assert_eq!(route("DELETE", "/api/streams/1").unwrap_err().status, 405);
    assert_eq!(route("GET", "/api/nothing").unwrap_err().status, 404);
    assert_eq!(route("GET", "/api/streams/a.b").unwrap_err().status, 400);
    assert_eq!(
        route("POST", "/channel/..%2f/start").unwrap_err().status,
        400
    );
}

#[test]
fn dashboard_routes() {
    assert_eq!(route("GET", "/api/channels"), Ok(Route::Channels));
    assert_eq!(route("HEAD", "/api/channels/"), Ok(Route::Channels));
    assert_eq!(route("POST", "/api/stream/restart"), Ok(Route::Restart));
    // Restarting changes state: never with GET.
    let e = route("GET", "/api/stream/restart").unwrap_err();
    assert_eq!((e.status, e.allow), (405, Some("POST")));
    assert_eq!(
        route("POST", "/api/channels").unwrap_err().allow,
        Some("GET, HEAD")
    );
    assert!(Route::Restart.needs_body());
    assert!(!Route::Channels.needs_body());
    assert_eq!(
        parse_body(br#"{"channel_id":"7"}"#, &Route::Restart),
        Ok(("7".into(), None, None))
    );
    assert!(parse_body(
        br#"{"channel_id":"7","source_url":"http://x/"}"#,
        &Route::Restart
    )
    .is_err());
}

#[test]
fn channels_reply() {
    use shared::overview::{ChannelRow, Overview};
    let mut r = Reply::ok(1);
    r.overview = Some(Overview {
        now: 100,
        capacity: 4,
        channels: vec![ChannelRow {
            id: "7".into(),
            host: Some("origin.example".into()),
            node: Some("n2".into()),
            ..Default::default()
        }],
        ..Default::default()
    });
    let (status, body) = reply_json(&Route::Channels, "", &r);
    assert_eq!(status, 200);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["now"], 100);
    assert_eq!(v["channels"][0]["host"], "origin.example");
    assert_eq!(v["channels"][0]["node"], "n2");
    assert_eq!(v["start_seconds"]["count"], 0);
    let (status, body) = reply_json(&Route::Restart, "7", &Reply::ok(1));
    assert_eq!(status, 200);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (v["channel_id"].as_str(), v["state"].as_str()),
        (Some("7"), Some("ready"))
    );
    let (status, _) = reply_json(
        &Route::Channels,
        "",
        &Reply::error(1, ErrorCode::Forbidden, "not an operator"),
    );
    assert_eq!(status, 403);
}

#[test]
fn bodies() {
    let start = Route::Start(None);
    assert_eq!(
        parse_body(
            br#"{"channel_id":"7","source_url":"http://x/","quality":"copy"}"#,
            &start
        ),
        Ok(("7".into(), Some("http://x/".into()), Some("copy".into())))
    );
    assert_eq!(
        parse_body(br#"{"channel_id":71386}"#, &start).unwrap().0,
        "71386"
    );
    for bad in [
        &b""[..],
        b"{",
        br#"{"channel_id":true}"#,
        br#"{"channel_id":"a/b"}"#,
        br#"{"channel_id":"1","extra":1}"#,
        br#"[]"#,
    ] {
        assert_eq!(parse_body(bad, &start).unwrap_err().status, 400, "{bad:?}");
    }
    assert!(parse_body(br#"{"channel_id":"1","quality":"low"}"#, &Route::Stop).is_err());
}

#[test]
fn session_routes() {
    assert_eq!(route("GET", "/api/sessions"), Ok(Route::Sessions(None)));
    assert_eq!(route("HEAD", "/api/sessions/"), Ok(Route::Sessions(None)));
    assert_eq!(route("POST", "/api/sessions/end"), Ok(Route::EndSession));
    assert_eq!(route("POST", "/api/sessions").unwrap_err().status, 405);
    // Ending changes state: never with GET.
    let e = route("GET", "/api/sessions/end").unwrap_err();
    assert_eq!((e.status, e.allow), (405, Some("POST")));
    assert!(Route::EndSession.needs_body());
    assert!(!Route::Sessions(None).needs_body());
}

#[test]
fn end_bodies() {
    assert_eq!(
        parse_end_body(br#"{"user":"alice"}"#),
        Ok(EndBody {
            user: "alice".into(),
            channel: None,
            client: None
        })
    );
    let b =
        parse_end_body(br#"{"user":"alice","channel":"7","client":"00ff12ab34cd56ef"}"#).unwrap();
    assert_eq!(
        (b.channel.as_deref(), b.client.as_deref()),
        (Some("7"), Some("00ff12ab34cd56ef"))
    );
    for bad in [
        &b""[..],
        b"{",
        br#"{}"#,
        br#"{"user":""}"#,
        br#"{"user":"a\nb"}"#,
        br#"{"user":"a","channel":"a/b"}"#,
        br#"{"user":"a","client":"x y"}"#,
        br#"{"user":"a","extra":1}"#,
    ] {
        assert_eq!(parse_end_body(bad).unwrap_err().status, 400, "{bad:?}");
    }
}

#[test]
fn session_replies() {
    let mut r = Reply::ok(1);
    r.sessions = Some(vec![shared::protocol::SessionInfo {
        user: "alice".into(),
        channel: "7".into(),
        client: "00ff12ab34cd56ef".into(),
        started: 1,
        idle_secs: 2,
    }]);
    let (status, body) = reply_json(&Route::Sessions(None), "", &r);
    assert_eq!(status, 200);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["sessions"][0]["user"], "alice");
    let mut r = Reply::ok(1);
    r.ended = Some(2);
    let (_, body) = reply_json(&Route::EndSession, "", &r);
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["ended"], 2);
    let (status, _) = reply_json(
        &Route::Sessions(None),
        "",
        &Reply::error(1, ErrorCode::Forbidden, "not an operator"),
    );
    assert_eq!(status, 403);
}

#[test]
fn replies() {
    let (status, body) = reply_json(
        &Route::Start(None),
        "7",
        &Reply::error(1, ErrorCode::Failed, "upstream answered HTTP 403 Forbidden"),
    );
    assert_eq!(status, 502);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["code"], "failed");
    let (status, body) = reply_json(&Route::Stop, "7", &Reply::ok(1));
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["state"],
        "stopped"
    );
    assert_eq!(status_for(ErrorCode::Capacity), 503);
    assert_eq!(status_for(ErrorCode::NotRunning), 404);
    assert_eq!(status_for(ErrorCode::BadChannel), 422);
    assert_eq!(status_for(ErrorCode::Internal), 502);
}
