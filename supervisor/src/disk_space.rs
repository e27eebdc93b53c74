//! Free space on the HLS directory's file system: ffmpeg says nothing when
//! a write fails with ENOSPC (it renames empty files into place), so the
//! supervisor looks itself, before a run and when the output comes out
//! empty, and says so in the channel's reason.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Below this many bytes free a file system counts as full even with
/// `--min-free-space 0`: not one segment fits.
pub const FULL_BELOW: u64 = 1 << 20;

/// Bytes an unprivileged process may still write on `dir`'s file system.
pub fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    let path = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL in path"))?;
    // SAFETY: all-zero is a valid `statvfs` (plain integers); statvfs(3)
    // reads the NUL-terminated `path`, which outlives the call, and writes
    // only into `st`, a live exclusive local.
    let (rc, st) = unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        let rc = libc::statvfs(path.as_ptr(), &mut st);
        (rc, st)
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // Both are u64 on 64-bit Linux, narrower on some other targets.
    #[allow(clippy::useless_conversion)]
    let free = u64::from(st.f_bavail).saturating_mul(u64::from(st.f_frsize));
    Ok(free)
}

/// Why no ffmpeg may start writing into `dir` with `free` bytes left and a
/// floor of `floor` (`--min-free-space`, 0: only a full one refuses).
pub fn refusal(dir: &Path, free: u64, floor: u64) -> Option<String> {
    if free < FULL_BELOW {
        Some(full_reason(dir, free))
    } else if free < floor {
        Some(format!(
            "HLS directory {} is nearly full: {free} bytes free, under --min-free-space ({floor} bytes)",
            dir.display()
        ))
    } else {
        None
    }
}

/// The reason of a run that ended on a full disk.
pub fn full_reason(dir: &Path, free: u64) -> String {
    format!(
        "HLS directory {} is full (no space left: {free} bytes free)",
        dir.display()
    )
}

/// What empty output (`what`, from `hls_files::empty_output`) means for a
/// run, given the free space if it could be read: a full disk fails any
/// run; otherwise a run that was ready has failed (its viewers would get
/// empty files), and a starting one is simply not ready yet.
pub fn empty_output_verdict(
    ready: bool,
    dir: &Path,
    what: &str,
    free: std::io::Result<u64>,
) -> Option<String> {
    match free {
        Ok(n) if n < FULL_BELOW => Some(full_reason(dir, n)),
        _ if !ready => None,
        Ok(n) => Some(format!(
            "ffmpeg wrote {what} ({n} bytes free in {})",
            dir.display()
        )),
        Err(e) => Some(format!(
            "ffmpeg wrote {what} (free space of {} unknown: {e})",
            dir.display()
        )),
    }
}

/// `64M`, `1G`, `512k`, `1048576`, `0`: a size in bytes (binary units).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_lowercase() {
                'k' => 1 << 10,
                'm' => 1 << 20,
                'g' => 1 << 30,
                _ => return Err(format!("{s:?}: the unit must be k, M or G")),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("{s:?} is not a size (e.g. 64M, 512k, 0)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("1234"), Ok(1234));
        assert!(parse_size("").is_err());
        assert!(parse_size("M").is_err());
        assert!(parse_size("5T").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("99999999999999G").is_err());
    }

    #[test]
    fn a_start_is_refused_below_the_floor_or_on_a_full_disk() {
        let d = Path::new("/x");
        assert_eq!(refusal(d, 100 << 20, 64 << 20), None);
        let r = refusal(d, 10 << 20, 64 << 20).unwrap();
        assert_eq!(
            r,
            "HLS directory /x is nearly full: 10485760 bytes free, under --min-free-space (67108864 bytes)"
        );
        assert_eq!(
            refusal(d, 0, 64 << 20).unwrap(),
            "HLS directory /x is full (no space left: 0 bytes free)"
        );
        // A floor of 0 still refuses a disk where no segment fits.
        assert_eq!(refusal(d, 10 << 20, 0), None);
        assert!(refusal(d, 4096, 0).unwrap().contains("4096 bytes free"));
    }

    #[test]
    fn empty_output_names_a_full_disk_when_it_is_one() {
        let d = Path::new("/x");
        let what = "an empty playlist";
        for ready in [false, true] {
            let r = empty_output_verdict(ready, d, what, Ok(0)).unwrap();
            assert!(r.starts_with("HLS directory /x is full"), "{r}");
        }
        assert_eq!(
            empty_output_verdict(true, d, what, Ok(10 << 20)).unwrap(),
            "ffmpeg wrote an empty playlist (10485760 bytes free in /x)"
        );
        // A starting run with room left is just not ready yet.
        assert_eq!(empty_output_verdict(false, d, what, Ok(10 << 20)), None);
        let e = || std::io::Error::from_raw_os_error(libc::EACCES);
        assert!(empty_output_verdict(true, d, what, Err(e()))
            .unwrap()
            .contains("unknown"));
        assert_eq!(empty_output_verdict(false, d, what, Err(e())), None);
    }

    #[test]
    fn free_space_of_a_real_directory() {
        assert!(free_bytes(&std::env::temp_dir()).unwrap() > 0);
        assert!(free_bytes(Path::new("/nonexistent/dir")).is_err());
    }
}
