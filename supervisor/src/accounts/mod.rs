//! Viewer accounts beyond tokens: passwords (argon2id), the fields of a
//! user record that limit it, the login verification cache, and live
//! viewing sessions with their connection-limit policy.

pub mod login_cache;
pub mod ops;
pub mod password;
pub mod password_input;
pub mod record;
pub mod session_policy;
pub mod sessions;
pub mod sessions_table;
