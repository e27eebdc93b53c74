//! The Xtream Codes-compatible API (filled in below).
