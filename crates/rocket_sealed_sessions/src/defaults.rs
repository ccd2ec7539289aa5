//! Every default of the session layer, in one place: what an app that sets
//! nothing gets. Each is also its figment key's default (see
//! [`crate::settings`]).

use std::time::Duration;

/// `session_idle_timeout`: 30 minutes.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// `session_absolute_timeout`: 8 hours.
pub const ABSOLUTE_TIMEOUT: Duration = Duration::from_secs(8 * 3600);
/// `session_cookie_name`.
pub const COOKIE_NAME: &str = "session";
/// `session_cookie_secure`: off, unless Rocket itself serves TLS.
pub const COOKIE_SECURE: bool = false;
/// `session_revocation_store`: a file.
pub const REVOCATION_STORE: &str = "data/revoked-sessions";
/// Where revocations wait while Redis is unreachable, for a
/// [`RedisStore`](crate::store) built in code. Set from the figment, the
/// default is [`spool_for`] the instance's port.
pub const REVOCATION_SPOOL: &str = "data/revocation-spool";

/// `session_revocation_spool`: [`REVOCATION_SPOOL`] and Rocket's `port`
/// (`data/revocation-spool-8000`), so that instances on one host never
/// share one spool (the second would refuse to start) with no setting.
pub fn spool_for(port: u16) -> std::path::PathBuf {
    format!("{REVOCATION_SPOOL}-{port}").into()
}
/// `session_redis_prefix`: before every Redis key and the channel.
pub const REDIS_PREFIX: &str = "sessions:";
