//! The `xtream` op: the viewer's password checked as `login` checks it,
//! then the action answered from the catalog and the stored guide.
//! Refusals: a wrong or unusable account is `denied` (HTTP 403 with the
//! reason), an unknown action or a bad parameter `bad_request` (HTTP 400)
//! with a JSON error body.

use std::collections::BTreeMap;
use std::sync::Arc;

use tracing::{info, warn};

use super::{answer, error_body, guide_needed, Account, View, JSON};
use crate::store::AuthResult;
use crate::streams::Streams;
use shared::protocol::{ErrorCode, Reply};

fn shown(user: &str) -> String {
    format!("{:?}", user.chars().take(64).collect::<String>())
}

pub async fn handle(
    id: u64,
    streams: &Arc<Streams>,
    user: String,
    password: String,
    action: String,
    params: BTreeMap<String, String>,
    base_url: String,
) -> Reply {
    let store = streams.store();
    let max_connections = match store.login(&user, &password).await {
        Ok(AuthResult::Granted {
            max_connections, ..
        }) => max_connections,
        Ok(AuthResult::Denied(why)) => {
            info!(user = %shown(&user), reason = %why, "xtream login refused");
            return Reply::error(id, ErrorCode::Denied, why);
        }
        Err(e) => {
            warn!(user = %shown(&user), error = %e, "cannot check xtream login");
            return Reply::error(id, ErrorCode::Unavailable, e.to_string());
        }
    };
    let unavailable = |what: &str, e: String| {
        warn!(error = %e, "xtream: cannot read {what}");
        Reply::error(
            id,
            ErrorCode::Unavailable,
            format!("cannot read {what}: {e}"),
        )
    };
    let view = match store.user_view(&user).await {
        Ok(v) => v,
        Err(e) => return unavailable("the user", e.to_string()),
    };
    let catalog = match streams.catalog.get(store).await {
        Ok(c) => c,
        Err(e) => return unavailable("the channel catalog", e.to_string()),
    };
    let guide = match guide_needed(&action, &params, &catalog) {
        Some(gid) => match store.load_guides(std::slice::from_ref(&gid)).await {
            Ok(mut g) => g.remove(&gid),
            Err(e) => return unavailable("the guide", e.to_string()),
        },
        None => None,
    };
    let account = Account {
        username: user.clone(),
        password,
        exp_date: view.as_ref().and_then(|v| v.expires_at).map(|t| t as i64),
        created_at: view.as_ref().and_then(|v| v.created_at).map(|t| t as i64),
        max_connections,
        active_cons: streams.sessions.active_cons(&user),
    };
    let v = View {
        account: &account,
        catalog: &catalog,
        guide: guide.as_ref(),
        base_url: &base_url,
        now: crate::guide::now(),
    };
    match answer(&action, &params, &v) {
        Ok((body, content_type)) => Reply {
            body: Some(body),
            content_type: Some(content_type.to_string()),
            ..Reply::ok(id)
        },
        Err(why) => {
            info!(user = %shown(&user), reason = %why, "xtream request refused");
            Reply {
                body: Some(error_body(&why)),
                content_type: Some(JSON.to_string()),
                ..Reply::error(id, ErrorCode::BadRequest, why)
            }
        }
    }
}
