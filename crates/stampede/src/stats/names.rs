//! Request names interned to small ids, so that an event carries a number instead of two
//! strings: a user records a request without allocating, and the aggregator finds its row
//! without building a key. Names become strings again only at the edges (the tables, the
//! CSV, the wire), where [`Names::key`] gives them back.
//!
//! One table per run (per aggregator), shared by its recorders. Each recorder keeps a few
//! recent lookups of its own, so the shared lock is taken only for a name it has not used
//! lately.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, RwLock, RwLockReadGuard};

/// The row requests beyond `--max-names` are counted in.
pub const OTHER_NAMES: &str = "(other names)";
/// The method of the `(other names)` row for a method outside HTTP's own, once names are
/// capped: a plan (or a worker) that invents methods cannot grow rows without bound either.
pub const OTHER_METHOD: &str = "OTHER";

/// The method a capped request is counted under: its own if it is one of HTTP's, else
/// [`OTHER_METHOD`]. One rule for the table, the name ids and the exporters' labels.
pub fn overflow_method(method: &str) -> &str {
    const HTTP: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
    ];
    if HTTP.contains(&method) {
        method
    } else {
        OTHER_METHOD
    }
}

/// One (method, name) pair of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NameId(u32);

/// How many distinct (method, name) pairs a run interns. Beyond it, a new name is interned
/// as its method's `(other names)`: the aggregator folds names into that row long before
/// (`--max-names`), and this bound keeps the table's memory bounded even across resets.
pub(crate) fn table_cap(max_names: usize) -> usize {
    max_names.saturating_mul(4).saturating_add(64)
}

/// The run's table of names.
#[derive(Debug)]
pub struct Names {
    table: RwLock<Table>,
}

/// The names themselves, read under the lock.
#[derive(Debug)]
pub struct Table {
    /// By id: (name, method), the very key of the statistics' rows.
    keys: Vec<(String, String)>,
    /// Ids by the hash of (method, name); a collision shares a bucket.
    by_hash: HashMap<u64, Vec<NameId>>,
    hasher: std::collections::hash_map::RandomState,
    cap: usize,
}

impl Table {
    fn hash(&self, method: &str, name: &str) -> u64 {
        let mut h = self.hasher.build_hasher();
        method.hash(&mut h);
        name.hash(&mut h);
        h.finish()
    }

    fn find(&self, hash: u64, method: &str, name: &str) -> Option<NameId> {
        self.by_hash.get(&hash)?.iter().copied().find(|id| {
            let (n, m) = &self.keys[id.0 as usize];
            n == name && m == method
        })
    }

    /// The (name, method) of an id.
    pub fn key(&self, id: NameId) -> &(String, String) {
        &self.keys[id.0 as usize]
    }
}

impl Names {
    /// An empty table that interns at most `max_names` names (`--max-names`).
    pub fn new(max_names: usize) -> Self {
        Self {
            table: RwLock::new(Table {
                keys: Vec::new(),
                by_hash: HashMap::new(),
                hasher: Default::default(),
                cap: table_cap(max_names),
            }),
        }
    }

    /// The id of (method, name), interning it the first time.
    pub fn intern(&self, method: &str, name: &str) -> NameId {
        {
            let t = self.read();
            let hash = t.hash(method, name);
            if let Some(id) = t.find(hash, method, name) {
                return id;
            }
        }
        let mut t = self.table.write().unwrap_or_else(|p| p.into_inner());
        let full = t.keys.len() >= t.cap;
        let (method, name) = if full {
            (overflow_method(method), OTHER_NAMES)
        } else {
            (method, name)
        };
        let hash = t.hash(method, name);
        if let Some(id) = t.find(hash, method, name) {
            return id;
        }
        let id = NameId(t.keys.len() as u32);
        t.keys.push((name.to_owned(), method.to_owned()));
        t.by_hash.entry(hash).or_default().push(id);
        id
    }

    /// The table, for turning ids back into names (the aggregator reads it once per batch).
    pub fn read(&self) -> RwLockReadGuard<'_, Table> {
        self.table.read().unwrap_or_else(|p| p.into_inner())
    }
}

/// A recorder's recent lookups: a user names a handful of endpoints over and over.
#[derive(Default)]
pub(crate) struct RecentNames {
    /// (method, name, id), newest last.
    entries: Vec<(Box<str>, Box<str>, NameId)>,
    /// The slot the next new entry replaces once full.
    next: usize,
}

/// Lookups a recorder keeps; a plan naming more endpoints than this still works, through
/// the shared table.
const RECENT: usize = 32;

impl RecentNames {
    pub fn id(&mut self, names: &Arc<Names>, method: &str, name: &str) -> NameId {
        if let Some((_, _, id)) = self
            .entries
            .iter()
            .find(|(m, n, _)| **n == *name && **m == *method)
        {
            return *id;
        }
        let id = names.intern(method, name);
        let entry = (Box::from(method), Box::from(name), id);
        if self.entries.len() < RECENT {
            self.entries.push(entry);
        } else {
            self.entries[self.next] = entry;
            self.next = (self.next + 1) % RECENT;
        }
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_keeps_its_id_and_methods_are_told_apart() {
        let names = Names::new(10);
        let a = names.intern("GET", "/a");
        assert_eq!(names.intern("GET", "/a"), a);
        let post = names.intern("POST", "/a");
        assert_ne!(post, a);
        assert_eq!(
            names.read().key(post),
            &("/a".to_owned(), "POST".to_owned())
        );
    }

    #[test]
    fn past_the_cap_new_names_share_their_methods_other_row() {
        let names = Names::new(1);
        let cap = table_cap(1);
        for i in 0..cap {
            names.intern("GET", &format!("/{i}"));
        }
        let late = names.intern("GET", "/late");
        assert_eq!(names.intern("GET", "/later"), late);
        assert_eq!(names.read().key(late).0, OTHER_NAMES);
        assert_eq!(names.read().keys.len(), cap + 1);
    }

    #[test]
    fn recent_lookups_agree_with_the_table_beyond_their_size() {
        let names = Arc::new(Names::new(1000));
        let mut recent = RecentNames::default();
        let ids: Vec<_> = (0..RECENT * 2)
            .map(|i| recent.id(&names, "GET", &format!("/{i}")))
            .collect();
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(recent.id(&names, "GET", &format!("/{i}")), *id);
        }
    }
}
