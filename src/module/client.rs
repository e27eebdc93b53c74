//! Supervisor calls from the module: one request, one reply line, one
//! short-lived connection, all on the event loop.

use core::cell::Cell;
use std::time::Instant;

use super::metrics_zone;
use super::peer::{Peer, PeerError};
pub use crate::call_error::CallError;
use crate::metrics_counters::CallClass;
use crate::supervisor_addr::SupervisorAddr;
use shared::protocol::{decode_reply, encode_line, Op, Reply, Request, PROTOCOL_VERSION};

impl From<PeerError> for CallError {
    fn from(e: PeerError) -> Self {
        match e {
            PeerError::Unreachable(m) => CallError::Unreachable(m),
            PeerError::Timeout => CallError::Timeout,
            PeerError::Broken(m) => CallError::Unreachable(m),
            PeerError::TooLong => CallError::Protocol("reply line too long".into()),
        }
    }
}

thread_local! {
    static NEXT_ID: Cell<u64> = const { Cell::new(1) };
}

/// Sends `op` and waits at most `timeout_ms` for its reply; counted in
/// the metrics (time, and the class of a failure).
pub async fn call(addr: &SupervisorAddr, op: Op, timeout_ms: u64) -> Result<Reply, CallError> {
    let since = Instant::now();
    let result = exchange(addr, op, timeout_ms).await;
    if let Some(slot) = metrics_zone::slot() {
        let error = result.as_ref().err().map(CallClass::of);
        slot.call(since.elapsed().as_micros() as u64, error);
    }
    result
}

async fn exchange(addr: &SupervisorAddr, op: Op, timeout_ms: u64) -> Result<Reply, CallError> {
    let id = NEXT_ID.with(|n| {
        let id = n.get();
        n.set(id.wrapping_add(1));
        id
    });
    let line = encode_line(&Request {
        v: PROTOCOL_VERSION,
        id,
        op,
    });
    let mut peer = Peer::connect(addr, timeout_ms).await?;
    peer.write_all(&line).await?;
    let reply = peer.read_line().await?;
    let reply = decode_reply(&reply).map_err(CallError::Protocol)?;
    if reply.id != id {
        return Err(CallError::Protocol(format!(
            "reply for request {} while waiting for {id}",
            reply.id
        )));
    }
    Ok(reply)
}
