//! `tokens`: issue, revoke and list viewer tokens.

use super::Result;
use crate::config::TokenCmd;
use crate::store::{Key, Keys, Kind, Store};
use crate::users;

pub(super) async fn tokens(store: &Store, cmd: &TokenCmd) -> Result<()> {
    let err = |e: crate::store::StoreError| e.to_string();
    match cmd {
        TokenCmd::Issue { user } => {
            if store.get(&Keys::user(user)).await.map_err(err)?.is_none() {
                return Err(format!("no user {user} (add it with users add)"));
            }
            let token = crate::secret::random_hex(24).map_err(|e| e.to_string())?;
            store.set(&Keys::token(&token), user).await.map_err(err)?;
            println!("{token}");
        }
        TokenCmd::Revoke { token } => {
            if store.del(&Keys::token(token)).await.map_err(err)? {
                println!(
                    "revoked (workers may trust a cached grant for up to the token cache lifetime)"
                );
            } else {
                return Err("no such token".into());
            }
        }
        TokenCmd::List { user, out } => {
            let tokens = store.ids(Kind::Token).await.map_err(err)?;
            let keys: Vec<Key> = tokens.iter().map(|t| Keys::token(t)).collect();
            let values = store.get_many(&keys).await.map_err(err)?;
            let mut mine: Vec<String> = tokens
                .into_iter()
                .zip(values)
                .filter(|(_, v)| {
                    v.as_deref().and_then(users::token_user).as_deref() == Some(user.as_str())
                })
                .map(|(t, _)| t)
                .collect();
            mine.sort();
            if out.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&mine).unwrap_or_default()
                );
            } else {
                for t in mine {
                    println!("{t}");
                }
            }
        }
    }
    Ok(())
}
