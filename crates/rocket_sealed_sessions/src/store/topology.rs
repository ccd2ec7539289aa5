//! Which Redis a [`RedisStore`](super::RedisStore) talks to, from its URL,
//! in the convention of the `fred` client:
//!
//! - `redis://` or `rediss://`: one server (or one name a managed Redis
//!   keeps pointing at its primary);
//! - `redis-sentinel://HOST:PORT?node=HOST:PORT&sentinelServiceName=NAME`:
//!   the sentinels (one or more `node`s besides the first), asked for the
//!   primary again at every connection;
//! - `redis-cluster://HOST:PORT?node=HOST:PORT`: a cluster's first nodes,
//!   from which the client learns the rest.
//!
//! Each has its `rediss-` variant (TLS to every server), and takes
//! `user:password@` and a database (`/0`; a cluster has only 0) as
//! `redis://` does; the user and password are for the data servers.

use std::sync::Arc;

use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{Client, IntoConnectionInfo, TlsMode};
use rocket::tokio::sync::Mutex;

use crate::store::api::StoreError;

/// The servers a store talks to.
#[derive(Clone)]
pub(crate) enum Topology {
    /// One server.
    Node(Box<Client>),
    /// Sentinels that name the primary.
    Sentinel(Arc<Mutex<SentinelClient>>),
    /// A cluster, by its first nodes' URLs (credentials included).
    Cluster(Vec<String>),
}

/// A URL, taken apart.
struct Parts {
    tls: bool,
    /// `user:password@`, as written (percent-encoded), or empty.
    credentials: String,
    /// `/N`, or empty.
    database: String,
    /// The first `HOST:PORT`, then each `node`.
    nodes: Vec<String>,
    service: Option<String>,
}

fn refused(why: impl Into<String>) -> StoreError {
    StoreError::Setting(format!(
        "session_revocation_store: {} (the value is not shown)",
        why.into()
    ))
}

impl Topology {
    /// The topology `url` names; `None` for a plain `redis://` or
    /// `rediss://` URL. A malformed one is refused, in words that never
    /// hold its password.
    pub(crate) fn parse(url: &str) -> Result<Topology, StoreError> {
        let (scheme, _) = url.split_once("://").unwrap_or((url, ""));
        match scheme {
            "redis" | "rediss" => {
                let client =
                    Client::open(url).map_err(|_| refused("it is not a valid Redis URL"))?;
                Ok(Topology::Node(Box::new(client)))
            }
            "redis-sentinel" | "rediss-sentinel" => {
                let parts = parts(url, scheme.starts_with("rediss"), true)?;
                sentinel(parts)
            }
            "redis-cluster" | "rediss-cluster" => {
                let parts = parts(url, scheme.starts_with("rediss"), false)?;
                if !parts.database.is_empty() && parts.database != "/0" {
                    return Err(refused("a cluster has only database 0"));
                }
                let scheme = if parts.tls { "rediss" } else { "redis" };
                let nodes = parts
                    .nodes
                    .iter()
                    .map(|node| format!("{scheme}://{}{node}", parts.credentials))
                    .collect();
                Ok(Topology::Cluster(nodes))
            }
            _ => Err(refused(
                "it must be a redis://, rediss://, redis-sentinel:// or redis-cluster:// URL",
            )),
        }
    }
}

/// Takes `url` apart: `SCHEME://[CREDENTIALS@]HOST:PORT[/DB][?node=…]`.
fn parts(url: &str, tls: bool, sentinel: bool) -> Result<Parts, StoreError> {
    let parsed = url::Url::parse(url).map_err(|_| refused("it is not a valid URL"))?;
    if parsed.fragment().is_some() {
        return Err(refused("a topology URL takes no `#…`"));
    }
    let host = parsed
        .host_str()
        .filter(|host| !host.is_empty())
        .ok_or_else(|| refused("it names no host"))?;
    let port = parsed.port().ok_or_else(|| refused("it names no port"))?;
    let credentials = match (parsed.username(), parsed.password()) {
        ("", None) => String::new(),
        (user, None) => format!("{user}@"),
        (user, Some(password)) => format!("{user}:{password}@"),
    };
    let database = match parsed.path() {
        "" | "/" => String::new(),
        path if path[1..].parse::<u16>().is_ok() => path.to_owned(),
        _ => return Err(refused("its path must be a database number, such as /0")),
    };
    let mut nodes = vec![format!("{host}:{port}")];
    let mut service = None;
    for (key, value) in parsed.query_pairs() {
        match key.as_ref() {
            "node" => {
                let (host, port) = value
                    .rsplit_once(':')
                    .filter(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
                    .ok_or_else(|| refused("each `node` must be HOST:PORT"))?;
                nodes.push(format!("{host}:{port}"));
            }
            "sentinelServiceName" if sentinel => service = Some(value.into_owned()),
            // Not named: a password with an unencoded `?` would make
            // part of it a parameter's name.
            _ => {
                return Err(refused(
                    "it has a parameter other than `node` (and, for Sentinel, \
                     `sentinelServiceName`)",
                ))
            }
        }
    }
    if sentinel && service.as_deref().is_none_or(str::is_empty) {
        return Err(refused("a Sentinel URL needs `sentinelServiceName=NAME`"));
    }
    Ok(Parts {
        tls,
        credentials,
        database,
        nodes,
        service,
    })
}

fn sentinel(parts: Parts) -> Result<Topology, StoreError> {
    let scheme = if parts.tls { "rediss" } else { "redis" };
    let sentinels: Vec<String> = parts
        .nodes
        .iter()
        .map(|node| format!("{scheme}://{node}"))
        .collect();
    // The data servers' user, password and database, as `redis://` reads
    // them (percent-decoded), on a placeholder host.
    let template = format!(
        "{scheme}://{}localhost{}",
        parts.credentials, parts.database
    );
    let settings = template
        .as_str()
        .into_connection_info()
        .map_err(|_| refused("its user, password or database cannot be read"))?
        .redis_settings()
        .clone();
    let mut node = SentinelNodeConnectionInfo::default().set_redis_connection_info(settings);
    if parts.tls {
        node = node.set_tls_mode(TlsMode::Secure);
    }
    let service = parts.service.unwrap_or_default();
    let client = SentinelClient::build(sentinels, service, Some(node), SentinelServerType::Master)
        .map_err(|_| refused("its sentinels cannot be used"))?;
    Ok(Topology::Sentinel(Arc::new(Mutex::new(client))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(url: &str) -> Result<&'static str, String> {
        match Topology::parse(url) {
            Ok(Topology::Node(_)) => Ok("node"),
            Ok(Topology::Sentinel(_)) => Ok("sentinel"),
            Ok(Topology::Cluster(_)) => Ok("cluster"),
            Err(e) => Err(e.to_string()),
        }
    }

    #[test]
    fn each_topology_has_its_url() {
        assert_eq!(kind("redis://127.0.0.1:6379/0"), Ok("node"));
        assert_eq!(
            kind("redis-sentinel://h1:26379?node=h2:26379&node=h3:26379&sentinelServiceName=main"),
            Ok("sentinel")
        );
        assert_eq!(
            kind("rediss-sentinel://app:p%40ss@h1:26379/2?sentinelServiceName=main"),
            Ok("sentinel")
        );
        assert_eq!(
            kind("redis-cluster://h1:7000?node=h2:7001&node=h3:7002"),
            Ok("cluster")
        );
        let Ok(Topology::Cluster(nodes)) =
            Topology::parse("rediss-cluster://u:pw@h1:7000?node=h2:7001")
        else {
            panic!("a cluster");
        };
        assert_eq!(nodes, ["rediss://u:pw@h1:7000", "rediss://u:pw@h2:7001"]);
    }

    #[test]
    fn malformed_topologies_are_refused_without_the_password() {
        for url in [
            "redis-sentinel://app:s3cret@h1:26379?node=h2:26379",
            "redis-sentinel://app:s3cret@h1:26379?sentinelServiceName=",
            "redis-sentinel://app:s3cret@h1?sentinelServiceName=m",
            "redis-sentinel://app:s3cret@h1:26379?node=h2&sentinelServiceName=m",
            "redis-sentinel://app:s3cret@h1:26379?sentinelPassword=s3cret&sentinelServiceName=m",
            "redis-sentinel://app:1234?s3cret@h1:26379?sentinelServiceName=m",
            "redis-cluster://app:s3cret@h1:7000/3",
            "redis-cluster://app:s3cret@:7000",
            "redis-cluster://app:s3cret@h1:7000/x",
            "redis-cluster://app:s3cret@h1:7000#insecure",
            "redis-sentinal://app:s3cret@h1:26379",
        ] {
            let refusal = kind(url).expect_err(url);
            assert!(!refusal.contains("s3cret"), "{refusal}");
            assert!(!refusal.contains('\n'), "{refusal}");
        }
    }
}
