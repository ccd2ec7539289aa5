//! The revocations every instance holds in memory, so that checking a
//! request is a hash lookup.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::SystemTime;

use crate::clock::{from_millis, to_millis, Millis};
use crate::id::SessionId;
use crate::record::Record;
use crate::store::revocation::Revocation;

/// How often, at most, expired revocations are dropped.
pub(crate) const PRUNE_EVERY: Millis = 60_000;

/// The live revocations of one instance: what its store loaded and what it
/// learnt since. Stores put revocations in; requests are checked against
/// it.
#[derive(Debug, Default)]
pub struct Memory {
    ids: RwLock<HashMap<SessionId, Millis>>,
    /// Subject to (before, until).
    subjects: RwLock<HashMap<String, (Millis, Millis)>>,
    /// Whether any subject was ever revoked: most requests skip that map.
    any_subject: AtomicBool,
    pruned_at: AtomicU64,
}

impl Memory {
    /// Records `revocation`; says whether it told this memory anything new
    /// (a later end, or a later start for a subject).
    pub fn insert(&self, revocation: &Revocation) -> bool {
        match revocation {
            Revocation::Session { id, until } => {
                let until = to_millis(*until);
                let mut ids = self.ids.write().expect("BUG: revocations lock poisoned");
                match ids.get(id) {
                    Some(known) if *known >= until => false,
                    _ => {
                        ids.insert(*id, until);
                        true
                    }
                }
            }
            Revocation::Subject {
                subject,
                before,
                until,
            } => {
                let (before, until) = (to_millis(*before), to_millis(*until));
                let mut subjects = self
                    .subjects
                    .write()
                    .expect("BUG: revocations lock poisoned");
                self.any_subject.store(true, Ordering::Release);
                match subjects.get_mut(subject) {
                    Some(known) if known.0 >= before && known.1 >= until => false,
                    Some(known) => {
                        *known = (known.0.max(before), known.1.max(until));
                        true
                    }
                    None => {
                        subjects.insert(subject.clone(), (before, until));
                        true
                    }
                }
            }
        }
    }

    /// Whether session `id` is revoked at `now`.
    pub fn is_revoked(&self, id: &SessionId, now: SystemTime) -> bool {
        self.id_revoked(id, to_millis(now))
    }

    pub(crate) fn id_revoked(&self, id: &SessionId, now: Millis) -> bool {
        let ids = self.ids.read().expect("BUG: revocations lock poisoned");
        ids.get(id).is_some_and(|until| *until > now)
    }

    /// Whether `record` is revoked at `now`: its identifier, or every
    /// session of its subject started no later than it.
    pub(crate) fn revokes(&self, record: &Record, now: Millis) -> bool {
        if self.id_revoked(&record.id(), now) {
            return true;
        }
        let Some(subject) = record.subject() else {
            return false;
        };
        if !self.any_subject.load(Ordering::Acquire) {
            return false;
        }
        let subjects = self
            .subjects
            .read()
            .expect("BUG: revocations lock poisoned");
        subjects
            .get(subject)
            .is_some_and(|(before, until)| *until > now && record.created_ms() < *before)
    }

    /// Drops what has expired, at most once a minute.
    pub(crate) fn prune(&self, now: Millis) {
        let last = self.pruned_at.load(Ordering::Relaxed);
        if now.saturating_sub(last) < PRUNE_EVERY {
            return;
        }
        self.pruned_at.store(now, Ordering::Relaxed);
        let mut ids = self.ids.write().expect("BUG: revocations lock poisoned");
        ids.retain(|_, until| *until > now);
        drop(ids);
        let mut subjects = self
            .subjects
            .write()
            .expect("BUG: revocations lock poisoned");
        subjects.retain(|_, (_, until)| *until > now);
    }

    /// Every revocation still running at `now`.
    pub fn live(&self, now: SystemTime) -> Vec<Revocation> {
        self.live_at(to_millis(now))
    }

    pub(crate) fn live_at(&self, now: Millis) -> Vec<Revocation> {
        let ids = self.ids.read().expect("BUG: revocations lock poisoned");
        let mut live: Vec<Revocation> = ids
            .iter()
            .filter(|(_, until)| **until > now)
            .map(|(id, until)| Revocation::Session {
                id: *id,
                until: from_millis(*until),
            })
            .collect();
        drop(ids);
        let subjects = self
            .subjects
            .read()
            .expect("BUG: revocations lock poisoned");
        live.extend(subjects.iter().filter(|(_, (_, until))| *until > now).map(
            |(subject, (before, until))| Revocation::Subject {
                subject: subject.clone(),
                before: from_millis(*before),
                until: from_millis(*until),
            },
        ));
        live
    }

    /// How many revocations are held, expired ones not yet dropped
    /// included.
    pub fn len(&self) -> usize {
        let ids = self
            .ids
            .read()
            .expect("BUG: revocations lock poisoned")
            .len();
        let subjects = self
            .subjects
            .read()
            .expect("BUG: revocations lock poisoned")
            .len();
        ids + subjects
    }

    /// Whether none are held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(id: SessionId, until: Millis) -> Revocation {
        Revocation::Session {
            id,
            until: from_millis(until),
        }
    }

    #[test]
    fn memory_forgets_what_has_expired() {
        let memory = Memory::default();
        let id = SessionId::random();
        assert!(memory.insert(&session(id, 1_000)));
        assert!(
            !memory.insert(&session(id, 500)),
            "an earlier end changes nothing"
        );
        assert!(memory.id_revoked(&id, 999));
        assert!(!memory.id_revoked(&id, 1_000));
        memory.prune(PRUNE_EVERY + 1);
        assert_eq!(memory.len(), 0);
    }

    #[test]
    fn a_subject_revocation_covers_the_sessions_started_before_it() {
        let memory = Memory::default();
        let at = |ms| from_millis(ms);
        let old = Record::new("alice", at(100), at(10_000)).unwrap();
        let new = Record::new("alice", at(300), at(10_000)).unwrap();
        let other = Record::new("bob", at(100), at(10_000)).unwrap();
        assert!(!memory.revokes(&old, 200));
        memory.insert(&Revocation::Subject {
            subject: "alice".into(),
            before: at(200),
            until: at(5_000),
        });
        assert!(memory.revokes(&old, 250));
        assert!(!memory.revokes(&new, 350));
        assert!(!memory.revokes(&other, 250));
        assert!(!memory.revokes(&old, 5_000), "forgotten once it ends");
        assert_eq!(memory.live_at(250).len(), 1);
    }
}
