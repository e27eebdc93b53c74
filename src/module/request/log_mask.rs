//! What nginx logs of a request, with tokens and passwords masked: the request line
//! (`$request`, the error log's `request: "..."`), `$args` and
//! `$request_uri`. Each string is replaced by a masked copy in the request
//! pool, never written in place: the request line, the arguments and the
//! URI share bytes in the header buffer (the module still reads the token
//! from the arguments), and arguments an internal redirect took from the
//! configuration (`error_page 404 /x?token=...`) point into memory every
//! later request uses.

use core::ptr;

use ngx::ffi::{ngx_pnalloc, ngx_str_t};

use super::{str_bytes, Req};
use crate::log_mask::Secrets;
use crate::path_mask;

/// Which of the request's strings to mask.
#[derive(Clone, Copy)]
enum Field {
    RequestLine,
    Args,
    UnparsedUri,
}

impl Req<'_> {
    /// Masks the request line only: from the first phase on, so that the
    /// error log's lines name the request without its token, while the
    /// arguments keep it for the access phase and for upstreams.
    pub fn mask_request_line(&mut self, secrets: &Secrets<'_, Box<[u8]>>) {
        self.mask(Field::RequestLine, secrets);
    }

    /// Masks everything logged: for the log phase, when nothing reads the
    /// arguments for anything else any more.
    pub fn mask_for_access_log(&mut self, secrets: &Secrets<'_, Box<[u8]>>) {
        for field in [Field::RequestLine, Field::Args, Field::UnparsedUri] {
            self.mask(field, secrets);
        }
    }

    fn field(&mut self, field: Field) -> &mut ngx_str_t {
        let r = self.get_mut();
        match field {
            Field::RequestLine => &mut r.request_line,
            Field::Args => &mut r.args,
            Field::UnparsedUri => &mut r.unparsed_uri,
        }
    }

    fn mask(&mut self, field: Field, secrets: &Secrets<'_, Box<[u8]>>) {
        if secrets.is_empty() {
            return;
        }
        let current = *self.field(field);
        // SAFETY: these strings point at `len` bytes of the request's
        // header buffers, its pool, or the configuration (for arguments
        // an internal redirect set), all alive for the whole request; the
        // bytes are copied here before anything changes.
        let bytes = unsafe { str_bytes(&current) };
        // No `name=value` pair and no credentials path, nothing to mask:
        // no copy for such requests.
        let path = secrets.paths && !matches!(field, Field::Args) && path_mask::may_hold(bytes);
        if !bytes.contains(&b'=') && !path {
            return;
        }
        let mut text = bytes.to_vec();
        let changed = match field {
            Field::RequestLine => secrets.request_line(&mut text),
            Field::Args => secrets.query(&mut text),
            Field::UnparsedUri => secrets.uri(&mut text),
        };
        if !changed {
            return;
        }
        // SAFETY: pnalloc returns `len` bytes of request-pool memory (alive
        // as long as the request) or null.
        let p = unsafe { ngx_pnalloc(self.get().pool, text.len()) } as *mut u8;
        if p.is_null() {
            // Out of memory: an empty line rather than the token.
            *self.field(field) = ngx_str_t {
                len: 0,
                data: current.data,
            };
            return;
        }
        // SAFETY: p has room for text.len() bytes and is fresh memory.
        unsafe { ptr::copy_nonoverlapping(text.as_ptr(), p, text.len()) };
        *self.field(field) = ngx_str_t {
            len: text.len(),
            data: p,
        };
    }
}
