//! Session cookies already opened, and the sessions they held: a cookie
//! that comes back while it is still kept here (every request of a browser
//! between two changes of its session, as long as a few hundred others
//! have not pushed it out) is not decrypted and decoded again.
//!
//! The same sealed text always opens to the same session: AES-256-GCM
//! authenticates it under keys fixed at ignition, and the plaintext is the
//! whole session. So a text that opened once under the current key maps to
//! its session for as long as this process runs. What depends on the time
//! or on other instances is not kept: expiry and revocation are checked on
//! every request, on the session found here as on one just decrypted. Only
//! a session that passed them and needed no renewal, opened by a request
//! that reads (`GET`, `HEAD`), is kept.
//!
//! Bounded by an estimate of bytes, not by count alone (a cookie may be
//! 4 KiB): two generations, each of at most [`GENERATION_BYTES`] as
//! [`estimate`] counts them, which is also at most 512 sessions (each
//! counts 1 KiB at least); when the young one fills, it becomes the old
//! one and the old one is dropped. A browser whose cookie falls out is
//! decrypted once more, and kept again.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use crate::record::Record;

/// What one generation holds at most, as [`estimate`] counts it: a few
/// hundred typical sessions.
const GENERATION_BYTES: usize = 512 << 10;

/// The estimated memory of one kept session: its sealed text and
/// plaintext, then what the decoded session allocates besides (about 1
/// KiB for its map slot and first B-tree node, and about 128 bytes per
/// entry for the entry's strings and its share of further nodes). Counted
/// as text alone, with 1 MiB generations, the cache added 11.7 MiB to the
/// peak of the every-step soak of issue 26; counted so, 1.4 MiB
/// (bench/README.md).
fn estimate(sealed: &str, plaintext_len: usize, record: &Record) -> usize {
    sealed.len() + plaintext_len + 1024 + 128 * record.entries().len()
}

/// Opened session cookies, by their sealed text.
#[derive(Default)]
pub(crate) struct OpenedCache {
    generations: RwLock<Generations>,
}

#[derive(Default)]
struct Generations {
    young: HashMap<Box<str>, Record>,
    young_bytes: usize,
    old: HashMap<Box<str>, Record>,
}

impl OpenedCache {
    /// The session `sealed` opened to, if it is kept.
    pub(crate) fn get(&self, sealed: &str) -> Option<Record> {
        let generations = self
            .generations
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        generations
            .young
            .get(sealed)
            .or_else(|| generations.old.get(sealed))
            .cloned()
    }

    /// Keeps `record` as what `sealed` (whose plaintext is `plaintext_len`
    /// bytes) opens to under the current key.
    pub(crate) fn keep(&self, sealed: &str, plaintext_len: usize, record: &Record) {
        let bytes = estimate(sealed, plaintext_len, record);
        // Built before the lock is taken, and the dropped generation freed
        // after it is released: other requests wait for neither.
        let (key, value) = (Box::<str>::from(sealed), record.clone());
        let dropped = {
            let mut generations = self
                .generations
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            let full = generations.young_bytes + bytes > GENERATION_BYTES;
            let dropped = if full {
                generations.young_bytes = 0;
                let young = std::mem::take(&mut generations.young);
                Some(std::mem::replace(&mut generations.old, young))
            } else {
                None
            };
            if generations.young.insert(key, value).is_none() {
                generations.young_bytes += bytes;
            }
            dropped
        };
        drop(dropped);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::time::{Duration, UNIX_EPOCH};

    fn record(n: u64) -> Record {
        let at = UNIX_EPOCH + Duration::from_secs(n);
        Record::from_parts(at, at, BTreeMap::new()).unwrap()
    }

    #[test]
    fn a_kept_text_opens_to_its_session_and_no_other_does() {
        let opened = OpenedCache::default();
        let (one, two) = (record(1), record(2));
        opened.keep("sealed-one", 10, &one);
        opened.keep("sealed-two", 10, &two);
        assert_eq!(opened.get("sealed-one"), Some(one));
        assert_eq!(opened.get("sealed-two"), Some(two));
        assert_eq!(opened.get("sealed-on"), None);
        assert_eq!(opened.get("sealed-one "), None);
    }

    #[test]
    fn it_holds_two_generations_of_bytes_at_most() {
        let opened = OpenedCache::default();
        let text = |n: usize| format!("{n:0>1000}");
        let per_generation = GENERATION_BYTES / estimate(&text(0), 1000, &record(0));
        for n in 0..3 * per_generation {
            opened.keep(&text(n), 1000, &record(n as u64));
        }
        let generations = opened.generations.read().unwrap();
        let held = generations.young.len() + generations.old.len();
        assert!(held <= 2 * per_generation, "{held}");
        assert!(generations.young_bytes <= GENERATION_BYTES);
        drop(generations);
        // The newest are kept; the oldest are gone.
        let last = 3 * per_generation - 1;
        let created = |n: usize| opened.get(&text(n)).map(|record| record.created());
        assert_eq!(created(last), Some(record(last as u64).created()));
        assert_eq!(created(0), None);
    }

    #[test]
    fn a_text_kept_twice_is_counted_once() {
        let opened = OpenedCache::default();
        let one = record(1);
        opened.keep("sealed", 10, &one);
        opened.keep("sealed", 10, &one);
        let generations = opened.generations.read().unwrap();
        assert_eq!(generations.young.len(), 1);
        assert_eq!(generations.young_bytes, estimate("sealed", 10, &one));
    }

    #[test]
    fn small_sessions_are_at_most_512_a_generation() {
        let opened = OpenedCache::default();
        for n in 0..3000 {
            opened.keep(&n.to_string(), 1, &record(n as u64));
        }
        let generations = opened.generations.read().unwrap();
        assert!(generations.young.len() <= 512 && generations.old.len() <= 512);
        assert!(generations.old.len() > 500, "{}", generations.old.len());
    }
}
