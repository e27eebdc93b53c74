//! A reader that stops a guide from costing more than its programmes.
//!
//! The XML reader buffers one event (a text node, a comment, a tag) whole,
//! and gzip can expand a small download without bound: a hostile or broken
//! guide source could otherwise fill the supervisor's memory. This wrapper
//! fails the import once the decoded text passes a total, or once a run of
//! bytes with no `<` or `>` (one event's worth) passes a length.

use std::io::{self, BufRead, Read};

/// Decoded bytes of one guide, at most (the largest public guides are a
/// few hundred MB uncompressed).
pub const MAX_TOTAL: u64 = 4 << 30;
/// Bytes without markup, at most: far above any title or description
/// (kept to 2,000 characters anyway), far below memory trouble.
pub const MAX_RUN: u64 = 1 << 20;

pub struct Bounded<R> {
    inner: R,
    total: u64,
    run: u64,
    max_total: u64,
    max_run: u64,
}

impl<R: BufRead> Bounded<R> {
    pub fn new(inner: R) -> Bounded<R> {
        Bounded::with_limits(inner, MAX_TOTAL, MAX_RUN)
    }

    pub fn with_limits(inner: R, max_total: u64, max_run: u64) -> Bounded<R> {
        Bounded {
            inner,
            total: 0,
            run: 0,
            max_total,
            max_run,
        }
    }

    fn check(&self) -> io::Result<()> {
        if self.total > self.max_total {
            return Err(io::Error::other(format!(
                "the guide is larger than {} bytes uncompressed",
                self.max_total
            )));
        }
        if self.run > self.max_run {
            return Err(io::Error::other(format!(
                "more than {} bytes without markup (one text, comment or tag)",
                self.max_run
            )));
        }
        Ok(())
    }
}

impl<R: BufRead> Read for Bounded<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let buf = self.fill_buf()?;
            let n = buf.len().min(out.len());
            out[..n].copy_from_slice(&buf[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Bounded<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.check()?;
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        // The bytes being consumed are still the front of the inner buffer
        // (fill_buf on a non-empty buffer reads nothing), counted in place;
        // a limit passed here fails the next fill_buf, which the reader
        // calls next.
        if let Ok(b) = self.inner.fill_buf() {
            let taken = &b[..amt.min(b.len())];
            self.total += taken.len() as u64;
            match taken.iter().rposition(|&c| c == b'<' || c == b'>') {
                Some(i) => self.run = (taken.len() - 1 - i) as u64,
                None => self.run += taken.len() as u64,
            }
        }
        self.inner.consume(amt);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Cursor};

    fn read_all(input: &[u8], total: u64, run: u64) -> io::Result<Vec<u8>> {
        let mut r = Bounded::with_limits(
            BufReader::with_capacity(4, Cursor::new(input.to_vec())),
            total,
            run,
        );
        let mut out = Vec::new();
        r.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn passes_what_is_within_the_limits() {
        let xml = b"<tv><title>abc</title></tv>";
        assert_eq!(read_all(xml, 100, 5).unwrap(), xml);
    }

    #[test]
    fn stops_a_long_run_without_markup() {
        let mut xml = b"<tv><title>".to_vec();
        xml.extend(std::iter::repeat_n(b'a', 64));
        xml.extend(b"</title></tv>");
        let e = read_all(&xml, 1000, 16).unwrap_err();
        assert!(e.to_string().contains("without markup"), "{e}");
        // Markup resets the run.
        assert!(read_all(b"<a>0123456789</a><b>0123456789</b>", 1000, 12).is_ok());
    }

    #[test]
    fn stops_past_the_total() {
        let xml: Vec<u8> = b"<a/>".repeat(100);
        let e = read_all(&xml, 64, 16).unwrap_err();
        assert!(e.to_string().contains("larger than 64"), "{e}");
    }
}
