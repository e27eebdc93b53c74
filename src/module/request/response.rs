//! Answering: response headers and bodies sent from memory.

use core::ptr;

use ngx::ffi::{
    ngx_chain_t, ngx_create_temp_buf, ngx_http_output_filter, ngx_http_send_header, ngx_int_t,
    ngx_list_push, ngx_str_t, ngx_table_elt_t, ngx_uint_t, NGX_ERROR, NGX_OK,
};

use super::Req;
use crate::outcome::Status;

impl Req<'_> {
    /// Adds a response header whose key and value are static.
    pub fn add_header(&mut self, key: &'static str, value: &'static str) -> bool {
        self.push_static(key, value).is_some()
    }

    /// Pushes a static header; the element, in headers_out's list.
    fn push_static(
        &mut self,
        key: &'static str,
        value: &'static str,
    ) -> Option<*mut ngx_table_elt_t> {
        // SAFETY: returns an uninitialised element of headers_out or null.
        let h = unsafe { ngx_list_push(&mut self.get_mut().headers_out.headers) }
            as *mut ngx_table_elt_t;
        if h.is_null() {
            return None;
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
        Some(h)
    }

    /// Adds a response header whose value is copied into the request pool.
    pub fn add_header_copy(&mut self, key: &'static str, value: &[u8]) -> bool {
        let Some(value) = self.pool_copy(value) else {
            return false;
        };
        // SAFETY: returns an uninitialised element of headers_out or null.
        let h = unsafe { ngx_list_push(&mut self.get_mut().headers_out.headers) }
            as *mut ngx_table_elt_t;
        if h.is_null() {
            return false;
        }
        // SAFETY: h is a fresh element; every field nginx reads is set; the
        // key is static and the value lives in the request pool.
        unsafe {
            (*h).hash = 1;
            (*h).key = static_str(key);
            (*h).value = value;
            (*h).lowcase_key = ptr::null_mut();
            #[cfg(ngx_table_elt_next)]
            {
                (*h).next = ptr::null_mut();
            }
        }
        true
    }

    /// Marks the response gzip-encoded: the header, and nginx's own field
    /// for it, so that its gzip filter does not compress the body again.
    pub fn set_content_encoding_gzip(&mut self) -> bool {
        let Some(h) = self.push_static("Content-Encoding", "gzip") else {
            return false;
        };
        // The element lives in headers_out's list, in the request pool.
        self.get_mut().headers_out.content_encoding = h;
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
}

fn static_str(s: &'static str) -> ngx_str_t {
    // nginx never writes through response header strings it did not make.
    ngx_str_t {
        len: s.len(),
        data: s.as_ptr() as *mut u8,
    }
}
