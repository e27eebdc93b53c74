//! Cluster edge: a playlist the owner node answered a proxied request with
//! carries no token (node-to-node requests use the cluster key), so the
//! edge, which checked the viewer's token, adds it to every URI as it does
//! for its local playlists. Pure: what to do with the owner's response
//! header, and the bounded buffer the body is gathered in until its end.

use crate::playlist_rewrite::Template;

/// Largest owner playlist an edge rewrites (a long DVR window of 1 s
/// segments is a few hundred KiB); larger is refused with 502.
pub const MAX_BODY: usize = 1 << 20;

/// What the edge does with the owner's response to a diverted playlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Gather the body and send it rewritten.
    Rewrite,
    /// Not a playlist to rewrite (an error page, a 304, a HEAD answer):
    /// as the owner sent it.
    Pass,
    /// The body cannot be rewritten: 502 with this reason in the log.
    Refuse(&'static str),
}

/// The response header the plan is made from.
#[derive(Debug, Clone, Copy, Default)]
pub struct Head<'a> {
    pub status: usize,
    pub content_type: &'a [u8],
    pub content_encoding: Option<&'a [u8]>,
    /// -1 when unknown.
    pub length: i64,
    /// No body follows (HEAD).
    pub header_only: bool,
}

/// An M3U type (`application/vnd.apple.mpegurl`, `audio/mpegurl`, ...,
/// parameters allowed): what the owner's playlists are sent as. Anything
/// else (an `error_page` the request was sent on to) is left alone.
fn is_playlist_type(t: &[u8]) -> bool {
    let essence = t.split(|b| *b == b';').next().unwrap_or_default();
    let essence = essence.trim_ascii().to_ascii_lowercase();
    essence.ends_with(b"mpegurl")
        && (essence.starts_with(b"application/") || essence.starts_with(b"audio/"))
}

/// What to do with the owner's response, from its header.
pub fn plan(h: &Head<'_>) -> Plan {
    if h.status != 200 || h.header_only || !is_playlist_type(h.content_type) {
        return Plan::Pass;
    }
    let (content_encoding, length) = (h.content_encoding, h.length);
    if content_encoding.is_some_and(|e| !e.is_empty() && !e.eq_ignore_ascii_case(b"identity")) {
        return Plan::Refuse(
            "the owner's playlist is compressed (Content-Encoding); ask identity: proxy_set_header Accept-Encoding \"\"",
        );
    }
    if length > MAX_BODY as i64 {
        return Plan::Refuse("the owner's playlist is larger than the edge rewrites (1 MiB)");
    }
    Plan::Rewrite
}

/// The owner's playlist body, gathered until its last buffer.
#[derive(Debug, Default)]
pub struct Gather {
    body: Vec<u8>,
}

/// The body went over `MAX_BODY`.
#[derive(Debug, PartialEq, Eq)]
pub struct TooLarge;

impl Gather {
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), TooLarge> {
        if self.body.len() + bytes.len() > MAX_BODY {
            return Err(TooLarge);
        }
        self.body.extend_from_slice(bytes);
        Ok(())
    }

    /// The playlist with `pair` (`arg=encoded-token`) on every URI, as
    /// local playlists get it.
    pub fn finish(&mut self, pair: &[u8]) -> Vec<u8> {
        Template::parse(std::mem::take(&mut self.body)).render(pair)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(
        status: usize,
        enc: Option<&'static [u8]>,
        length: i64,
        header_only: bool,
    ) -> Head<'static> {
        Head {
            status,
            content_type: b"application/vnd.apple.mpegurl",
            content_encoding: enc,
            length,
            header_only,
        }
    }

    #[test]
    fn only_a_whole_plain_200_is_rewritten() {
        let p = |status, enc, length, header_only| plan(&head(status, enc, length, header_only));
        assert_eq!(p(200, None, 300, false), Plan::Rewrite);
        assert_eq!(p(200, None, -1, false), Plan::Rewrite);
        assert_eq!(p(200, Some(b"identity"), 300, false), Plan::Rewrite);
        assert_eq!(p(404, None, 10, false), Plan::Pass);
        assert_eq!(p(503, Some(b"gzip"), 10, false), Plan::Pass);
        assert_eq!(p(304, None, -1, false), Plan::Pass);
        assert_eq!(p(200, None, 300, true), Plan::Pass);
        assert!(
            matches!(p(200, Some(b"gzip"), 300, false), Plan::Refuse(r) if r.contains("Accept-Encoding"))
        );
        assert!(matches!(
            p(200, None, MAX_BODY as i64 + 1, false),
            Plan::Refuse(_)
        ));
        assert_eq!(p(200, None, MAX_BODY as i64, false), Plan::Rewrite);
    }

    #[test]
    fn only_playlist_types_are_rewritten() {
        let with = |t: &'static [u8]| {
            plan(&Head {
                content_type: t,
                ..head(200, None, 10, false)
            })
        };
        assert_eq!(with(b"application/vnd.apple.mpegurl"), Plan::Rewrite);
        assert_eq!(with(b"Application/X-MpegURL; charset=utf-8"), Plan::Rewrite);
        assert_eq!(with(b"audio/mpegurl"), Plan::Rewrite);
        assert_eq!(with(b"text/html"), Plan::Pass);
        assert_eq!(with(b""), Plan::Pass);
        assert_eq!(with(b"video/mp2t"), Plan::Pass);
    }

    #[test]
    fn the_gathered_body_gets_the_token_on_every_uri() {
        let mut g = Gather::default();
        g.push(b"#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:1.0,\nstream_7")
            .unwrap();
        g.push(b"_1.ts\n#EXTINF:1.0,\nstream_7_2.ts?x=1\n").unwrap();
        let out = String::from_utf8(g.finish(b"token=tk")).unwrap();
        assert_eq!(
            out,
            "#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4?token=tk\"\n#EXTINF:1.0,\nstream_7_1.ts?token=tk\n#EXTINF:1.0,\nstream_7_2.ts?x=1&token=tk\n"
        );
    }

    #[test]
    fn the_body_is_bounded() {
        let mut g = Gather::default();
        g.push(&vec![b'#'; MAX_BODY - 1]).unwrap();
        assert_eq!(g.push(b"ab"), Err(TooLarge));
        g.push(b"a").unwrap();
        assert_eq!(g.push(b"a"), Err(TooLarge));
    }
}
