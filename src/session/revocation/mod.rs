//! Revocation: the one piece of server state that lets a logout really end
//! a session. Logging out (or deleting `name`) records the session's
//! identifier as revoked until the session would have expired anyway; a
//! cookie carrying a revoked identifier is then no session, on every
//! instance that shares the store.
//!
//! Every instance keeps the revocations in memory, so the check on each
//! request is a hash lookup. The store behind the memory keeps them across
//! restarts: an append-only file (the embedded default) or Redis, which
//! also announces each revocation to the other instances. While Redis is
//! unreachable, revocations wait in a local file of the same format (the
//! spool), so one acknowledged then is not lost if the instance dies.

mod file;
mod redis;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use super::{Clock, Millis, SessionId};

/// How often, at most, expired revocations are dropped from memory.
const PRUNE_EVERY: Millis = 60_000;

/// Where revocations are kept (`session_revocation_store`). Its `Debug`
/// is [`StoreSetting::describe`]: a URL's password never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreSetting {
    /// An append-only file, fsynced on every revocation.
    File(PathBuf),
    /// A Redis (or Valkey) server, by `redis://` or `rediss://` URL.
    Redis(String),
}

impl StoreSetting {
    /// Reads the setting: a file path, or a well-formed Redis URL that does
    /// not turn off TLS verification (`#insecure`). Nothing is opened here:
    /// [`Revocations::open`] does that at ignition. Redis itself may be
    /// down: the app then serves and spools revocations until it is back.
    /// No message holds the URL, which may hold a password.
    pub fn parse(text: &str) -> Result<StoreSetting, String> {
        if text.starts_with("redis://") || text.starts_with("rediss://") {
            let client = ::redis::Client::open(text)
                .map_err(|_| "session_revocation_store is not a valid Redis URL".to_owned())?;
            if let ::redis::ConnectionAddr::TcpTls { insecure: true, .. } =
                client.get_connection_info().addr()
            {
                return Err(
                    "session_revocation_store: `#insecure` would skip checking Redis's \
                     certificate: remove it, and name the CA that signed the certificate in \
                     SSL_CERT_FILE"
                        .to_owned(),
                );
            }
            return Ok(StoreSetting::Redis(text.to_owned()));
        }
        if text.contains("://") {
            return Err(
                "session_revocation_store must be a file path or a redis:// URL".to_owned(),
            );
        }
        if text.is_empty() {
            return Err("session_revocation_store must not be empty".to_owned());
        }
        Ok(StoreSetting::File(PathBuf::from(text)))
    }
}

impl std::fmt::Debug for StoreSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl StoreSetting {
    /// The store in words for a log line: the file's path, or the Redis
    /// URL without its user name and password.
    pub fn describe(&self) -> String {
        match self {
            StoreSetting::File(path) => format!("file {}", path.display()),
            StoreSetting::Redis(url) => {
                let (scheme, rest) = url.split_once("://").unwrap_or(("redis", url));
                let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
                format!("{scheme}://{host}")
            }
        }
    }
}

/// What a revocation's store did with it before the logout answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Written (and, for the file, fsynced).
    Written,
    /// Redis is unreachable: written to the local spool (fsynced), and to
    /// Redis when it is back, also after a restart.
    Queued,
    /// No file could be written: kept in memory only, so it holds on this
    /// instance until it restarts or a later write succeeds (the error is
    /// logged and shown by `/readyz`).
    MemoryOnly,
}

impl Durability {
    /// Whether the revocation is on disk (here or in Redis) once answered.
    pub fn is_stored(self) -> bool {
        self != Durability::MemoryOnly
    }
}

/// The revocations every instance holds in memory.
#[derive(Debug, Default)]
pub(crate) struct Mirror {
    entries: RwLock<HashMap<SessionId, Millis>>,
    pruned_at: AtomicU64,
}

impl Mirror {
    fn contains(&self, id: &SessionId, now: Millis) -> bool {
        let entries = self.entries.read().expect("BUG: revocations lock poisoned");
        entries.get(id).is_some_and(|until| *until > now)
    }

    /// Records `id` until `until`; says whether it was new.
    fn insert(&self, id: SessionId, until: Millis) -> bool {
        let mut entries = self
            .entries
            .write()
            .expect("BUG: revocations lock poisoned");
        match entries.get(&id) {
            Some(known) if *known >= until => false,
            _ => {
                entries.insert(id, until);
                true
            }
        }
    }

    /// Drops what has expired, at most once a minute.
    fn prune(&self, now: Millis) {
        let last = self.pruned_at.load(Ordering::Relaxed);
        if now.saturating_sub(last) < PRUNE_EVERY {
            return;
        }
        self.pruned_at.store(now, Ordering::Relaxed);
        let mut entries = self
            .entries
            .write()
            .expect("BUG: revocations lock poisoned");
        entries.retain(|_, until| *until > now);
    }

    fn live(&self, now: Millis) -> Vec<(SessionId, Millis)> {
        let entries = self.entries.read().expect("BUG: revocations lock poisoned");
        entries
            .iter()
            .filter(|(_, until)| **until > now)
            .map(|(id, until)| (*id, *until))
            .collect()
    }

    fn len(&self) -> usize {
        self.entries
            .read()
            .expect("BUG: revocations lock poisoned")
            .len()
    }
}

enum Backend {
    File(file::FileStore),
    Redis(redis::RedisStore),
}

/// The revoked sessions, in memory and in the configured store.
pub struct Revocations {
    mirror: Arc<Mirror>,
    backend: Backend,
    clock: Clock,
    /// The store in words, without a password ([`StoreSetting::describe`]).
    described: String,
}

impl Revocations {
    /// Opens the store: a file is read whole (and compacted); Redis is
    /// connected to in the background, from Rocket's runtime, with
    /// `spool` as the file that keeps revocations while it is unreachable.
    pub fn open(setting: &StoreSetting, spool: &Path, clock: Clock) -> Result<Revocations, String> {
        let mirror = Arc::new(Mirror::default());
        let backend = match setting {
            StoreSetting::File(path) => Backend::File(
                open_file(path, &mirror, &clock, file::Compaction::FromMirror)
                    .map_err(|e| in_setting("session_revocation_store", path, e))?,
            ),
            StoreSetting::Redis(url) => {
                let spool = open_file(spool, &mirror, &clock, file::Compaction::ByOwner)
                    .map_err(|e| in_setting("session_revocation_spool", spool, e))?;
                Backend::Redis(redis::RedisStore::start(
                    url,
                    spool,
                    mirror.clone(),
                    clock.clone(),
                )?)
            }
        };
        Ok(Revocations {
            mirror,
            backend,
            clock,
            described: setting.describe(),
        })
    }

    /// The store in words, without a password: for the start-up line.
    pub fn describe(&self) -> &str {
        &self.described
    }

    /// Whether session `id` was revoked (and its revocation still runs).
    pub fn is_revoked(&self, id: &SessionId) -> bool {
        self.mirror.contains(id, self.clock.now())
    }

    /// Revokes session `id` until `until` (its absolute expiry). Refused on
    /// this instance at once; answers once the store has it, or has queued
    /// it while unreachable.
    pub async fn revoke(&self, id: SessionId, until: Millis) -> Durability {
        let now = self.clock.now();
        self.mirror.prune(now);
        if until <= now {
            return Durability::Written;
        }
        self.mirror.insert(id, until);
        match &self.backend {
            Backend::File(store) => store.append(id, until, now).await,
            Backend::Redis(store) => store.revoke(id, until).await,
        }
    }

    /// What is wrong with the store now, in one line, if anything: Redis
    /// unreachable, revocations not yet written, a file changed under the
    /// app. The instance serves all the same.
    pub fn trouble(&self) -> Option<String> {
        match &self.backend {
            Backend::File(store) => store.trouble(),
            Backend::Redis(store) => store.trouble(),
        }
    }

    /// How many revocations were acknowledged but are not yet in the store:
    /// waiting for Redis in the spool, or for a file write to succeed.
    pub fn queued(&self) -> usize {
        match &self.backend {
            Backend::File(store) => store.unwritten(),
            Backend::Redis(store) => store.queued(),
        }
    }

    /// Whether the store is reachable now (the file always is).
    pub fn is_reachable(&self) -> bool {
        match &self.backend {
            Backend::File(_) => true,
            Backend::Redis(store) => store.is_connected(),
        }
    }

    /// How many revocations are held in memory, expired ones not yet
    /// dropped included.
    pub fn len(&self) -> usize {
        self.mirror.len()
    }

    /// Whether none are held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Opens a file store for `mirror`, saying at start what it found.
fn open_file(
    path: &Path,
    mirror: &Arc<Mirror>,
    clock: &Clock,
    compaction: file::Compaction,
) -> std::io::Result<file::FileStore> {
    let opened = file::FileStore::open(path, mirror, clock.now(), compaction)?;
    rocket::info!(
        "revocations: {} held from `{}`",
        opened.live,
        path.display()
    );
    if opened.unreadable > 0 {
        rocket::warn!(
            "revocations: {} unreadable line(s) in `{}` dropped",
            opened.unreadable,
            path.display()
        );
    }
    Ok(opened.store)
}

fn in_setting(setting: &str, path: &Path, e: std::io::Error) -> String {
    format!("{setting} `{}` cannot be used: {e}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_a_path_or_a_redis_url() {
        assert_eq!(
            StoreSetting::parse("redis://127.0.0.1:6379/0"),
            Ok(StoreSetting::Redis("redis://127.0.0.1:6379/0".into()))
        );
        assert!(StoreSetting::parse("redis://no host/").is_err());
        assert!(StoreSetting::parse("http://example.org").is_err());
        assert!(StoreSetting::parse("").is_err());
    }

    #[test]
    fn a_store_is_described_without_its_password() {
        let url = "rediss://app:s3cret@redis.example:6380/2";
        let described = StoreSetting::parse(url).unwrap().describe();
        assert_eq!(described, "rediss://redis.example:6380/2");
        assert!(!format!("{:?}", StoreSetting::parse(url).unwrap()).contains("s3cret"));
        let file = StoreSetting::parse("data/revoked").unwrap().describe();
        assert_eq!(file, "file data/revoked");
    }

    #[test]
    fn the_mirror_forgets_what_has_expired() {
        let mirror = Mirror::default();
        let id = SessionId::random();
        assert!(mirror.insert(id, 1_000));
        assert!(!mirror.insert(id, 500), "an earlier expiry changes nothing");
        assert!(mirror.contains(&id, 999));
        assert!(!mirror.contains(&id, 1_000));
        mirror.prune(PRUNE_EVERY + 1);
        assert_eq!(mirror.len(), 0);
    }
}
