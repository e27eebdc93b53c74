//! The gateway's id table: ffmpeg sees `/u/<id>` where the real URL would
//! be. Bounded: the least recently used ids are forgotten first (a live
//! playlist names new segments forever).

use std::collections::{BTreeMap, HashMap};

pub struct IdTable {
    cap: usize,
    next: u64,
    tick: u64,
    by_id: HashMap<u64, (String, u64)>,
    by_url: HashMap<String, u64>,
    /// tick of last use -> id
    lru: BTreeMap<u64, u64>,
}

impl IdTable {
    pub fn new(cap: usize) -> IdTable {
        IdTable {
            cap: cap.max(1),
            next: 0,
            tick: 0,
            by_id: HashMap::new(),
            by_url: HashMap::new(),
            lru: BTreeMap::new(),
        }
    }

    fn touch(&mut self, id: u64) {
        self.tick += 1;
        if let Some(entry) = self.by_id.get_mut(&id) {
            self.lru.remove(&entry.1);
            entry.1 = self.tick;
            self.lru.insert(self.tick, id);
        }
    }

    /// The id of `url`, a new one if it has none.
    pub fn id_for(&mut self, url: &str) -> u64 {
        if let Some(&id) = self.by_url.get(url) {
            self.touch(id);
            return id;
        }
        while self.by_id.len() >= self.cap {
            let Some((_, old)) = self.lru.pop_first() else {
                break;
            };
            if let Some((u, _)) = self.by_id.remove(&old) {
                self.by_url.remove(&u);
            }
        }
        let id = self.next;
        self.next += 1;
        self.by_id.insert(id, (url.to_string(), 0));
        self.by_url.insert(url.to_string(), id);
        self.touch(id);
        id
    }

    /// The URL of `id`, if it is still known.
    pub fn get(&mut self, id: u64) -> Option<String> {
        let url = self.by_id.get(&id)?.0.clone();
        self.touch(id);
        Some(url)
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_url_same_id_and_bounded() {
        let mut t = IdTable::new(3);
        let a = t.id_for("http://h/a");
        assert_eq!(t.id_for("http://h/a"), a);
        let b = t.id_for("http://h/b");
        let c = t.id_for("http://h/c");
        // `a` is used again (a playlist reload): `b` is the oldest now.
        assert_eq!(t.get(a).as_deref(), Some("http://h/a"));
        let d = t.id_for("http://h/d");
        assert_eq!(t.len(), 3);
        assert_eq!(t.get(b), None);
        assert!(t.get(a).is_some() && t.get(c).is_some() && t.get(d).is_some());
        // A forgotten URL comes back with a new id, never an old one.
        let b2 = t.id_for("http://h/b");
        assert!(b2 > d);
        assert_eq!(t.get(999), None);
    }
}
