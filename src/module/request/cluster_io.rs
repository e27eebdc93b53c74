//! What cluster routing needs of the request: its URI as the client sent
//! it, preset variables that survive a named-location jump, the cluster
//! key header for the proxied request, and the jump itself.

use core::ptr;

use ngx::ffi::{
    ngx_http_named_location, ngx_int_t, ngx_list_push, ngx_str_t, ngx_table_elt_t, NGX_DONE,
};

use super::{str_bytes, Req};

impl<'a> Req<'a> {
    /// The URI and arguments as the request line had them (`$request_uri`).
    pub fn unparsed_uri(&self) -> &'a [u8] {
        // SAFETY: unparsed_uri is in the request's buffers.
        unsafe { str_bytes(&self.get().unparsed_uri) }
    }

    /// Sets indexed variable `index` to a pool copy of `value`, cacheable
    /// so that evaluating it later (proxy_pass) reads this value. A named
    /// location clears the modules' contexts, not the variables.
    pub fn preset_variable(&mut self, index: usize, value: &[u8]) -> bool {
        let Some(s) = self.pool_copy(value) else {
            return false;
        };
        let vars = self.get().variables;
        if vars.is_null() {
            return false;
        }
        // SAFETY: r->variables has one value per indexed variable of the
        // http block; `index` is one ngx_http_get_variable_index gave for
        // this configuration.
        unsafe {
            let v = &mut *vars.add(index);
            v.data = s.data;
            v.set_len(s.len as u32);
            v.set_valid(1);
            v.set_no_cacheable(0);
            v.set_not_found(0);
            v.set_escape(0);
        }
        true
    }

    /// Makes every request header `key` (any case) say `value`, or adds
    /// one: what the client sent under that name is never passed on.
    pub fn replace_request_header(&mut self, key: &'static str, value: &[u8]) -> bool {
        let Some(value) = self.pool_copy(value) else {
            return false;
        };
        let mut found = false;
        let mut part = ptr::addr_of_mut!(self.get_mut().headers_in.headers.part);
        // SAFETY: headers_in.headers is nginx's list of the request's
        // headers (parts of `nelts` elements linked by `next`); values are
        // replaced by pool memory that lives as long as the request.
        unsafe {
            while !part.is_null() {
                let elts = (*part).elts as *mut ngx_table_elt_t;
                for i in 0..(*part).nelts {
                    let h = &mut *elts.add(i);
                    if h.hash != 0 && str_bytes(&h.key).eq_ignore_ascii_case(key.as_bytes()) {
                        h.value = value;
                        found = true;
                    }
                }
                part = (*part).next;
            }
        }
        if found {
            return true;
        }
        let Some(lower) = self.pool_copy(key.to_ascii_lowercase().as_bytes()) else {
            return false;
        };
        // SAFETY: returns an uninitialised element of headers_in or null.
        let h = unsafe { ngx_list_push(&mut self.get_mut().headers_in.headers) }
            as *mut ngx_table_elt_t;
        if h.is_null() {
            return false;
        }
        // SAFETY: h is a fresh element; every field nginx reads is set; the
        // key is static, the rest in the request pool.
        unsafe {
            (*h).hash = 1;
            (*h).key = ngx_str_t {
                len: key.len(),
                data: key.as_ptr() as *mut u8,
            };
            (*h).value = value;
            (*h).lowcase_key = lower.data;
            #[cfg(ngx_table_elt_next)]
            {
                (*h).next = ptr::null_mut();
            }
        }
        true
    }

    /// Continues the request in named location `name` (`@...`). Returns
    /// NGX_DONE: the caller ends its handler with it, as nginx's own
    /// callers of ngx_http_named_location do.
    pub fn named_location(&mut self, name: &[u8]) -> ngx_int_t {
        let mut n = ngx_str_t {
            len: name.len(),
            data: name.as_ptr() as *mut u8,
        };
        // SAFETY: a live request; nginx only reads the name, which is
        // configuration memory, and runs the location's phases now.
        unsafe { ngx_http_named_location(self.as_ptr(), &mut n) }
    }
}

impl Req<'_> {
    /// Gives back the reference a handler's `named_location` took, for a
    /// phase handler (which nginx does not finalize with NGX_DONE itself).
    pub fn release_done(&mut self) {
        // SAFETY: a live request with one more reference than the
        // connection needs; with NGX_DONE nginx only drops that reference.
        unsafe { ngx::ffi::ngx_http_finalize_request(self.as_ptr(), NGX_DONE as ngx_int_t) }
    }
}
