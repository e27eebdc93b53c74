//! The operator API's gate (`api_guard::check_origin`, `presented_key`,
//! `check_key`, `check_content_type`, `same_key`): refusals are 4xx with a
//! JSON body; a request from the API's own origin passes the origin check;
//! a write passes the type check only as JSON.

use crate::api::error_json;
use crate::api_guard::{check_content_type, check_origin, presented_key, same_key};

pub fn run(data: &[u8]) {
    let parts: Vec<&[u8]> = data.split(|&b| b == 0).collect();
    let part = |i: usize| parts.get(i).copied();
    let (origin, site, host, ctype) = (part(0), part(1), part(2), part(3));
    if let Err(e) = check_origin(origin, site, "http", host) {
        assert!((400..500).contains(&e.status));
        serde_json::from_slice::<serde_json::Value>(&error_json(&e)).expect("JSON");
    }
    if let Some(h) = host {
        let own = [b"http://", h.trim_ascii()].concat();
        assert!(check_origin(Some(&own), None, "http", Some(h)).is_ok());
    }
    match check_content_type("POST", ctype) {
        Ok(()) => {
            let t = String::from_utf8_lossy(ctype.unwrap_or_default()).to_ascii_lowercase();
            assert!(t.contains("json"), "write accepted as {t:?}");
        }
        Err(e) => assert_eq!(e.status, 415, "{e:?}"),
    }
    if let Some(k) = presented_key(origin, site) {
        assert!(same_key(k, k));
        assert!(!same_key(k, &[k, b"x"].concat()));
    }
}
