//! Session cookies already opened, and the sessions they held: a cookie
//! that comes back (every request of a browser between two changes of its
//! session) is not decrypted and decoded again.
//!
//! The same sealed text always opens to the same session: AES-256-GCM
//! authenticates it under keys fixed at ignition, and the plaintext is the
//! whole session. So a text that opened once under the current key maps to
//! its session for as long as this process runs. What depends on the time
//! or on other instances is not kept: expiry and revocation are checked on
//! every request, on the session found here as on one just decrypted.
//!
//! Bounded by bytes, not by count (a cookie may be 4 KiB): two generations,
//! each of at most [`GENERATION_BYTES`] by the estimate of
//! [`ENTRY_BYTES`]; when the young one fills, it becomes the old one and
//! the old one is dropped. A browser whose cookie falls out is decrypted
//! once more, and kept again.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use crate::record::Record;

/// What one generation holds at most, as estimated below: a few hundred
/// typical sessions.
const GENERATION_BYTES: usize = 512 << 10;

/// An entry's estimated size besides its sealed text and plaintext: the
/// decoded session's own allocations (a B-tree node alone is about 540
/// bytes) and its slot in the map. Counted only as text, a generation
/// took two to three times its budget in a soak (bench/README.md).
const ENTRY_BYTES: usize = 1024;

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
    /// The session `sealed` opened to, if it was kept.
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
        let bytes = sealed.len() + plaintext_len + ENTRY_BYTES;
        let mut generations = self
            .generations
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if generations.young_bytes + bytes > GENERATION_BYTES {
            generations.old = std::mem::take(&mut generations.young);
            generations.young_bytes = 0;
        }
        if generations
            .young
            .insert(sealed.into(), record.clone())
            .is_none()
        {
            generations.young_bytes += bytes;
        }
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
        let per_generation = GENERATION_BYTES / (2000 + ENTRY_BYTES);
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
}
