//! The embedded store: an append-only file of `<id> <until>` lines. Each
//! revocation is appended and fsynced before the logout answers, so one
//! acknowledged to a browser survives `kill -9` and a restart. Opening the
//! file drops what has expired and rewrites it (atomically, by rename); so
//! does appending once the file holds more dead lines than live ones.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{Durability, Mirror};
use crate::session::{Millis, SessionId};

/// Lines appended before a compaction is considered.
const COMPACT_AFTER: usize = 1024;

/// Whether `path` can hold the store: see [`claim`].
pub(super) fn check(path: &Path) -> io::Result<()> {
    claim(path).map(drop)
}

/// Makes `path`'s folder if need be, locks the store for this process and
/// makes sure the file can be opened for appending. The lock holds as long
/// as the returned file is open.
fn claim(path: &Path) -> io::Result<File> {
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(folder)?;
    }
    let lock = lock(path)?;
    OpenOptions::new().create(true).append(true).open(path)?;
    Ok(lock)
}

/// Locks the store for this process. Two instances on one file would each
/// compact it away from under the other: several instances share
/// revocations through Redis instead.
fn lock(path: &Path) -> io::Result<File> {
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path.with_extension("lock"))?;
    lock.try_lock().map_err(|_| {
        io::Error::other(
            "another running instance uses it (instances that serve the same users share \
             revocations through Redis)",
        )
    })?;
    Ok(lock)
}

pub(super) struct FileStore {
    state: Arc<Mutex<State>>,
    /// Held as long as the store is open.
    _lock: File,
}

struct State {
    path: PathBuf,
    file: File,
    /// Lines in the file now.
    lines: usize,
}

impl FileStore {
    /// Reads every live revocation into `mirror` and rewrites the file
    /// with only those.
    pub(super) fn open(path: &Path, mirror: &Mirror, now: Millis) -> io::Result<FileStore> {
        let lock = claim(path)?;
        let text = fs::read(path)?;
        // Only whole lines count: a line cut short by a crash was never
        // acknowledged.
        for line in text.split_inclusive(|b| *b == b'\n') {
            if let Some((id, until)) = parse(line).filter(|(_, until)| *until > now) {
                mirror.insert(id, until);
            }
        }
        let live = mirror.live(now);
        let file = rewrite(path, &live)?;
        Ok(FileStore {
            state: Arc::new(Mutex::new(State {
                path: path.to_owned(),
                file,
                lines: live.len(),
            })),
            _lock: lock,
        })
    }

    /// Appends one revocation and fsyncs, off the async workers.
    pub(super) async fn append(
        &self,
        id: SessionId,
        until: Millis,
        mirror: Arc<Mirror>,
        now: Millis,
    ) -> Durability {
        let state = self.state.clone();
        let written = rocket::tokio::task::spawn_blocking(move || {
            let mut state = state.lock().expect("BUG: revocation file lock poisoned");
            state.append(id, until)?;
            // The mirror is read under the file's lock, so a revocation
            // appended after this snapshot lands in the new file.
            let live = mirror.live(now);
            if state.lines > COMPACT_AFTER && state.lines > 2 * live.len() {
                state.file = rewrite(&state.path, &live)?;
                state.lines = live.len();
            }
            io::Result::Ok(())
        })
        .await;
        match written {
            Ok(Ok(())) => Durability::Written,
            Ok(Err(e)) => {
                rocket::error!("revocations: writing the store failed: {e}");
                Durability::MemoryOnly
            }
            Err(e) => {
                rocket::error!("revocations: the store's writer failed: {e}");
                Durability::MemoryOnly
            }
        }
    }
}

impl State {
    fn append(&mut self, id: SessionId, until: Millis) -> io::Result<()> {
        self.file.write_all(line(id, until).as_bytes())?;
        self.file.sync_data()?;
        self.lines += 1;
        Ok(())
    }
}

fn line(id: SessionId, until: Millis) -> String {
    format!("{} {until}\n", id.to_hex())
}

fn parse(line: &[u8]) -> Option<(SessionId, Millis)> {
    let line = std::str::from_utf8(line).ok()?.strip_suffix('\n')?;
    let (id, until) = line.split_once(' ')?;
    Some((SessionId::from_hex(id)?, until.parse().ok()?))
}

/// Replaces the file with `live`, through a fsynced temporary file and a
/// rename, so a crash leaves the old file or the new one, never half of
/// one. Returns the new file, open for appending.
fn rewrite(path: &Path, live: &[(SessionId, Millis)]) -> io::Result<File> {
    let temporary = path.with_extension("compacting");
    {
        let mut file = File::create(&temporary)?;
        let text: String = live.iter().map(|(id, until)| line(*id, *until)).collect();
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
    }
    fs::rename(&temporary, path)?;
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        File::open(folder)?.sync_all()?;
    }
    OpenOptions::new().append(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "session-app-revocations-{}-{name}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        dir.join("nested").join("revoked")
    }

    #[test]
    fn a_reopened_store_holds_what_was_written_and_not_what_expired() {
        let path = temp_path("reopen");
        let mirror = Arc::new(Mirror::default());
        let store = FileStore::open(&path, &mirror, 0).unwrap();
        let (kept, expired) = (SessionId::random(), SessionId::random());
        let runtime = rocket::tokio::runtime::Runtime::new().unwrap();
        for (id, until) in [(kept, 10_000), (expired, 500)] {
            mirror.insert(id, until);
            let written = runtime.block_on(store.append(id, until, mirror.clone(), 0));
            assert_eq!(written, Durability::Written);
        }
        // A line torn by a crash, and junk.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"not a line\n0011").unwrap();
        drop(file);
        drop(store);

        let reopened = Mirror::default();
        FileStore::open(&path, &reopened, 1_000).unwrap();
        assert!(reopened.contains(&kept, 1_000));
        assert!(!reopened.contains(&expired, 400), "dropped on open");
        assert_eq!(reopened.len(), 1);
        // The file was compacted to its one live line.
        assert_eq!(fs::read_to_string(&path).unwrap(), line(kept, 10_000));
    }

    #[test]
    fn appending_compacts_a_file_of_dead_lines() {
        let path = temp_path("compact");
        let mirror = Arc::new(Mirror::default());
        let store = FileStore::open(&path, &mirror, 0).unwrap();
        let runtime = rocket::tokio::runtime::Runtime::new().unwrap();
        for i in 0..=COMPACT_AFTER as u64 {
            let id = SessionId::random();
            mirror.insert(id, 1_000 + i);
            runtime.block_on(store.append(id, 1_000 + i, mirror.clone(), 0));
        }
        let before = fs::read_to_string(&path).unwrap().lines().count();
        // Later, all but the last have expired: the next append compacts.
        let id = SessionId::random();
        mirror.insert(id, 1_000_000);
        runtime.block_on(store.append(id, 1_000_000, mirror.clone(), 1_000 + COMPACT_AFTER as u64));
        let after = fs::read_to_string(&path).unwrap().lines().count();
        assert!(before > COMPACT_AFTER, "{before}");
        assert_eq!(after, 1, "only the live line stays");
    }

    #[test]
    fn one_file_serves_one_instance() {
        let path = temp_path("locked");
        let first = FileStore::open(&path, &Mirror::default(), 0).unwrap();
        let second = FileStore::open(&path, &Mirror::default(), 0);
        assert!(second.is_err(), "a second instance on the same file");
        assert!(check(&path).is_err());
        drop(first);
        assert!(FileStore::open(&path, &Mirror::default(), 0).is_ok());
    }

    #[test]
    fn a_folder_that_cannot_be_made_is_refused() {
        assert!(check(Path::new("/proc/self/no/such/file")).is_err());
    }
}
