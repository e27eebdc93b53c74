//! Opening a guide source for the streamed reader: a file, plain or gzip
//! (told by its magic bytes, not its name).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use flate2::bufread::MultiGzDecoder;

use super::bounded::Bounded;

/// A reader of the XMLTV text of `path`.
pub fn open_file(path: &Path) -> Result<Box<dyn BufRead + Send>, String> {
    let f = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    decoded(BufReader::with_capacity(64 * 1024, f))
}

/// `input`, gunzipped if it starts with gzip's magic bytes, bounded (see
/// `Bounded`): what the parser reads can never cost unbounded memory.
pub fn decoded<R: BufRead + Send + 'static>(
    mut input: R,
) -> Result<Box<dyn BufRead + Send>, String> {
    let head = input
        .fill_buf()
        .map_err(|e| format!("cannot read the guide: {e}"))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(Bounded::new(BufReader::with_capacity(
            64 * 1024,
            MultiGzDecoder::new(input),
        ))))
    } else {
        Ok(Box::new(Bounded::new(input)))
    }
}

/// Whether a source names a URL rather than a file.
pub fn is_url(source: &str) -> bool {
    let lower = source.to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn gzip_is_told_by_its_magic() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"<tv/>").unwrap();
        let bytes = gz.finish().unwrap();
        let mut s = String::new();
        decoded(std::io::Cursor::new(bytes))
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "<tv/>");
        let mut s = String::new();
        decoded(std::io::Cursor::new(b"<tv/>".to_vec()))
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "<tv/>");
        assert!(is_url("HTTPS://epg.example/guide.xml.gz"));
        assert!(!is_url("/srv/guide.xml"));
    }
}
