//! What every revocation store is: the trait, and why one fails to open.

use std::path::PathBuf;
use std::sync::Arc;

use crate::clock::Clock;
use crate::store::memory::Memory;
use crate::store::revocation::{Durability, Health, Revocation};

/// Why a store could not be opened. Each says what to do in one line, and
/// never shows a password.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store's file cannot be used.
    #[error("session_revocation_store `{}` cannot be used: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The spool file, where revocations wait while the shared store is
    /// unreachable, cannot be used.
    #[error("session_revocation_spool `{}` cannot be used: {source}", path.display())]
    Spool {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The store setting is neither a path nor a URL the store takes.
    #[error("{0}")]
    Setting(String),
    /// The shared store refused the credentials it was given.
    #[error(
        "session_revocation_store: Redis refused the user name or password in the URL ({code}): \
         set the ones Redis expects"
    )]
    Credentials {
        /// The store's own word for it.
        code: String,
    },
    /// A store of another crate failed to open.
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync>),
}

/// A place that keeps revocations across restarts and, where it is shared,
/// tells the other instances. Every instance also holds the revocations in
/// [`Memory`], so checking a request is a hash lookup, never a call to the
/// store.
///
/// The crate ships [`FileStore`](crate::store::FileStore) and, with the
/// `redis` feature, `RedisStore`; the conformance suite (feature
/// `conformance`) checks a store of your own against the same rules.
#[rocket::async_trait]
pub trait RevocationStore: Send + Sync + 'static {
    /// Opens the store, once, on Rocket's runtime at ignition, before any
    /// write: every revocation it holds that still runs goes into `memory`,
    /// and so does each one it learns of later (another instance's).
    async fn open(&mut self, memory: Arc<Memory>, clock: Clock) -> Result<(), StoreError>;

    /// Keeps `revocation` (already in memory) durably, and says how, once
    /// it is done. Never waits longer than a logout may.
    async fn write(&self, revocation: Revocation) -> Durability;

    /// How the store is doing now.
    fn health(&self) -> Health;

    /// The store in words for a log line: never a password.
    fn describe(&self) -> String;
}
