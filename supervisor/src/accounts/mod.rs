//! Viewer accounts beyond tokens: passwords (argon2id), the fields of a
//! user record that limit it, the login verification cache, and live
//! viewing sessions with their connection-limit policy.

pub mod login_cache;
pub mod password;
pub mod record;
