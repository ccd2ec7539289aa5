//! The session layer's settings, read from Rocket's figment at ignition:
//! the `session_*` keys and `secret_key_fallbacks`. Each has its default
//! in [`crate::defaults`], so an app that sets none of them gets working
//! sessions; a value set with the [`Builder`](crate::Builder) is used
//! whatever the figment says.
//!
//! | key                          | type     | default                              |
//! |------------------------------|----------|--------------------------------------|
//! | `session_idle_timeout`       | seconds  | [`IDLE_TIMEOUT`](defaults::IDLE_TIMEOUT) |
//! | `session_absolute_timeout`   | seconds  | [`ABSOLUTE_TIMEOUT`](defaults::ABSOLUTE_TIMEOUT) |
//! | `session_cookie_name`        | text     | [`COOKIE_NAME`](defaults::COOKIE_NAME) |
//! | `session_cookie_secure`      | bool     | [`COOKIE_SECURE`](defaults::COOKIE_SECURE) (`true` under Rocket's TLS) |
//! | `session_revocation_store`   | path, or a Redis URL (`redis://`, `redis-sentinel://`, `redis-cluster://`, and their `rediss-` forms) | [`REVOCATION_STORE`](defaults::REVOCATION_STORE) |
//! | `session_revocation_spool`   | path     | [`spool_for`](defaults::spool_for) Rocket's `port`: `data/revocation-spool-8000` |
//! | `session_redis_prefix`       | text     | [`REDIS_PREFIX`](defaults::REDIS_PREFIX) |
//! | `secret_key_fallbacks`       | list of keys | none                             |

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::value::Value;
use figment::Figment;
use serde::Deserialize;

use crate::cookie::{decode_key_text, key_from_bytes, CookieRules, HOST_PREFIX};
use crate::defaults;
use crate::expiry::Expiry;
use crate::limits::{is_token, LONGEST_LIFETIME};
use crate::store::{FileStore, RevocationStore, StoreError};

/// Every key the session layer reads.
pub const KEYS: [&str; 8] = [
    "session_idle_timeout",
    "session_absolute_timeout",
    "session_cookie_name",
    "session_cookie_secure",
    "session_revocation_store",
    "session_revocation_spool",
    "session_redis_prefix",
    "secret_key_fallbacks",
];

/// The settings as written, before they are checked.
#[derive(Debug, Deserialize)]
#[serde(default)]
struct Raw {
    session_idle_timeout: i64,
    session_absolute_timeout: i64,
    session_cookie_name: Value,
    session_cookie_secure: bool,
    session_revocation_store: String,
    session_revocation_spool: Option<PathBuf>,
    session_redis_prefix: String,
    secret_key_fallbacks: Value,
}

impl Default for Raw {
    fn default() -> Raw {
        Raw {
            session_idle_timeout: defaults::IDLE_TIMEOUT.as_secs() as i64,
            session_absolute_timeout: defaults::ABSOLUTE_TIMEOUT.as_secs() as i64,
            session_cookie_name: Value::from(defaults::COOKIE_NAME),
            session_cookie_secure: defaults::COOKIE_SECURE,
            session_revocation_store: defaults::REVOCATION_STORE.to_owned(),
            session_revocation_spool: None,
            session_redis_prefix: defaults::REDIS_PREFIX.to_owned(),
            secret_key_fallbacks: Value::from(Vec::<String>::new()),
        }
    }
}

/// What code chose with the [`Builder`](crate::Builder): each one set is
/// used whatever the figment says.
#[derive(Default)]
pub(crate) struct Choices {
    pub(crate) idle: Option<Duration>,
    pub(crate) absolute: Option<Duration>,
    pub(crate) cookie_name: Option<String>,
    pub(crate) secure: Option<bool>,
    pub(crate) fallback_keys: Option<Vec<cookie::Key>>,
    pub(crate) store: Option<Box<dyn RevocationStore>>,
}

/// The session's checked settings: timeouts from 1 s to 400 days with
/// idle ≤ absolute, a cookie name that is a token of its own, fallback keys
/// as `secret_key` takes them, and a store. Nothing here has touched the
/// disk or the network: the fairing opens the store at ignition.
pub struct Settings {
    /// The idle and absolute windows.
    pub expiry: Expiry,
    /// The session cookie's name and attributes, and the fallback keys.
    pub cookies: CookieRules,
    /// Where revocations are kept.
    pub store: Box<dyn RevocationStore>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("expiry", &self.expiry)
            .field("cookies", &self.cookies.session_cookie())
            .field("store", &self.store.describe())
            .finish()
    }
}

/// Why the session's settings were refused. Each says what to do in one
/// line, and never shows a key or a password.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A value of the wrong type, as figment reports it.
    #[error("invalid setting: {}", one_line(&.0.to_string()))]
    Unreadable(#[source] Box<figment::Error>),
    /// A timeout outside 1 s..=400 days.
    #[error(
        "{key} must be a number of seconds from 1 to {} (400 days), not {value}",
        LONGEST_LIFETIME.as_secs()
    )]
    Timeout {
        /// The setting.
        key: &'static str,
        /// What it was set to, in seconds.
        value: i64,
    },
    /// The idle window is longer than the absolute one.
    #[error(
        "session_idle_timeout ({idle}s) must not exceed session_absolute_timeout ({absolute}s)"
    )]
    IdleExceedsAbsolute {
        /// The idle window, in seconds.
        idle: u64,
        /// The absolute window, in seconds.
        absolute: u64,
    },
    /// The cookie name is not text.
    #[error("session_cookie_name must be text")]
    CookieNameNotText,
    /// The cookie name is not a token, or carries a prefix of its own.
    #[error(
        "session_cookie_name must be 1-64 letters, digits, '-' or '_', without a __Host- or \
         __Secure- prefix (set session_cookie_secure = true to get __Host-)"
    )]
    CookieNameInvalid,
    /// `secret_key_fallbacks` is not a list.
    #[error(
        "secret_key_fallbacks must be a list of keys, e.g. \
         ROCKET_SECRET_KEY_FALLBACKS='[\"...\"]'"
    )]
    FallbacksNotAList,
    /// Entry `index` of `secret_key_fallbacks` is no key.
    #[error("secret_key_fallbacks[{index}] {why}")]
    Fallback {
        /// Its position in the list.
        index: usize,
        /// Which rule it broke.
        why: &'static str,
    },
    /// The store setting names no store this build can open.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The spool setting starts like a URL: it must be a file.
    #[error(
        "session_revocation_spool must be a file path, and it starts like a URL (the value is \
         not shown)"
    )]
    SpoolNotAPath,
    /// The spool setting is empty.
    #[error(
        "session_revocation_spool must not be empty: name a file, or leave it unset for {}-<port>",
        defaults::REVOCATION_SPOOL
    )]
    SpoolEmpty,
}

/// `text` on one line, its runs of white space made one space.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Settings {
    /// Reads and checks the session's settings from `figment` alone.
    pub fn from_figment(figment: &Figment) -> Result<Settings, SettingsError> {
        Settings::resolve(figment, Choices::default())
    }

    /// Reads and checks the settings: what code chose, else the figment's
    /// keys, else the defaults.
    pub(crate) fn resolve(figment: &Figment, chosen: Choices) -> Result<Settings, SettingsError> {
        let raw: Raw = figment
            .extract()
            .map_err(|e| SettingsError::Unreadable(Box::new(e)))?;
        let idle = match chosen.idle {
            Some(idle) => window("session_idle_timeout", idle)?,
            None => seconds("session_idle_timeout", raw.session_idle_timeout)?,
        };
        let absolute = match chosen.absolute {
            Some(absolute) => window("session_absolute_timeout", absolute)?,
            None => seconds("session_absolute_timeout", raw.session_absolute_timeout)?,
        };
        if idle > absolute {
            return Err(SettingsError::IdleExceedsAbsolute {
                idle: idle.as_secs(),
                absolute: absolute.as_secs(),
            });
        }
        let name = match chosen.cookie_name {
            Some(name) => cookie_name(Value::from(name))?,
            None => cookie_name(raw.session_cookie_name.clone())?,
        };
        let rocket = figment.extract::<rocket::Config>().ok();
        // Under Rocket's own TLS the cookies are Secure anyway; the prefix
        // then also keeps a sibling subdomain from planting them.
        let tls = rocket.as_ref().is_some_and(|config| config.tls_enabled());
        let secure = chosen.secure.unwrap_or(raw.session_cookie_secure) || tls;
        let fallbacks = match chosen.fallback_keys {
            Some(keys) => keys,
            None => fallback_keys(raw.secret_key_fallbacks.clone())?,
        };
        let spool = match &raw.session_revocation_spool {
            Some(spool) if spool.as_os_str().is_empty() => return Err(SettingsError::SpoolEmpty),
            Some(spool) if spool.to_str().is_some_and(looks_like_url) => {
                return Err(SettingsError::SpoolNotAPath)
            }
            Some(spool) => spool.clone(),
            None => defaults::spool_for(rocket.map_or(rocket::Config::default().port, |c| c.port)),
        };
        let store = match chosen.store {
            Some(store) => store,
            None => store(&raw, &spool)?,
        };
        Ok(Settings {
            expiry: Expiry::new(idle, absolute),
            cookies: CookieRules::new(&name, secure, fallbacks),
            store,
        })
    }
}

/// The store `session_revocation_store` names: a file path, or a Redis URL.
fn store(raw: &Raw, spool: &Path) -> Result<Box<dyn RevocationStore>, StoreError> {
    let text = raw.session_revocation_store.as_str();
    let redis_schemes = [
        "redis://",
        "rediss://",
        "redis-sentinel://",
        "rediss-sentinel://",
        "redis-cluster://",
        "rediss-cluster://",
    ];
    if redis_schemes.iter().any(|scheme| text.starts_with(scheme)) {
        return redis_store(raw, spool);
    }
    // `rediss:/user:password@host` (one slash) would be a folder named
    // after the password, and no sharing: refused, and never shown.
    if looks_like_url(text) {
        return Err(StoreError::Setting(
            "session_revocation_store must be a file path or a Redis URL (redis://, rediss://, \
             redis-sentinel://, redis-cluster://; it starts like a \
             URL: check the `//` after the scheme; the value is not shown)"
                .to_owned(),
        ));
    }
    if text.is_empty() {
        return Err(StoreError::Setting(
            "session_revocation_store must not be empty".to_owned(),
        ));
    }
    Ok(Box::new(FileStore::new(text)))
}

#[cfg(feature = "redis")]
fn redis_store(raw: &Raw, spool: &Path) -> Result<Box<dyn RevocationStore>, StoreError> {
    let store = crate::store::RedisStore::new(&raw.session_revocation_store)?
        .prefix(&raw.session_redis_prefix)
        .spool(spool);
    Ok(Box::new(store))
}

#[cfg(not(feature = "redis"))]
fn redis_store(_: &Raw, _: &Path) -> Result<Box<dyn RevocationStore>, StoreError> {
    Err(StoreError::Setting(
        "session_revocation_store names Redis, but this build has no `redis` feature".to_owned(),
    ))
}

/// Whether `text` starts with a URL's scheme (`name:`), as no file path
/// written on purpose does: `rediss:/…` is a URL missing a slash.
fn looks_like_url(text: &str) -> bool {
    let Some((scheme, _)) = text.split_once(':') else {
        return false;
    };
    scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

fn seconds(key: &'static str, value: i64) -> Result<Duration, SettingsError> {
    match u64::try_from(value) {
        Ok(secs) => window(key, Duration::from_secs(secs)),
        _ => Err(SettingsError::Timeout { key, value }),
    }
}

fn window(key: &'static str, value: Duration) -> Result<Duration, SettingsError> {
    if (Duration::from_secs(1)..=LONGEST_LIFETIME).contains(&value) {
        Ok(value)
    } else {
        let value = i64::try_from(value.as_secs()).unwrap_or(i64::MAX);
        Err(SettingsError::Timeout { key, value })
    }
}

/// The cookie name: text, or a number written without quotes in a file.
fn cookie_name(value: Value) -> Result<String, SettingsError> {
    let name = match value {
        Value::String(_, name) => name,
        Value::Num(_, num) => num
            .to_u128_lossy()
            .map(|n| n.to_string())
            .ok_or(SettingsError::CookieNameNotText)?,
        _ => return Err(SettingsError::CookieNameNotText),
    };
    let lower = name.to_ascii_lowercase();
    if !is_token(&name)
        || lower.starts_with(&HOST_PREFIX.to_ascii_lowercase())
        || lower.starts_with("__secure-")
    {
        return Err(SettingsError::CookieNameInvalid);
    }
    Ok(name)
}

/// Parses `secret_key_fallbacks`: a list of keys in the forms `secret_key`
/// takes. Errors name the entry's position, never its value.
fn fallback_keys(value: Value) -> Result<Vec<cookie::Key>, SettingsError> {
    // A lone string must not be read as a list of one-character keys.
    let Value::Array(_, entries) = value else {
        return Err(SettingsError::FallbacksNotAList);
    };
    entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let bad = |why| SettingsError::Fallback { index, why };
            let text = entry.as_str().ok_or_else(|| bad("is not a string"))?;
            let bytes = decode_key_text(text).map_err(bad)?;
            key_from_bytes(&bytes).ok_or_else(|| bad("is shorter than 256 bits, or all zeros"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::providers::Serialized;

    fn settings(pairs: &[(&str, Value)]) -> Result<Settings, SettingsError> {
        let mut figment = Figment::new();
        for (key, value) in pairs {
            figment = figment.merge(Serialized::global(key, value));
        }
        Settings::from_figment(&figment)
    }

    #[test]
    fn nothing_set_is_the_defaults() {
        let settings = settings(&[]).unwrap();
        assert_eq!(
            settings.expiry,
            Expiry::new(defaults::IDLE_TIMEOUT, defaults::ABSOLUTE_TIMEOUT)
        );
        assert_eq!(settings.cookies.session_cookie(), "session");
        assert!(!settings.cookies.secure());
        assert_eq!(settings.store.describe(), "file data/revoked-sessions");
    }

    #[test]
    fn refusals_say_what_to_do_in_one_line() {
        let cases: [(&str, Value, &str); 6] = [
            ("session_idle_timeout", 0.into(), "from 1 to"),
            ("session_absolute_timeout", 10.into(), "must not exceed"),
            (
                "session_cookie_name",
                "__Host-x".into(),
                "without a __Host-",
            ),
            ("secret_key_fallbacks", "x".into(), "must be a list"),
            (
                "session_revocation_store",
                "ftp://x".into(),
                "file path or a Redis URL",
            ),
            ("session_idle_timeout", "soon".into(), "invalid setting"),
        ];
        for (key, value, says) in cases {
            let error = settings(&[(key, value)]).unwrap_err().to_string();
            assert!(error.contains(says), "{key}: {error}");
            assert!(!error.contains('\n'), "{error}");
        }
    }

    #[test]
    fn what_code_chose_wins_and_is_checked_the_same() {
        let figment = Figment::new().merge(Serialized::global("session_idle_timeout", 60));
        let chosen = Choices {
            idle: Some(Duration::from_secs(5)),
            cookie_name: Some("sid".into()),
            ..Choices::default()
        };
        let settings = Settings::resolve(&figment, chosen).unwrap();
        assert_eq!(settings.expiry.idle(), Duration::from_secs(5));
        assert_eq!(settings.cookies.session_cookie(), "sid");
        let too_short = Choices {
            idle: Some(Duration::from_millis(10)),
            ..Choices::default()
        };
        let error = Settings::resolve(&figment, too_short).unwrap_err();
        assert!(error.to_string().contains("from 1 to"), "{error}");
    }

    #[test]
    fn a_url_missing_a_slash_is_refused_without_its_password() {
        for (key, value) in [
            (
                "session_revocation_store",
                "rediss:/app:s3cret@redis.example/0",
            ),
            ("session_revocation_store", "redis:app:s3cret@h"),
            ("session_revocation_spool", "file:/app:s3cret@h/spool"),
        ] {
            let error = settings(&[(key, value.into())]).unwrap_err().to_string();
            assert!(error.starts_with(key), "{error}");
            assert!(
                error.contains("URL") && !error.contains("s3cret"),
                "{error}"
            );
        }
        // Paths, even with a colon further on, are paths.
        assert!(settings(&[("session_revocation_store", "data/a:b".into())]).is_ok());
        assert!(settings(&[("session_revocation_store", "./c:d".into())]).is_ok());
    }

    #[test]
    fn cookie_names_are_tokens() {
        assert!(is_token("session_id-2"));
        assert!(!is_token(""));
        assert!(!is_token("a b"));
        assert!(!is_token("a;b"));
        assert!(!is_token(&"a".repeat(65)));
    }
}
