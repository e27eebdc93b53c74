//! ffmpeg as a child that cannot outlive the supervisor, and how a later
//! supervisor recognises (through /proc, never by name) what an earlier one
//! left running. The only `unsafe` of the supervisor lives here (and in
//! disk_space.rs, its statvfs).

use std::ffi::OsStr;
use std::path::Path;

use tokio::process::Command;

/// Environment variables that mark an ffmpeg as started by the supervisor
/// owning `HLS_DIR`, for `CHANNEL`.
pub const MARK_DIR: &str = "STREAM_SUPERVISOR_HLS_DIR";
pub const MARK_CHANNEL: &str = "STREAM_SUPERVISOR_CHANNEL";

/// Makes `cmd` a child that dies with the supervisor: its own process group
/// (a Ctrl-C in the supervisor's terminal is the supervisor's to handle),
/// SIGKILL when the supervisor dies however it dies, killed when its handle
/// drops, and marked so that a later supervisor can find it. Its
/// environment is only that: nothing of the supervisor's (a Redis URL with
/// its password, an `http_proxy` that would route around the gateway).
pub fn guard(cmd: &mut Command, hls_dir: &Path, channel: &str) {
    cmd.process_group(0)
        .kill_on_drop(true)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env(MARK_DIR, hls_dir)
        .env(MARK_CHANNEL, channel);
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs in the forked child before exec and calls
    // only async-signal-safe functions (prctl, getppid, _exit); it touches
    // no memory shared with other threads of the parent.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The supervisor died between fork and prctl: nobody would
            // ever signal us, so do not start at all.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

/// Sends SIGKILL to a process. Errors (already gone) are not interesting.
pub fn kill(pid: u32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    if pid <= 1 {
        return;
    }
    // SAFETY: kill(2) has no memory-safety preconditions; the pid is a
    // positive process id (never 0 or -1, which would signal groups).
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
}

pub fn alive(pid: u32) -> bool {
    // A zombie is dead for our purposes: it holds no files and runs nothing.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}

/// The channel of a process marked as ours (started for `hls_dir`), read
/// from its /proc environment; `None` when unreadable or not ours.
pub fn owned_channel(pid: u32, hls_dir: &Path) -> Option<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    marked_channel(&environ, hls_dir.as_os_str())
}

/// Every live process marked as ours: (pid, channel).
pub fn owned_processes(hls_dir: &Path) -> Vec<(u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id();
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .filter_map(|pid| Some((pid, owned_channel(pid, hls_dir)?)))
        .filter(|(pid, _)| alive(*pid))
        .collect()
}

/// Parses a NUL-separated environment block for our markers.
pub fn marked_channel(environ: &[u8], hls_dir: &OsStr) -> Option<String> {
    use std::os::unix::ffi::OsStrExt;
    let mut dir_matches = false;
    let mut channel = None;
    for var in environ.split(|b| *b == 0) {
        let Some(eq) = var.iter().position(|b| *b == b'=') else {
            continue;
        };
        let (name, value) = (&var[..eq], &var[eq + 1..]);
        if name == MARK_DIR.as_bytes() {
            dir_matches = value == hls_dir.as_bytes();
        } else if name == MARK_CHANNEL.as_bytes() {
            channel = std::str::from_utf8(value).ok().map(str::to_string);
        }
    }
    if dir_matches {
        channel
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers() {
        let env = b"PATH=/usr/bin\0STREAM_SUPERVISOR_HLS_DIR=/var/www/hls\0STREAM_SUPERVISOR_CHANNEL=71386\0";
        assert_eq!(
            marked_channel(env, OsStr::new("/var/www/hls")),
            Some("71386".into())
        );
        // Another deployment's ffmpeg is not ours.
        assert_eq!(marked_channel(env, OsStr::new("/srv/hls")), None);
        // A prefix of the directory is not a match.
        assert_eq!(marked_channel(env, OsStr::new("/var/www/hl")), None);
        assert_eq!(
            marked_channel(b"STREAM_SUPERVISOR_CHANNEL=1\0", OsStr::new("/x")),
            None
        );
        assert_eq!(marked_channel(b"", OsStr::new("/x")), None);
    }

    #[test]
    fn liveness_from_proc() {
        assert!(alive(std::process::id()));
        assert!(!alive(u32::MAX));
    }
}
