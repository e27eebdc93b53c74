//! One supervisor `ensure` per channel per worker. Requests that find a
//! channel not ready while another request of the same worker has already
//! asked for it wait on that call instead of opening a connection of their
//! own, so a herd of first viewers costs the supervisor one connection per
//! worker, and the worker one reply to read.

use core::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use core::time::Duration;

use ngx::async_::{sleep, spawn, Task};

use super::client::call;
use super::handler::{complete, Ctx, Outcome};
use crate::supervisor_addr::SupervisorAddr;
use shared::protocol::Op;

/// How many waiting requests are resumed per turn of the event loop.
const WAKE_BATCH: usize = 64;

/// Calls are shared only when they would be the same call.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    socket: String,
    channel: String,
    wait_ms: u64,
}

pub(super) struct Group {
    key: Key,
    /// The requests waiting; each removes itself when it ends first.
    waiters: RefCell<Vec<*const Ctx>>,
    task: RefCell<Option<Task<()>>>,
}

thread_local! {
    static GROUPS: RefCell<HashMap<Key, Rc<Group>>> = RefCell::new(HashMap::new());
}

/// Has `ctx` wait for `channel` to be ensured: joins a call in flight, or
/// starts one. Returns false when it joined.
pub(super) fn join(
    ctx: &Ctx,
    addr: &SupervisorAddr,
    channel: &str,
    wait_ms: u64,
    timeout_ms: u64,
) -> bool {
    let key = Key {
        socket: addr.path.clone(),
        channel: channel.to_string(),
        wait_ms,
    };
    let me: *const Ctx = ctx;
    if let Some(group) = GROUPS.with(|g| g.borrow().get(&key).cloned()) {
        group.waiters.borrow_mut().push(me);
        *ctx.group.borrow_mut() = Some(group);
        return false;
    }
    let group = Rc::new(Group {
        key: key.clone(),
        waiters: RefCell::new(vec![me]),
        task: RefCell::new(None),
    });
    GROUPS.with(|g| g.borrow_mut().insert(key.clone(), group.clone()));
    *ctx.group.borrow_mut() = Some(group.clone());
    let addr = addr.clone();
    let op = Op::Ensure {
        channel: channel.to_string(),
        wait_ms,
    };
    let task = spawn(async move {
        let result = call(&addr, op, timeout_ms).await;
        let Some(group) = GROUPS.with(|g| g.borrow_mut().remove(&key)) else {
            return;
        };
        // A thousand viewers woken at once would hold the worker for tens
        // of milliseconds; in batches, other requests are served between.
        loop {
            let batch: Vec<*const Ctx> = {
                let mut w = group.waiters.borrow_mut();
                let n = w.len().min(WAKE_BATCH);
                w.drain(..n).collect()
            };
            for &w in &batch {
                // SAFETY: a Ctx leaves the group when it is dropped, so
                // every pointer still listed is a live Ctx; complete()
                // only posts its event, so no request ends in this loop.
                unsafe { complete(w, Outcome::Ensure(result.clone())) }
            }
            if group.waiters.borrow().is_empty() {
                return;
            }
            // A timer, not a posted event: the worker goes through
            // epoll_wait before the next batch.
            sleep(Duration::from_millis(1)).await;
        }
    });
    *group.task.borrow_mut() = Some(task);
    true
}

/// `ctx` no longer waits (its request ended). The last waiter to leave
/// cancels the call.
pub(super) fn leave(ctx: *const Ctx, group: &Rc<Group>) {
    let empty = {
        let mut w = group.waiters.borrow_mut();
        w.retain(|p| *p != ctx);
        w.is_empty()
    };
    if !empty {
        return;
    }
    GROUPS.with(|g| {
        let mut g = g.borrow_mut();
        if g.get(&group.key).is_some_and(|x| Rc::ptr_eq(x, group)) {
            g.remove(&group.key);
        }
    });
    // Take it out first: dropping a task may drop the future.
    let task = group.task.borrow_mut().take();
    drop(task);
}
