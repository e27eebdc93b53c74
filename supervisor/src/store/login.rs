//! `Store::login` and `Store::user_view`: a viewer's user name and
//! password judged against `user:<id>`, as strictly as `authorize` judges
//! a token.
//!
//! Cost bounds: a malformed name or password costs nothing; each
//! verification is argon2id on tokio's blocking pool; at most
//! [`verify_slots`] run at once (a flood of wrong passwords queues
//! behind them instead of taking every core) and a login that waits
//! longer than [`VERIFY_QUEUE_WAIT`] for a slot is answered `unavailable`;
//! recent verdicts are reused (grants for hours, refusals for a minute),
//! and a user with 20 wrong passwords in a minute has further uncached
//! logins refused without a verification (accounts::login_cache).

use std::time::{Duration, Instant};

use tracing::warn;

use super::{unix_now, AuthResult, Keys, Store, StoreError};
use crate::accounts::{password, record};
use crate::users;

/// Longest a login waits for a verification slot.
pub const VERIFY_QUEUE_WAIT: Duration = Duration::from_secs(5);

/// Verifications at once: the cores, at most 4 (each takes ~19 MiB).
pub fn verify_slots() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 4))
}

/// What the Xtream API's `user_info` shows of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserView {
    pub user: String,
    pub active: bool,
    /// Unix seconds; `None` never expires.
    pub expires_at: Option<u64>,
    /// Unix seconds the user was added, when recorded.
    pub created_at: Option<u64>,
    /// `None` is unlimited.
    pub max_connections: Option<u32>,
}

/// A parsed user record: validity and account fields.
type Parsed = (users::UserRecord, record::Account);

fn parse(text: &str) -> Result<Parsed, String> {
    Ok((users::parse_user(text)?, record::parse_account(text)?))
}

impl Store {
    /// The user's record, parsed: `Ok(None)` when it does not exist,
    /// `Err(why)` inside when it cannot be read with certainty.
    async fn user_record(&self, user: &str) -> Result<Option<Result<Parsed, String>>, StoreError> {
        let key = Keys::user(user);
        let Some(text) = self.get(&key).await? else {
            return Ok(None);
        };
        Ok(Some(parse(&text).map_err(|e| {
            let key = self.shown(&key);
            warn!(record = %key, error = %e, "unreadable record: its user is refused");
            format!("record {key} refused: {e}")
        })))
    }

    /// Judges a viewer's user name and password: the user must exist, be
    /// active, not expired, have a `password_hash`, and the password must
    /// match it. Refusals say why, never repeating the password.
    pub async fn login(&self, user: &str, password: &str) -> Result<AuthResult, StoreError> {
        let denied = |why: String| Ok(AuthResult::Denied(why));
        if let Err(why) = users::check_user_form(user) {
            return denied(why);
        }
        if let Err(why) = password::check_form(password) {
            return denied(format!("user {user}: {why}"));
        }
        let (rec, account) = match self.user_record(user).await? {
            None => return denied(format!("user {user} does not exist")),
            Some(Err(why)) => return denied(why),
            Some(Ok(r)) => r,
        };
        let ttl_secs = match users::check_user(&format!("user {user}"), &rec, unix_now()) {
            Ok(ttl) => ttl,
            Err(why) => return denied(why),
        };
        let Some(phc) = account.password_hash else {
            return denied(format!("user {user} has no password"));
        };
        let granted = match self.logins.lookup(user, password, &phc, Instant::now()) {
            Some(verdict) => verdict,
            None => {
                if self.logins.throttled(user, Instant::now()) {
                    return denied(format!(
                        "user {user}: too many wrong passwords in the last minute; \
                         try again later"
                    ));
                }
                let verdict = self.verify(password, &phc).await?;
                if let Ok(v) = verdict {
                    self.logins
                        .remember(user, password, &phc, v, Instant::now());
                    if !v {
                        self.logins.failed(user, Instant::now());
                    }
                }
                match verdict {
                    Ok(v) => v,
                    Err(why) => return denied(format!("user {user}: {why}")),
                }
            }
        };
        if !granted {
            return denied(format!("user {user}: wrong password"));
        }
        Ok(AuthResult::Granted {
            user: user.to_string(),
            ttl_secs,
            max_connections: account.max_connections,
        })
    }

    /// One argon2 verification, in a slot, off the async threads.
    async fn verify(&self, password: &str, phc: &str) -> Result<Result<bool, String>, StoreError> {
        let busy = || StoreError("too many password checks at once; try again".into());
        let slot = tokio::time::timeout(VERIFY_QUEUE_WAIT, self.verifying.clone().acquire_owned())
            .await
            .map_err(|_| busy())?
            .map_err(|_| busy())?;
        let (password, phc) = (password.to_string(), phc.to_string());
        // The slot goes with the check: a login whose client has gone
        // still holds it until its argon2 run is done.
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            password::verify(&password, &phc)
        })
        .await
        .map_err(|e| StoreError(format!("password check failed: {e}")))
    }

    /// What a user's record says, for the Xtream API's `user_info`:
    /// `Ok(None)` when there is no such user; an unreadable record is an
    /// error (its user's logins are refused anyway).
    pub async fn user_view(&self, user: &str) -> Result<Option<UserView>, StoreError> {
        if users::check_user_form(user).is_err() {
            return Ok(None);
        }
        Ok(match self.user_record(user).await? {
            None => None,
            Some(Err(why)) => return Err(StoreError(why)),
            Some(Ok((rec, account))) => Some(UserView {
                user: user.to_string(),
                active: rec.active,
                expires_at: rec.expires_at.map(|t| t.max(0) as u64),
                created_at: account.created_at.map(|t| t.max(0) as u64),
                max_connections: account.max_connections,
            }),
        })
    }
}

impl Store {
    /// What the `session` op needs of a user: `Ok(Ok(limit))` for a user
    /// who may watch now (`None`: unlimited), `Ok(Err(why))` for one who
    /// may not (no such user, inactive, expired, unreadable record).
    pub async fn session_limit(
        &self,
        user: &str,
    ) -> Result<Result<Option<u32>, String>, StoreError> {
        if let Err(why) = users::check_user_form(user) {
            return Ok(Err(why));
        }
        Ok(match self.user_record(user).await? {
            None => Err(format!("user {user} does not exist")),
            Some(Err(why)) => Err(why),
            Some(Ok((rec, account))) => {
                users::check_user(&format!("user {user}"), &rec, unix_now())
                    .map(|_| account.max_connections)
            }
        })
    }
}
