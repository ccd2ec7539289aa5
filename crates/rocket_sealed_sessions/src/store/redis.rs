//! Revocations shared through Redis (or Valkey) by every instance (the
//! `redis` feature): one server, Sentinel or a Cluster, by URL.
//!
//! Each revocation is written under its own key, with a time-to-live of
//! the session's remaining life plus the clock skew allowed, and announced
//! on a channel; every instance applies the announcements to its memory.
//! An instance that connects (or reconnects) finds the primary (Sentinel
//! names it anew each time), subscribes, loads every revocation Redis
//! holds, then writes back, and announces, each one it holds that Redis
//! lacks. A probe every [`PROBE_EVERY`] checks a marker of the instance's
//! own: gone, Redis lost its data (`FLUSHALL`, an empty replica promoted),
//! and everything still alive is written back; unanswered, the link is cut
//! (a silent partition) and connects again. Where the primary has a
//! replica, a write is acknowledged only once one has it (`WAIT`).
//!
//! While Redis is out, revocations are written to the local spool file
//! before the logout answers, and the connection is retried with a backoff
//! capped at [`LAST_RETRY`]; the spool is read back at start, so a queued
//! revocation outlives its instance, and emptied only once Redis (and a
//! replica, where there is one) has it all.
//!
//! Every call to Redis is bounded by [`TIMEOUT`], and a logout's wait for
//! the link by [`LOGOUT_WAIT`]: past it, the revocation is spooled by the
//! logout itself. Keys and messages that are not revocations, or that no
//! instance could have made, are skipped and counted.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionLike, MultiplexedConnection, PubSub};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{
    AsyncConnectionConfig, Client, Cmd, FromRedisValue, Pipeline, RedisError, RedisFuture,
    RedisResult, Value,
};
use rocket::futures::StreamExt;
use rocket::tokio::sync::{mpsc, oneshot};
use rocket::tokio::time::{sleep, timeout};

use crate::clock::{to_millis, Clock, Millis};
use crate::defaults;
use crate::id::SessionId;
use crate::limits::CLOCK_SKEW;
use crate::store::api::{RevocationStore, StoreError};
use crate::store::file::{open_logged, Compaction, FileLog};
use crate::store::memory::Memory;
use crate::store::revocation::{Condition, Durability, Health, Revocation};
use crate::store::topology::Topology;

/// The bound on every call to Redis.
const TIMEOUT: Duration = Duration::from_secs(2);
/// The longest a logout waits for the link before it spools the
/// revocation itself: with the spool's fsync, a logout answers within 3 s
/// whatever Redis does.
const LOGOUT_WAIT: Duration = Duration::from_millis(1500);
/// How often a connected link checks that Redis answers and still holds
/// what was written: a silent partition, or data Redis lost, is found
/// within this plus [`TIMEOUT`].
const PROBE_EVERY: Duration = Duration::from_secs(3);
/// How long a write waits for a replica to acknowledge it (`WAIT`), where
/// the primary has one.
const REPLICA_WAIT: Duration = Duration::from_millis(500);
/// How long an instance's marker outlives its last probe: the markers of
/// instances gone are dropped by Redis.
const MARKER_LIFETIME: Duration = Duration::from_secs(60);
const FIRST_RETRY: Duration = Duration::from_millis(100);
/// The longest wait between tries while Redis is out: once it is back,
/// sharing resumes within this plus a connection's set-up.
const LAST_RETRY: Duration = Duration::from_secs(2);

struct Revoke {
    revocation: Revocation,
    done: oneshot::Sender<Durability>,
}

/// Revocations kept in Redis (or Valkey) and announced to every instance
/// that shares it; spooled to a local file while it is unreachable.
///
/// ```no_run
/// use rocket_sealed_sessions::{store::RedisStore, Sessions};
///
/// let redis = RedisStore::new("redis://127.0.0.1:6379/0")?
///     .prefix("my_app:")
///     .spool("data/my-app-spool");
/// let sessions = Sessions::builder().revocations(redis).build();
/// # let _ = rocket::build().attach(sessions);
/// # Ok::<(), rocket_sealed_sessions::store::StoreError>(())
/// ```
pub struct RedisStore {
    topology: Topology,
    /// The URL without its user name and password.
    described: String,
    prefix: String,
    spool_path: std::path::PathBuf,
    link: Option<Linked>,
}

/// What an open store holds.
struct Linked {
    requests: mpsc::UnboundedSender<Revoke>,
    condition: Shared,
    /// Revocations waiting for Redis, for the metrics.
    queued: Arc<AtomicUsize>,
    spool: Arc<FileLog>,
    clock: Clock,
}

impl RedisStore {
    /// A store at `url`, with keys and channel under
    /// [`defaults::REDIS_PREFIX`] and its spool at
    /// [`defaults::REVOCATION_SPOOL`]. The URL names, in the convention
    /// of the `fred` client:
    ///
    /// - one server: `redis://HOST:PORT/DB`, or `rediss://` over TLS;
    /// - Sentinel: `redis-sentinel://HOST:PORT/DB?node=HOST:PORT&sentinelServiceName=NAME`,
    ///   the sentinels (the first, then each `node`), asked for the
    ///   primary again at every connection;
    /// - a Cluster: `redis-cluster://HOST:PORT?node=HOST:PORT`, its nodes
    ///   (the keys then share one slot, by a hash tag on the prefix).
    ///
    /// Each takes `user:password@` (for the data servers) as `redis://`
    /// does, and has its `rediss-` form, TLS to every server. Refuses a
    /// URL that is not one,
    /// or that turns off TLS verification (`#insecure`); no message holds
    /// the URL, which may hold a password. Nothing is connected until the
    /// app ignites, and Redis may be down then: the app serves, and spools
    /// revocations until it is back.
    pub fn new(url: &str) -> Result<RedisStore, StoreError> {
        let topology = Topology::parse(url)?;
        if let Topology::Node(client) = &topology {
            if let redis::ConnectionAddr::TcpTls { insecure: true, .. } =
                client.get_connection_info().addr()
            {
                return Err(StoreError::Setting(
                    "session_revocation_store: `#insecure` would skip checking Redis's \
                 certificate: remove it, and name the CA that signed the certificate in \
                 SSL_CERT_FILE"
                        .to_owned(),
                ));
            }
        }
        Ok(RedisStore {
            topology,
            described: describe_url(url),
            prefix: defaults::REDIS_PREFIX.to_owned(),
            spool_path: defaults::REVOCATION_SPOOL.into(),
            link: None,
        })
    }

    /// Keys are `PREFIX` + `revoked:` + the identifier, and the channel
    /// `PREFIX` + `revocations`: apps that share one Redis keep apart by
    /// it.
    pub fn prefix(mut self, prefix: impl Into<String>) -> RedisStore {
        self.prefix = prefix.into();
        self
    }

    /// The local file where revocations wait while Redis is unreachable;
    /// one per instance.
    pub fn spool(mut self, path: impl Into<std::path::PathBuf>) -> RedisStore {
        self.spool_path = path.into();
        self
    }

    /// Credentials Redis refuses are a setting to fix, not an outage to wait
    /// out: one connection, bounded like the link's, tells them apart. Any
    /// other failure (unreachable, a certificate not trusted) is an outage:
    /// the app starts, queues, and its health says so. Checked before the
    /// spool is opened, so a refusal touches nothing. (With Sentinel, the
    /// primary is not known before the link asks: refused credentials are
    /// then an outage that says why in the log.)
    fn check_credentials(&self) -> Result<(), StoreError> {
        let client = match &self.topology {
            Topology::Node(client) => (**client).clone(),
            Topology::Cluster(nodes) => match nodes.first().map(|node| Client::open(node.as_str()))
            {
                Some(Ok(client)) => client,
                _ => return Ok(()),
            },
            Topology::Sentinel(_) => return Ok(()),
        };
        let checked = client
            .get_connection_with_timeout(TIMEOUT)
            .and_then(|mut connection| {
                connection.set_read_timeout(Some(TIMEOUT))?;
                connection.set_write_timeout(Some(TIMEOUT))?;
                redis::cmd("PING").query::<String>(&mut connection)
            });
        match checked {
            Err(e)
                if e.kind() == redis::ErrorKind::AuthenticationFailed
                    || matches!(e.code(), Some("NOAUTH" | "WRONGPASS")) =>
            {
                // Neither the URL nor the password: Redis's own words only.
                Err(StoreError::Credentials {
                    code: e.code().unwrap_or("authentication failed").to_owned(),
                })
            }
            _ => Ok(()),
        }
    }

    /// Starts the link on the current Tokio runtime (Rocket's, at ignition).
    /// What the spool held is already in `memory`, and so reaches Redis with
    /// everything else the instance holds once it connects.
    fn start(
        &self,
        spool: FileLog,
        memory: Arc<Memory>,
        clock: Clock,
    ) -> Result<Linked, StoreError> {
        let (requests, queue) = mpsc::unbounded_channel();
        let condition = Shared::default();
        let queued = Arc::new(AtomicUsize::new(0));
        let spool = Arc::new(spool);
        let link = Link {
            topology: self.topology.clone(),
            keys: Keys::new(&self.prefix, matches!(self.topology, Topology::Cluster(_))),
            memory,
            clock: clock.clone(),
            condition: condition.clone(),
            queued: queued.clone(),
            spool: spool.clone(),
            pending: VecDeque::new(),
            skipped: 0,
            replicas: 0,
        };
        rocket::tokio::spawn(link.run(queue));
        Ok(Linked {
            requests,
            condition,
            queued,
            spool,
            clock,
        })
    }
}

impl Linked {
    /// Hands the revocation to the link and waits for its answer, at most
    /// [`LOGOUT_WAIT`]; past that (or with the link gone) the revocation is
    /// spooled here, and the link's own write, if it comes, is harmless.
    async fn revoke(&self, revocation: Revocation) -> Durability {
        let (done, answer) = oneshot::channel();
        let request = Revoke {
            revocation: revocation.clone(),
            done,
        };
        if self.requests.send(request).is_ok() {
            if let Ok(Ok(durability)) = timeout(LOGOUT_WAIT, answer).await {
                return durability;
            }
        }
        rocket::warn!("revocations: Redis did not answer in time; spooling");
        spool(&self.spool, revocation, &self.clock).await
    }

    /// Redis out, or a spool that could not be written.
    fn trouble(&self) -> Option<String> {
        let outage = match self.condition.get() {
            Condition::Ready => None,
            condition => Some(format!(
                "{}: {} revocation(s) wait in the spool file",
                words(condition),
                self.queued.load(Ordering::Relaxed)
            )),
        };
        match (outage, self.spool.trouble()) {
            (Some(a), Some(b)) => Some(format!("{a}; {b}")),
            (a, b) => a.or(b),
        }
    }
}

#[rocket::async_trait]
impl RevocationStore for RedisStore {
    async fn open(&mut self, memory: Arc<Memory>, clock: Clock) -> Result<(), StoreError> {
        self.check_credentials()?;
        let path = self.spool_path.clone();
        let spool = open_logged(&path, &memory, clock.millis(), Compaction::ByOwner)
            .map_err(|source| StoreError::Spool { path, source })?;
        self.link = Some(self.start(spool, memory, clock)?);
        Ok(())
    }

    async fn write(&self, revocation: Revocation) -> Durability {
        match &self.link {
            Some(link) => link.revoke(revocation).await,
            None => Durability::MemoryOnly,
        }
    }

    fn health(&self) -> Health {
        match &self.link {
            Some(link) => Health {
                trouble: link.trouble(),
                queued: link.queued.load(Ordering::Relaxed),
                reachable: link.condition.get() == Condition::Ready,
                condition: link.condition.get(),
            },
            None => Health {
                trouble: Some("Redis: not open".to_owned()),
                queued: 0,
                reachable: false,
                condition: Condition::Unreachable,
            },
        }
    }

    fn describe(&self) -> String {
        self.described.clone()
    }
}

/// The URL in words for a log line: without its user name and password.
fn describe_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("redis", url));
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{host}")
}

/// Writes a revocation to the spool: `Queued` once it is on disk.
async fn spool(spool: &FileLog, revocation: Revocation, clock: &Clock) -> Durability {
    match spool.append(revocation, clock.millis()).await {
        Durability::Written => Durability::Queued,
        other => other,
    }
}

/// The names under a prefix: the keys of session and subject revocations,
/// and the channel.
struct Keys {
    session: String,
    subject: String,
    channel: String,
    /// This instance's own marker, set once it has written back what it
    /// holds and kept alive by its probes: gone, it says that Redis lost
    /// its data (`FLUSHALL`, an empty replica promoted). One per instance,
    /// so that each writes back what it alone may hold.
    marker: String,
}

impl Keys {
    /// The names under `prefix`. In a cluster the keys carry it as a hash
    /// tag (`{PREFIX}revoked:…`): all in one slot, so that one node holds
    /// them, one `SCAN` finds them, and one `MGET` reads them.
    fn new(prefix: &str, cluster: bool) -> Keys {
        let keys = if cluster {
            format!("{{{prefix}}}")
        } else {
            prefix.to_owned()
        };
        Keys {
            session: format!("{keys}revoked:"),
            subject: format!("{keys}revoked-subject:"),
            channel: format!("{prefix}revocations"),
            marker: format!("{keys}held:{}", SessionId::random().to_hex()),
        }
    }

    /// The key a revocation is kept under, and the value kept there: the
    /// session's end, or a subject's `BEFORE UNTIL`.
    fn entry(&self, revocation: &Revocation) -> (String, String) {
        match revocation {
            Revocation::Session { id, .. } => (
                format!("{}{}", self.session, id.to_hex()),
                revocation.until_ms().to_string(),
            ),
            Revocation::Subject {
                subject, before, ..
            } => (
                format!("{}{}", self.subject, crate::id::hex(subject.as_bytes())),
                format!("{} {}", to_millis(*before), revocation.until_ms()),
            ),
        }
    }

    /// The revocation kept under `key` with `value`, as [`Keys::entry`]
    /// writes them; `None` for anything else.
    fn revocation(&self, key: &str, value: &str) -> Option<Revocation> {
        if let Some(id) = key.strip_prefix(&self.session) {
            return Revocation::from_line(&format!("{id} {value}"));
        }
        let subject = key.strip_prefix(&self.subject)?;
        match Revocation::from_line(&format!("~{subject} {value}"))? {
            found @ Revocation::Subject { .. } => Some(found),
            Revocation::Session { .. } => None,
        }
    }
}

struct Link {
    topology: Topology,
    keys: Keys,
    memory: Arc<Memory>,
    clock: Clock,
    condition: Shared,
    queued: Arc<AtomicUsize>,
    spool: Arc<FileLog>,
    /// Revocations not yet written to Redis (also in the spool).
    pending: VecDeque<Revocation>,
    /// Keys and messages skipped as not revocations (logged once).
    skipped: u64,
    /// The replicas a write waits for (`WAIT`): 1 where the primary has
    /// any, so that a failover keeps what was acknowledged; 0 alone.
    replicas: u32,
}

/// The connection that carries the link's commands: to one server, or to
/// a cluster, whose client follows its slots (and `MOVED`) itself.
enum Conn {
    Node(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl Conn {
    /// `cmd` (which names no key: `SCAN`, `INFO`, `WAIT`) sent where the
    /// keys live: in a cluster, the primary of the slot `key` hashes to.
    async fn home<T: FromRedisValue>(&mut self, cmd: &Cmd, key: &str) -> RedisResult<T> {
        match self {
            Conn::Node(conn) => cmd.query_async(conn).await,
            Conn::Cluster(conn) => {
                let route = Route::with_key(key, SlotAddr::Master);
                let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route));
                Ok(redis::from_redis_value(
                    conn.route_command(cmd.clone(), routing).await?,
                )?)
            }
        }
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Node(conn) => conn.req_packed_command(cmd),
            Conn::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Node(conn) => conn.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Node(conn) => conn.get_db(),
            Conn::Cluster(conn) => conn.get_db(),
        }
    }
}

/// A connection for commands and one for announcements, to one server.
async fn node_connection(client: Client) -> RedisResult<(Conn, PubSub)> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(TIMEOUT))
        .set_response_timeout(Some(TIMEOUT));
    let conn = bounded(client.get_multiplexed_async_connection_with_config(&config)).await?;
    let pubsub = bounded(client.get_async_pubsub()).await?;
    Ok((Conn::Node(conn), pubsub))
}

/// A subscription on the first of a cluster's `nodes` that takes one: an
/// announcement published on any node reaches every node's subscribers.
async fn cluster_pubsub(nodes: &[String]) -> RedisResult<PubSub> {
    let mut last = None;
    for node in nodes {
        match bounded(async { Client::open(node.as_str())?.get_async_pubsub().await }).await {
            Ok(pubsub) => return Ok(pubsub),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound).into()))
}

/// `what` bounded by [`TIMEOUT`], a late answer being an error.
async fn bounded<T>(what: impl std::future::Future<Output = RedisResult<T>>) -> RedisResult<T> {
    timeout(TIMEOUT, what)
        .await
        .unwrap_or_else(|_| Err(std::io::Error::from(std::io::ErrorKind::TimedOut).into()))
}

/// The link's [`Condition`], shared with the store's health: unreachable
/// until the first connection.
#[derive(Clone)]
struct Shared(Arc<AtomicU8>);

impl Default for Shared {
    fn default() -> Shared {
        let shared = Shared(Arc::default());
        shared.set(Condition::Unreachable);
        shared
    }
}

impl Shared {
    fn get(&self) -> Condition {
        Condition::ALL[usize::from(self.0.load(Ordering::SeqCst))]
    }

    fn set(&self, condition: Condition) {
        let index = Condition::ALL.iter().position(|c| *c == condition);
        self.0.store(index.unwrap_or(0) as u8, Ordering::SeqCst);
    }
}

/// A condition in words, for `/readyz` and the log.
fn words(condition: Condition) -> &'static str {
    match condition {
        Condition::Ready => "Redis is reachable",
        Condition::Unreachable => "Redis unreachable",
        Condition::WritesRefused => "Redis refuses writes (READONLY, MOVED or NOPERM)",
        Condition::Partitioned => "Redis does not answer in time (a partition?)",
    }
}

/// The answers that refuse every write, not one: a replica, another
/// node's slot, a user without the right. The link connects again (and
/// finds the primary again) rather than skip an entry.
fn refuses_writes(e: &RedisError) -> bool {
    matches!(
        e.code(),
        Some("READONLY" | "MOVED" | "ASK" | "NOPERM" | "CLUSTERDOWN" | "TRYAGAIN" | "MASTERDOWN")
    )
}

/// The primary took the writes but no replica acknowledged them in time:
/// the link connects again rather than empty the spool.
fn not_replicated() -> RedisError {
    RedisError::from((redis::ErrorKind::Io, "no replica acknowledged the writes"))
}

/// What an error says of the link.
fn condition_of(e: &RedisError) -> Condition {
    if refuses_writes(e) {
        Condition::WritesRefused
    } else if e.is_timeout() {
        Condition::Partitioned
    } else {
        Condition::Unreachable
    }
}

/// Whether an error is about one entry alone (Redis refused that value),
/// so that the others still go.
fn only_this_entry(e: &RedisError) -> bool {
    e.code().is_some() && !refuses_writes(e)
}

impl Link {
    async fn run(mut self, mut requests: mpsc::UnboundedReceiver<Revoke>) {
        let mut retry = FIRST_RETRY;
        let mut outage = None;
        loop {
            match self.connect().await {
                Ok((mut conn, mut pubsub)) => {
                    if outage.is_some() {
                        rocket::info!("revocations: Redis is reachable again");
                    }
                    retry = FIRST_RETRY;
                    self.condition.set(Condition::Ready);
                    let ended = self.serve(&mut conn, &mut pubsub, &mut requests).await;
                    match ended {
                        Ok(()) => return, // the app is shutting down
                        Err(e) => outage = Some(self.out(&e, None)),
                    }
                }
                Err(e) => outage = Some(self.out(&e, outage)),
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

    /// Records why Redis is out, logging it when it is news (not the same
    /// as `before`).
    fn out(&self, e: &RedisError, before: Option<Condition>) -> Condition {
        let condition = condition_of(e);
        if before != Some(condition) {
            rocket::warn!("revocations: {} ({e}); queuing", words(condition));
        }
        self.condition.set(condition);
        condition
    }

    /// Connects (to the primary the topology names now), subscribes, loads
    /// what Redis holds, then writes back what it lacks and what was
    /// queued. The spool is emptied only once Redis has it all, on a
    /// replica too where there is one.
    async fn connect(&mut self) -> RedisResult<(Conn, PubSub)> {
        let (mut conn, mut pubsub) = match &self.topology {
            Topology::Cluster(nodes) => {
                let cluster = ClusterClient::builder(nodes.clone())
                    .connection_timeout(TIMEOUT)
                    .response_timeout(TIMEOUT)
                    .build()?;
                let conn = bounded(cluster.get_async_connection()).await?;
                (Conn::Cluster(conn), cluster_pubsub(nodes).await?)
            }
            Topology::Node(client) => node_connection((**client).clone()).await?,
            Topology::Sentinel(sentinels) => {
                let primary = bounded(async { sentinels.lock().await.async_get_client().await });
                node_connection(primary.await?).await?
            }
        };
        bounded(pubsub.subscribe(&self.keys.channel)).await?;
        self.replicas = self.replicas_of(&mut conn).await?;
        self.load(&mut conn).await?;
        self.write_back(&mut conn).await?;
        if !self.settle(&mut conn).await? {
            return Err(not_replicated());
        }
        Ok((conn, pubsub))
    }

    /// How many replicas a write waits for: one where the primary has any
    /// connected, none for a server alone. A user not allowed `INFO` gets
    /// none, as if alone.
    async fn replicas_of(&self, conn: &mut Conn) -> RedisResult<u32> {
        let info =
            bounded(conn.home::<String>(redis::cmd("INFO").arg("replication"), &self.keys.session))
                .await;
        let info = match info {
            Ok(info) => info,
            Err(e) if e.code() == Some("NOPERM") => return Ok(0),
            Err(e) => return Err(e),
        };
        let connected = info
            .lines()
            .find_map(|line| line.strip_prefix("connected_slaves:"))
            .and_then(|count| count.trim().parse::<u32>().ok())
            .unwrap_or(0);
        Ok(connected.min(1))
    }

    /// Whether every write so far on `conn` has reached the replicas a
    /// write waits for (at once, alone).
    async fn replicated(&self, conn: &mut Conn) -> RedisResult<bool> {
        if self.replicas == 0 {
            return Ok(true);
        }
        let wait = REPLICA_WAIT.as_millis() as u64;
        let acknowledged: u32 = bounded(conn.home(
            redis::cmd("WAIT").arg(self.replicas).arg(wait),
            &self.keys.session,
        ))
        .await?;
        Ok(acknowledged >= self.replicas)
    }

    /// Writes back every revocation still alive that Redis lacks, then
    /// sets the marker that says Redis has them.
    async fn write_back(&mut self, conn: &mut Conn) -> RedisResult<()> {
        for revocation in self.memory.live_at(self.clock.millis()) {
            self.write_or_skip(conn, &revocation, true).await?;
        }
        bounded(
            redis::cmd("SET")
                .arg(&self.keys.marker)
                .arg(1)
                .arg("PX")
                .arg(MARKER_LIFETIME.as_millis() as u64)
                .query_async::<()>(conn),
        )
        .await
    }

    /// [`Link::write`], where Redis refusing this one entry skips it (and
    /// logs it, once): only a connection's failure stops the others.
    async fn write_or_skip(
        &mut self,
        conn: &mut Conn,
        revocation: &Revocation,
        only_if_missing: bool,
    ) -> RedisResult<()> {
        match self.write(conn, revocation, only_if_missing).await {
            Err(e) if only_this_entry(&e) => {
                self.skip(&format!("revocation Redis refused ({e})"));
                Ok(())
            }
            other => other,
        }
    }

    /// Spools a revocation Redis could not take, keeps it for the next
    /// connection, and answers the logout.
    async fn queue(&mut self, request: Revoke) {
        let stored = spool(&self.spool, request.revocation.clone(), &self.clock).await;
        self.pending.push_back(request.revocation);
        self.queued.store(self.pending.len(), Ordering::Relaxed);
        let _ = request.done.send(stored);
    }

    /// Counts what is skipped: a key or message that is not a revocation
    /// (or one no instance could have made), a value Redis refused. The
    /// first is logged, so junk is seen without flooding the log.
    fn skip(&mut self, what: &str) {
        if self.skipped == 0 {
            rocket::warn!(
                "revocations: skipping a {what}; further ones are skipped without a word"
            );
        }
        self.skipped += 1;
    }

    /// `revocation` if an instance could have made it now.
    fn plausible(&self, revocation: Option<Revocation>) -> Option<Revocation> {
        revocation.filter(|revocation| revocation.is_plausible(self.clock.millis()))
    }

    /// Every revocation Redis holds, into memory; anything else under the
    /// prefix is skipped.
    async fn load(&mut self, conn: &mut Conn) -> RedisResult<()> {
        for pattern in [
            format!("{}*", self.keys.session),
            format!("{}*", self.keys.subject),
        ] {
            let mut cursor: u64 = 0;
            loop {
                let scan = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .clone();
                let (next, keys): (u64, Vec<String>) =
                    bounded(conn.home(&scan, &self.keys.session)).await?;
                if !keys.is_empty() {
                    // As raw values: one that is not text must not fail
                    // the load of all the others.
                    let values: Vec<redis::Value> =
                        bounded(redis::cmd("MGET").arg(&keys).query_async(conn)).await?;
                    for (key, value) in keys.iter().zip(values) {
                        let value = match value {
                            redis::Value::Nil => continue, // expired since the scan
                            value => redis::from_redis_value::<String>(value).ok(),
                        };
                        let found = value.and_then(|value| self.keys.revocation(key, &value));
                        match self.plausible(found) {
                            Some(revocation) => {
                                self.memory.insert(&revocation);
                            }
                            None => self.skip("key in Redis that is not a revocation"),
                        }
                    }
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(())
    }

    /// Writes one revocation with a time-to-live of what remains of it
    /// (plus the clock skew allowed, so that an instance whose clock is
    /// behind still finds it), and announces it. With `only_if_missing`, a
    /// revocation Redis already holds is neither written nor announced
    /// again.
    async fn write(
        &self,
        conn: &mut Conn,
        revocation: &Revocation,
        only_if_missing: bool,
    ) -> RedisResult<()> {
        let remaining = revocation.until_ms().saturating_sub(self.clock.millis());
        if remaining == 0 {
            return Ok(());
        }
        let lifetime = remaining.saturating_add(CLOCK_SKEW.as_millis() as Millis);
        let (key, value) = self.keys.entry(revocation);
        let mut set = redis::cmd("SET");
        set.arg(key).arg(value).arg("PX").arg(lifetime);
        if only_if_missing {
            set.arg("NX");
        }
        let written: Option<String> = bounded(set.query_async(conn)).await?;
        if written.is_some() {
            bounded(
                redis::cmd("PUBLISH")
                    .arg(&self.keys.channel)
                    .arg(revocation.to_line().trim_end())
                    .query_async::<i64>(conn),
            )
            .await?;
        }
        Ok(())
    }

    /// Writes again what waits in the spool and, once a replica has it
    /// all (at once, alone), empties the spool: Redis then holds
    /// everything this instance knows. Says whether it did.
    async fn settle(&mut self, conn: &mut Conn) -> RedisResult<bool> {
        for revocation in self.pending.clone() {
            self.write_or_skip(conn, &revocation, false).await?;
        }
        if !self.replicated(conn).await? {
            return Ok(false);
        }
        self.pending.clear();
        self.queued.store(0, Ordering::Relaxed);
        if let Err(e) = self.spool.clear() {
            rocket::warn!("revocations: the spool could not be emptied: {e}");
        }
        Ok(true)
    }

    /// Whether Redis still holds what this instance wrote, keeping its
    /// marker alive: its answer is the probe that finds a silent
    /// partition, too.
    async fn still_held(&self, conn: &mut Conn) -> RedisResult<bool> {
        bounded(
            redis::cmd("PEXPIRE")
                .arg(&self.keys.marker)
                .arg(MARKER_LIFETIME.as_millis() as u64)
                .query_async::<i64>(conn),
        )
        .await
        .map(|found| found == 1)
    }

    /// Writes revocations as they come and applies announcements, checking
    /// Redis every [`PROBE_EVERY`], until the connection fails (an error)
    /// or the app stops (`Ok`).
    async fn serve(
        &mut self,
        conn: &mut Conn,
        pubsub: &mut PubSub,
        requests: &mut mpsc::UnboundedReceiver<Revoke>,
    ) -> RedisResult<()> {
        let memory = self.memory.clone();
        let mut announcements = pubsub.on_message();
        let mut probe = rocket::tokio::time::interval(PROBE_EVERY);
        probe.set_missed_tick_behavior(rocket::tokio::time::MissedTickBehavior::Delay);
        probe.tick().await;
        loop {
            rocket::tokio::select! {
                request = requests.recv() => {
                    let Some(request) = request else { return Ok(()) };
                    match self.write(conn, &request.revocation, false).await {
                        Ok(()) => match self.replicated(conn).await {
                            Ok(true) => {
                                let _ = request.done.send(Durability::Written);
                            }
                            // On the primary alone, which a failover would
                            // lose: kept, and written again, until a
                            // replica has it.
                            Ok(false) => self.queue(request).await,
                            Err(e) => {
                                self.queue(request).await;
                                return Err(e);
                            }
                        },
                        Err(e) if only_this_entry(&e) => {
                            // Kept locally and in memory; Redis said no to
                            // this one alone.
                            self.skip(&format!("revocation Redis refused ({e})"));
                            self.queue(request).await;
                        }
                        Err(e) => {
                            self.queue(request).await;
                            return Err(e);
                        }
                    }
                }
                _ = probe.tick() => {
                    if !self.still_held(conn).await? {
                        let held = memory.live_at(self.clock.millis()).len();
                        rocket::warn!(
                            "revocations: Redis no longer holds what was written (emptied, \
                             or a replica without it promoted); writing back {held}"
                        );
                        self.write_back(conn).await?;
                    }
                    self.replicas = self.replicas_of(conn).await?;
                    if !self.pending.is_empty() {
                        self.settle(conn).await?;
                    }
                }
                message = announcements.next() => {
                    let Some(message) = message else {
                        return Err(std::io::Error::from(std::io::ErrorKind::ConnectionReset).into());
                    };
                    let payload: String = message.get_payload().unwrap_or_default();
                    match self.plausible(Revocation::from_line(&payload)) {
                        Some(revocation) => {
                            memory.insert(&revocation);
                        }
                        None => self.skip("message on the channel that is not a revocation"),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::from_millis;
    use crate::id::SessionId;

    #[test]
    fn urls_are_redis_urls_that_keep_tls_checked() {
        assert!(RedisStore::new("redis://127.0.0.1:6379/0").is_ok());
        for bad in [
            "redis://no host/",
            "http://example.org",
            "",
            "rediss://h:1/#insecure",
        ] {
            assert!(RedisStore::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_store_is_described_without_its_password() {
        let url = "rediss://app:s3cret@redis.example:6380/2";
        let store = RedisStore::new(url).unwrap();
        assert_eq!(store.describe(), "rediss://redis.example:6380/2");
    }

    #[test]
    fn keys_and_values_read_back_as_written() {
        let keys = Keys::new("app:", false);
        let at = from_millis;
        for revocation in [
            Revocation::Session {
                id: SessionId::random(),
                until: at(9),
            },
            Revocation::Subject {
                subject: "山田 太郎".into(),
                before: at(5),
                until: at(9),
            },
        ] {
            let (key, value) = keys.entry(&revocation);
            assert!(key.starts_with("app:revoked"), "{key}");
            assert_eq!(keys.revocation(&key, &value), Some(revocation));
        }
        assert_eq!(keys.revocation("app:revoked:zz", "9"), None);
        assert_eq!(keys.revocation("other:revoked:00", "9"), None);
        assert_eq!(keys.revocation("app:revoked-subject:61", "9"), None);
        assert_eq!(keys.channel, "app:revocations");
    }
}
