//! Writing the rendered guide: `guide.xml` and `guide.xml.gz` beside it
//! (for nginx's `gzip_static`), each to a temporary name and renamed, so
//! nginx never serves half a file.

use std::io::Write;
use std::path::{Path, PathBuf};

pub const XML: &str = "guide.xml";
pub const GZ: &str = "guide.xml.gz";

/// Writes both files; returns the path of guide.xml. Blocking: call it
/// from a blocking thread in the server.
pub fn write(dir: &Path, xml: &str) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(xml.as_bytes())
        .and_then(|_| gz.finish())
        .map_err(|e| format!("cannot compress the guide: {e}"))
        .and_then(|bytes| put(dir, GZ, &bytes))?;
    put(dir, XML, xml.as_bytes())
}

fn put(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, String> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = std::fs::write(&tmp, bytes)
        .and_then(|_| {
            // Readable by nginx's workers, like the HLS files.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644))
        })
        .and_then(|_| std::fs::rename(&tmp, &path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("cannot write {}: {e}", path.display()));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn writes_both_files() {
        let dir = std::env::temp_dir().join(format!("guide-files-{}", std::process::id()));
        let p = write(&dir, "<tv/>\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "<tv/>\n");
        let mut s = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(dir.join(GZ)).unwrap())
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "<tv/>\n");
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
        assert_eq!(left.len(), 2, "no temporary file is left");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
