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
    ngx_chain_t, ngx_connection_t, ngx_create_temp_buf, ngx_current_msec, ngx_http_arg,
    ngx_http_block_reading, ngx_http_client_body_handler_pt, ngx_http_complex_value,
    ngx_http_core_run_phases, ngx_http_discard_request_body, ngx_http_event_handler_pt,
    ngx_http_finalize_request, ngx_http_map_uri_to_path, ngx_http_output_filter,
    ngx_http_read_client_request_body, ngx_http_request_empty_handler, ngx_http_request_t,
    ngx_http_run_posted_requests, ngx_http_send_header, ngx_int_t, ngx_list_push, ngx_log_t,
    ngx_pnalloc, ngx_pool_cleanup_add, ngx_str_t, ngx_table_elt_t, ngx_uint_t, NGX_ERROR,
    NGX_HTTP_GET, NGX_HTTP_HEAD, NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_HTTP_NOT_ALLOWED, NGX_OK,
};

use super::conf::{Cv, LocConf};
use crate::outcome::Status;

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

    pub fn request_line(&self) -> &'a [u8] {
        // SAFETY: the request line points into the request's buffers.
        unsafe { str_bytes(&self.get().request_line) }
    }

    /// Replaces what `$request` and the error log show of the request line.
    pub fn set_request_line(&mut self, line: &[u8]) -> bool {
        let Some(copy) = self.pool_copy(line) else {
            return false;
        };
        self.get_mut().request_line = copy;
        true
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

    /// Adds a response header whose key and value are static.
    pub fn add_header(&mut self, key: &'static str, value: &'static str) -> bool {
        // SAFETY: returns an uninitialised element of headers_out or null.
        let h = unsafe { ngx_list_push(&mut self.get_mut().headers_out.headers) }
            as *mut ngx_table_elt_t;
        if h.is_null() {
            return false;
        }
        // SAFETY: h is a fresh element; every field nginx reads is set, and
        // key and value are static.
        unsafe {
            (*h).hash = 1;
            (*h).key = static_str(key);
            (*h).value = static_str(value);
            (*h).lowcase_key = ptr::null_mut();
            #[cfg(ngx_table_elt_next)]
            {
                (*h).next = ptr::null_mut();
            }
        }
        true
    }

    /// The nginx status a refusal answers with, adding `Retry-After` where
    /// it is one to retry.
    pub fn refuse(&mut self, status: Status) -> ngx_int_t {
        if status.retry_after() {
            self.add_header("Retry-After", "5");
        }
        status.http() as ngx_int_t
    }

    /// Sends a body of `len` bytes that `fill` writes straight into the
    /// response buffer, with `status` and `Cache-Control: no-cache`.
    pub fn send_with(
        &mut self,
        status: u16,
        content_type: &'static str,
        len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> ngx_int_t {
        self.send_raw(status, content_type, len, |out| {
            // SAFETY: out is `len` writable bytes (send_raw's promise),
            // zeroed here before they become a slice.
            unsafe {
                ptr::write_bytes(out, 0, len);
                fill(core::slice::from_raw_parts_mut(out, len));
            }
        })
    }

    pub fn send_bytes(
        &mut self,
        status: u16,
        content_type: &'static str,
        bytes: &[u8],
    ) -> ngx_int_t {
        self.send_raw(status, content_type, bytes.len(), |out| {
            // SAFETY: out is bytes.len() writable bytes (send_raw's
            // promise), a fresh buffer that cannot overlap `bytes`.
            unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), out, bytes.len()) }
        })
    }

    /// Sends headers and one buffer of `len` bytes, which `fill` must write
    /// in full at the address it gets (called only when `len > 0`).
    fn send_raw(
        &mut self,
        status: u16,
        content_type: &'static str,
        len: usize,
        fill: impl FnOnce(*mut u8),
    ) -> ngx_int_t {
        let r = self.get_mut();
        r.headers_out.status = status as ngx_uint_t;
        r.headers_out.content_length_n = len as i64;
        r.headers_out.content_type = static_str(content_type);
        r.headers_out.content_type_len = content_type.len();
        r.headers_out.content_type_lowcase = ptr::null_mut();
        if !self.add_header("Cache-Control", "no-cache") {
            return NGX_ERROR as ngx_int_t;
        }
        // SAFETY: a live request that has not sent its header.
        let rc = unsafe { ngx_http_send_header(self.as_ptr()) };
        if rc == NGX_ERROR as ngx_int_t || rc > NGX_OK as ngx_int_t || self.get().header_only() != 0
        {
            return rc;
        }
        // SAFETY: a temporary buffer of `len` bytes in the request pool.
        let b = unsafe { ngx_create_temp_buf(self.get().pool, len) };
        if b.is_null() {
            return NGX_ERROR as ngx_int_t;
        }
        let last_buf = self.as_ptr() == self.get().main;
        // SAFETY: b->last..b->end is `len` writable bytes, which fill writes.
        unsafe {
            if len > 0 {
                fill((*b).last);
            }
            (*b).last = (*b).last.add(len);
            (*b).set_last_buf(last_buf as u32);
            (*b).set_last_in_chain(1);
        }
        let mut out = ngx_chain_t {
            buf: b,
            next: ptr::null_mut(),
        };
        // SAFETY: the chain and its buffer live until the filter returns
        // (the buffer in the pool).
        unsafe { ngx_http_output_filter(self.as_ptr(), &mut out) }
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

    /// The client closed its side (a read of 0) or the socket failed;
    /// pipelined bytes or nothing yet are not a close.
    pub fn client_gone(&self) -> bool {
        let mut byte = 0u8;
        // SAFETY: MSG_PEEK only looks at the connection's socket.
        let n = unsafe {
            libc::recv(
                (*self.connection()).fd,
                ptr::addr_of_mut!(byte).cast(),
                1,
                libc::MSG_PEEK,
            )
        };
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

fn static_str(s: &'static str) -> ngx_str_t {
    // nginx never writes through response header strings it did not make.
    ngx_str_t {
        len: s.len(),
        data: s.as_ptr() as *mut u8,
    }
}
