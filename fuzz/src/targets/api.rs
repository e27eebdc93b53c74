//! The operator API's paths and bodies (`api::route`, `api::parse_body`,
//! `api::error_json`). A route that names a channel names a valid one; a
//! body that parses names a valid channel, and a stop body nothing else;
//! every refusal renders as JSON with a 4xx status.

use shared::channel_id;

use crate::api::{error_json, parse_body, route, Route};

const METHODS: &[&str] = &["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "get", ""];

pub fn run(data: &[u8]) {
    // First byte: the method; up to the first NUL: the path; then the body.
    let Some((&m, rest)) = data.split_first() else {
        return;
    };
    let method = METHODS[m as usize % METHODS.len()];
    let (path, body) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let path = super::text(path);

    match route(method, &path) {
        Ok(r) => {
            if let Route::Start(Some(id)) | Route::Stream(id) = &r {
                assert!(channel_id::validate(id.as_bytes()).is_ok(), "{id:?}");
            }
            if r.needs_body() {
                check_body(body, &r);
            }
        }
        Err(e) => refusal(&e),
    }
    check_body(body, &Route::Start(None));
    check_body(body, &Route::Stop);
}

fn check_body(body: &[u8], r: &Route) {
    match parse_body(body, r) {
        Ok((id, source, quality)) => {
            assert!(channel_id::validate(id.as_bytes()).is_ok(), "{id:?}");
            if *r == Route::Stop {
                assert!(source.is_none() && quality.is_none());
            }
        }
        Err(e) => refusal(&e),
    }
}

fn refusal(e: &crate::api::ApiError) {
    assert!((400..500).contains(&e.status), "{e:?}");
    serde_json::from_slice::<serde_json::Value>(&error_json(e)).expect("refusal is JSON");
}
