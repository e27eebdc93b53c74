//! Redis key names, spelled here and nowhere else: they are a format
//! operators, dashboards and scripts rely on (docs/supervisor.md), so a
//! test pins each one. Names are without `--key-prefix`; the store adds it
//! to every key it sends and removes it from every key SCAN finds.

use std::fmt;

use shared::token::masked;

/// A key's name, before the prefix. Made only by `Keys`, so the store is
/// never handed a name spelled elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    name: String,
    /// Where a secret in the name (a viewer token) starts.
    secret_from: Option<usize>,
}

impl Key {
    fn plain(name: String) -> Key {
        Key {
            name,
            secret_from: None,
        }
    }

    /// The name Redis knows (before the prefix).
    pub fn as_str(&self) -> &str {
        &self.name
    }
}

/// The name for logs and replies: a token in it is masked, as everywhere
/// else, since a Redis error message travels to logs and to nginx.
impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.secret_from {
            None => f.write_str(&self.name),
            Some(at) => {
                let (head, secret) = self.name.split_at(at);
                write!(f, "{head}{}", masked(secret.as_bytes()))
            }
        }
    }
}

/// The keys the supervisor reads and writes.
pub struct Keys;

impl Keys {
    /// A channel's record (JSON).
    pub fn channel(id: &str) -> Key {
        Key::plain(format!("channel:{id}"))
    }

    /// The stored guide of an XMLTV channel id (JSON, guide/stored.rs).
    pub fn epg_channel(guide_id: &str) -> Key {
        Key::plain(format!("epg:channel:{guide_id}"))
    }

    /// Counter raised by every guide import.
    pub fn epg_version() -> Key {
        Key::plain("epg:version".to_string())
    }

    /// A user's record (JSON).
    pub fn user(id: &str) -> Key {
        Key::plain(format!("user:{id}"))
    }

    /// A viewer token; its value names the user.
    pub fn token(token: &str) -> Key {
        Key {
            name: format!("token:{token}"),
            secret_from: Some("token:".len()),
        }
    }

    /// ffmpeg's pid while the channel runs.
    pub fn stream_pid(channel: &str) -> Key {
        Key::plain(format!("stream:{channel}:pid"))
    }

    /// Unix time ffmpeg started, while the channel runs.
    pub fn stream_started(channel: &str) -> Key {
        Key::plain(format!("stream:{channel}:started"))
    }

    /// Cluster mode: the channel's lease, `<node> <fence>`, with a TTL.
    pub fn lease(channel: &str) -> Key {
        Key::plain(format!("lease:{channel}"))
    }

    /// Cluster mode: the channel's fencing counter (INCR per lease).
    pub fn fence(channel: &str) -> Key {
        Key::plain(format!("fence:{channel}"))
    }

    /// Cluster mode: where the channel's HLS numbering stands,
    /// `<next media sequence> <discontinuity sequence>`, written by its
    /// owner under the lease, with a TTL longer than the lease's.
    pub fn hls_position(channel: &str) -> Key {
        Key::plain(format!("hlspos:{channel}"))
    }

    /// Cluster mode: a node's heartbeat (JSON), with a TTL.
    pub fn node(id: &str) -> Key {
        Key::plain(format!("node:{id}"))
    }

    /// Cluster mode: the set of drained node ids.
    pub fn draining() -> Key {
        Key::plain("cluster:draining".to_string())
    }
}

/// The kinds of key that are listed (with SCAN).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Channel,
    User,
    Token,
    StreamPid,
    EpgChannel,
    Node,
}

impl Kind {
    /// SCAN's MATCH pattern for every key of this kind.
    pub fn pattern(self) -> &'static str {
        match self {
            Kind::Channel => "channel:*",
            Kind::User => "user:*",
            Kind::Token => "token:*",
            Kind::StreamPid => "stream:*:pid",
            Kind::EpgChannel => "epg:channel:*",
            Kind::Node => "node:*",
        }
    }

    /// The id (channel, user, token) in a key name of this kind.
    pub fn id_of(self, name: &str) -> Option<&str> {
        match self {
            Kind::Channel => name.strip_prefix("channel:"),
            Kind::User => name.strip_prefix("user:"),
            Kind::Token => name.strip_prefix("token:"),
            Kind::StreamPid => name.strip_prefix("stream:")?.strip_suffix(":pid"),
            Kind::EpgChannel => name.strip_prefix("epg:channel:"),
            Kind::Node => name.strip_prefix("node:"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented names: changing one breaks every deployment's data.
    #[test]
    fn key_names_are_the_documented_ones() {
        assert_eq!(Keys::channel("7").as_str(), "channel:7");
        assert_eq!(Keys::channel("news-hd").as_str(), "channel:news-hd");
        assert_eq!(Keys::user("alice").as_str(), "user:alice");
        assert_eq!(Keys::token("3f9a0c").as_str(), "token:3f9a0c");
        assert_eq!(Keys::stream_pid("7").as_str(), "stream:7:pid");
        assert_eq!(Keys::stream_started("7").as_str(), "stream:7:started");
        assert_eq!(Keys::epg_channel("news.uk").as_str(), "epg:channel:news.uk");
        assert_eq!(Keys::epg_version().as_str(), "epg:version");
        assert_eq!(Keys::lease("7").as_str(), "lease:7");
        assert_eq!(Keys::fence("7").as_str(), "fence:7");
        assert_eq!(Keys::hls_position("7").as_str(), "hlspos:7");
        assert_eq!(Keys::node("n1").as_str(), "node:n1");
        assert_eq!(Keys::draining().as_str(), "cluster:draining");
        assert_eq!(Kind::Node.id_of("node:n1"), Some("n1"));
        assert_eq!(
            Kind::EpgChannel.id_of("epg:channel:news.uk"),
            Some("news.uk")
        );
    }

    #[test]
    fn shown_names_mask_tokens_only() {
        assert_eq!(Keys::channel("7").to_string(), "channel:7");
        assert_eq!(Keys::user("alice").to_string(), "user:alice");
        assert_eq!(Keys::stream_pid("7").to_string(), "stream:7:pid");
        let token = "3f9a0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f";
        let shown = Keys::token(token).to_string();
        assert_eq!(shown, "token:3f9a...(48 bytes)");
        assert!(!shown.contains(&token[4..]));
        assert_eq!(Keys::token(token).as_str(), format!("token:{token}"));
    }

    #[test]
    fn listed_kinds_match_and_parse_their_own_keys() {
        assert_eq!(Kind::Channel.pattern(), "channel:*");
        assert_eq!(Kind::User.pattern(), "user:*");
        assert_eq!(Kind::Token.pattern(), "token:*");
        assert_eq!(Kind::StreamPid.pattern(), "stream:*:pid");
        for (kind, key) in [
            (Kind::Channel, Keys::channel("42")),
            (Kind::User, Keys::user("42")),
            (Kind::Token, Keys::token("42")),
            (Kind::StreamPid, Keys::stream_pid("42")),
        ] {
            assert_eq!(kind.id_of(key.as_str()), Some("42"), "{kind:?}");
        }
        // Another kind's key, or a stream key that is not the pid, has no id.
        assert_eq!(Kind::Channel.id_of("user:7"), None);
        assert_eq!(Kind::StreamPid.id_of("stream:7:started"), None);
    }
}
