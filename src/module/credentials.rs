//! Username/password viewers (`stream_autostart_login`): the credentials a
//! request carries, checked by the access phase with the supervisor's
//! `login` op instead of a token's `authorize`, and what of them is masked
//! in nginx's logs. The password is never logged: refusals name the user.

use ngx::ffi::NGX_LOG_ERR;
use ngx::ngx_log_error;
use shared::protocol::Op;

use super::conf::{Cv, LocConf, MainConf, Mode};
use super::request::Req;
use crate::log_text::Esc;
use crate::login_key;
use crate::outcome::Status;
use crate::xtream_args::form_decode;

/// A login the access phase checks.
pub struct Found {
    /// The token-cache key (`login_key::key`).
    pub key: Vec<u8>,
    pub op: Op,
}

/// The login of a request in a location with `stream_autostart_login`:
/// `None` where there is none (no directive, or the user evaluates empty:
/// the token is checked instead), `Err` with the refusal's status (logged
/// here) when the credentials cannot be passed on.
pub fn login(req: &mut Req<'_>, channel: &str) -> Option<Result<Found, Status>> {
    let login = req.conf().login.as_ref()?;
    let user = match value(req, login.user, login.user_arg.is_some()) {
        Ok(u) if u.is_empty() => return None,
        Ok(u) => u,
        Err(()) => return Some(Err(malformed(req, "user name", channel))),
    };
    let Ok(password) = value(req, login.password, login.password_arg.is_some()) else {
        return Some(Err(malformed(req, "password", channel)));
    };
    if password.is_empty() {
        ngx_log_error!(
            NGX_LOG_ERR,
            req.log(),
            "stream_autostart: no password in the request of user \"{}\" for channel \"{}\" (401)",
            Esc(&user),
            channel
        );
        return Some(Err(Status::NoToken));
    }
    if let Err(why) = login_key::check(&user, &password) {
        ngx_log_error!(
            NGX_LOG_ERR,
            req.log(),
            "stream_autostart: login of user \"{}\" refused for channel \"{}\" (403): {}",
            Esc(&user[..user.len().min(login_key::MAX_LEN)]),
            channel,
            why
        );
        return Some(Err(Status::Denied));
    }
    let key = login_key::key(&user, &password);
    // check() made sure both are UTF-8.
    let op = Op::Login {
        user: String::from_utf8_lossy(&user).into_owned(),
        password: String::from_utf8_lossy(&password).into_owned(),
    };
    Some(Ok(Found { key, op }))
}

/// A configured value, form-decoded when it is read from a query argument
/// (`+` is a space, as the PHP servers Xtream clients were written for
/// read it, and as `player_api.php` reads it here); `Err` when it does not
/// evaluate or decode.
fn value(req: &mut Req<'_>, cv: Cv, from_arg: bool) -> Result<Vec<u8>, ()> {
    let raw = req.eval(cv).ok_or(())?;
    if from_arg {
        form_decode(raw).map(String::into_bytes).ok_or(())
    } else {
        Ok(raw.to_vec())
    }
}

fn malformed(req: &Req<'_>, what: &str, channel: &str) -> Status {
    ngx_log_error!(
        NGX_LOG_ERR,
        req.log(),
        "stream_autostart: malformed {} in the request for channel \"{}\" (400)",
        what,
        channel
    );
    Status::Invalid
}

/// While merging a location of the module: what its logins add to the
/// masks of the http block. Passwords read from query arguments are masked
/// whole; Xtream stream paths (`/live/<user>/<password>/...`) have their
/// password masked wherever logins or the Xtream API are configured.
pub fn add_masks(lc: &LocConf, main: &mut MainConf) {
    if let Some(login) = &lc.login {
        main.mask_paths = true;
        if let Some(arg) = &login.password_arg {
            main.add_full_mask_name(arg);
        }
    }
    if let Some(Mode::Xtream { .. }) = lc.mode {
        main.mask_paths = true;
        main.add_full_mask_name(b"password");
    }
}
