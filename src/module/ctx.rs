//! A request's state while the module handles it: what it is for (channel,
//! token), where it stands, what the log variables report, and what it
//! waits on. It lives in the request pool; dropping it cancels the wait.

use core::cell::{Cell, RefCell};
use std::path::PathBuf;

use ngx::async_::Task;
use ngx::ffi::ngx_int_t;

use super::mailbox::{Mailbox, Outcome};
use super::metrics_zone::Hold;
use super::request::{now_ms, Req, RequestCtx};
use super::shared_ensure::Membership;
use crate::api::Route;
use crate::edge_playlist::Gather;
use crate::outcome::Status;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Stage {
    /// The token check is under way (the access phase waits).
    Authorizing,
    /// The token was granted; the viewing session of a user with a
    /// connection limit is being checked (the access phase waits).
    Admitting,
    /// The token was granted; the request goes on.
    Authorized,
    /// Cluster mode: a segment that is not here waits for `locate` (the
    /// access phase waits).
    Locating,
    /// A content handler waits for the supervisor.
    Waiting,
    /// The request was answered (or refused) with `answer`.
    Finished,
}

/// What a parked request does when its result arrives.
#[derive(Clone, Copy)]
pub enum Resume {
    /// Run the phases again; the access handler takes the outcome.
    Phases,
    /// Finish the content with this function's status.
    Content(for<'r> fn(&mut Req<'r>, &Ctx, Outcome) -> ngx_int_t),
}

pub struct Ctx {
    pub channel: String,
    pub token: Vec<u8>,
    pub stage: Cell<Stage>,
    /// The status a finished request was answered with.
    pub answer: Cell<ngx_int_t>,
    pub mailbox: Mailbox,
    pub resume: Cell<Option<Resume>>,
    /// The request, for the resume event (set while parked).
    pub request: Cell<*mut ngx::ffi::ngx_http_request_t>,
    pub waited_since: u64,
    /// For the log variables.
    pub status: Cell<Option<Status>>,
    pub user: RefCell<String>,
    /// The viewing session's client key, once the session step ran.
    pub client: RefCell<String>,
    pub wait_ms: Cell<Option<u64>>,
    pub playlist_path: RefCell<PathBuf>,
    /// `stream_autostart_api`: the route and its channel.
    pub api: RefCell<Option<(Route, String)>>,
    /// The supervisor call this request started, if any.
    pub task: RefCell<Option<Task<()>>>,
    /// The shared `ensure` this request waits on, if any.
    pub group: RefCell<Option<Membership>>,
    /// Counted as held (metrics) while the playlist waits for its channel.
    pub hold: RefCell<Option<Hold>>,
    /// Admitted by the cluster key (a node-to-node request): no token,
    /// and never sent on to a further node.
    pub cluster: Cell<bool>,
    /// Cluster edge: `arg=token` for the URIs of the playlist the owner
    /// answers this diverted request with (see `edge`).
    pub edge_pair: RefCell<Option<Vec<u8>>>,
    /// Cluster edge: the owner's playlist, gathered until its end.
    pub edge_body: RefCell<Option<Gather>>,
    /// Cluster edge: (supervisor socket, owner URL) of a request diverted
    /// through a proxying location, until its answer says whether the
    /// owner is alive (`cluster::owner_failed`).
    pub diverted_to: RefCell<Option<(String, String)>>,
}

// SAFETY: Ctx is the only type this module keeps in a request's slot.
unsafe impl RequestCtx for Ctx {}

impl Ctx {
    fn new(channel: &str, token: &[u8], stage: Stage) -> Ctx {
        Ctx {
            channel: channel.to_string(),
            token: token.to_vec(),
            stage: Cell::new(stage),
            answer: Cell::new(0),
            mailbox: Mailbox::new(),
            resume: Cell::new(None),
            request: Cell::new(core::ptr::null_mut()),
            waited_since: now_ms(),
            status: Cell::new(None),
            user: RefCell::new(String::new()),
            client: RefCell::new(String::new()),
            wait_ms: Cell::new(None),
            playlist_path: RefCell::new(PathBuf::new()),
            api: RefCell::new(None),
            task: RefCell::new(None),
            group: RefCell::new(None),
            hold: RefCell::new(None),
            cluster: Cell::new(false),
            edge_pair: RefCell::new(None),
            edge_body: RefCell::new(None),
            diverted_to: RefCell::new(None),
        }
    }

    pub fn get<'a>(req: &Req<'a>) -> Option<&'a Ctx> {
        req.ctx::<Ctx>()
    }

    /// Makes the request's context.
    pub fn create<'a>(
        req: &mut Req<'a>,
        channel: &str,
        token: &[u8],
        stage: Stage,
    ) -> Option<&'a Ctx> {
        req.set_ctx(Ctx::new(channel, token, stage))
    }

    /// The request's context, made (as authorized) if it has none.
    pub fn get_or_create<'a>(req: &mut Req<'a>, channel: &str) -> Option<&'a Ctx> {
        match Ctx::get(req) {
            Some(ctx) => Some(ctx),
            None => Ctx::create(req, channel, &[], Stage::Authorized),
        }
    }

    /// The request ends with `answer`; `status` for the log variable.
    pub fn finish(&self, status: Option<Status>, answer: ngx_int_t) {
        if status.is_some() {
            self.status.set(status);
        }
        self.answer.set(answer);
        self.stage.set(Stage::Finished);
    }

    /// Stops waiting: cancels the call and leaves a shared one.
    pub fn cancel(&self) {
        // Cancelling drops the future (and its connection) right away, so
        // it can never touch this context again.
        drop(self.task.borrow_mut().take());
        drop(self.group.borrow_mut().take());
    }

    /// The ensure this request waits on was started by another request.
    pub fn joined(&self) -> bool {
        self.group.borrow().as_ref().is_some_and(|m| m.joined)
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        // Before the mailbox goes: nothing may deliver into it afterwards.
        self.cancel();
    }
}
