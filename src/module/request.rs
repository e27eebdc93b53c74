//! The request wrapper: every access the module makes to an
//! `ngx_http_request_t` goes through here. A `Req` is made from the pointer
//! nginx hands one of the module's entry points and lives no longer than
//! that call. What it lends out (`'a`) is the request's memory: the entry
//! points pass it only to code that returns before they do, and nothing
//! keeps it (the types do not enforce that; `from_raw` is why it is unsafe).

use core::marker::PhantomData;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicUsize, Ordering};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use ngx::ffi::{
    ngx_connection_t, ngx_current_msec, ngx_event_flags, ngx_http_arg, ngx_http_block_reading,
    ngx_http_client_body_handler_pt, ngx_http_complex_value, ngx_http_core_run_phases,
    ngx_http_discard_request_body, ngx_http_event_handler_pt, ngx_http_finalize_request,
    ngx_http_map_uri_to_path, ngx_http_read_client_request_body, ngx_http_request_empty_handler,
    ngx_http_request_t, ngx_http_run_posted_requests, ngx_int_t, ngx_list_part_t, ngx_log_t,
    ngx_pnalloc, ngx_pool_cleanup_add, ngx_str_t, ngx_table_elt_t, ngx_uint_t, ngx_use_epoll_rdhup,
    NGX_HTTP_GET, NGX_HTTP_HEAD, NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_HTTP_NOT_ALLOWED, NGX_OK,
    NGX_USE_EPOLL_EVENT,
};

use super::conf::{Cv, LocConf, MainConf};

mod cluster_io;
mod edge_io;
mod log_mask;
mod response;

/// The module's index among HTTP modules, for the request's per-module
/// slots. nginx assigns it before any configuration of ours is created; the
/// module definition records it (see `directives::postconfiguration`).
static CTX_INDEX: AtomicUsize = AtomicUsize::new(usize::MAX);

pub fn set_module_index(index: usize) {
    CTX_INDEX.store(index, Ordering::Relaxed);
}

fn module_index() -> usize {
    CTX_INDEX.load(Ordering::Relaxed)
}

/// nginx's cached time in milliseconds.
pub fn now_ms() -> u64 {
    // SAFETY: a plain read of a global nginx updates on this worker's only
    // thread, between event handlers, never while one of ours runs.
    unsafe { ngx_current_msec as u64 }
}

/// The one type kept in the request's slot for this module.
///
/// # Safety
/// Implemented by exactly one type, so the slot is never read as another.
pub unsafe trait RequestCtx {}

/// A request body that did not stay in memory.
pub struct BodyTooLarge;

/// The live request an entry point was called with.
pub struct Req<'a> {
    r: NonNull<ngx_http_request_t>,
    _call: PhantomData<&'a mut ngx_http_request_t>,
}

impl<'a> Req<'a> {
    /// # Safety
    /// `r` is a live request, passed by nginx to the handler that calls
    /// this (or held by a context that lives in its pool), and the `Req` is
    /// dropped before that handler returns.
    pub unsafe fn from_raw(r: *mut ngx_http_request_t) -> Option<Req<'a>> {
        NonNull::new(r).map(|r| Req {
            r,
            _call: PhantomData,
        })
    }

    fn get(&self) -> &ngx_http_request_t {
        // SAFETY: from_raw's contract: the request is live for 'a and only
        // this handler touches it while it runs (one thread per worker).
        unsafe { self.r.as_ref() }
    }

    fn get_mut(&mut self) -> &mut ngx_http_request_t {
        // SAFETY: the request is live for 'a (from_raw's contract), and
        // `&mut self` makes this the only reference to it in this handler.
        unsafe { self.r.as_mut() }
    }

    pub fn as_ptr(&self) -> *mut ngx_http_request_t {
        self.r.as_ptr()
    }

    /// This location's configuration.
    pub fn conf(&self) -> &'a LocConf {
        // SAFETY: loc_conf has a slot per HTTP module; ours holds the
        // LocConf create_loc_conf made for this location (nginx makes one
        // for every location), in the configuration pool, which outlives
        // the request.
        unsafe { &*(*self.get().loc_conf.add(module_index()) as *const LocConf) }
    }

    /// The http block's configuration of the module.
    pub fn main_conf(&self) -> &'a MainConf {
        // SAFETY: main_conf has a slot per HTTP module; ours holds the
        // MainConf create_main_conf made for the http block, in the
        // configuration pool, which outlives the request.
        unsafe { &*(*self.get().main_conf.add(module_index()) as *const MainConf) }
    }

    /// The value of request header `name` (any case), the first if several.
    pub fn header(&self, name: &[u8]) -> Option<&'a [u8]> {
        let mut part: *const ngx_list_part_t = &self.get().headers_in.headers.part;
        // SAFETY: headers_in.headers is nginx's list of the request's
        // headers: parts of `nelts` ngx_table_elt_t each, linked by `next`,
        // in the request's pool or buffers.
        unsafe {
            while !part.is_null() {
                let elts = (*part).elts as *const ngx_table_elt_t;
                for i in 0..(*part).nelts {
                    let h = &*elts.add(i);
                    if h.hash != 0 && str_bytes(&h.key).eq_ignore_ascii_case(name) {
                        return Some(str_bytes(&h.value));
                    }
                }
                part = (*part).next;
            }
        }
        None
    }

    /// The host the request names: its `Host` header, else the authority
    /// nginx parsed (HTTP/2's `:authority`, which adds no header).
    pub fn host(&self) -> Option<&'a [u8]> {
        if let Some(h) = self.header(b"host") {
            return Some(h);
        }
        let r = self.get();
        if r.host_start.is_null() || r.host_end < r.host_start {
            return None;
        }
        // SAFETY: nginx sets host_start..host_end to the authority in the
        // request line or the `:authority` value, in the request's buffers,
        // which live as long as the request.
        unsafe {
            let len = r.host_end.offset_from(r.host_start) as usize;
            Some(core::slice::from_raw_parts(r.host_start, len))
        }
    }

    /// `https` on a TLS connection, else `http`.
    pub fn scheme(&self) -> &'static str {
        #[cfg(ngx_feature = "http_ssl")]
        {
            // SAFETY: a live request has a live connection.
            if !unsafe { (*self.connection()).ssl }.is_null() {
                return "https";
            }
        }
        "http"
    }

    /// The module's context of this request, if one was made.
    pub fn ctx<T: RequestCtx>(&self) -> Option<&'a T> {
        // SAFETY: the slot holds null or the one RequestCtx type, put there
        // by set_ctx in this request's pool, which outlives the request.
        unsafe { (*self.get().ctx.add(module_index()) as *const T).as_ref() }
    }

    /// Moves `value` into the request pool (dropped when the pool goes) and
    /// makes it the module's context.
    pub fn set_ctx<T: RequestCtx>(&mut self, value: T) -> Option<&'a T> {
        // SAFETY: one allocation in the request pool holds the cleanup and
        // room for a T (or is null when memory ran out).
        let cln = unsafe { ngx_pool_cleanup_add(self.get().pool, core::mem::size_of::<T>()) };
        if cln.is_null() {
            return None;
        }
        // SAFETY: cln->data is that room, aligned like any pool allocation;
        // the cleanup drops the T before the pool frees the memory.
        let p = unsafe {
            let p = (*cln).data as *mut T;
            p.write(value);
            (*cln).handler = Some(drop_value::<T>);
            p
        };
        // SAFETY: the ctx array has a slot per HTTP module.
        unsafe { *self.get_mut().ctx.add(module_index()) = p.cast() };
        // SAFETY: p was just initialised and lives as long as the request.
        Some(unsafe { &*p })
    }

    pub fn log(&self) -> *mut ngx_log_t {
        // SAFETY: a live request has a live connection with a log.
        unsafe { (*self.get().connection).log }
    }

    pub fn connection(&self) -> *mut ngx_connection_t {
        self.get().connection
    }

    /// The client's address as nginx prints it (`$remote_addr`).
    pub fn remote_addr(&self) -> &'a [u8] {
        // SAFETY: a live request has a live connection; addr_text is in
        // the connection's pool, which outlives the request.
        unsafe { str_bytes(&(*self.connection()).addr_text) }
    }

    /// Not a subrequest.
    pub fn is_main(&self) -> bool {
        self.as_ptr() == self.get().main
    }

    pub fn is_head(&self) -> bool {
        self.get().method as u32 == NGX_HTTP_HEAD
    }

    pub fn is_get_or_head(&self) -> bool {
        self.get().method as u32 & (NGX_HTTP_GET | NGX_HTTP_HEAD) != 0
    }

    pub fn method_name(&self) -> &'a [u8] {
        // SAFETY: the method name points into the request's buffers.
        unsafe { str_bytes(&self.get().method_name) }
    }

    pub fn uri(&self) -> &'a [u8] {
        // SAFETY: the URI is in the request's buffers or pool.
        unsafe { str_bytes(&self.get().uri) }
    }

    /// A copy of `bytes` in the request pool.
    pub fn pool_copy(&mut self, bytes: &[u8]) -> Option<ngx_str_t> {
        // SAFETY: pnalloc returns `len` bytes of request-pool memory or null.
        let p = unsafe { ngx_pnalloc(self.get().pool, bytes.len()) } as *mut u8;
        if p.is_null() {
            return None;
        }
        // SAFETY: p has room for bytes.len() bytes and cannot overlap them.
        unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len()) };
        Some(ngx_str_t {
            len: bytes.len(),
            data: p,
        })
    }

    /// Content handlers that only read: GET and HEAD (else 405), the body
    /// discarded. `Err` is the status to end the request with.
    pub fn accept_get(&mut self) -> Result<(), ngx_int_t> {
        if !self.is_get_or_head() {
            return Err(NGX_HTTP_NOT_ALLOWED as ngx_int_t);
        }
        match self.discard_body() {
            rc if rc == NGX_OK as ngx_int_t => Ok(()),
            rc => Err(rc),
        }
    }

    pub fn discard_body(&mut self) -> ngx_int_t {
        // SAFETY: a live request whose body has not been read yet.
        unsafe { ngx_http_discard_request_body(self.as_ptr()) }
    }

    /// Reads the body; nginx calls `done` with the request once it is in.
    pub fn read_body(&mut self, done: ngx_http_client_body_handler_pt) -> ngx_int_t {
        // SAFETY: a live request in its content handler.
        unsafe { ngx_http_read_client_request_body(self.as_ptr(), done) }
    }

    /// The request body, if nginx kept it in memory.
    pub fn body(&self) -> Result<Vec<u8>, BodyTooLarge> {
        let rb = self.get().request_body;
        if rb.is_null() {
            return Ok(Vec::new());
        }
        // SAFETY: once read, request_body is a chain of nginx buffers; a
        // buffer not in a file has `pos..last` in memory.
        unsafe {
            if !(*rb).temp_file.is_null() {
                return Err(BodyTooLarge);
            }
            let mut out = Vec::new();
            let mut cl = (*rb).bufs;
            while !cl.is_null() {
                let b = (*cl).buf;
                if (*b).in_file() != 0 {
                    return Err(BodyTooLarge);
                }
                let len = (*b).last.offset_from((*b).pos) as usize;
                if len > 0 {
                    out.extend_from_slice(core::slice::from_raw_parts((*b).pos, len));
                }
                cl = (*cl).next;
            }
            Ok(out)
        }
    }

    /// Evaluates a value compiled at configuration time.
    pub fn eval(&mut self, cv: Cv) -> Option<&'a [u8]> {
        let mut v = ngx_str_t {
            len: 0,
            data: ptr::null_mut(),
        };
        // SAFETY: cv was compiled for this configuration; the result is in
        // the request pool.
        let rc = unsafe { ngx_http_complex_value(self.as_ptr(), cv.0.as_ptr(), &mut v) };
        // SAFETY: on success v points at v.len bytes of pool memory.
        (rc == NGX_OK as ngx_int_t).then(|| unsafe { str_bytes(&v) })
    }

    /// A query argument, raw (still percent-encoded).
    pub fn arg(&mut self, name: &[u8]) -> Option<&'a [u8]> {
        let mut v = ngx_str_t {
            len: 0,
            data: ptr::null_mut(),
        };
        // SAFETY: nginx only reads the name; v ends up pointing into the
        // request's arguments.
        let rc =
            unsafe { ngx_http_arg(self.as_ptr(), name.as_ptr() as *mut u8, name.len(), &mut v) };
        // SAFETY: on success v points at v.len bytes of the request line.
        (rc == NGX_OK as ngx_int_t).then(|| unsafe { str_bytes(&v) })
    }

    /// The file the URI maps to under `root`/`alias`.
    pub fn mapped_path(&mut self) -> Option<PathBuf> {
        let mut path = ngx_str_t {
            len: 0,
            data: ptr::null_mut(),
        };
        let mut root = 0usize;
        // SAFETY: fills `path` with pool memory and returns a pointer to
        // its terminating NUL, or null.
        let last = unsafe { ngx_http_map_uri_to_path(self.as_ptr(), &mut path, &mut root, 0) };
        if last.is_null() {
            return None;
        }
        // SAFETY: path.data..last is the mapped path, in the pool.
        let bytes =
            unsafe { core::slice::from_raw_parts(path.data, last.offset_from(path.data) as usize) };
        Some(PathBuf::from(std::ffi::OsStr::from_bytes(bytes)))
    }

    /// One more reference on the main request, for a content handler that
    /// returns NGX_DONE and finishes later.
    pub fn hold(&mut self) {
        // SAFETY: main is the live main request (self, or the main request
        // of a subrequest).
        unsafe {
            let main = self.get().main;
            (*main).set_count((*main).count() + 1);
        }
    }

    pub fn set_read_handler(&mut self, h: ngx_http_event_handler_pt) {
        self.get_mut().read_event_handler = h;
    }

    /// Read events are ignored (not read ahead) until the response.
    pub fn block_reading(&mut self) {
        self.set_read_handler(Some(ngx_http_block_reading));
    }

    /// While parked, write events must not re-enter the request.
    pub fn ignore_write_events(&mut self) {
        self.get_mut().write_event_handler = Some(ngx_http_request_empty_handler);
    }

    /// Continues the phases (after an access-phase wait).
    pub fn run_phases(self) {
        let r = self.as_ptr();
        // SAFETY: a live request parked in a phase; the phase engine
        // continues it from its current phase handler.
        unsafe {
            (*r).write_event_handler = Some(ngx_http_core_run_phases);
            ngx_http_core_run_phases(r);
        }
    }

    /// Ends the request (nginx may free it: `self` is consumed).
    pub fn finalize(self, rc: ngx_int_t) {
        // SAFETY: a live request; nothing uses it after this.
        unsafe { ngx_http_finalize_request(self.as_ptr(), rc) }
    }

    /// The client is gone: its HTTP/2 stream was reset or its connection
    /// closed (checked as nginx's own `ngx_http_test_reading` does).
    /// Pipelined requests waiting in the socket are not a close, and do
    /// not hide one that follows them.
    pub fn client_gone(&self) -> bool {
        let c = self.connection();
        #[cfg(ngx_feature = "http_v2")]
        {
            if !self.get().stream.is_null() {
                // SAFETY: a stream's fake connection lives with its request;
                // nginx sets `error` on it when the stream is reset or the
                // connection that carries it goes.
                return unsafe { (*c).error() } != 0;
            }
        }
        // SAFETY: a live request has a live connection with a read event;
        // the globals are set once by the event module at startup.
        let (rdhup, pending_eof, fd) = unsafe {
            (
                ngx_event_flags & NGX_USE_EPOLL_EVENT as ngx_uint_t != 0
                    && ngx_use_epoll_rdhup != 0,
                (*(*c).read).pending_eof() != 0 || (*(*c).read).eof() != 0,
                (*c).fd,
            )
        };
        if rdhup {
            // epoll reported the peer's FIN (EPOLLRDHUP), whatever unread
            // bytes come before it.
            return pending_eof;
        }
        let mut byte = 0u8;
        // SAFETY: MSG_PEEK only looks at the connection's socket.
        let n = unsafe { libc::recv(fd, ptr::addr_of_mut!(byte).cast(), 1, libc::MSG_PEEK) };
        if n > 0 {
            return false;
        }
        let err = std::io::Error::last_os_error().raw_os_error();
        !(n == -1 && (err == Some(libc::EAGAIN) || err == Some(libc::EINTR)))
    }

    pub fn set_connection_error(&mut self) {
        // SAFETY: a live request has a live connection.
        unsafe { (*self.connection()).set_error(1) }
    }
}

/// Runs a content handler's body with the request nginx passed it (500
/// for a null one).
///
/// # Safety
/// `r` is the live request nginx passed the calling content handler.
pub unsafe fn content_handler(
    r: *mut ngx_http_request_t,
    body: impl FnOnce(&mut Req<'_>) -> ngx_int_t,
) -> ngx_int_t {
    // SAFETY: the caller passes on nginx's live request; the Req does not
    // outlive this call.
    match unsafe { Req::from_raw(r) } {
        Some(mut req) => body(&mut req),
        None => NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t,
    }
}

/// The pool cleanup of a value `set_ctx` moved into the pool.
unsafe extern "C" fn drop_value<T>(data: *mut core::ffi::c_void) {
    // SAFETY: registered by set_ctx for exactly this T, run once by nginx.
    unsafe { ptr::drop_in_place(data as *mut T) }
}

/// Runs the subrequests posted while a connection's handler ran, as
/// nginx's own event handlers do at their end.
///
/// # Safety
/// `c` is a live connection (its request may have been finalized).
pub unsafe fn run_posted_requests(c: *mut ngx_connection_t) {
    // SAFETY: the caller vouches that c is live; nginx runs its own posted
    // requests the same way at the end of its handlers.
    unsafe { ngx_http_run_posted_requests(c) }
}

/// # Safety
/// `v` points at `len` initialised bytes living for 'a.
unsafe fn str_bytes<'a>(v: &ngx_str_t) -> &'a [u8] {
    if v.len == 0 || v.data.is_null() {
        &[]
    } else {
        // SAFETY: the caller vouches that data points at len initialised
        // bytes living for 'a; empty and null were handled above.
        unsafe { core::slice::from_raw_parts(v.data, v.len) }
    }
}
