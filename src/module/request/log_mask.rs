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
        if secrets.is_empty() {
            return;
        }
        // The first phase masked the request line already, unless nginx
        // ended the request before any phase (HTTP/1's 400 and 414, or an
        // HTTP/2 or HTTP/3 request refused as its headers are checked): a
        // read-only check, no second copy of a line masked already.
        // SAFETY: request_line is `len` bytes of the request's header
        // buffer or pool (ours, or HTTP/2's and HTTP/3's constructed line),
        // alive for the whole request.
        let line = unsafe { str_bytes(&self.get().request_line) };
        if secrets.request_line_needs_mask(line) {
            self.mask(Field::RequestLine, secrets);
        }
        // `$args` is usually the query part of the unparsed URI, in the
        // same bytes: then its masked copy is that part of the URI's, and
        // one scan masks both.
        let (uri, args) = (self.get().unparsed_uri, self.get().args);
        self.mask(Field::UnparsedUri, secrets);
        let (start, end) = (uri.data as usize, uri.data as usize + uri.len);
        let at = args.data as usize;
        if args.len > 0 && at >= start && at + args.len <= end {
            let masked = self.get().unparsed_uri.data;
            if masked != uri.data {
                // In bounds: the masked copy has the URI's length.
                self.get_mut().args.data = masked.wrapping_add(at - start);
            }
        } else {
            self.mask(Field::Args, secrets);
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
        // SAFETY: pnalloc returns `len` bytes of request-pool memory (alive
        // as long as the request) or null.
        let p = unsafe { ngx_pnalloc(self.get().pool, bytes.len()) } as *mut u8;
        if p.is_null() {
            // Out of memory: an empty line rather than the token.
            *self.field(field) = ngx_str_t {
                len: 0,
                data: current.data,
            };
            return;
        }
        // SAFETY: p is fresh pool memory with room for bytes.len() bytes,
        // so it overlaps nothing, and the slice made of it is the only
        // reference to it until it is published below.
        let text = unsafe {
            ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
            core::slice::from_raw_parts_mut(p, bytes.len())
        };
        // Masked in the copy, in pool memory: no heap allocation per request.
        let changed = match field {
            Field::RequestLine => secrets.request_line(text),
            Field::Args => secrets.query(text),
            Field::UnparsedUri => secrets.uri(text),
        };
        if !changed {
            return;
        }
        *self.field(field) = ngx_str_t {
            len: text.len(),
            data: p,
        };
    }
}
