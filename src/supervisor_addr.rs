//! The supervisor's socket address as nginx configuration names it
//! (`unix:/path`), resolved once into a `sockaddr_un`.

/// A resolved `unix:` address, built once at configuration time.
#[derive(Clone)]
pub struct SupervisorAddr {
    pub sockaddr: libc::sockaddr_un,
    pub socklen: libc::socklen_t,
    /// `unix:/path` as configured, for log messages.
    pub text: String,
    pub path: String,
}

impl SupervisorAddr {
    /// Parses `unix:/absolute/path`.
    pub fn parse(text: &str) -> Result<SupervisorAddr, String> {
        let path = text.strip_prefix("unix:").ok_or_else(|| {
            format!(
                "\"{text}\" is not a Unix socket address; expected unix:/path/to/supervisor.sock"
            )
        })?;
        if !path.starts_with('/') {
            return Err(format!(
                "socket path \"{path}\" must be absolute (start with /)"
            ));
        }
        let mut sa = libc::sockaddr_un {
            sun_family: libc::AF_UNIX as libc::sa_family_t,
            sun_path: [0; 108],
        };
        if path.len() >= sa.sun_path.len() {
            return Err(format!(
                "socket path \"{path}\" is {} bytes long; Unix sockets allow at most {}",
                path.len(),
                sa.sun_path.len() - 1
            ));
        }
        if path.as_bytes().contains(&0) {
            return Err("socket path contains a NUL byte".into());
        }
        for (dst, src) in sa.sun_path.iter_mut().zip(path.bytes()) {
            *dst = src as libc::c_char;
        }
        Ok(SupervisorAddr {
            sockaddr: sa,
            socklen: (core::mem::size_of::<libc::sa_family_t>() + path.len() + 1)
                as libc::socklen_t,
            text: text.to_string(),
            path: path.to_string(),
        })
    }
}

impl core::fmt::Debug for SupervisorAddr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supervisor_addresses() {
        let a = SupervisorAddr::parse("unix:/run/x.sock").unwrap();
        assert_eq!(a.path, "/run/x.sock");
        assert_eq!(a.socklen as usize, 2 + "/run/x.sock".len() + 1);
        assert!(SupervisorAddr::parse("/run/x.sock")
            .unwrap_err()
            .contains("expected unix:"));
        assert!(SupervisorAddr::parse("unix:x.sock")
            .unwrap_err()
            .contains("absolute"));
        let long = format!("unix:/{}", "a".repeat(200));
        assert!(SupervisorAddr::parse(&long)
            .unwrap_err()
            .contains("at most 107"));
    }
}
