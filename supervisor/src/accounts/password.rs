//! Viewer passwords: salted argon2id hashes as PHC strings, never the
//! password. Hashing and verifying are slow on purpose (tens of ms of CPU
//! and ~19 MiB); the store runs them on tokio's blocking pool.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params};

/// Longest password accepted (bytes): argon2 takes any length, but nobody
/// types more and a longer one costs a viewer nothing to send.
pub const MAX_PASSWORD_LEN: usize = 512;

/// Most memory (KiB), passes and lanes a stored hash may ask for: a record
/// with absurd parameters would make every login of that user a denial of
/// service, so it is refused instead.
const MAX_M_COST: u32 = 256 * 1024;
const MAX_T_COST: u32 = 16;
const MAX_P_COST: u32 = 8;

/// Whether a password has the form of one, before any hashing: 1 to
/// [`MAX_PASSWORD_LEN`] bytes, no control characters. The refusal never
/// repeats it.
pub fn check_form(password: &str) -> Result<(), String> {
    if password.is_empty() {
        return Err("empty password".into());
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(format!(
            "password longer than {MAX_PASSWORD_LEN} bytes ({} bytes)",
            password.len()
        ));
    }
    if password.chars().any(char::is_control) {
        return Err("password has a control character".into());
    }
    Ok(())
}

/// Longest new password (bytes): what nginx's module passes on for a
/// login (`login_key::MAX_LEN`); a longer one could be set but never used.
pub const MAX_NEW_PASSWORD_LEN: usize = 256;

/// Whether a password may be set: its form, and nothing that cannot work
/// in the URLs players build (`/live/<user>/<password>/`: nginx decodes
/// `%2F` into a path separator, so a `/` can never be sent there).
pub fn check_new(password: &str) -> Result<(), String> {
    check_form(password)?;
    if password.len() > MAX_NEW_PASSWORD_LEN {
        return Err(format!(
            "password longer than {MAX_NEW_PASSWORD_LEN} bytes ({} bytes), \
             which nginx does not pass on",
            password.len()
        ));
    }
    if password.contains('/') {
        return Err("password has a '/', which players' stream URLs \
                    (/live/<user>/<password>/...) cannot carry"
            .into());
    }
    Ok(())
}

/// A new argon2id PHC string for `password`, salted from the OS's random
/// source (default OWASP parameters: m=19 MiB, t=2, p=1).
pub fn hash(password: &str) -> Result<String, String> {
    check_new(password)?;
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Checks a stored hash: an argon2 PHC string with bounded parameters.
/// The error never repeats the value (it may be a password stored by
/// mistake).
pub fn check_phc(phc: &str) -> Result<(), String> {
    parsed(phc).map(|_| ())
}

fn parsed(phc: &str) -> Result<PasswordHash<'_>, String> {
    let h = PasswordHash::new(phc)
        .map_err(|e| format!("\"password_hash\" is not a PHC string ({e})"))?;
    Algorithm::try_from(h.algorithm)
        .map_err(|_| format!("\"password_hash\" is not argon2 ({})", h.algorithm))?;
    let p = Params::try_from(&h).map_err(|e| format!("\"password_hash\" parameters: {e}"))?;
    if p.m_cost() > MAX_M_COST || p.t_cost() > MAX_T_COST || p.p_cost() > MAX_P_COST {
        return Err(format!(
            "\"password_hash\" asks for too much work (m={} t={} p={}; at most m={MAX_M_COST} t={MAX_T_COST} p={MAX_P_COST})",
            p.m_cost(),
            p.t_cost(),
            p.p_cost()
        ));
    }
    if h.hash.is_none() || h.salt.is_none() {
        return Err("\"password_hash\" has no salt or hash".into());
    }
    Ok(h)
}

/// Whether `password` matches the stored hash. Slow: call off the async
/// threads. An unreadable hash is an error, not a mismatch.
pub fn verify(password: &str, phc: &str) -> Result<bool, String> {
    let h = parsed(phc)?;
    if check_form(password).is_err() {
        return Ok(false);
    }
    // Argon2's verifier takes algorithm, version and parameters from the
    // hash itself.
    Ok(Argon2::default()
        .verify_password(password.as_bytes(), &h)
        .is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_salted() {
        let a = hash("correct horse").unwrap();
        assert!(a.starts_with("$argon2id$v=19$"), "{a}");
        assert!(!a.contains("correct horse"));
        assert!(verify("correct horse", &a).unwrap());
        assert!(!verify("correct hors", &a).unwrap());
        assert!(!verify("", &a).unwrap());
        // Same password, new salt, different hash; both verify.
        let b = hash("correct horse").unwrap();
        assert_ne!(a, b);
        assert!(verify("correct horse", &b).unwrap());
        check_phc(&a).unwrap();
    }

    #[test]
    fn new_passwords_must_work_in_stream_urls() {
        assert!(check_new("s3cret-._~!").is_ok());
        assert!(check_new("a/b").unwrap_err().contains("'/'"));
        assert!(check_new(&"x".repeat(MAX_NEW_PASSWORD_LEN)).is_ok());
        let e = check_new(&"x".repeat(MAX_NEW_PASSWORD_LEN + 1)).unwrap_err();
        assert!(e.contains("nginx"), "{e}");
        assert!(hash("a/b").is_err());
    }

    #[test]
    fn forms() {
        assert!(check_form("").is_err());
        assert!(check_form("a\nb").is_err());
        assert!(check_form(&"x".repeat(MAX_PASSWORD_LEN + 1)).is_err());
        assert!(check_form("pässwörd with spaces").is_ok());
        assert!(hash("").is_err());
        let e = check_form("secret\u{7}secret").unwrap_err();
        assert!(!e.contains("secret"));
    }

    #[test]
    fn odd_hashes_are_errors_not_mismatches() {
        for odd in [
            "plaintext",
            "",
            "$2b$12$abcdefghijklmnopqrstuuJ8pE7bW6P3Q9N1c8eUeZx5ZCSXm2Xq",
            "$pbkdf2-sha256$i=1000$c2FsdA$aGFzaA",
            // Parameters that would make each login a denial of service.
            "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=19456,t=1000,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            // No hash part.
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ",
        ] {
            assert!(check_phc(odd).is_err(), "{odd}");
            assert!(verify("pw", odd).is_err(), "{odd}");
        }
    }
}
