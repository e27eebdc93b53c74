//! One supervisor `ensure` per channel per worker. Requests that find a
//! channel not ready while another request of the same worker has already
//! asked for it wait on that call instead of opening a connection of their
//! own, so a herd of first viewers costs the supervisor one connection per
//! worker, and the worker one reply to read.

use core::cell::RefCell;
use core::time::Duration;
use std::collections::HashMap;
use std::rc::Rc;

use ngx::async_::{sleep, spawn, Task};
use shared::protocol::Op;

use super::client::call;
use super::mailbox::{Mailbox, Outcome};
use crate::supervisor_addr::SupervisorAddr;

/// How many waiting requests are resumed per turn of the event loop.
const WAKE_BATCH: usize = 64;

/// Calls are shared only when they would be the same call.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    socket: String,
    channel: String,
    wait_ms: u64,
    /// A cluster request's ensure (`placed`) is not shared with a viewer's.
    placed: bool,
}

struct Group {
    key: Key,
    /// The mailboxes of the requests waiting; each leaves when it ends.
    waiters: RefCell<Vec<*const Mailbox>>,
    task: RefCell<Option<Task<()>>>,
}

thread_local! {
    static GROUPS: RefCell<HashMap<Key, Rc<Group>>> = RefCell::new(HashMap::new());
}

/// A request's place in a group. Dropping it (the request ended, or the
/// result was delivered) takes the request out; the last one to leave
/// cancels the call.
pub struct Membership {
    group: Rc<Group>,
    me: *const Mailbox,
    /// The request joined a call another request started.
    pub joined: bool,
}

/// Has `mailbox` receive the result of ensuring `channel`: joins a call in
/// flight, or starts one. The mailbox must outlive the membership.
pub fn join(
    mailbox: &Mailbox,
    addr: &SupervisorAddr,
    channel: &str,
    wait_ms: u64,
    timeout_ms: u64,
    placed: bool,
) -> Membership {
    let key = Key {
        socket: addr.path.clone(),
        channel: channel.to_string(),
        wait_ms,
        placed,
    };
    let me: *const Mailbox = mailbox;
    if let Some(group) = GROUPS.with(|g| g.borrow().get(&key).cloned()) {
        group.waiters.borrow_mut().push(me);
        return Membership {
            group,
            me,
            joined: true,
        };
    }
    let group = Rc::new(Group {
        key: key.clone(),
        waiters: RefCell::new(vec![me]),
        task: RefCell::new(None),
    });
    GROUPS.with(|g| g.borrow_mut().insert(key.clone(), group.clone()));
    let addr = addr.clone();
    let op = Op::Ensure {
        channel: channel.to_string(),
        wait_ms,
        placed,
    };
    let task = spawn(async move {
        let result = call(&addr, op, timeout_ms).await;
        let Some(group) = GROUPS.with(|g| g.borrow_mut().remove(&key)) else {
            return;
        };
        // A thousand viewers woken at once would hold the worker for tens
        // of milliseconds; in batches, other requests are served between.
        loop {
            let batch: Vec<*const Mailbox> = {
                let mut w = group.waiters.borrow_mut();
                let n = w.len().min(WAKE_BATCH);
                w.drain(..n).collect()
            };
            for &w in &batch {
                // SAFETY: a request leaves the group (dropping its
                // Membership) before its mailbox is freed, so every mailbox
                // still listed is live; deliver() only posts an event, so no
                // request ends inside this loop.
                unsafe { (*w).deliver(Outcome::Ensure(result.clone())) }
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
    Membership {
        group,
        me,
        joined: false,
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        let empty = {
            let mut w = self.group.waiters.borrow_mut();
            w.retain(|p| *p != self.me);
            w.is_empty()
        };
        if !empty {
            return;
        }
        GROUPS.with(|g| {
            let mut g = g.borrow_mut();
            if g.get(&self.group.key)
                .is_some_and(|x| Rc::ptr_eq(x, &self.group))
            {
                g.remove(&self.group.key);
            }
        });
        // Take it out first: dropping a task may drop the future, which
        // holds the group.
        let task = self.group.task.borrow_mut().take();
        drop(task);
    }
}
