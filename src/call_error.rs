//! Why a supervisor call got no usable reply.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// Nothing listens, or the connect failed.
    Unreachable(String),
    /// No reply within the deadline.
    Timeout,
    /// The supervisor answered something that is not a valid reply.
    Protocol(String),
}

impl core::fmt::Display for CallError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CallError::Unreachable(m) => write!(f, "unreachable: {m}"),
            CallError::Timeout => f.write_str("no reply in time"),
            CallError::Protocol(m) => write!(f, "protocol error: {m}"),
        }
    }
}
