//! Session pages already rendered, kept by the session they show: a page
//! asked for again while its session has not changed (a reload, a return
//! to the page) is answered with the same bytes, without building its
//! context or rendering it again.
//!
//! A session page is rendered from four things only ([`RenderInputs`]):
//! the page's name, its language, the session's record (its identifier,
//! times and every entry) and the CSRF token of its forms, which must be
//! the one the record carries. Its context is built by a plain function
//! of the record and the language ([`Context`]), not a closure, so it
//! captures nothing the cache does not compare. A kept page is given only
//! when all four are equal to the request's; the guards before it (the
//! session's expiry and revocation, checked on every request) decide
//! whether there is a session at all. A page showing a one-time notice is
//! never kept: it must show once.
//!
//! One page per session (the last one kept), dropped when the session ends
//! here (logout, the name deleted), and all within [`KEPT_BYTES`] as
//! [`estimate`] counts them: when a page would not fit, the pages kept so
//! far are dropped and keeping starts over. Pages of sessions that ended
//! otherwise (expiry, a new login over them, a logout on another
//! instance) are never given again, and go when keeping starts over.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use rocket_sealed_sessions::{Record, SessionId};

use crate::render::i18n::Lang;
use crate::render::templates::PageName;

/// What the kept pages may take at most, as [`estimate`] counts them: a
/// few hundred typical pages.
const KEPT_BYTES: usize = 1 << 20;

/// How a session page's context is built: from the record and the
/// language alone. A function, not a closure, so that it can capture
/// nothing the cache does not compare.
pub type Context = fn(&Record, Lang) -> serde_json::Value;

/// What a session page is rendered from: equal inputs, equal page.
#[derive(Clone, Copy)]
pub struct RenderInputs<'a> {
    pub page: PageName,
    pub lang: Lang,
    pub record: &'a Record,
    pub token: &'a str,
}

impl RenderInputs<'_> {
    /// Whether the token is the one the record carries, so that the record
    /// alone says which token the page holds.
    fn token_is_the_records(&self) -> bool {
        self.record.attachment() == Some(self.token)
    }
}

struct Kept {
    page: PageName,
    lang: Lang,
    record: Record,
    body: Arc<[u8]>,
    /// What [`estimate`] counted for it.
    bytes: usize,
}

impl Kept {
    fn rendered_from(&self, inputs: &RenderInputs<'_>) -> bool {
        self.page == inputs.page && self.lang == inputs.lang && self.record == *inputs.record
    }
}

/// The estimated memory of one kept page: its bytes; about 1 KiB for its
/// map slot, its copy of the record with the token, and the record's
/// first B-tree node; and each entry's key and value with about 128 bytes
/// for their allocations and their share of further nodes.
fn estimate(record: &Record, body: &[u8]) -> usize {
    let entries: usize = record
        .entries()
        .iter()
        .map(|(key, value)| key.len() + value.len() + 128)
        .sum();
    body.len() + 1024 + entries
}

/// The last page kept for each session, by its identifier (managed by the
/// web stage).
#[derive(Default)]
pub struct KeptPages {
    slots: RwLock<Slots>,
}

#[derive(Default)]
struct Slots {
    by_session: HashMap<SessionId, Kept>,
    /// The sum of their estimates.
    bytes: usize,
}

impl KeptPages {
    /// The page rendered from exactly `inputs`, if it is kept.
    pub fn get(&self, inputs: &RenderInputs<'_>) -> Option<Arc<[u8]>> {
        if !inputs.token_is_the_records() {
            return None;
        }
        let slots = self.slots.read().unwrap_or_else(PoisonError::into_inner);
        let kept = slots.by_session.get(&inputs.record.id())?;
        kept.rendered_from(inputs).then(|| Arc::clone(&kept.body))
    }

    /// Keeps `body` as the page rendered from `inputs`, in place of any
    /// page kept for the same session. A page whose token is not its
    /// record's, or that would take more than an eighth of the room, is
    /// not kept.
    pub fn keep(&self, inputs: &RenderInputs<'_>, body: &[u8]) {
        let bytes = estimate(inputs.record, body);
        if !inputs.token_is_the_records() || bytes > KEPT_BYTES / 8 {
            return;
        }
        // Built before the lock is taken, and what leaves the map dropped
        // after the lock is released: other requests wait for neither.
        let kept = Kept {
            page: inputs.page,
            lang: inputs.lang,
            record: inputs.record.clone(),
            body: Arc::from(body),
            bytes,
        };
        let id = inputs.record.id();
        let (replaced, flushed) = {
            let mut slots = self.slots.write().unwrap_or_else(PoisonError::into_inner);
            let replaced = slots.take(&id);
            let flushed = (slots.bytes + bytes > KEPT_BYTES).then(|| {
                slots.bytes = 0;
                std::mem::take(&mut slots.by_session)
            });
            slots.bytes += bytes;
            slots.by_session.insert(id, kept);
            (replaced, flushed)
        };
        drop((replaced, flushed));
    }

    /// Drops the page kept for session `id`, if any: its session has ended
    /// here, and the page would only take room.
    pub fn forget(&self, id: SessionId) {
        let forgotten = {
            let mut slots = self.slots.write().unwrap_or_else(PoisonError::into_inner);
            slots.take(&id)
        };
        drop(forgotten);
    }
}

impl Slots {
    /// Takes the page kept for `id` out, with its bytes.
    fn take(&mut self, id: &SessionId) -> Option<Kept> {
        let kept = self.by_session.remove(id)?;
        self.bytes -= kept.bytes;
        Some(kept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::time::{Duration, UNIX_EPOCH};

    const TOKEN: &str = "token";

    /// A session carrying [`TOKEN`], with `entries` after its name.
    fn record_with(entries: &str) -> Record {
        let at = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let names = BTreeMap::from([("name".to_owned(), "山田".to_owned())]);
        let record = Record::from_parts(at, at, names).unwrap();
        let plaintext = record.encode().replacen(";;", &format!(";{TOKEN};"), 1);
        Record::decode(&format!("{plaintext}{entries}")).unwrap()
    }

    fn record() -> Record {
        record_with("")
    }

    /// `record` with one entry more, under the same identifier.
    fn with_entry(record: &Record) -> Record {
        let changed = Record::decode(&format!("{}2:zz4:blue", record.encode())).unwrap();
        assert_eq!(changed.id(), record.id());
        changed
    }

    fn inputs(record: &Record) -> RenderInputs<'_> {
        RenderInputs {
            page: PageName::Output,
            lang: Lang::Ja,
            record,
            token: TOKEN,
        }
    }

    fn body(kept: Option<Arc<[u8]>>) -> Option<Vec<u8>> {
        kept.map(|body| body.to_vec())
    }

    #[test]
    fn a_kept_page_is_given_only_for_what_it_was_rendered_from() {
        let kept = KeptPages::default();
        let (one, other) = (record(), record());
        assert_eq!(one.attachment(), Some(TOKEN));
        kept.keep(&inputs(&one), b"page");
        assert_eq!(body(kept.get(&inputs(&one))), Some(b"page".to_vec()));

        let changed = with_entry(&one);
        for differs in [
            RenderInputs {
                lang: Lang::En,
                ..inputs(&one)
            },
            RenderInputs {
                token: "other",
                ..inputs(&one)
            },
            RenderInputs {
                page: PageName::Logout,
                ..inputs(&one)
            },
            inputs(&changed),
            inputs(&other),
        ] {
            assert_eq!(body(kept.get(&differs)), None);
        }
    }

    #[test]
    fn a_page_whose_token_is_not_its_records_is_not_kept() {
        let kept = KeptPages::default();
        let one = record();
        let elsewhere = RenderInputs {
            token: "from-the-token-cookie",
            ..inputs(&one)
        };
        kept.keep(&elsewhere, b"page");
        assert_eq!(body(kept.get(&elsewhere)), None);
        assert_eq!(kept.slots.read().unwrap().by_session.len(), 0);
    }

    #[test]
    fn a_session_keeps_its_last_page_only() {
        let kept = KeptPages::default();
        let one = record();
        let changed = with_entry(&one);
        kept.keep(&inputs(&one), b"first");
        kept.keep(&inputs(&changed), b"second");
        assert_eq!(body(kept.get(&inputs(&one))), None);
        assert_eq!(body(kept.get(&inputs(&changed))), Some(b"second".to_vec()));
        let slots = kept.slots.read().unwrap();
        assert_eq!(slots.by_session.len(), 1);
        assert_eq!(slots.bytes, estimate(&changed, b"second"));
    }

    #[test]
    fn an_ended_session_takes_its_page_with_it() {
        let kept = KeptPages::default();
        let (one, other) = (record(), record());
        kept.keep(&inputs(&one), b"one");
        kept.keep(&inputs(&other), b"other");
        kept.forget(one.id());
        kept.forget(one.id());
        assert_eq!(body(kept.get(&inputs(&one))), None);
        assert_eq!(body(kept.get(&inputs(&other))), Some(b"other".to_vec()));
        assert_eq!(kept.slots.read().unwrap().bytes, estimate(&other, b"other"));
    }

    #[test]
    fn it_holds_at_most_its_bytes() {
        let kept = KeptPages::default();
        let page = vec![b'x'; 4096];
        let records: Vec<Record> = (0..1000).map(|_| record()).collect();
        for record in &records {
            kept.keep(&inputs(record), &page);
            assert!(kept.slots.read().unwrap().bytes <= KEPT_BYTES);
        }
        // The last is kept; the first went when keeping started over.
        let last = records.last().unwrap();
        assert!(kept.get(&inputs(last)).is_some());
        assert!(kept.get(&inputs(&records[0])).is_none());
        let per_page = estimate(last, &page);
        assert!(kept.slots.read().unwrap().by_session.len() <= KEPT_BYTES / per_page);
    }

    #[test]
    fn replacing_a_sessions_page_when_nearly_full_keeps_the_others() {
        let kept = KeptPages::default();
        let page = vec![b'x'; 4096];
        let per_page = estimate(&record(), &page);
        let records: Vec<Record> = (0..KEPT_BYTES / per_page).map(|_| record()).collect();
        for record in &records {
            kept.keep(&inputs(record), &page);
        }
        // The last session's page again, in the other language: it takes
        // the room of the one it replaces.
        let last = records.last().unwrap();
        let english = RenderInputs {
            lang: Lang::En,
            ..inputs(last)
        };
        kept.keep(&english, &page);
        assert!(kept.get(&english).is_some());
        assert!(kept.get(&inputs(&records[0])).is_some());
    }

    #[test]
    fn a_page_too_large_is_not_kept() {
        let kept = KeptPages::default();
        let one = record();
        kept.keep(&inputs(&one), &vec![b'x'; KEPT_BYTES / 8]);
        assert!(kept.get(&inputs(&one)).is_none());
    }

    #[test]
    fn entries_count_by_their_length() {
        let small = record_with("1:o1:b");
        let large = record_with(&format!("1:o800:{}", "v".repeat(800)));
        assert_eq!(estimate(&large, b"") - estimate(&small, b""), 799);
    }
}
