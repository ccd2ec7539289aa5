//! Session pages already rendered, kept by the session they show: a page
//! asked for again while its session has not changed (a reload, a return
//! to the page) is answered with the same bytes, without building its
//! context or rendering it again.
//!
//! A page is a function of what it is rendered from, and nothing else:
//! the page's name, its language, the session's record (every entry, and
//! the times and identifier around them) and the CSRF token its forms
//! carry. A kept page is used only when all four are equal to the
//! request's; the guards before it (the session's expiry and revocation,
//! checked on every request) decide whether there is a session at all.
//! A page showing a one-time notice is never kept: it must show once.
//!
//! One page per session (the last one rendered), dropped when the session
//! ends here (logout, the name deleted), and within [`KEPT_BYTES`] as
//! [`estimate`] counts them: when that is full, the pages kept so far are
//! dropped and keeping starts over.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use rocket_sealed_sessions::{Record, SessionId};

use crate::render::i18n::Lang;
use crate::render::templates::PageName;

/// What the kept pages may take at most, as [`estimate`] counts them: a
/// few hundred typical pages.
const KEPT_BYTES: usize = 1 << 20;

/// What a page is rendered from: equal inputs, equal page.
#[derive(Clone, Copy)]
pub struct Shown<'a> {
    pub page: PageName,
    pub lang: Lang,
    pub record: &'a Record,
    pub token: &'a str,
}

struct Kept {
    page: PageName,
    lang: Lang,
    record: Record,
    token: Box<str>,
    body: Vec<u8>,
}

impl Kept {
    fn shows(&self, shown: &Shown<'_>) -> bool {
        self.page == shown.page
            && self.lang == shown.lang
            && *self.token == *shown.token
            && self.record == *shown.record
    }
}

/// The estimated memory of one kept page: its bytes and token, then about
/// 1 KiB for its map slot and its copy of the record, and 128 bytes per
/// entry of the record.
fn estimate(shown: &Shown<'_>, body: &[u8]) -> usize {
    body.len() + shown.token.len() + 1024 + 128 * shown.record.entries().len()
}

/// The last page rendered for each session, by its identifier (managed by
/// the web stage).
#[derive(Default)]
pub struct KeptPages {
    kept: RwLock<ByBytes>,
}

#[derive(Default)]
struct ByBytes {
    pages: HashMap<SessionId, (Kept, usize)>,
    bytes: usize,
}

impl KeptPages {
    /// The page rendered from exactly `shown`, if it is kept.
    pub fn get(&self, shown: &Shown<'_>) -> Option<Vec<u8>> {
        let kept = self.kept.read().unwrap_or_else(PoisonError::into_inner);
        let (page, _) = kept.pages.get(&shown.record.id())?;
        page.shows(shown).then(|| page.body.clone())
    }

    /// Drops the page kept for the session of `record`, if any: its
    /// session has ended, and the page would only take room.
    pub fn forget(&self, record: Option<&Record>) {
        let Some(id) = record.map(Record::id) else {
            return;
        };
        let forgotten = {
            let mut kept = self.kept.write().unwrap_or_else(PoisonError::into_inner);
            let forgotten = kept.pages.remove(&id);
            kept.bytes -= forgotten.as_ref().map_or(0, |(_, bytes)| *bytes);
            forgotten
        };
        drop(forgotten);
    }

    /// Keeps `body` as the page rendered from `shown`, in place of any page
    /// kept for the same session.
    pub fn keep(&self, shown: &Shown<'_>, body: &[u8]) {
        let bytes = estimate(shown, body);
        if bytes > KEPT_BYTES / 8 {
            return;
        }
        // Built before the lock is taken, and what is dropped freed after
        // it is released: other requests wait for neither.
        let page = Kept {
            page: shown.page,
            lang: shown.lang,
            record: shown.record.clone(),
            token: shown.token.into(),
            body: body.to_vec(),
        };
        let dropped = {
            let mut kept = self.kept.write().unwrap_or_else(PoisonError::into_inner);
            let dropped = if kept.bytes + bytes > KEPT_BYTES {
                kept.bytes = 0;
                std::mem::take(&mut kept.pages)
            } else {
                HashMap::new()
            };
            let replaced = kept.pages.insert(shown.record.id(), (page, bytes));
            kept.bytes = kept.bytes + bytes - replaced.as_ref().map_or(0, |(_, bytes)| *bytes);
            (dropped, replaced)
        };
        drop(dropped);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::time::{Duration, UNIX_EPOCH};

    fn record() -> Record {
        let at = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let entries = BTreeMap::from([("name".to_owned(), "山田".to_owned())]);
        Record::from_parts(at, at, entries).unwrap()
    }

    /// `record` with one entry more, under the same identifier.
    fn with_entry(record: &Record) -> Record {
        let changed = Record::decode(&format!("{}2:zz4:blue", record.encode())).unwrap();
        assert_eq!(changed.id(), record.id());
        changed
    }

    fn shown(record: &Record) -> Shown<'_> {
        Shown {
            page: PageName::Output,
            lang: Lang::Ja,
            record,
            token: "token",
        }
    }

    #[test]
    fn a_kept_page_is_given_only_for_what_it_was_rendered_from() {
        let kept = KeptPages::default();
        let (one, other) = (record(), record());
        kept.keep(&shown(&one), b"page");
        assert_eq!(kept.get(&shown(&one)).as_deref(), Some(&b"page"[..]));

        let changed = with_entry(&one);
        for differs in [
            Shown {
                lang: Lang::En,
                ..shown(&one)
            },
            Shown {
                token: "other",
                ..shown(&one)
            },
            Shown {
                page: PageName::Logout,
                ..shown(&one)
            },
            shown(&changed),
            shown(&other),
        ] {
            assert_eq!(kept.get(&differs), None);
        }
    }

    #[test]
    fn a_session_keeps_its_last_page_only() {
        let kept = KeptPages::default();
        let one = record();
        let changed = with_entry(&one);
        kept.keep(&shown(&one), b"first");
        kept.keep(&shown(&changed), b"second");
        assert_eq!(kept.get(&shown(&one)), None);
        assert_eq!(kept.get(&shown(&changed)).as_deref(), Some(&b"second"[..]));
        let inside = kept.kept.read().unwrap();
        assert_eq!(inside.pages.len(), 1);
        assert_eq!(inside.bytes, estimate(&shown(&changed), b"second"));
    }

    #[test]
    fn an_ended_session_takes_its_page_with_it() {
        let kept = KeptPages::default();
        let (one, other) = (record(), record());
        kept.keep(&shown(&one), b"one");
        kept.keep(&shown(&other), b"other");
        kept.forget(Some(&one));
        kept.forget(None);
        assert_eq!(kept.get(&shown(&one)), None);
        assert_eq!(kept.get(&shown(&other)).as_deref(), Some(&b"other"[..]));
        assert_eq!(
            kept.kept.read().unwrap().bytes,
            estimate(&shown(&other), b"other")
        );
    }

    #[test]
    fn it_holds_at_most_its_bytes() {
        let kept = KeptPages::default();
        let body = vec![b'x'; 4096];
        let records: Vec<Record> = (0..1000).map(|_| record()).collect();
        for record in &records {
            kept.keep(&shown(record), &body);
            assert!(kept.kept.read().unwrap().bytes <= KEPT_BYTES);
        }
        // The last is kept; the first went when keeping started over.
        let last = records.last().unwrap();
        assert!(kept.get(&shown(last)).is_some());
        assert_eq!(kept.get(&shown(&records[0])), None);
        let per_page = estimate(&shown(last), &body);
        assert!(kept.kept.read().unwrap().pages.len() <= KEPT_BYTES / per_page);
    }

    #[test]
    fn a_page_too_large_is_not_kept() {
        let kept = KeptPages::default();
        let one = record();
        kept.keep(&shown(&one), &vec![b'x'; KEPT_BYTES / 8]);
        assert_eq!(kept.get(&shown(&one)), None);
    }
}
