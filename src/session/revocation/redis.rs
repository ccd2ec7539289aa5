//! Revocations shared through Redis (or Valkey) by every instance.
//!
//! Each revocation is written under its own key, with a time-to-live equal
//! to the session's remaining life, and announced on a channel; every
//! instance applies the announcements to its memory. An instance that
//! connects (or reconnects) subscribes first, then loads every revocation
//! Redis holds, then writes back, and announces, each one it holds that
//! Redis lacks: a Redis restarted empty gets back everything any running
//! instance still knows. While Redis is unreachable, revocations are queued
//! and the connection is retried with a backoff capped at five seconds.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{MultiplexedConnection, PubSub};
use redis::{AsyncConnectionConfig, Client, RedisResult};
use rocket::futures::StreamExt;
use rocket::tokio::sync::{mpsc, oneshot};
use rocket::tokio::time::{sleep, timeout};

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
}

impl RedisStore {
    /// Starts the link on the current Tokio runtime (Rocket's, at ignition).
    pub(super) fn start(
        url: &str,
        mirror: Arc<Mirror>,
        clock: Clock,
    ) -> Result<RedisStore, String> {
        let client = Client::open(url)
            .map_err(|_| "session_revocation_store is not a valid Redis URL".to_owned())?;
        let (requests, queue) = mpsc::unbounded_channel();
        let connected = Arc::new(AtomicBool::new(false));
        let link = Link {
            client,
            mirror,
            clock,
            connected: connected.clone(),
            pending: VecDeque::new(),
        };
        rocket::tokio::spawn(link.run(queue));
        Ok(RedisStore {
            requests,
            connected,
        })
    }

    pub(super) async fn revoke(&self, id: SessionId, until: Millis) -> Durability {
        let (done, answer) = oneshot::channel();
        if self.requests.send(Revoke { id, until, done }).is_err() {
            return Durability::Queued;
        }
        answer.await.unwrap_or(Durability::Queued)
    }

    pub(super) fn is_connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }
}

struct Link {
    client: Client,
    mirror: Arc<Mirror>,
    clock: Clock,
    connected: Arc<AtomicBool>,
    /// Revocations not yet written to Redis.
    pending: VecDeque<(SessionId, Millis)>,
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
                        Some(request) => {
                            self.pending.push_back((request.id, request.until));
                            let _ = request.done.send(Durability::Queued);
                        }
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
        let mut pubsub = timeout(TIMEOUT, self.client.get_async_pubsub())
            .await
            .map_err(|_| {
                redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut))
            })??;
        pubsub.subscribe(CHANNEL).await?;
        self.load(&mut conn).await?;
        let now = self.clock.now();
        for (id, until) in self.mirror.live(now) {
            self.write(&mut conn, id, until, true).await?;
        }
        while let Some((id, until)) = self.pending.front().copied() {
            self.write(&mut conn, id, until, false).await?;
            self.pending.pop_front();
        }
        Ok((conn, pubsub))
    }

    /// Every revocation Redis holds, into memory.
    async fn load(&self, conn: &mut MultiplexedConnection) -> RedisResult<()> {
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
                let untils: Vec<Option<Millis>> =
                    redis::cmd("MGET").arg(&keys).query_async(conn).await?;
                for (key, until) in keys.iter().zip(untils) {
                    let id = key.strip_prefix(KEY_PREFIX).and_then(SessionId::from_hex);
                    if let (Some(id), Some(until)) = (id, until) {
                        self.mirror.insert(id, until);
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
                            self.pending.push_back((request.id, request.until));
                            let _ = request.done.send(Durability::Queued);
                            return Err(e);
                        }
                    }
                }
                message = announcements.next() => {
                    let Some(message) = message else {
                        return Err(std::io::Error::from(std::io::ErrorKind::ConnectionReset).into());
                    };
                    let payload: String = message.get_payload().unwrap_or_default();
                    if let Some((id, until)) = payload.split_once(' ') {
                        if let (Some(id), Ok(until)) = (SessionId::from_hex(id), until.parse()) {
                            mirror.insert(id, until);
                        }
                    }
                }
            }
        }
    }
}
