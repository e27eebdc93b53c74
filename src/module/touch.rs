//! Telling the supervisor a ready channel is watched: at most every
//! `touch_ms` per worker and channel (a third of the supervisor's idle
//! timeout, which its replies announce), fire and forget.

use core::cell::{Cell, RefCell};

use ngx::async_::spawn;
use ngx::ffi::NGX_LOG_WARN;
use ngx::ngx_log_error;
use shared::protocol::{Op, Reply};

use super::client::call;
use super::conf::LocConf;
use super::request::now_ms;
use crate::log_text::esc;
use crate::touch_limiter::TouchLimiter;

/// Until the supervisor says otherwise.
const TOUCH_INTERVAL_MS: u64 = 10_000;
const TOUCH_TIMEOUT_MS: u64 = 2_000;

thread_local! {
    static TOUCHES: RefCell<TouchLimiter> = RefCell::new(TouchLimiter::default());
    static TOUCH_MS: Cell<u64> = const { Cell::new(TOUCH_INTERVAL_MS) };
}

/// Adopts the interval a supervisor reply announces.
pub fn learn_interval(reply: &Reply) {
    if let Some(ms) = reply.touch_ms {
        TOUCH_MS.with(|t| t.set(ms.clamp(500, TOUCH_INTERVAL_MS)));
    }
}

/// The channel was just started or waited for: that counts as a touch.
pub fn touched(lc: &LocConf, channel: &str) {
    let every = TOUCH_MS.with(Cell::get);
    let scope = &lc.supervisor().path;
    TOUCHES.with(|t| t.borrow_mut().due(scope, channel, now_ms(), every));
}

pub fn touch_if_due(lc: &LocConf, channel: &str) {
    let every = TOUCH_MS.with(Cell::get);
    let scope = &lc.supervisor().path;
    if !TOUCHES.with(|t| t.borrow_mut().due(scope, channel, now_ms(), every)) {
        return;
    }
    let addr = lc.supervisor().into_owned();
    let channel = channel.to_string();
    spawn(async move {
        let op = Op::Touch {
            channel: channel.clone(),
        };
        let result = call(&addr, op, TOUCH_TIMEOUT_MS).await;
        if let Ok(reply) = &result {
            learn_interval(reply);
        }
        let problem = match result {
            Ok(reply) if reply.ok => None,
            Ok(reply) => Some(reply.message().to_string()),
            Err(e) => Some(e.to_string()),
        };
        if let Some(problem) = problem {
            // Try again on the next request rather than after a period.
            TOUCHES.with(|t| t.borrow_mut().reset(&addr.path, &channel));
            ngx_log_error!(
                NGX_LOG_WARN,
                ngx::log::ngx_cycle_log().as_ptr(),
                "stream_autostart: touch of channel \"{}\" via {}: {}",
                channel,
                addr.text,
                esc(&problem)
            );
        }
    })
    .detach();
}
