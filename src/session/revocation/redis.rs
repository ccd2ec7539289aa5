//! Revocations shared through Redis (or Valkey) by every instance.
//!
//! Each revocation is written under its own key, with a time-to-live equal
//! to the session's remaining life, and announced on a channel; every
//! instance applies the announcements to its memory. An instance that
//! connects (or reconnects) subscribes first, then loads every revocation
//! Redis holds, then writes back, and announces, each one it holds that
//! Redis lacks: a Redis restarted empty gets back everything any running
//! instance still knows. While Redis is unreachable, revocations are
//! written to the local spool file before the logout answers, and the
//! connection is retried with a backoff capped at five seconds; the spool is
//! read back at start, so a queued revocation outlives its instance.
//!
//! Every call to Redis is bounded by [`TIMEOUT`], and so is a logout's wait
//! for the link: past it, the revocation is spooled by the logout itself.
//! Keys and messages that are not revocations are skipped and counted.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{MultiplexedConnection, PubSub};
use redis::{AsyncConnectionConfig, Client, RedisResult};
use rocket::futures::StreamExt;
use rocket::tokio::sync::{mpsc, oneshot};
use rocket::tokio::time::{sleep, timeout};

use super::file::FileStore;
use super::{Durability, Mirror};
use crate::session::{Clock, Millis, SessionId};

const KEY_PREFIX: &str = "session_app:revoked:";
const CHANNEL: &str = "session_app:revocations";
const TIMEOUT: Duration = Duration::from_secs(2);
const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(5);

struct Revoke {
    id: SessionId,
    until: Millis,
    done: oneshot::Sender<Durability>,
}

pub(super) struct RedisStore {
    requests: mpsc::UnboundedSender<Revoke>,
    connected: Arc<AtomicBool>,
    /// Revocations waiting for Redis, for the metrics.
    queued: Arc<AtomicUsize>,
    spool: Arc<FileStore>,
    clock: Clock,
}

impl RedisStore {
    /// Starts the link on the current Tokio runtime (Rocket's, at ignition).
    /// What `spool` held is already in `mirror`, and so reaches Redis with
    /// everything else the instance holds once it connects.
    pub(super) fn start(
        url: &str,
        spool: FileStore,
        mirror: Arc<Mirror>,
        clock: Clock,
    ) -> Result<RedisStore, String> {
        let client = Client::open(url)
            .map_err(|_| "session_revocation_store is not a valid Redis URL".to_owned())?;
        // Credentials Redis refuses are a setting to fix, not an outage to
        // wait out: one connection, bounded like the link's, tells them
        // apart. Any other failure (unreachable, a certificate not trusted)
        // is an outage: the app starts, queues, and `/readyz` says so.
        let checked = client
            .get_connection_with_timeout(TIMEOUT)
            .and_then(|mut connection| {
                connection.set_read_timeout(Some(TIMEOUT))?;
                connection.set_write_timeout(Some(TIMEOUT))?;
                redis::cmd("PING").query::<String>(&mut connection)
            });
        if let Err(e) = checked {
            if e.kind() == redis::ErrorKind::AuthenticationFailed
                || matches!(e.code(), Some("NOAUTH" | "WRONGPASS"))
            {
                // Neither the URL nor the password: Redis's own words only.
                return Err(format!(
                    "session_revocation_store: Redis refused the user name or password in the \
                     URL ({}): set the ones Redis expects",
                    e.code().unwrap_or("authentication failed")
                ));
            }
        }
        let (requests, queue) = mpsc::unbounded_channel();
        let connected = Arc::new(AtomicBool::new(false));
        let queued = Arc::new(AtomicUsize::new(0));
        let spool = Arc::new(spool);
        let link = Link {
            client,
            mirror,
            clock: clock.clone(),
            connected: connected.clone(),
            queued: queued.clone(),
            spool: spool.clone(),
            pending: VecDeque::new(),
            skipped: 0,
        };
        rocket::tokio::spawn(link.run(queue));
        Ok(RedisStore {
            requests,
            connected,
            queued,
            spool,
            clock,
        })
    }

    /// Hands the revocation to the link and waits for its answer, at most
    /// twice [`TIMEOUT`]; past that (or with the link gone) the revocation
    /// is spooled here, and the link's own write, if it comes, is harmless.
    pub(super) async fn revoke(&self, id: SessionId, until: Millis) -> Durability {
        let (done, answer) = oneshot::channel();
        if self.requests.send(Revoke { id, until, done }).is_ok() {
            if let Ok(Ok(durability)) = timeout(2 * TIMEOUT, answer).await {
                return durability;
            }
        }
        rocket::warn!("revocations: Redis did not answer in time; spooling");
        spool(&self.spool, id, until, &self.clock).await
    }

    pub(super) fn is_connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }

    /// How many revocations wait for Redis (in the spool).
    pub(super) fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Redis unreachable, or a spool that could not be written.
    pub(super) fn trouble(&self) -> Option<String> {
        let unreachable = (!self.is_connected())
            .then(|| "Redis unreachable: revocations wait in the spool file".to_owned());
        match (unreachable, self.spool.trouble()) {
            (Some(a), Some(b)) => Some(format!("{a}; {b}")),
            (a, b) => a.or(b),
        }
    }
}

/// Writes a revocation to the spool: `Queued` once it is on disk.
async fn spool(spool: &FileStore, id: SessionId, until: Millis, clock: &Clock) -> Durability {
    match spool.append(id, until, clock.now()).await {
        Durability::Written => Durability::Queued,
        other => other,
    }
}

struct Link {
    client: Client,
    mirror: Arc<Mirror>,
    clock: Clock,
    connected: Arc<AtomicBool>,
    queued: Arc<AtomicUsize>,
    spool: Arc<FileStore>,
    /// Revocations not yet written to Redis (also in the spool).
    pending: VecDeque<(SessionId, Millis)>,
    /// Keys and messages skipped as not revocations (logged once).
    skipped: u64,
}

/// `what` bounded by [`TIMEOUT`], a late answer being an error.
async fn bounded<T>(what: impl std::future::Future<Output = RedisResult<T>>) -> RedisResult<T> {
    timeout(TIMEOUT, what)
        .await
        .unwrap_or_else(|_| Err(std::io::Error::from(std::io::ErrorKind::TimedOut).into()))
}

fn key(id: &SessionId) -> String {
    format!("{KEY_PREFIX}{}", id.to_hex())
}

impl Link {
    async fn run(mut self, mut requests: mpsc::UnboundedReceiver<Revoke>) {
        let mut retry = FIRST_RETRY;
        let mut outage = false;
        loop {
            match self.connect().await {
                Ok((mut conn, mut pubsub)) => {
                    if outage {
                        rocket::info!("revocations: Redis is reachable again");
                    }
                    retry = FIRST_RETRY;
                    self.connected.store(true, Ordering::SeqCst);
                    let ended = self.serve(&mut conn, &mut pubsub, &mut requests).await;
                    self.connected.store(false, Ordering::SeqCst);
                    match ended {
                        Ok(()) => return, // the app is shutting down
                        Err(e) => {
                            rocket::warn!("revocations: Redis unreachable ({e}); queuing");
                            outage = true;
                        }
                    }
                }
                Err(e) => {
                    if !outage {
                        rocket::warn!("revocations: Redis unreachable ({e}); queuing");
                        outage = true;
                    }
                }
            }
            // Until the next try, revocations are queued and answered.
            let deadline = sleep(retry);
            rocket::tokio::pin!(deadline);
            loop {
                rocket::tokio::select! {
                    _ = &mut deadline => break,
                    request = requests.recv() => match request {
                        Some(request) => self.queue(request).await,
                        None => return,
                    },
                }
            }
            retry = (retry * 2).min(LAST_RETRY);
        }
    }

    /// Connects, subscribes, loads what Redis holds, then writes back what
    /// it lacks and what was queued.
    async fn connect(&mut self) -> RedisResult<(MultiplexedConnection, PubSub)> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT));
        let mut conn = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        let mut pubsub = bounded(self.client.get_async_pubsub()).await?;
        bounded(pubsub.subscribe(CHANNEL)).await?;
        self.load(&mut conn).await?;
        let now = self.clock.now();
        for (id, until) in self.mirror.live(now) {
            self.write(&mut conn, id, until, true).await?;
        }
        while let Some((id, until)) = self.pending.front().copied() {
            self.write(&mut conn, id, until, false).await?;
            self.pending.pop_front();
            self.queued.store(self.pending.len(), Ordering::Relaxed);
        }
        // Redis holds everything this instance knows: the spool's lines
        // have done their work.
        if let Err(e) = self.spool.clear() {
            rocket::warn!("revocations: the spool could not be emptied: {e}");
        }
        Ok((conn, pubsub))
    }

    /// Spools a revocation Redis could not take, keeps it for the next
    /// connection, and answers the logout.
    async fn queue(&mut self, request: Revoke) {
        let stored = spool(&self.spool, request.id, request.until, &self.clock).await;
        self.pending.push_back((request.id, request.until));
        self.queued.store(self.pending.len(), Ordering::Relaxed);
        let _ = request.done.send(stored);
    }

    /// Counts a key or message that is not a revocation; the first is
    /// logged, so junk in Redis is seen without flooding the log.
    fn skip(&mut self, what: &str) {
        if self.skipped == 0 {
            rocket::warn!("revocations: skipping a {what} in Redis that is not a revocation");
        }
        self.skipped += 1;
    }

    /// Every revocation Redis holds, into memory; anything else under the
    /// prefix is skipped.
    async fn load(&mut self, conn: &mut MultiplexedConnection) -> RedisResult<()> {
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{KEY_PREFIX}*"))
                .arg("COUNT")
                .arg(1000)
                .query_async(conn)
                .await?;
            if !keys.is_empty() {
                // As raw values: one that is not a number must not fail
                // the load of all the others.
                let untils: Vec<redis::Value> =
                    redis::cmd("MGET").arg(&keys).query_async(conn).await?;
                for (key, until) in keys.iter().zip(untils) {
                    let id = key.strip_prefix(KEY_PREFIX).and_then(SessionId::from_hex);
                    let until = match until {
                        redis::Value::Nil => continue, // expired since the scan
                        value => redis::from_redis_value::<Millis>(value).ok(),
                    };
                    match (id, until) {
                        (Some(id), Some(until)) => {
                            self.mirror.insert(id, until);
                        }
                        _ => self.skip("key"),
                    }
                }
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    /// Writes one revocation with a time-to-live of the session's remaining
    /// life, and announces it. With `only_if_missing`, a revocation Redis
    /// already holds is neither written nor announced again.
    async fn write(
        &self,
        conn: &mut MultiplexedConnection,
        id: SessionId,
        until: Millis,
        only_if_missing: bool,
    ) -> RedisResult<()> {
        let remaining = until.saturating_sub(self.clock.now());
        if remaining == 0 {
            return Ok(());
        }
        let mut set = redis::cmd("SET");
        set.arg(key(&id)).arg(until).arg("PX").arg(remaining);
        if only_if_missing {
            set.arg("NX");
        }
        let written: Option<String> = set.query_async(conn).await?;
        if written.is_some() {
            redis::cmd("PUBLISH")
                .arg(CHANNEL)
                .arg(format!("{} {until}", id.to_hex()))
                .query_async::<i64>(conn)
                .await?;
        }
        Ok(())
    }

    /// Writes revocations as they come and applies announcements, until
    /// the connection fails (an error) or the app stops (`Ok`).
    async fn serve(
        &mut self,
        conn: &mut MultiplexedConnection,
        pubsub: &mut PubSub,
        requests: &mut mpsc::UnboundedReceiver<Revoke>,
    ) -> RedisResult<()> {
        let mirror = self.mirror.clone();
        let mut announcements = pubsub.on_message();
        loop {
            rocket::tokio::select! {
                request = requests.recv() => {
                    let Some(request) = request else { return Ok(()) };
                    match self.write(conn, request.id, request.until, false).await {
                        Ok(()) => {
                            let _ = request.done.send(Durability::Written);
                        }
                        Err(e) => {
                            self.queue(request).await;
                            return Err(e);
                        }
                    }
                }
                message = announcements.next() => {
                    let Some(message) = message else {
                        return Err(std::io::Error::from(std::io::ErrorKind::ConnectionReset).into());
                    };
                    let payload: String = message.get_payload().unwrap_or_default();
                    match parse_announcement(&payload) {
                        Some((id, until)) => {
                            mirror.insert(id, until);
                        }
                        None => self.skip("message"),
                    }
                }
            }
        }
    }
}

/// An announcement as [`Link::write`] publishes it: `<id> <until>`.
fn parse_announcement(payload: &str) -> Option<(SessionId, Millis)> {
    let (id, until) = payload.split_once(' ')?;
    Some((SessionId::from_hex(id)?, until.parse().ok()?))
}
