//! A Unix-socket connection to the supervisor on nginx's own event loop:
//! `ngx_event_connect_peer` for a non-blocking connect, the connection's
//! read and write events to wake the waiting future, and nginx timers for
//! the deadline. Nothing here blocks the worker.

use core::future::poll_fn;
use core::ptr;
use core::task::{Context, Poll, Waker};

use ngx::ffi::{
    ngx_close_connection, ngx_connection_log_error_e_NGX_ERROR_ERR, ngx_connection_t,
    ngx_create_pool, ngx_current_msec, ngx_cycle, ngx_del_timer, ngx_destroy_pool,
    ngx_event_connect_peer, ngx_event_get_peer, ngx_event_t, ngx_handle_read_event, ngx_log_t,
    ngx_msec_t, ngx_palloc, ngx_peer_connection_t, ngx_pool_t, ngx_str_t, NGX_AGAIN, NGX_OK,
};

use crate::supervisor_addr::SupervisorAddr;
use shared::protocol::MAX_REPLY_LINE;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerError {
    /// Could not connect; the text says why.
    Unreachable(String),
    /// The deadline passed.
    Timeout,
    /// The peer closed, or a socket error, before a whole reply arrived.
    Broken(String),
    /// The reply line exceeded the protocol's limit.
    TooLong,
}

/// One connection. Boxed, because the connection's `data` points at it.
pub struct Peer {
    pool: *mut ngx_pool_t,
    pc: ngx_peer_connection_t,
    sockaddr: libc::sockaddr_un,
    name: ngx_str_t,
    rev: Option<Waker>,
    wev: Option<Waker>,
    deadline: ngx_msec_t,
}

fn now() -> ngx_msec_t {
    // SAFETY: nginx updates this global on the worker's only thread.
    unsafe { ngx_current_msec }
}

impl Peer {
    /// Connects to `addr`; the whole exchange must finish within `timeout_ms`.
    pub async fn connect(addr: &SupervisorAddr, timeout_ms: u64) -> Result<Box<Peer>, PeerError> {
        // A missing socket file is the commonest failure (supervisor not
        // running); say so plainly instead of a bare ENOENT.
        match std::fs::symlink_metadata(&addr.path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(PeerError::Unreachable(format!(
                    "socket {} does not exist (is stream-supervisor running?)",
                    addr.path
                )))
            }
            _ => {}
        }

        let mut peer = Peer::new(addr, timeout_ms)?;
        // SAFETY: pc is fully initialised by Peer::new; nginx creates the
        // socket, registers it with the event loop and starts the connect.
        let rc = unsafe { ngx_event_connect_peer(&mut peer.pc) };
        if rc != NGX_OK as isize && rc != NGX_AGAIN as isize {
            let err = std::io::Error::last_os_error();
            peer.pc.connection = ptr::null_mut();
            return Err(PeerError::Unreachable(format!(
                "connect() to {} failed: {err}",
                addr.text
            )));
        }
        let this: *mut Peer = &mut *peer;
        // SAFETY: on NGX_OK/NGX_AGAIN nginx set pc.connection to a live
        // connection; its handlers find the boxed Peer through `data`.
        unsafe {
            let c = peer.pc.connection;
            (*c).data = this.cast();
            (*c).pool = peer.pool;
            (*(*c).read).handler = Some(read_handler);
            (*(*c).write).handler = Some(write_handler);
        }
        if rc == NGX_AGAIN as isize {
            poll_fn(|cx| peer.poll_connected(cx)).await?;
        }
        Ok(peer)
    }

    fn new(addr: &SupervisorAddr, timeout_ms: u64) -> Result<Box<Peer>, PeerError> {
        // SAFETY: ngx_cycle and its log are valid for the worker's life. The
        // pool gets its own copy of the log with no handler or data, so
        // nothing logged on this connection refers to a request that may be
        // gone by then.
        unsafe {
            let cycle_log = (*ngx_cycle).log;
            let pool = ngx_create_pool(1024, cycle_log);
            if pool.is_null() {
                return Err(PeerError::Unreachable("out of memory".into()));
            }
            let log = ngx_palloc(pool, core::mem::size_of::<ngx_log_t>()) as *mut ngx_log_t;
            if log.is_null() {
                ngx_destroy_pool(pool);
                return Err(PeerError::Unreachable("out of memory".into()));
            }
            log.write(ptr::read(cycle_log));
            (*log).handler = None;
            (*log).data = ptr::null_mut();
            (*log).action = ptr::null_mut();
            (*pool).log = log;

            let mut peer = Box::new(Peer {
                pool,
                pc: core::mem::zeroed(),
                sockaddr: addr.sockaddr,
                name: ngx_str_t {
                    len: addr.text.len(),
                    data: ptr::null_mut(),
                },
                rev: None,
                wev: None,
                deadline: now().wrapping_add(timeout_ms.min(u32::MAX as u64) as ngx_msec_t),
            });
            // The name must outlive the connection: keep it in the pool.
            let name = ngx_palloc(pool, addr.text.len()) as *mut u8;
            if name.is_null() {
                return Err(PeerError::Unreachable("out of memory".into()));
            }
            ptr::copy_nonoverlapping(addr.text.as_ptr(), name, addr.text.len());
            peer.name.data = name;
            peer.pc.sockaddr = ptr::addr_of_mut!(peer.sockaddr).cast();
            peer.pc.socklen = addr.socklen;
            peer.pc.name = ptr::addr_of_mut!(peer.name);
            peer.pc.get = Some(ngx_event_get_peer);
            peer.pc.log = log;
            peer.pc
                .set_log_error(ngx_connection_log_error_e_NGX_ERROR_ERR);
            Ok(peer)
        }
    }

    fn conn(&self) -> *mut ngx_connection_t {
        self.pc.connection
    }

    /// Milliseconds left, or `None` once the deadline passed.
    fn remaining(&self) -> Option<ngx_msec_t> {
        let left = self.deadline.wrapping_sub(now()) as isize;
        (left > 0).then_some(left as ngx_msec_t)
    }

    /// Arms `ev`'s timer for what is left of the deadline.
    ///
    /// # Safety
    /// `ev` is one of this peer's live connection events.
    unsafe fn arm(&self, ev: *mut ngx_event_t) -> Result<(), PeerError> {
        let left = self.remaining().ok_or(PeerError::Timeout)?;
        // SAFETY: ev is one of this peer's live connection events (the
        // caller's promise); adding a timer only links it into nginx's tree.
        unsafe { ngx::ffi::ngx_add_timer(ev, left) };
        Ok(())
    }

    fn poll_connected(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), PeerError>> {
        let c = self.conn();
        // SAFETY: the connection is live while pc.connection is set.
        unsafe {
            let wev = (*c).write;
            if (*wev).timedout() != 0 {
                return Poll::Ready(Err(PeerError::Timeout));
            }
            if (*wev).ready() == 0 {
                if let Err(e) = self.arm(wev) {
                    return Poll::Ready(Err(e));
                }
                self.wev = Some(cx.waker().clone());
                return Poll::Pending;
            }
            if (*wev).timer_set() != 0 {
                ngx_del_timer(wev);
            }
            let mut err: libc::c_int = 0;
            let mut len = core::mem::size_of::<libc::c_int>() as libc::socklen_t;
            if libc::getsockopt(
                (*c).fd,
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                ptr::addr_of_mut!(err).cast(),
                &mut len,
            ) == -1
            {
                err = *libc::__errno_location();
            }
            if err != 0 {
                return Poll::Ready(Err(PeerError::Unreachable(format!(
                    "connect() failed: {}",
                    std::io::Error::from_raw_os_error(err)
                ))));
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Sends all of `buf`.
    pub async fn write_all(&mut self, buf: &[u8]) -> Result<(), PeerError> {
        let mut sent = 0;
        poll_fn(|cx| self.poll_write(cx, buf, &mut sent)).await
    }

    fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        buf: &[u8],
        sent: &mut usize,
    ) -> Poll<Result<(), PeerError>> {
        let c = self.conn();
        // SAFETY: the connection is live while pc.connection is set; send is
        // always set by ngx_event_connect_peer.
        unsafe {
            let wev = (*c).write;
            if (*wev).timedout() != 0 {
                return Poll::Ready(Err(PeerError::Timeout));
            }
            while *sent < buf.len() {
                let send = (*c).send.unwrap_unchecked();
                let n = send(c, buf.as_ptr().add(*sent) as *mut u8, buf.len() - *sent);
                if n > 0 {
                    *sent += n as usize;
                } else if n == NGX_AGAIN as isize {
                    if let Err(e) = self.arm(wev) {
                        return Poll::Ready(Err(e));
                    }
                    self.wev = Some(cx.waker().clone());
                    return Poll::Pending;
                } else {
                    return Poll::Ready(Err(PeerError::Broken(
                        "send() to supervisor failed".into(),
                    )));
                }
            }
            if (*wev).timer_set() != 0 {
                ngx_del_timer(wev);
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Reads up to and excluding the first newline.
    pub async fn read_line(&mut self) -> Result<Vec<u8>, PeerError> {
        let mut acc = Vec::with_capacity(256);
        let mut scanned = 0;
        poll_fn(|cx| self.poll_read_line(cx, &mut acc, &mut scanned)).await
    }

    fn poll_read_line(
        &mut self,
        cx: &mut Context<'_>,
        acc: &mut Vec<u8>,
        scanned: &mut usize,
    ) -> Poll<Result<Vec<u8>, PeerError>> {
        let c = self.conn();
        let mut buf = [0u8; 16384];
        // SAFETY: the connection is live while pc.connection is set; recv is
        // always set by ngx_event_connect_peer.
        unsafe {
            let rev = (*c).read;
            if (*rev).timedout() != 0 {
                return Poll::Ready(Err(PeerError::Timeout));
            }
            loop {
                // Only the new bytes: a large reply arrives in many reads.
                if let Some(pos) = acc[*scanned..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map(|i| *scanned + i)
                {
                    if (*rev).timer_set() != 0 {
                        ngx_del_timer(rev);
                    }
                    let mut line = core::mem::take(acc);
                    line.truncate(pos);
                    return Poll::Ready(Ok(line));
                }
                *scanned = acc.len();
                if acc.len() > MAX_REPLY_LINE {
                    return Poll::Ready(Err(PeerError::TooLong));
                }
                let recv = (*c).recv.unwrap_unchecked();
                let n = recv(c, buf.as_mut_ptr(), buf.len());
                if n > 0 {
                    acc.extend_from_slice(&buf[..n as usize]);
                } else if n == 0 {
                    return Poll::Ready(Err(PeerError::Broken(
                        "supervisor closed the connection before replying".into(),
                    )));
                } else if n == NGX_AGAIN as isize {
                    if ngx_handle_read_event(rev, 0) != NGX_OK as isize {
                        return Poll::Ready(Err(PeerError::Broken("cannot wait for reply".into())));
                    }
                    if let Err(e) = self.arm(rev) {
                        return Poll::Ready(Err(e));
                    }
                    self.rev = Some(cx.waker().clone());
                    return Poll::Pending;
                } else {
                    return Poll::Ready(Err(PeerError::Broken(
                        "recv() from supervisor failed".into(),
                    )));
                }
            }
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // SAFETY: closing removes the connection's timers, posted events and
        // event-loop registration before the pool (holding its log) goes.
        unsafe {
            if !self.pc.connection.is_null() {
                ngx_close_connection(self.pc.connection);
                self.pc.connection = ptr::null_mut();
            }
            ngx_destroy_pool(self.pool);
        }
    }
}

unsafe extern "C" fn read_handler(ev: *mut ngx_event_t) {
    // SAFETY: the event belongs to a connection whose data is its Peer,
    // which outlives the connection (Drop closes it first).
    unsafe {
        let c = (*ev).data as *mut ngx_connection_t;
        let peer = (*c).data as *mut Peer;
        if let Some(w) = (*peer).rev.take() {
            w.wake();
        }
    }
}

unsafe extern "C" fn write_handler(ev: *mut ngx_event_t) {
    // SAFETY: the event belongs to a connection whose data is its Peer,
    // which outlives the connection (Drop closes it first).
    unsafe {
        let c = (*ev).data as *mut ngx_connection_t;
        let peer = (*c).data as *mut Peer;
        if let Some(w) = (*peer).wev.take() {
            w.wake();
        }
    }
}
