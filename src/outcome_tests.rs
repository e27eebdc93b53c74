use super::*;

fn reply_err(code: ErrorCode) -> Result<Reply, CallError> {
    Ok(Reply::error(1, code, "why"))
}

fn ready(started: Option<bool>) -> Result<Reply, CallError> {
    let mut r = Reply::ok(1);
    r.started = started;
    Ok(r)
}

#[test]
fn ensure_outcomes() {
    assert_eq!(ensure(&ready(Some(true)), false), Ok(Status::Started));
    assert_eq!(ensure(&ready(Some(false)), false), Ok(Status::Waited));
    // A request that joined another's call did not start anything.
    assert_eq!(ensure(&ready(Some(true)), true), Ok(Status::Waited));
    let http = |r| ensure(&r, false).unwrap_err().http();
    assert_eq!(http(reply_err(ErrorCode::UnknownChannel)), 404);
    assert_eq!(http(reply_err(ErrorCode::BadChannel)), 422);
    assert_eq!(http(reply_err(ErrorCode::Failed)), 502);
    assert_eq!(http(reply_err(ErrorCode::Timeout)), 504);
    assert_eq!(http(reply_err(ErrorCode::InvalidChannel)), 400);
    for code in [
        ErrorCode::Capacity,
        ErrorCode::Unavailable,
        ErrorCode::ShuttingDown,
    ] {
        let r = ensure(&reply_err(code), false).unwrap_err();
        assert_eq!((r.http(), r.status.retry_after()), (503, true), "{code:?}");
    }
    assert_eq!(http(reply_err(ErrorCode::Internal)), 502);
    assert_eq!(http(Err(CallError::Timeout)), 504);
    assert_eq!(http(Err(CallError::Unreachable("x".into()))), 503);
    assert_eq!(http(Err(CallError::Protocol("x".into()))), 502);
}

#[test]
fn authorize_fails_closed() {
    let mut granted = Reply::ok(1);
    granted.user = Some("alice".into());
    granted.ttl_secs = Some(7);
    assert_eq!(
        authorize(&Ok(granted.clone()), 30_000),
        Authorized::Granted {
            user: "alice".into(),
            max_connections: None,
            ttl_ms: 7_000,
            life_ms: Some(7_000)
        }
    );
    granted.ttl_secs = Some(u64::MAX);
    granted.max_connections = Some(2);
    assert_eq!(
        authorize(&Ok(granted), 30_000),
        Authorized::Granted {
            user: "alice".into(),
            max_connections: Some(2),
            ttl_ms: 30_000,
            life_ms: Some(u64::MAX)
        }
    );
    assert_eq!(
        authorize(&reply_err(ErrorCode::Denied), 30_000),
        Authorized::Denied {
            reason: "why".into()
        }
    );
    // Anything that is not a grant or a refusal never grants.
    for r in [
        reply_err(ErrorCode::Unavailable),
        reply_err(ErrorCode::Internal),
        reply_err(ErrorCode::UnknownChannel),
        Err(CallError::Timeout),
        Err(CallError::Protocol("x".into())),
    ] {
        assert_eq!(authorize(&r, 30_000), Authorized::Unavailable);
    }
}

#[test]
fn sessions_fail_closed() {
    assert_eq!(session(&Ok(Reply::ok(1))), Ok(()));
    let status = |r| session(&r).unwrap_err().0;
    assert_eq!(status(reply_err(ErrorCode::Limit)), Status::Limit);
    assert_eq!(Status::Limit.http(), 403);
    assert_eq!(status(reply_err(ErrorCode::Denied)), Status::Denied);
    // The supervisor's reason is kept for the error log.
    assert_eq!(
        session(&reply_err(ErrorCode::Limit)).unwrap_err().1,
        "limit: why"
    );
    // Nothing else admits a limited user.
    for r in [
        reply_err(ErrorCode::Internal),
        reply_err(ErrorCode::Unavailable),
        reply_err(ErrorCode::UnknownOp),
        Err(CallError::Timeout),
        Err(CallError::Unreachable("gone".into())),
        Err(CallError::Protocol("x".into())),
    ] {
        assert_eq!(status(r), Status::Unavailable);
    }
    assert_eq!(
        supervisor_error(Some(ErrorCode::Limit)).status,
        Status::Limit
    );
}

#[test]
fn only_a_store_outage_lets_a_stale_grant_stand_in() {
    assert!(store_down(&reply_err(ErrorCode::Unavailable)));
    for r in [
        Ok(Reply::ok(1)),
        reply_err(ErrorCode::Denied),
        reply_err(ErrorCode::Internal),
        reply_err(ErrorCode::ShuttingDown),
        Err(CallError::Timeout),
        Err(CallError::Unreachable("gone".into())),
        Err(CallError::Protocol("x".into())),
    ] {
        assert!(!store_down(&r), "{r:?}");
    }
}

#[test]
fn catalog_outcomes() {
    let mut list = Reply::ok(1);
    list.channels = Some(vec![]);
    assert_eq!(catalog(&Ok(list)), Ok(Status::Fetched));
    // ok without a list is as useless as an error.
    assert_eq!(catalog(&Ok(Reply::ok(1))).unwrap_err().http(), 503);
    assert_eq!(catalog(&Err(CallError::Timeout)).unwrap_err().http(), 503);
}

#[test]
fn names_are_unique() {
    let mut names: Vec<_> = Status::ALL.iter().map(|s| s.as_str()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), Status::ALL.len());
}

/// The rows of the markdown table that follows `heading` in the docs:
/// (first cell, second cell), backticks removed.
fn doc_table(heading: &str) -> Vec<(String, String)> {
    let doc = include_str!("../docs/directives.md");
    let start = doc
        .find(heading)
        .unwrap_or_else(|| panic!("docs/directives.md has no {heading:?}"));
    doc[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            let cells: Vec<String> = l
                .split('|')
                .map(|c| c.trim().trim_matches('`').to_string())
                .collect();
            (cells[1].clone(), cells[2].clone())
        })
        .collect()
}

#[test]
fn status_values_match_the_docs() {
    let rows = doc_table("### Values of $stream_autostart_status");
    let mut documented: Vec<(String, u16)> = rows
        .iter()
        .map(|(v, s)| (v.clone(), s.parse().expect("a status number")))
        .collect();
    let mut ours: Vec<(String, u16)> = Status::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), s.http()))
        .collect();
    documented.sort();
    ours.sort();
    assert_eq!(documented, ours);
}

#[test]
fn api_errors_match_the_docs() {
    let rows = doc_table("### API errors");
    let documented = |code: &str| {
        rows.iter()
            .find(|(_, c)| c == code)
            .map(|(s, _)| s.parse::<u16>().expect("a status number"))
    };
    // Every error the supervisor can send is documented with the status
    // the API answers it with.
    for code in ErrorCode::ALL {
        assert_eq!(
            documented(code.as_str()),
            Some(supervisor_error(Some(code)).http()),
            "{code:?}"
        );
    }
    for e in [
        CallError::Timeout,
        CallError::Unreachable(String::new()),
        CallError::Protocol(String::new()),
    ] {
        assert_eq!(
            documented(api_call_error_code(&e)),
            Some(call_error(&e).http()),
            "{e:?}"
        );
    }
}

#[test]
fn api_refusals_match_the_docs() {
    let rows = doc_table("### API errors");
    let documented = |code: &str| {
        rows.iter()
            .find(|(_, c)| c == code)
            .map(|(s, _)| s.parse::<u16>().expect("a status number"))
    };
    // What the module refuses itself, before asking the supervisor.
    use crate::api_guard::{check_content_type, check_key, check_origin};
    let refusals = [
        check_origin(Some(b"http://evil.example"), None, "http", Some(b"x")),
        check_key(Some(b"0123456789abcdef"), None, None),
        check_content_type("POST", Some(b"text/plain")),
        crate::api::route("GET", "/channel/7/start").map(|_| ()),
        crate::api::route("GET", "/api/nothing").map(|_| ()),
        crate::api::route("GET", "/api/streams/a.b").map(|_| ()),
        crate::api::parse_body(b"{", &crate::api::Route::Stop).map(|_| ()),
    ];
    for e in refusals.into_iter().map(Result::unwrap_err) {
        assert_eq!(documented(e.code), Some(e.status), "{e:?}");
    }
}

#[test]
fn only_a_missing_playlist_blames_the_configuration() {
    use shared::playlist::NotReady;
    assert_eq!(ready_but_not_served(&NotReady::Missing), READY_BUT_MISSING);
    for why in [
        NotReady::NoSegments,
        NotReady::SegmentsMissing,
        NotReady::Stale { age_secs: 30 },
        NotReady::TooLarge(1 << 30),
        NotReady::Unreadable("denied".into()),
    ] {
        let r = ready_but_not_served(&why);
        assert_eq!(r, READY_BUT_UNUSABLE, "{why}");
        assert_eq!(r.status, Status::Failed);
    }
}
