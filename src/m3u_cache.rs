//! A worker's channel catalog and its M3U renderings: rendered once per
//! catalog version (a fetched list that differs from the last one) and
//! per URL shape, gzipped once per pair length, so a request for the M3U
//! is copies of cached pieces with the viewer's pair between them.

use std::cell::RefCell;
use std::rc::Rc;

use shared::protocol::ChannelEntry;

use crate::m3u_gzip::GzTemplate;
use crate::m3u_render::{self, M3uTemplate};

/// Renderings kept per catalog: each distinct playback URL (it may name
/// the request's host) and guide. The oldest goes first.
const MAX_RENDERINGS: usize = 8;
/// zlib level for the one compression per version: for 3,931 channels
/// level 9 gave the same 46 KB as 6, in 33 ms of the worker's time
/// against 27 ms.
const GZIP_LEVEL: u32 = 6;

/// What a rendering depends on besides the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    pub url_before: String,
    pub url_after: String,
    pub with_token: bool,
    pub guide: Option<String>,
}

/// One rendering: the plain template, and its gzip for the last pair
/// length asked for (`None` inside: it could not be built).
#[derive(Debug)]
pub struct Rendered {
    pub plain: M3uTemplate,
    gzip: RefCell<Option<(usize, Option<Rc<GzTemplate>>)>>,
}

impl Rendered {
    fn new(plain: M3uTemplate) -> Rendered {
        Rendered {
            plain,
            gzip: RefCell::new(None),
        }
    }

    /// The gzip template for pairs of `pair_len` bytes, built on first use.
    pub fn gzip(&self, pair_len: usize) -> Option<Rc<GzTemplate>> {
        let pair_len = if self.plain.slots() == 0 { 0 } else { pair_len };
        let mut g = self.gzip.borrow_mut();
        match &*g {
            Some((len, built)) if *len == pair_len => built.clone(),
            _ => {
                let built = GzTemplate::build(&self.plain, pair_len, GZIP_LEVEL).map(Rc::new);
                *g = Some((pair_len, built.clone()));
                built
            }
        }
    }
}

/// A catalog as fetched, with its renderings.
#[derive(Debug, Default)]
pub struct Catalog {
    list: Vec<ChannelEntry>,
    renderings: Vec<(Shape, Rc<Rendered>)>,
}

impl Catalog {
    pub fn new(list: Vec<ChannelEntry>) -> Catalog {
        Catalog {
            list,
            renderings: Vec::new(),
        }
    }

    /// Takes a newly fetched list; the renderings stay if it is the same.
    pub fn update(&mut self, list: Vec<ChannelEntry>) {
        if list != self.list {
            *self = Catalog::new(list);
        }
    }

    /// The rendering for `shape`, rendered now if it is not kept.
    pub fn rendered(&mut self, shape: &Shape) -> Rc<Rendered> {
        if let Some((_, r)) = self.renderings.iter().find(|(s, _)| s == shape) {
            return r.clone();
        }
        let plain = m3u_render::template(
            &self.list,
            &shape.url_before,
            &shape.url_after,
            shape.with_token,
            shape.guide.as_deref(),
        );
        let r = Rc::new(Rendered::new(plain));
        if self.renderings.len() >= MAX_RENDERINGS {
            self.renderings.remove(0);
        }
        self.renderings.push((shape.clone(), r.clone()));
        r
    }
}

/// Whether a request for the M3U is answered from a worker's catalog
/// fetched at `at` (ms), or fetches it: a stale catalog is still served
/// while another request fetches its successor (started at `refreshing`,
/// unless that is `timeout` ago), so only one request per worker waits.
pub fn serve_kept(at: u64, refreshing: Option<u64>, now: u64, ttl: u64, timeout: u64) -> bool {
    now.saturating_sub(at) < ttl
        || refreshing.is_some_and(|since| now.saturating_sub(since) < timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_while_one_request_refreshes() {
        assert!(serve_kept(1_000, None, 5_999, 5_000, 10_000));
        assert!(!serve_kept(1_000, None, 6_000, 5_000, 10_000));
        assert!(serve_kept(1_000, Some(6_000), 6_500, 5_000, 10_000));
        // A refresh that never ended (its request went away) stops counting.
        assert!(!serve_kept(1_000, Some(6_000), 16_000, 5_000, 10_000));
    }

    fn shape(host: &str) -> Shape {
        Shape {
            url_before: format!("http://{host}/s_"),
            url_after: ".m3u8".into(),
            with_token: true,
            guide: None,
        }
    }

    fn entry(id: &str) -> ChannelEntry {
        ChannelEntry {
            id: id.into(),
            ..ChannelEntry::default()
        }
    }

    #[test]
    fn renders_once_per_version_and_shape() {
        let mut c = Catalog::new(vec![entry("1")]);
        let a = c.rendered(&shape("a"));
        assert!(Rc::ptr_eq(&a, &c.rendered(&shape("a"))));
        assert!(!Rc::ptr_eq(&a, &c.rendered(&shape("b"))));
        // The same list again keeps the renderings; a changed one does not.
        c.update(vec![entry("1")]);
        assert!(Rc::ptr_eq(&a, &c.rendered(&shape("a"))));
        c.update(vec![entry("1"), entry("2")]);
        let b = c.rendered(&shape("a"));
        assert!(!Rc::ptr_eq(&a, &b));
        assert!(b.plain.join(b"t=1").ends_with(b"/s_2.m3u8?t=1\n"));
        for i in 0..20 {
            c.rendered(&shape(&i.to_string()));
        }
        assert_eq!(c.renderings.len(), MAX_RENDERINGS);
    }

    #[test]
    fn gzip_per_pair_length() {
        let mut c = Catalog::new(vec![entry("1")]);
        let r = c.rendered(&shape("a"));
        let g = r.gzip(10).unwrap();
        assert!(Rc::ptr_eq(&g, &r.gzip(10).unwrap()));
        assert_eq!(r.gzip(12).unwrap().pair_len(), 12);
        assert!(r.gzip(2).is_none());
    }
}
