//! Who is on the other end of a socket connection, and whether it may ask
//! for operator operations.
//!
//! The kernel tells the supervisor the peer's uid, gid and pid
//! (`SO_PEERCRED`, taken when it connected). Operator operations are for
//! root, the supervisor's own user and members of an `--operator-group`;
//! everything else that can reach the socket (nginx's workers) may only ask
//! for what viewers need. Supplementary groups are read from
//! `/proc/<pid>/status`; when that cannot be read (the process is gone, or
//! `/proc` hides it), only the peer's primary group counts: fail closed.

use std::fmt;

use shared::protocol::{ErrorCode, Op, Privilege, Reply};

/// The credentials of a connected peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerCred {
    pub uid: u32,
    pub gid: u32,
    pub pid: Option<i32>,
}

impl fmt::Display for PeerCred {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "uid {} gid {}", self.uid, self.gid)?;
        if let Some(pid) = self.pid {
            write!(f, " pid {pid}")?;
        }
        Ok(())
    }
}

/// Who may operate: besides root, the supervisor's user and these groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperatorPolicy {
    pub own_uid: u32,
    pub groups: Vec<u32>,
}

impl OperatorPolicy {
    /// Whether the policy needs the peer's supplementary groups to decide
    /// (only when the uid alone does not make it an operator and some
    /// group would).
    pub fn needs_groups(&self, peer: &PeerCred) -> bool {
        !self.by_uid(peer) && !self.groups.is_empty() && !self.groups.contains(&peer.gid)
    }

    fn by_uid(&self, peer: &PeerCred) -> bool {
        peer.uid == 0 || peer.uid == self.own_uid
    }

    /// Whether `peer` (with `supplementary` groups, if known) may ask for
    /// operator operations.
    pub fn may_operate(&self, peer: &PeerCred, supplementary: &[u32]) -> bool {
        self.by_uid(peer)
            || self
                .groups
                .iter()
                .any(|g| *g == peer.gid || supplementary.contains(g))
    }
}

/// The ids a process runs with, from its `/proc/<pid>/status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcIds {
    /// Real, effective, saved and filesystem uid.
    pub uids: Vec<u32>,
    pub groups: Vec<u32>,
}

/// Parses the `Uid:` and `Groups:` lines of `/proc/<pid>/status`; `None`
/// when either is missing or malformed.
pub fn parse_proc_status(text: &str) -> Option<ProcIds> {
    let ids = |rest: &str| -> Option<Vec<u32>> {
        rest.split_ascii_whitespace()
            .map(|n| n.parse().ok())
            .collect()
    };
    let (mut uids, mut groups) = (None, None);
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Uid:") {
            uids = Some(ids(rest)?);
        } else if let Some(rest) = line.strip_prefix("Groups:") {
            groups = Some(ids(rest)?);
        }
    }
    let uids = uids.filter(|u| !u.is_empty())?;
    Some(ProcIds {
        uids,
        groups: groups?,
    })
}

/// The supplementary groups of `peer`'s process, if its status can be read
/// and still belongs to the peer's uid (a pid reused by another user's
/// process must not lend its groups).
pub fn supplementary_groups(peer: &PeerCred) -> Vec<u32> {
    let Some(pid) = peer.pid.filter(|p| *p > 0) else {
        return Vec::new();
    };
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return Vec::new();
    };
    match parse_proc_status(&text) {
        Some(ids) if ids.uids.iter().all(|u| *u == peer.uid) => ids.groups,
        _ => Vec::new(),
    }
}

/// The supervisor's own effective uid (from `/proc/self/status`; no
/// `unsafe` needed).
pub fn own_uid() -> Result<u32, String> {
    let text = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("cannot read /proc/self/status: {e}"))?;
    parse_proc_status(&text)
        .and_then(|ids| ids.uids.get(1).copied())
        .ok_or_else(|| "cannot read this process' uid from /proc/self/status".into())
}

/// The refusal of an op the peer may not ask for, or `None` if it may.
/// `operator` is asked only for operator ops (it may read `/proc`).
pub fn check(id: u64, op: &Op, peer: &PeerCred, operator: impl FnOnce() -> bool) -> Option<Reply> {
    match op.privilege() {
        Privilege::Viewer => None,
        Privilege::Operator if operator() => None,
        Privilege::Operator => Some(Reply::error(
            id,
            ErrorCode::Forbidden,
            format!(
                "{} is an operator operation; this peer ({peer}) is not root, the supervisor's user or in an --operator-group",
                op.name()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tnginx\nUmask:\t0022\nState:\tS (sleeping)\nPid:\t4242\nUid:\t33\t33\t33\t33\nGid:\t33\t33\t33\t33\nFDSize:\t64\nGroups:\t33 4 1001 \nNStgid:\t4242\n";

    fn peer(uid: u32, gid: u32) -> PeerCred {
        PeerCred {
            uid,
            gid,
            pid: Some(4242),
        }
    }

    #[test]
    fn proc_status_ids() {
        let ids = parse_proc_status(STATUS).unwrap();
        assert_eq!(ids.uids, [33, 33, 33, 33]);
        assert_eq!(ids.groups, [33, 4, 1001]);
        // No supplementary groups at all is an empty line, not an error.
        let none = parse_proc_status("Uid:\t0\t0\t0\t0\nGroups:\t\n").unwrap();
        assert!(none.groups.is_empty());
        assert_eq!(parse_proc_status("Uid:\t0\t0\t0\t0\n"), None);
        assert_eq!(parse_proc_status("Groups:\t1\n"), None);
        assert_eq!(parse_proc_status("Uid:\tx\nGroups:\t1\n"), None);
        assert_eq!(parse_proc_status("Uid:\t1\nGroups:\t1 two\n"), None);
        assert_eq!(parse_proc_status("Uid:\nGroups:\t1\n"), None);
        assert_eq!(parse_proc_status(""), None);
    }

    #[test]
    fn who_may_operate() {
        let nobody = OperatorPolicy {
            own_uid: 998,
            groups: vec![],
        };
        assert!(nobody.may_operate(&peer(0, 0), &[]), "root");
        assert!(nobody.may_operate(&peer(998, 998), &[]), "own user");
        assert!(!nobody.may_operate(&peer(33, 33), &[33, 998]), "nginx");
        // Sharing the supervisor's group grants nothing.
        assert!(!nobody.may_operate(&peer(1000, 998), &[998]));

        let ops = OperatorPolicy {
            own_uid: 998,
            groups: vec![1001, 33],
        };
        assert!(ops.may_operate(&peer(33, 33), &[]), "primary group");
        assert!(
            ops.may_operate(&peer(1000, 1000), &[4, 1001]),
            "supplementary"
        );
        assert!(!ops.may_operate(&peer(1000, 1000), &[4, 1002]));
        assert!(!ops.may_operate(&peer(1000, 1000), &[]));
    }

    #[test]
    fn groups_are_read_only_when_they_can_matter() {
        let ops = OperatorPolicy {
            own_uid: 998,
            groups: vec![1001],
        };
        assert!(!ops.needs_groups(&peer(0, 0)));
        assert!(!ops.needs_groups(&peer(998, 5)));
        assert!(!ops.needs_groups(&peer(5, 1001)));
        assert!(ops.needs_groups(&peer(5, 5)));
        assert!(!OperatorPolicy::default().needs_groups(&peer(5, 5)));
    }

    #[test]
    fn refusals_name_the_op_and_the_peer() {
        let nginx = peer(33, 33);
        let stop = Op::Stop {
            channel: "7".into(),
        };
        let r = check(9, &stop, &nginx, || false).unwrap();
        assert_eq!(r.id, 9);
        assert_eq!(r.code(), Some(ErrorCode::Forbidden));
        assert!(r.message().starts_with("stop is an operator operation"));
        assert!(
            r.message().contains("uid 33 gid 33 pid 4242"),
            "{}",
            r.message()
        );
        assert!(check(9, &stop, &nginx, || true).is_none());
        // Viewer ops never ask about the operator side.
        let touch = Op::Touch {
            channel: "7".into(),
        };
        assert!(check(1, &touch, &nginx, || panic!("asked")).is_none());
    }

    #[test]
    fn this_process_has_a_uid() {
        own_uid().unwrap();
        let me = PeerCred {
            uid: own_uid().unwrap(),
            gid: 0,
            pid: Some(std::process::id() as i32),
        };
        // Our own status is readable and belongs to us.
        let _ = supplementary_groups(&me);
    }
}
