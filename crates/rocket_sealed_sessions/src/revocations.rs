//! Revocation: the one piece of server state that lets a logout really end
//! a session kept in a cookie. Logging out records the session's
//! identifier as revoked until the session would have ended anyway;
//! logging out everywhere records its subject, for every session started
//! before then. A cookie so revoked is no session, on every instance that
//! shares the store.
//!
//! Every instance keeps the revocations in [`Memory`], so the check on
//! each request is a hash lookup; the [`RevocationStore`] behind it keeps
//! them across restarts and shares them.

use std::sync::Arc;
use std::time::SystemTime;

use crate::clock::{from_millis, Clock, Millis};
use crate::id::SessionId;
use crate::limits::LONGEST_LIFETIME;
use crate::record::Record;
use crate::store::{Durability, Health, Memory, Revocation, RevocationStore, StoreError};

/// The revoked sessions of this instance, in memory and in its store
/// (managed by the fairing; a route may take `&State<Revocations>`).
pub struct Revocations {
    memory: Arc<Memory>,
    store: Box<dyn RevocationStore>,
    clock: Clock,
    /// The store in words, without a password.
    described: String,
}

impl Revocations {
    /// Opens `store` on `clock`: what it holds goes into memory. The
    /// fairing does this at ignition; tools and benchmarks may too.
    pub async fn open(
        mut store: Box<dyn RevocationStore>,
        clock: Clock,
    ) -> Result<Revocations, StoreError> {
        let memory = Arc::new(Memory::default());
        store.open(memory.clone(), clock.clone()).await?;
        Ok(Revocations {
            memory,
            described: store.describe(),
            store,
            clock,
        })
    }

    /// The store in words, without a password: for a start-up line.
    pub fn describe(&self) -> &str {
        &self.described
    }

    /// Whether session `id` was revoked (and its revocation still runs).
    pub fn is_revoked(&self, id: &SessionId) -> bool {
        self.memory.id_revoked(id, self.clock.millis())
    }

    /// Whether `record` was revoked: by its identifier, or by a logout
    /// everywhere of its subject since it started.
    pub(crate) fn revokes(&self, record: &Record) -> bool {
        self.memory.revokes(record, self.clock.millis())
    }

    /// Revokes session `id` until `until` (its sealed end). Refused on this
    /// instance at once; answers once the store has it, or has queued it
    /// while unreachable.
    pub async fn revoke(&self, id: SessionId, until: SystemTime) -> Durability {
        self.keep(Revocation::Session { id, until }).await
    }

    pub(crate) async fn revoke_ms(&self, id: SessionId, until: Millis) -> Durability {
        self.revoke(id, from_millis(until)).await
    }

    /// Logs `subject` out everywhere: every session started for it before
    /// now is refused from now on, on every instance that shares the
    /// store, whatever cookie copies are about. Kept for as long as any
    /// such session could live ([`LONGEST_LIFETIME`]), with the durability
    /// of one logout. Sessions started later are not touched.
    pub async fn revoke_subject(&self, subject: &str) -> Durability {
        let before = self.clock.now();
        self.keep(Revocation::Subject {
            subject: subject.to_owned(),
            before,
            until: before + LONGEST_LIFETIME,
        })
        .await
    }

    async fn keep(&self, revocation: Revocation) -> Durability {
        let now = self.clock.millis();
        self.memory.prune(now);
        if revocation.until_ms() <= now {
            return Durability::Written;
        }
        self.memory.insert(&revocation);
        self.store.write(revocation).await
    }

    /// How the store is doing now.
    pub fn health(&self) -> Health {
        self.store.health()
    }

    /// How many revocations are held in memory, expired ones not yet
    /// dropped included.
    pub fn len(&self) -> usize {
        self.memory.len()
    }

    /// Whether none are held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
