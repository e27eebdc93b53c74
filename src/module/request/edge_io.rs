//! What the cluster edge filter needs of the request: its context kept
//! across a named-location jump, the response header fields it reads and
//! clears, the body buffers it gathers, and the 502 it can answer with.

use core::ptr;

use ngx::ffi::{
    ngx_chain_t, ngx_create_temp_buf, ngx_http_filter_finalize_request, ngx_int_t, ngx_module_t,
};

use super::{module_index, str_bytes, Req, RequestCtx};

/// A body buffer the filter cannot read from memory (a file buffer).
pub struct NotInMemory;

impl<'a> Req<'a> {
    /// Keeps the address of `ctx` (this request's context) in indexed
    /// variable `index`, which no configuration can name: a named location
    /// clears the modules' contexts, not the variables.
    pub fn stash_ctx<T: RequestCtx>(&mut self, index: usize, ctx: &T) -> bool {
        // A subrequest shares r->variables with its main request: never.
        if self.get().main != self.as_ptr() {
            return false;
        }
        let addr = (ctx as *const T as usize).to_ne_bytes();
        self.preset_variable(index, &addr)
    }

    /// Puts back the context `stash_ctx` kept, if the slot is empty.
    pub fn restore_ctx<T: RequestCtx>(&mut self, index: usize) -> Option<&'a T> {
        let vars = self.get().variables;
        if vars.is_null() || index == usize::MAX || self.get().main != self.as_ptr() {
            return None;
        }
        // SAFETY: r->variables has one value per indexed variable of the
        // http block and `index` is one of ours; a value is read only when
        // valid, and then it is the bytes stash_ctx copied (the variable's
        // name cannot be written by any configuration; its get handler
        // only marks it not found).
        let addr = unsafe {
            let v = &*vars.add(index);
            if v.valid() == 0 || v.not_found() != 0 || v.len() as usize != size_of::<usize>() {
                return None;
            }
            let mut b = [0u8; size_of::<usize>()];
            ptr::copy_nonoverlapping(v.data, b.as_mut_ptr(), b.len());
            usize::from_ne_bytes(b)
        };
        if addr == 0 {
            return None;
        }
        // SAFETY: the address is this request's own context: stash_ctx
        // stores only a main request's own context, subrequests share the
        // main request's variables but never stash (refused above) nor
        // restore (checked above), and the slot is out of the runtime name
        // lookup (NOHASH) so nothing else writes it: in its pool, dropped only when the pool goes, so it lives
        // as long as the request; the slot has one entry per HTTP module.
        unsafe { *self.get_mut().ctx.add(module_index()) = addr as *mut core::ffi::c_void };
        self.ctx::<T>()
    }

    /// The response status so far.
    pub fn response_status(&self) -> usize {
        self.get().headers_out.status
    }

    /// The response's `Content-Type`.
    pub fn response_type(&self) -> &'a [u8] {
        // SAFETY: content_type is len bytes living with the request (or
        // the configuration), or empty.
        unsafe { str_bytes(&self.get().headers_out.content_type) }
    }

    /// The response's `Content-Encoding`, if it has one.
    pub fn response_encoding(&self) -> Option<&'a [u8]> {
        let h = self.get().headers_out.content_encoding;
        // SAFETY: null or an element of headers_out's list, in the pool;
        // its value lives as long as the request.
        unsafe { h.as_ref() }
            .filter(|h| h.hash != 0)
            // SAFETY: a header value is len bytes living with the request.
            .map(|h| unsafe { str_bytes(&h.value) })
    }

    pub fn response_length(&self) -> i64 {
        self.get().headers_out.content_length_n
    }

    pub fn header_only_response(&self) -> bool {
        self.get().header_only() != 0
    }

    /// The body will change: the owner's length, validator and ranges no
    /// longer hold (nginx's ngx_http_clear_* macros).
    pub fn clear_body_headers(&mut self) {
        let r = self.get_mut();
        r.headers_out.content_length_n = -1;
        // SAFETY: each is null or an element of headers_out's list; hash 0
        // is how nginx drops a header from what it sends.
        unsafe {
            for h in [
                &mut r.headers_out.content_length,
                &mut r.headers_out.etag,
                &mut r.headers_out.accept_ranges,
            ] {
                if let Some(e) = h.as_mut() {
                    e.hash = 0;
                }
                *h = ptr::null_mut();
            }
        }
        r.set_allow_ranges(0);
    }

    pub fn set_response_length(&mut self, len: usize) {
        self.get_mut().headers_out.content_length_n = len as i64;
    }

    /// Gathers the bytes of every buffer of `chain` into `take` and marks
    /// them sent (so the upstream can reuse its buffers); true when the
    /// last buffer of the response was among them.
    pub fn consume_chain(
        &mut self,
        chain: *mut ngx_chain_t,
        mut take: impl FnMut(&[u8]) -> bool,
    ) -> Result<bool, NotInMemory> {
        let mut last = false;
        let mut cl = chain;
        // SAFETY: the chain nginx passed the body filter: links and buffers
        // live until the filter returns; pos..last of a buffer in memory
        // are its bytes.
        unsafe {
            while let Some(link) = cl.as_ref() {
                if let Some(b) = link.buf.as_mut() {
                    let in_memory = b.temporary() != 0 || b.memory() != 0 || b.mmap() != 0;
                    if in_memory && b.last > b.pos {
                        let n = b.last.offset_from(b.pos) as usize;
                        if !take(core::slice::from_raw_parts(b.pos, n)) {
                            return Ok(last);
                        }
                        b.pos = b.last;
                    } else if !in_memory && b.in_file() != 0 && b.file_last > b.file_pos {
                        return Err(NotInMemory);
                    }
                    if b.in_file() != 0 {
                        b.file_pos = b.file_last;
                    }
                    last |= b.last_buf() != 0;
                }
                cl = link.next;
            }
        }
        Ok(last)
    }

    /// One buffer holding `body`, the response's last, for the next body
    /// filter; `send` gets the chain.
    pub fn with_last_buffer(
        &mut self,
        body: &[u8],
        send: impl FnOnce(*mut ngx_chain_t) -> ngx_int_t,
    ) -> ngx_int_t {
        // SAFETY: a temporary buffer of body.len() bytes in the request pool.
        let b = unsafe { ngx_create_temp_buf(self.get().pool, body.len().max(1)) };
        if b.is_null() {
            return ngx::ffi::NGX_ERROR as ngx_int_t;
        }
        // SAFETY: b->last..b->end has room for body, a distinct allocation.
        unsafe {
            ptr::copy_nonoverlapping(body.as_ptr(), (*b).last, body.len());
            (*b).last = (*b).last.add(body.len());
            (*b).set_last_buf(1);
            (*b).set_last_in_chain(1);
        }
        let mut out = ngx_chain_t {
            buf: b,
            next: ptr::null_mut(),
        };
        send(&mut out)
    }

    /// Ends the response with `status` (an error page) instead of what the
    /// upstream sent, keeping `module`'s context; the filter returns this.
    pub fn filter_finalize(&mut self, module: *mut ngx_module_t, status: ngx_int_t) -> ngx_int_t {
        // SAFETY: a live request whose header this filter has not passed
        // on; nginx clears the header and sends the error page (through
        // the filters again), as its image and xslt filters do.
        unsafe { ngx_http_filter_finalize_request(self.as_ptr(), module, status) }
    }
}
