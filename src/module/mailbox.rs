//! Where a supervisor call's result waits for its request: the outcome and
//! the event that, once posted, lets nginx's loop resume the request after
//! the current handler returns (never from inside the call's future).

use core::cell::{Cell, RefCell, UnsafeCell};
use core::ptr;

use ngx::ffi::{ngx_delete_posted_event, ngx_event_t, ngx_post_event, ngx_posted_events};
use shared::protocol::Reply;

use crate::call_error::CallError;

pub type CallResult = Result<Reply, CallError>;

pub enum Outcome {
    Authorize(CallResult),
    Ensure(CallResult),
    Catalog(CallResult),
    Api(CallResult),
    Xtream(CallResult),
    /// A limited user's `session` check.
    Session(CallResult),
    /// Cluster mode: which node runs a segment's channel.
    Locate(CallResult),
}

pub struct Mailbox {
    outcome: RefCell<Option<Outcome>>,
    event: UnsafeCell<ngx_event_t>,
    /// Set once the event has a handler (the request is parked).
    armed: Cell<bool>,
}

impl Mailbox {
    pub fn new() -> Mailbox {
        Mailbox {
            outcome: RefCell::new(None),
            // SAFETY: an all-zero ngx_event_t is nginx's own "fresh event"
            // (what ngx_pcalloc gives); every field is an integer, a bit
            // field or a nullable pointer.
            event: UnsafeCell::new(unsafe { core::mem::zeroed() }),
            armed: Cell::new(false),
        }
    }

    /// Makes the event run `handler` with `data` once a result arrives.
    pub fn arm(
        &self,
        handler: unsafe extern "C" fn(*mut ngx_event_t),
        data: *mut core::ffi::c_void,
        log: *mut ngx::ffi::ngx_log_t,
    ) {
        let ev = self.event.get();
        // SAFETY: the event is ours; if it is already posted, it is with
        // the same handler and data (a Ctx arms only its own mailbox, for
        // itself), which nginx reads only when it runs the event.
        unsafe {
            (*ev).handler = Some(handler);
            (*ev).data = data;
            (*ev).log = log;
        }
        self.armed.set(true);
        if self.pending() {
            self.post();
        }
    }

    /// Leaves the result and has the request resumed.
    pub fn deliver(&self, outcome: Outcome) {
        *self.outcome.borrow_mut() = Some(outcome);
        if self.armed.get() {
            self.post();
        }
    }

    fn post(&self) {
        let ev = self.event.get();
        // SAFETY: the event is armed and lives as long as this mailbox,
        // whose Drop unlinks it; posting only queues it for the loop.
        unsafe {
            if (*ev).posted() == 0 {
                ngx_post_event(ev, ptr::addr_of_mut!(ngx_posted_events));
            }
        }
    }

    pub fn take(&self) -> Option<Outcome> {
        self.outcome.borrow_mut().take()
    }

    pub fn pending(&self) -> bool {
        self.outcome.borrow().is_some()
    }
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        let ev = self.event.get_mut();
        // SAFETY: a queued event must leave nginx's posted queue before its
        // memory goes with the request pool.
        unsafe {
            if ev.posted() != 0 {
                ngx_delete_posted_event(ev);
            }
        }
    }
}
