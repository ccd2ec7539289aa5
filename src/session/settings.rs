//! The session layer's settings, read from Rocket's figment by its own
//! stage: the `session_*` keys and `secret_key_fallbacks`, each with a
//! default, so an app that sets none of them gets the tutorial's session.
//!
//! | key                          | default                  |
//! |------------------------------|--------------------------|
//! | `session_idle_timeout`       | 1800 (seconds)           |
//! | `session_absolute_timeout`   | 28800 (seconds)          |
//! | `session_cookie_name`        | `session`                |
//! | `session_cookie_secure`      | `false` (`true` under TLS) |
//! | `session_revocation_store`   | `data/revoked-sessions`  |
//! | `session_revocation_spool`   | `data/revocation-spool`  |
//! | `secret_key_fallbacks`       | `[]`                     |

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use figment::value::Value;
use figment::Figment;
use serde::Deserialize;

use super::revocation::StoreSetting;
use super::Expiry;
use crate::cookies::{
    self, CookieSettings, CSRF_COOKIE, FLASH_COOKIE, HOST_PREFIX, LANG_COOKIE, LONGEST_MAX_AGE_SECS,
};
use crate::refusal::one_line;

/// Every key the session reads.
pub const KEYS: [&str; 7] = [
    "session_idle_timeout",
    "session_absolute_timeout",
    "session_cookie_name",
    "session_cookie_secure",
    "session_revocation_store",
    "session_revocation_spool",
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
    session_revocation_spool: PathBuf,
    secret_key_fallbacks: Value,
}

impl Default for Raw {
    fn default() -> Raw {
        Raw {
            session_idle_timeout: 1800,
            session_absolute_timeout: 28800,
            session_cookie_name: Value::from(cookies::SESSION_COOKIE),
            session_cookie_secure: false,
            session_revocation_store: "data/revoked-sessions".to_owned(),
            session_revocation_spool: PathBuf::from("data/revocation-spool"),
            secret_key_fallbacks: Value::from(Vec::<String>::new()),
        }
    }
}

/// The session's checked settings: timeouts from 1 s to 400 days with
/// idle ≤ absolute, a cookie name that is a token of its own, fallback keys
/// as `secret_key` takes them, and a store that is a path or a Redis URL.
/// Nothing here has touched the disk or the network: the stage opens the
/// store at ignition.
#[derive(Debug)]
pub struct Settings {
    /// The idle and absolute windows.
    pub expiry: Expiry,
    /// The cookies' names and attributes, and the fallback keys.
    pub cookies: CookieSettings,
    /// Where revoked sessions are kept: a file, or Redis.
    pub store: StoreSetting,
    /// With Redis, the file that keeps revocations while it is unreachable.
    pub spool: PathBuf,
}

/// Why the session's settings were refused. Each says what to do in one
/// line, and never shows a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingsError {
    /// A value of the wrong type, as figment reports it.
    Unreadable(String),
    /// A timeout outside 1 s..=400 days.
    Timeout { key: &'static str, value: i64 },
    /// The idle window is longer than the absolute one.
    IdleExceedsAbsolute { idle: u64, absolute: u64 },
    /// The cookie name is not text.
    CookieNameNotText,
    /// The cookie name is not a token, or carries a prefix of its own.
    CookieNameInvalid,
    /// The cookie name is another of the app's cookies.
    CookieNameTaken(String),
    /// `secret_key_fallbacks` is not a list.
    FallbacksNotAList,
    /// Entry `index` of `secret_key_fallbacks` is no key.
    Fallback { index: usize, why: &'static str },
    /// The store setting is neither a path nor a Redis URL.
    Store(String),
    /// The spool setting is empty.
    SpoolEmpty,
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingsError::Unreadable(why) => write!(f, "invalid setting: {why}"),
            SettingsError::Timeout { key, value } => write!(
                f,
                "{key} must be a number of seconds from 1 to {LONGEST_MAX_AGE_SECS} (400 days), \
                 not {value}"
            ),
            SettingsError::IdleExceedsAbsolute { idle, absolute } => write!(
                f,
                "session_idle_timeout ({idle}s) must not exceed session_absolute_timeout \
                 ({absolute}s)"
            ),
            SettingsError::CookieNameNotText => f.write_str("session_cookie_name must be text"),
            SettingsError::CookieNameInvalid => f.write_str(
                "session_cookie_name must be 1-64 letters, digits, '-' or '_', without a __Host- \
                 or __Secure- prefix (set session_cookie_secure = true to get __Host-)",
            ),
            SettingsError::CookieNameTaken(name) => write!(
                f,
                "session_cookie_name `{name}` is taken by another of the app's cookies"
            ),
            SettingsError::FallbacksNotAList => f.write_str(
                "secret_key_fallbacks must be a list of keys, e.g. \
                 ROCKET_SECRET_KEY_FALLBACKS='[\"...\"]'",
            ),
            SettingsError::Fallback { index, why } => {
                write!(f, "secret_key_fallbacks[{index}] {why}")
            }
            SettingsError::Store(why) => f.write_str(why),
            SettingsError::SpoolEmpty => f.write_str(
                "session_revocation_spool must not be empty: name a file, or leave it unset for \
                 data/revocation-spool",
            ),
        }
    }
}

impl std::error::Error for SettingsError {}

impl Settings {
    /// Reads and checks the session's settings from `figment`.
    pub fn from_figment(figment: &Figment) -> Result<Settings, SettingsError> {
        let raw: Raw = figment
            .extract()
            .map_err(|e| SettingsError::Unreadable(one_line(&e.to_string())))?;
        let idle = seconds("session_idle_timeout", raw.session_idle_timeout)?;
        let absolute = seconds("session_absolute_timeout", raw.session_absolute_timeout)?;
        if idle > absolute {
            return Err(SettingsError::IdleExceedsAbsolute {
                idle: idle.as_secs(),
                absolute: absolute.as_secs(),
            });
        }
        let name = cookie_name(raw.session_cookie_name)?;
        // Under Rocket's own TLS the cookies are Secure anyway; the prefix
        // then also keeps a sibling subdomain from planting them.
        let tls = figment
            .extract::<rocket::Config>()
            .is_ok_and(|config| config.tls_enabled());
        let secure = raw.session_cookie_secure || tls;
        let fallbacks = fallback_keys(raw.secret_key_fallbacks)?;
        let store =
            StoreSetting::parse(&raw.session_revocation_store).map_err(SettingsError::Store)?;
        if raw.session_revocation_spool.as_os_str().is_empty() {
            return Err(SettingsError::SpoolEmpty);
        }
        Ok(Settings {
            expiry: Expiry::new(idle, absolute),
            cookies: CookieSettings::new(&name, secure, fallbacks),
            store,
            spool: raw.session_revocation_spool,
        })
    }
}

fn seconds(key: &'static str, value: i64) -> Result<Duration, SettingsError> {
    match u64::try_from(value) {
        Ok(secs) if (1..=LONGEST_MAX_AGE_SECS).contains(&secs) => Ok(Duration::from_secs(secs)),
        _ => Err(SettingsError::Timeout { key, value }),
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
    if !is_cookie_token(&name)
        || lower.starts_with(&HOST_PREFIX.to_ascii_lowercase())
        || lower.starts_with("__secure-")
    {
        return Err(SettingsError::CookieNameInvalid);
    }
    if [CSRF_COOKIE, FLASH_COOKIE, LANG_COOKIE].contains(&lower.as_str()) {
        return Err(SettingsError::CookieNameTaken(name));
    }
    Ok(name)
}

fn is_cookie_token(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
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
            let bytes = cookies::decode_key_text(text).map_err(bad)?;
            cookies::key_from_bytes(&bytes)
                .ok_or_else(|| bad("is shorter than 256 bits, or all zeros"))
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
    fn nothing_set_is_the_tutorials_session() {
        let settings = settings(&[]).unwrap();
        assert_eq!(
            settings.expiry,
            Expiry::new(Duration::from_secs(1800), Duration::from_secs(28800))
        );
        assert_eq!(settings.cookies.session, "session");
        assert!(!settings.cookies.secure);
        assert_eq!(
            settings.store,
            StoreSetting::File("data/revoked-sessions".into())
        );
    }

    #[test]
    fn refusals_say_what_to_do_in_one_line() {
        let cases: [(&str, Value, &str); 5] = [
            ("session_idle_timeout", 0.into(), "from 1 to"),
            ("session_absolute_timeout", 10.into(), "must not exceed"),
            ("session_cookie_name", "csrf".into(), "taken by another"),
            ("secret_key_fallbacks", "x".into(), "must be a list"),
            (
                "session_revocation_store",
                "ftp://x".into(),
                "file path or a redis",
            ),
        ];
        for (key, value, says) in cases {
            let error = settings(&[(key, value)]).unwrap_err().to_string();
            assert!(error.contains(says), "{key}: {error}");
            assert!(!error.contains('\n'), "{error}");
        }
    }

    #[test]
    fn cookie_names_are_tokens() {
        assert!(is_cookie_token("session_id-2"));
        assert!(!is_cookie_token(""));
        assert!(!is_cookie_token("a b"));
        assert!(!is_cookie_token("a;b"));
        assert!(!is_cookie_token(&"a".repeat(65)));
    }
}
