//! The embedded store: an append-only file of `<id> <until>` lines. Each
//! revocation is appended and fsynced before the logout answers, so one
//! acknowledged to a browser survives `kill -9` and a restart.
//!
//! What can go wrong with a file is handled where it happens:
//! - a write that fails part-way (a full disk) is cut back to the last
//!   whole line, so it never glues itself to the next revocation; what
//!   could not be written is kept and written with the next one;
//! - a path that is not a regular file (a device, a FIFO, a symlink, a
//!   folder) is refused at start, never replaced;
//! - a file deleted, replaced or truncated while the app runs is noticed
//!   at the next write, reported, and written anew from memory;
//! - opening the file drops what has expired and says how many lines were
//!   unreadable; appending compacts it once most of its lines are dead,
//!   decided by counts kept as it goes, never by walking the revocations.
//!
//! One thread of the store's own writes the file: the revocations that
//! arrive while it fsyncs are written together by the next write and
//! fsync (a group commit), so concurrent logouts share the disk's wait
//! instead of each taking a blocking thread of Rocket's.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;

use rocket::tokio::sync::oneshot;

use crate::clock::{Clock, Millis};
use crate::store::api::{RevocationStore, StoreError};
use crate::store::memory::Memory;
use crate::store::revocation::{Condition, Durability, Health, Revocation};

/// Lines appended before a compaction is considered.
const COMPACT_AFTER: usize = 1024;

/// The suffix of the lock file beside the store. A store whose own name
/// ends in it is refused, so a store can never be another one's lock.
const LOCK_SUFFIX: &str = ".lock";
/// The suffix of the temporary file a compaction writes before renaming.
const COMPACTING_SUFFIX: &str = ".compacting";

/// `path` with `suffix` added to its file name (never replacing an
/// extension, so `a.lock` and `a` get different locks).
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

/// The embedded store: revocations in an append-only file, fsynced before
/// each logout answers. One instance per file (it is locked); instances
/// that serve the same users share a store such as Redis instead.
///
/// ```no_run
/// use rocket_sealed_sessions::{store::FileStore, Sessions};
///
/// let sessions = Sessions::builder()
///     .revocations(FileStore::new("data/revoked-sessions"))
///     .build();
/// # let _ = rocket::build().attach(sessions);
/// ```
pub struct FileStore {
    path: PathBuf,
    /// Once open: the file, and the clock its expiries are judged by.
    log: Option<(FileLog, Clock)>,
}

impl FileStore {
    /// A store kept in the file at `path` (made, with its folder, when
    /// opened). Nothing is touched until the app ignites.
    pub fn new(path: impl Into<PathBuf>) -> FileStore {
        FileStore {
            path: path.into(),
            log: None,
        }
    }
}

/// Opens the file at `path` for `memory`, saying in the log what it found.
pub(crate) fn open_logged(
    path: &Path,
    memory: &Arc<Memory>,
    now: Millis,
    compaction: Compaction,
) -> io::Result<FileLog> {
    let opened = FileLog::open(path, memory, now, compaction)?;
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
    Ok(opened.log)
}

#[rocket::async_trait]
impl RevocationStore for FileStore {
    async fn open(&mut self, memory: Arc<Memory>, clock: Clock) -> Result<(), StoreError> {
        let log = open_logged(&self.path, &memory, clock.millis(), Compaction::FromMemory)
            .map_err(|source| StoreError::File {
                path: self.path.clone(),
                source,
            })?;
        self.log = Some((log, clock));
        Ok(())
    }

    async fn write(&self, revocation: Revocation) -> Durability {
        match &self.log {
            Some((log, clock)) => log.append(revocation, clock.millis()).await,
            None => Durability::MemoryOnly,
        }
    }

    fn health(&self) -> Health {
        let log = self.log.as_ref().map(|(log, _)| log);
        Health {
            trouble: log.map_or_else(
                || Some("revocation file: not open".to_owned()),
                FileLog::trouble,
            ),
            queued: log.map_or(0, FileLog::unwritten),
            reachable: true,
            condition: Condition::Ready,
        }
    }

    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }
}

/// Whether `path` can hold the store: see `claim`.
#[cfg(test)]
fn check(path: &Path) -> io::Result<()> {
    claim(path).map(drop)
}

/// Makes `path`'s folder if need be, refuses a path that is or could be
/// taken for something else than the store's own regular file, locks the
/// store for this process and makes sure the file can be opened for
/// appending. The lock holds as long as the returned file is open.
fn claim(path: &Path) -> io::Result<File> {
    for suffix in [LOCK_SUFFIX, COMPACTING_SUFFIX] {
        if path.as_os_str().to_string_lossy().ends_with(suffix) {
            return Err(io::Error::other(format!(
                "a store's name must not end in `{suffix}`, which the store uses beside itself"
            )));
        }
    }
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(folder)?;
    }
    regular_or_absent(path)?;
    let lock = lock(path)?;
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    // Between the look and the open, something else could have been put
    // there: the file opened must be the regular file looked at.
    if !file.metadata()?.is_file() {
        return Err(not_regular());
    }
    Ok(lock)
}

/// Refuses anything at `path` but a regular file: a device, a FIFO, a
/// folder or a symlink there is the operator's, not the store's.
fn regular_or_absent(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(found) if found.file_type().is_file() => Ok(()),
        Ok(_) => Err(not_regular()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn not_regular() -> io::Error {
    io::Error::other(
        "it is not a regular file (a symlink, device, FIFO or folder is never replaced); \
         name a file of its own",
    )
}

/// Locks the store for this process. Two instances on one file would each
/// compact it away from under the other: several instances share
/// revocations through Redis instead.
fn lock(path: &Path) -> io::Result<File> {
    let lock_path = beside(path, LOCK_SUFFIX);
    regular_or_absent(&lock_path)?;
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path)?;
    lock.try_lock().map_err(|_| {
        io::Error::other(
            "another running instance uses it (instances that serve the same users share \
             revocations through Redis)",
        )
    })?;
    Ok(lock)
}

/// How a file store compacts itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compaction {
    /// Once most lines are dead, rewritten with the live ones in memory.
    FromMemory,
    /// Never while running: the owner empties it ([`FileLog::clear`]),
    /// as the Redis spool does once Redis holds what it queued.
    #[cfg(feature = "redis")]
    ByOwner,
}

/// The file itself, opened: what [`FileStore`] and the Redis spool write.
pub(crate) struct FileLog {
    /// Shared with the writer thread; read here only to empty the spool.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    state: Arc<Mutex<State>>,
    /// To the writer thread, which ends once this is dropped.
    jobs: mpsc::Sender<Job>,
    /// What went wrong with the file, for `/readyz` (its own lock, so a
    /// readiness probe never waits behind an fsync).
    trouble: Arc<Mutex<Option<String>>>,
    /// Revocations acknowledged but not yet written, for the metrics.
    unwritten: Arc<AtomicUsize>,
    /// Held as long as the store is open.
    _lock: File,
}

/// One revocation for the writer thread, and where to say what became of it.
struct Job {
    revocation: Revocation,
    now: Millis,
    done: oneshot::Sender<Durability>,
}

struct State {
    path: PathBuf,
    file: File,
    /// Which file the path named when it was opened: (device, inode).
    identity: (u64, u64),
    /// Bytes of whole lines in the file: a failed write is cut back here.
    len: u64,
    /// Lines in the file now.
    lines: usize,
    /// Revocations acknowledged as not stored, written with the next one.
    unwritten: Vec<Revocation>,
    /// The file changed under the app (shown until it restarts).
    incident: Option<String>,
    compaction: Compaction,
}

/// What opening a store found in its file.
pub(crate) struct Opened {
    pub(crate) log: FileLog,
    /// The live revocations it held (also put into memory).
    pub(crate) live: usize,
    /// Lines that were not revocations (a line torn by a crash included).
    pub(crate) unreadable: usize,
}

impl FileLog {
    /// Reads every live revocation into `memory` and rewrites the file
    /// with only those, a line at a time (a large store is never held
    /// whole in memory). Starts the store's writer thread.
    pub(crate) fn open(
        path: &Path,
        memory: &Arc<Memory>,
        now: Millis,
        compaction: Compaction,
    ) -> io::Result<Opened> {
        let lock = claim(path)?;
        let mut reader = BufReader::new(File::open(path)?);
        let (mut live, mut unreadable) = (0, 0);
        let (file, len) = rewrite_with(path, |out| {
            let mut line = Vec::with_capacity(64);
            while reader.read_until(b'\n', &mut line)? > 0 {
                match parse(&line) {
                    Some(revocation) if revocation.until_ms() > now => {
                        memory.insert(&revocation);
                        out.write_all(&line)?;
                        live += 1;
                    }
                    Some(_) => {}
                    None => unreadable += 1,
                }
                line.clear();
            }
            Ok(())
        })?;
        let state = Arc::new(Mutex::new(State {
            path: path.to_owned(),
            identity: identity(&file.metadata()?),
            file,
            len,
            lines: live,
            unwritten: Vec::new(),
            incident: None,
            compaction,
        }));
        let trouble = Arc::default();
        let unwritten = Arc::default();
        let (jobs, queue) = mpsc::channel();
        let writer = Writer {
            state: state.clone(),
            trouble: Arc::clone(&trouble),
            unwritten: Arc::clone(&unwritten),
            memory: memory.clone(),
        };
        thread::Builder::new()
            .name("revocation-writer".into())
            .spawn(move || writer.run(queue))?;
        let log = FileLog {
            state,
            jobs,
            trouble,
            unwritten,
            _lock: lock,
        };
        Ok(Opened {
            log,
            live,
            unreadable,
        })
    }

    /// Appends one revocation and fsyncs it, with whatever others arrive
    /// meanwhile, on the store's writer thread; answers once it is on disk
    /// (`Written`) or could not be written (`MemoryOnly`).
    pub(crate) async fn append(&self, revocation: Revocation, now: Millis) -> Durability {
        let (done, answer) = oneshot::channel();
        let job = Job {
            revocation,
            now,
            done,
        };
        if self.jobs.send(job).is_err() {
            return Durability::MemoryOnly;
        }
        answer.await.unwrap_or(Durability::MemoryOnly)
    }

    /// Empties the file (for a store whose owner has put its lines
    /// elsewhere, as the Redis spool does once Redis has them). What was
    /// wrong with writing them no longer holds: the trouble and the count
    /// of unwritten ones go with them.
    #[cfg(feature = "redis")]
    pub(crate) fn clear(&self) -> io::Result<()> {
        let mut state = self
            .state
            .lock()
            .expect("BUG: revocation file lock poisoned");
        state.unwritten.clear();
        let path = state.path.clone();
        let emptied = state.replace(&path, &[]);
        *self.trouble.lock().expect("BUG: trouble lock poisoned") = state.report(&emptied);
        self.unwritten.store(0, Ordering::Relaxed);
        emptied
    }

    /// How many revocations were acknowledged but are not yet written.
    pub(crate) fn unwritten(&self) -> usize {
        self.unwritten.load(Ordering::Relaxed)
    }

    /// What is wrong with the file now, if anything: revocations not yet
    /// written, or a file that changed under the app.
    pub(crate) fn trouble(&self) -> Option<String> {
        self.trouble
            .lock()
            .expect("BUG: trouble lock poisoned")
            .clone()
    }
}

/// The store's writer thread: takes every job waiting, writes them with
/// one write and one fsync, and answers each.
struct Writer {
    state: Arc<Mutex<State>>,
    trouble: Arc<Mutex<Option<String>>>,
    unwritten: Arc<AtomicUsize>,
    memory: Arc<Memory>,
}

impl Writer {
    fn run(self, queue: mpsc::Receiver<Job>) {
        while let Ok(first) = queue.recv() {
            let mut batch = vec![first];
            batch.extend(queue.try_iter());
            let now = batch.iter().map(|job| job.now).max().unwrap_or_default();
            let mut state = self
                .state
                .lock()
                .expect("BUG: revocation file lock poisoned");
            let outcome = state.append(
                batch.iter().map(|job| job.revocation.clone()),
                &self.memory,
                now,
            );
            *self.trouble.lock().expect("BUG: trouble lock poisoned") = state.report(&outcome);
            self.unwritten
                .store(state.unwritten.len(), Ordering::Relaxed);
            drop(state);
            let durability = match outcome {
                Ok(()) => Durability::Written,
                Err(e) => {
                    rocket::error!("revocations: writing the store failed: {e}");
                    Durability::MemoryOnly
                }
            };
            for job in batch {
                let _ = job.done.send(durability);
            }
        }
    }
}

impl State {
    fn append(
        &mut self,
        revocations: impl Iterator<Item = Revocation>,
        memory: &Memory,
        now: Millis,
    ) -> io::Result<()> {
        self.unwritten.extend(revocations);
        if self.was_changed()? {
            // The revocations in memory are the truth, this one included:
            // once they are written anew, it is stored.
            let path = self.path.clone();
            self.replace(&path, &memory.live_at(now))?;
            self.unwritten.clear();
            let incident = "the file was deleted, replaced or truncated while the app ran; \
                            it was written anew from memory";
            rocket::error!("revocations: {incident}");
            self.incident = Some(incident.to_owned());
            return Ok(());
        }
        let text: String = self.unwritten.iter().map(Revocation::to_line).collect();
        if let Err(e) = self
            .file
            .write_all(text.as_bytes())
            .and_then(|()| self.file.sync_data())
        {
            // Whatever part of it reached the file is cut off, so the next
            // write starts on a line of its own. If even that fails, the
            // next write tries again first (see `was_changed`).
            let _ = self.file.set_len(self.len);
            return Err(e);
        }
        self.len += text.len() as u64;
        self.lines += self.unwritten.len();
        self.unwritten.clear();
        let compact = self.compaction == Compaction::FromMemory
            && self.lines > COMPACT_AFTER
            && self.lines > 2 * memory.len();
        if compact {
            let path = self.path.clone();
            self.replace(&path, &memory.live_at(now))?;
        }
        Ok(())
    }

    /// Whether the path no longer names the file held, or the file was cut
    /// shorter than what was written. A tail longer than what was written
    /// is what a failed write left, and is cut back here.
    fn was_changed(&mut self) -> io::Result<bool> {
        let named = match fs::symlink_metadata(&self.path) {
            Ok(named) => named,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(true),
            Err(e) => return Err(e),
        };
        if identity(&named) != self.identity {
            return Ok(true);
        }
        let held = self.file.metadata()?.len();
        if held < self.len {
            return Ok(true);
        }
        if held > self.len {
            self.file.set_len(self.len)?;
        }
        Ok(false)
    }

    fn replace(&mut self, path: &Path, live: &[Revocation]) -> io::Result<()> {
        let (file, len) = rewrite(path, live)?;
        self.identity = identity(&file.metadata()?);
        self.file = file;
        self.len = len;
        self.lines = live.len();
        Ok(())
    }

    /// The trouble to show after an append that ended in `outcome`.
    fn report(&self, outcome: &io::Result<()>) -> Option<String> {
        match (outcome, &self.incident) {
            (Err(e), _) if !self.unwritten.is_empty() => Some(format!(
                "revocation file: {} revocation(s) not yet written ({e}); \
                 they hold on this instance until it restarts or a write succeeds",
                self.unwritten.len()
            )),
            (Err(e), None) => Some(format!("revocation file: {e}")),
            (_, Some(incident)) => Some(format!("revocation file: {incident}")),
            (Ok(()), None) => None,
        }
    }
}

fn identity(metadata: &fs::Metadata) -> (u64, u64) {
    (metadata.dev(), metadata.ino())
}

/// A whole line (a torn one has no newline) as [`Revocation::to_line`]
/// writes it.
fn parse(line: &[u8]) -> Option<Revocation> {
    let line = std::str::from_utf8(line).ok()?;
    Revocation::from_line(line.strip_suffix('\n')?)
}

/// Replaces the file with `live`: see [`rewrite_with`].
fn rewrite(path: &Path, live: &[Revocation]) -> io::Result<(File, u64)> {
    rewrite_with(path, |out| {
        live.iter()
            .try_for_each(|revocation| out.write_all(revocation.to_line().as_bytes()))
    })
}

/// Replaces the file with what `write` writes, through a fsynced temporary
/// file and a rename, so a crash leaves the old file or the new one, never
/// half of one. Returns the new file, open for appending, and its length.
fn rewrite_with(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> io::Result<(File, u64)> {
    let temporary = beside(path, COMPACTING_SUFFIX);
    // Whatever has the temporary's name (a crash's leftover, or a symlink
    // or FIFO put there) is unlinked, never opened: the file is made new,
    // and `create_new` follows no link.
    match fs::remove_file(&temporary) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let made = OpenOptions::new()
        .append(true)
        .create_new(true)
        .open(&temporary)?;
    let mut out = BufWriter::new(made);
    let written = write(&mut out)
        .and_then(|()| out.into_inner().map_err(|e| e.into_error()))
        .and_then(|file| file.sync_all().map(|()| file));
    let file = match written {
        Ok(file) => file,
        Err(e) => {
            let _ = fs::remove_file(&temporary);
            return Err(e);
        }
    };
    fs::rename(&temporary, path)?;
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        File::open(folder)?.sync_all()?;
    }
    // The file written, still open for appending: nothing put at `path`
    // since the rename is opened instead.
    let len = file.metadata()?.len();
    Ok((file, len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::SessionId;
    use crate::store::memory::PRUNE_EVERY;

    fn temp_path(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "sealed-sessions-file-{}-{name}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        dir.join("nested").join("revoked")
    }

    fn open(path: &Path, memory: &Arc<Memory>, now: Millis) -> io::Result<FileLog> {
        FileLog::open(path, memory, now, Compaction::FromMemory).map(|opened| opened.log)
    }

    fn revocation(id: SessionId, until: Millis) -> Revocation {
        Revocation::Session {
            id,
            until: crate::clock::from_millis(until),
        }
    }

    /// Revokes `id` until `until` in memory and in the file, as a logout
    /// does.
    fn revoke(
        runtime: &rocket::tokio::runtime::Runtime,
        store: &FileLog,
        memory: &Memory,
        (id, until): (SessionId, Millis),
        now: Millis,
    ) -> Durability {
        memory.insert(&revocation(id, until));
        runtime.block_on(store.append(revocation(id, until), now))
    }

    #[test]
    fn a_reopened_store_holds_what_was_written_and_not_what_expired() {
        let path = temp_path("reopen");
        let memory = Arc::new(Memory::default());
        let store = open(&path, &memory, 0).unwrap();
        let (kept, expired) = (SessionId::random(), SessionId::random());
        let runtime = rocket::tokio::runtime::Runtime::new().unwrap();
        for revoked in [(kept, 10_000), (expired, 500)] {
            let written = revoke(&runtime, &store, &memory, revoked, 0);
            assert_eq!(written, Durability::Written);
        }
        // A line torn by a crash, and junk.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"not a line\n0011").unwrap();
        drop(file);
        drop(store);

        let reopened = Arc::new(Memory::default());
        let opened = FileLog::open(&path, &reopened, 1_000, Compaction::FromMemory).unwrap();
        assert!(reopened.id_revoked(&kept, 1_000));
        assert!(!reopened.id_revoked(&expired, 400), "dropped on open");
        assert_eq!(reopened.len(), 1);
        assert_eq!((opened.live, opened.unreadable), (1, 2));
        // The file was compacted to its one live line.
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            revocation(kept, 10_000).to_line()
        );
    }

    #[test]
    fn appending_compacts_a_file_of_dead_lines() {
        let path = temp_path("compact");
        let memory = Arc::new(Memory::default());
        let store = open(&path, &memory, 0).unwrap();
        let runtime = rocket::tokio::runtime::Runtime::new().unwrap();
        for i in 0..=COMPACT_AFTER as u64 {
            revoke(
                &runtime,
                &store,
                &memory,
                (SessionId::random(), 1_000 + i),
                0,
            );
        }
        let before = fs::read_to_string(&path).unwrap().lines().count();
        // Later, all but the last have expired and been pruned: the next
        // append compacts.
        let later = 1_000 + PRUNE_EVERY + COMPACT_AFTER as u64;
        memory.prune(later);
        let id = SessionId::random();
        revoke(&runtime, &store, &memory, (id, later + 1_000_000), later);
        let after = fs::read_to_string(&path).unwrap().lines().count();
        assert!(before > COMPACT_AFTER, "{before}");
        assert_eq!(after, 1, "only the live line stays");
    }

    #[test]
    fn a_torn_tail_is_cut_back_before_the_next_line() {
        let path = temp_path("torn");
        let memory = Arc::new(Memory::default());
        let store = open(&path, &memory, 0).unwrap();
        let runtime = rocket::tokio::runtime::Runtime::new().unwrap();
        let first = SessionId::random();
        revoke(&runtime, &store, &memory, (first, 10_000), 0);
        // What a write that failed part-way would leave.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"0123456").unwrap();
        drop(file);
        let victim = SessionId::random();
        let written = revoke(&runtime, &store, &memory, (victim, 10_000), 0);
        assert_eq!(written, Durability::Written);
        drop(store);
        let reopened = Arc::new(Memory::default());
        let opened = FileLog::open(&path, &reopened, 0, Compaction::FromMemory).unwrap();
        assert!(reopened.id_revoked(&victim, 1));
        assert_eq!((opened.live, opened.unreadable), (2, 0));
    }

    #[test]
    fn a_file_deleted_or_truncated_while_running_is_written_anew() {
        let runtime = rocket::tokio::runtime::Runtime::new().unwrap();
        for damage in ["delete", "truncate"] {
            let path = temp_path(damage);
            let memory = Arc::new(Memory::default());
            let store = open(&path, &memory, 0).unwrap();
            let before = SessionId::random();
            revoke(&runtime, &store, &memory, (before, 10_000), 0);
            match damage {
                "delete" => fs::remove_file(&path).unwrap(),
                _ => File::create(&path).map(drop).unwrap(),
            }
            let after = SessionId::random();
            let written = revoke(&runtime, &store, &memory, (after, 10_000), 0);
            assert_eq!(written, Durability::Written, "{damage}: in the new file");
            let trouble = store.trouble().expect("reported for /readyz");
            assert!(trouble.contains("written anew"), "{trouble}");
            drop(store);
            let reopened = Arc::new(Memory::default());
            FileLog::open(&path, &reopened, 0, Compaction::FromMemory).unwrap();
            assert!(reopened.id_revoked(&before, 1), "{damage}");
            assert!(reopened.id_revoked(&after, 1), "{damage}");
        }
    }

    #[test]
    fn one_file_serves_one_instance() {
        let path = temp_path("locked");
        let first = open(&path, &Arc::default(), 0).unwrap();
        let second = open(&path, &Arc::default(), 0);
        assert!(second.is_err(), "a second instance on the same file");
        assert!(check(&path).is_err());
        drop(first);
        assert!(open(&path, &Arc::default(), 0).is_ok());
    }

    #[test]
    fn a_store_is_never_a_lock_or_a_temporary_file() {
        let path = temp_path("suffixes");
        let _first = open(&path, &Arc::default(), 0).unwrap();
        for name in ["revoked.lock", "revoked.compacting"] {
            let other = path.with_file_name(name);
            let error = check(&other).unwrap_err().to_string();
            assert!(error.contains("must not end in"), "{error}");
        }
    }

    #[test]
    fn what_is_not_a_regular_file_is_refused_and_left_alone() {
        let path = temp_path("not-regular");
        let folder = path.parent().unwrap();
        fs::create_dir_all(folder).unwrap();
        let target = folder.join("target");
        fs::write(&target, "kept\n").unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let error = check(&path).unwrap_err().to_string();
        assert!(error.contains("not a regular file"), "{error}");
        assert!(fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read_to_string(&target).unwrap(), "kept\n");
        for special in ["/dev/null", "/dev/full", "/tmp"] {
            let error = check(Path::new(special)).unwrap_err().to_string();
            assert!(error.contains("not a regular file"), "{special}: {error}");
        }
        assert!(
            !Path::new("/dev/null.lock").exists(),
            "nothing made beside a device"
        );
        let fifo = folder.join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let error = check(&fifo).unwrap_err().to_string();
        assert!(error.contains("not a regular file"), "{error}");
    }

    #[test]
    fn what_lies_at_the_temporary_name_is_replaced_never_followed() {
        let path = temp_path("compacting");
        let folder = path.parent().unwrap();
        fs::create_dir_all(folder).unwrap();
        let target = folder.join("target");
        fs::write(&target, "kept\n").unwrap();
        let temporary = beside(&path, COMPACTING_SUFFIX);
        std::os::unix::fs::symlink(&target, &temporary).unwrap();
        // Opening rewrites the file through the temporary.
        let memory = Arc::new(Memory::default());
        drop(open(&path, &memory, 0).unwrap());
        assert_eq!(fs::read_to_string(&target).unwrap(), "kept\n");
        assert!(!temporary.exists(), "renamed into place");

        // A FIFO there would hang a start that opened it.
        let made = std::process::Command::new("mkfifo")
            .arg(&temporary)
            .status()
            .unwrap();
        assert!(made.success());
        let (done, finished) = std::sync::mpsc::channel();
        let (opening, memory) = (path.clone(), memory.clone());
        std::thread::spawn(move || {
            let _ = done.send(open(&opening, &memory, 0).map(drop));
        });
        let opened = finished.recv_timeout(std::time::Duration::from_secs(10));
        assert!(matches!(opened, Ok(Ok(()))), "{opened:?}");
    }

    #[cfg(feature = "redis")]
    #[test]
    fn a_spool_emptied_says_nothing_of_what_it_could_not_write() {
        let path = temp_path("spool-trouble");
        let memory = Arc::new(Memory::default());
        let spool = FileLog::open(&path, &memory, 0, Compaction::ByOwner)
            .unwrap()
            .log;
        let runtime = rocket::tokio::runtime::Runtime::new().unwrap();
        // A disk that takes nothing more.
        spool.state.lock().unwrap().file =
            OpenOptions::new().append(true).open("/dev/full").unwrap();
        let written = revoke(&runtime, &spool, &memory, (SessionId::random(), 10_000), 0);
        assert_eq!(written, Durability::MemoryOnly);
        assert_eq!(spool.unwritten(), 1);
        let trouble = spool.trouble().expect("reported");
        assert!(trouble.contains("not yet written"), "{trouble}");
        // Its owner (the Redis link) has put them elsewhere and empties it.
        spool.clear().unwrap();
        assert_eq!(spool.trouble(), None);
        assert_eq!(spool.unwritten(), 0);
    }

    #[test]
    fn a_folder_that_cannot_be_made_is_refused() {
        assert!(check(Path::new("/proc/self/no/such/file")).is_err());
    }
}
