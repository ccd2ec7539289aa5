//! The application's settings: read once from Rocket's figment, validated at
//! ignition, then shared as managed state. Nothing here is global.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use cookie::Key;
use figment::value::Value;
use figment::Figment;
use serde::Deserialize;

use crate::session::Expiry;

/// The secret key committed in `Rocket.toml` for the `debug` profile only.
/// A release build refuses to start with it.
pub const DEV_SECRET_KEY: &str = "QVRPsWlRRrOPJsdXsx9/HtkeZJbKenQIcLXGD0zZcVQ=";

/// The message shown when a release build has no key of its own.
const KEY_HINT: &str =
    "generate one with `openssl rand -base64 32` and pass it as ROCKET_SECRET_KEY";

/// The settings as they appear in `Rocket.toml` and `ROCKET_*` variables.
#[derive(Debug, Deserialize)]
struct Raw {
    #[serde(default = "defaults::idle")]
    session_idle_timeout: i64,
    #[serde(default = "defaults::absolute")]
    session_absolute_timeout: i64,
    #[serde(default = "defaults::cookie_name")]
    session_cookie_name: String,
    #[serde(default)]
    session_cookie_secure: bool,
    #[serde(default)]
    secret_key_fallbacks: Option<Value>,
}

mod defaults {
    pub fn idle() -> i64 {
        1800
    }
    pub fn absolute() -> i64 {
        28800
    }
    pub fn cookie_name() -> String {
        "session".into()
    }
}

/// Validated settings. Holding one means every rule below was checked:
/// timeouts are positive and idle ≤ absolute, cookie names are valid tokens,
/// fallback keys are base64 of at least 256 bits, and a release build has a
/// secret key of its own.
pub struct AppConfig {
    /// The session's idle and absolute windows.
    pub expiry: Expiry,
    /// Whether cookies are marked `Secure` and `__Host-` prefixed: under
    /// Rocket's own TLS, or behind a TLS-terminating proxy
    /// (`session_cookie_secure`).
    pub cookie_secure: bool,
    /// The session cookie's name, `__Host-` prefixed when `cookie_secure`.
    pub session_cookie: String,
    /// The CSRF token cookie's name, `__Host-` prefixed when `cookie_secure`.
    pub csrf_cookie: String,
    /// Older keys whose cookies are still accepted, then re-sealed.
    pub fallback_keys: Vec<Key>,
}

/// Why the settings were refused. The message says what to do, and never
/// contains a key.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

fn refuse<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(msg.into()))
}

impl AppConfig {
    /// Reads and validates the settings from `figment` (Rocket's, so the
    /// selected profile, `Rocket.toml` and `ROCKET_*` all apply).
    pub fn from_figment(figment: &Figment) -> Result<AppConfig, ConfigError> {
        check_secret_key(figment)?;
        let raw: Raw = figment
            .extract()
            .map_err(|e| ConfigError(format!("invalid setting: {e}")))?;

        let idle = positive_seconds("session_idle_timeout", raw.session_idle_timeout)?;
        let absolute = positive_seconds("session_absolute_timeout", raw.session_absolute_timeout)?;
        if idle > absolute {
            return refuse(format!(
                "session_idle_timeout ({}s) must not exceed session_absolute_timeout ({}s)",
                idle.as_secs(),
                absolute.as_secs()
            ));
        }

        let name = raw.session_cookie_name;
        let lower = name.to_ascii_lowercase();
        if !is_cookie_token(&name) || lower.starts_with("__host-") || lower.starts_with("__secure-")
        {
            return refuse(
                "session_cookie_name must be 1-64 letters, digits, '-' or '_', without a __Host- or \
                 __Secure- prefix (set session_cookie_secure = true to get __Host-)",
            );
        }
        if ["csrf", "_flash"].contains(&lower.as_str()) {
            return refuse(format!(
                "session_cookie_name `{name}` is taken by another of the app's cookies"
            ));
        }
        // Under Rocket's own TLS the cookies are Secure anyway; the prefix then
        // also keeps a sibling subdomain from planting them.
        let tls = figment
            .extract::<rocket::Config>()
            .is_ok_and(|config| config.tls_enabled());
        let secure = raw.session_cookie_secure || tls;
        let prefix = if secure { "__Host-" } else { "" };

        Ok(AppConfig {
            expiry: Expiry::new(idle, absolute),
            cookie_secure: secure,
            session_cookie: format!("{prefix}{name}"),
            csrf_cookie: format!("{prefix}csrf"),
            fallback_keys: fallback_keys(raw.secret_key_fallbacks, is_release(figment))?,
        })
    }
}

/// The longest timeout accepted: 400 days, the longest `Max-Age` browsers
/// honour. It also keeps every timestamp sum far from overflowing.
pub const MAX_TIMEOUT_SECS: u64 = 400 * 24 * 3600;

fn positive_seconds(key: &str, value: i64) -> Result<Duration, ConfigError> {
    match u64::try_from(value) {
        Ok(secs) if (1..=MAX_TIMEOUT_SECS).contains(&secs) => Ok(Duration::from_secs(secs)),
        _ => refuse(format!(
            "{key} must be a number of seconds from 1 to {MAX_TIMEOUT_SECS} (400 days), not {value}"
        )),
    }
}

fn is_cookie_token(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_release(figment: &Figment) -> bool {
    figment.profile() == rocket::Config::RELEASE_PROFILE
}

/// Release builds must bring their own key: Rocket would otherwise refuse
/// with a long message, and would happily accept the committed one.
fn check_secret_key(figment: &Figment) -> Result<(), ConfigError> {
    if !is_release(figment) {
        return Ok(());
    }
    let key: rocket::config::SecretKey = figment
        .extract_inner("secret_key")
        .map_err(|e| ConfigError(format!("invalid secret_key: {e}")))?;
    if !key.is_provided() {
        return refuse(format!("no secret key in the release profile: {KEY_HINT}"));
    }
    // Compared as keys, so the same key written in hex is refused too.
    if key == rocket::config::SecretKey::derive_from(&dev_key_bytes()) {
        return refuse(format!(
            "the committed development secret key is refused in release: {KEY_HINT}"
        ));
    }
    Ok(())
}

/// The bytes of [`DEV_SECRET_KEY`].
fn dev_key_bytes() -> Vec<u8> {
    decode_key_text(DEV_SECRET_KEY).expect("the development key is valid base64")
}

/// A key as Rocket reads `secret_key`: 64 hex digits, or base64.
fn decode_key_text(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        let digit = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
        return text
            .as_bytes()
            .chunks(2)
            .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
            .collect();
    }
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// Parses `secret_key_fallbacks`: a list of keys of 256 bits or more, in
/// base64 or hex like `secret_key`.
/// Errors name the entry's position, never its value.
fn fallback_keys(value: Option<Value>, release: bool) -> Result<Vec<Key>, ConfigError> {
    let dev_key = key_from_bytes(&dev_key_bytes());
    let entries = match value {
        None => return Ok(Vec::new()),
        Some(Value::Array(_, entries)) => entries,
        // A lone string must not be read as a list of one-character keys.
        Some(_) => {
            return refuse(
                "secret_key_fallbacks must be a list of base64 keys, e.g. ROCKET_SECRET_KEY_FALLBACKS='[\"...\"]'",
            )
        }
    };
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let bad = |why: &str| ConfigError(format!("secret_key_fallbacks[{i}] {why}"));
            let text = entry.as_str().ok_or_else(|| bad("is not a string"))?;
            let bytes = decode_key_text(text)
                .ok_or_else(|| bad("is not valid base64 (or 64 hex digits)"))?;
            let key = key_from_bytes(&bytes).ok_or_else(|| bad("is shorter than 256 bits"))?;
            // The development key is public: as a fallback it would let
            // anyone seal a session the release build accepts.
            if release
                && dev_key
                    .as_ref()
                    .is_some_and(|dev| dev.master() == key.master())
            {
                return Err(bad("is the committed development key, refused in release"));
            }
            Ok(key)
        })
        .collect()
}

/// Builds the cookie key exactly as Rocket does from `secret_key`, so a key
/// moved from `secret_key` to the fallbacks opens the same cookies.
fn key_from_bytes(bytes: &[u8]) -> Option<Key> {
    match bytes.len() {
        0..=31 => None,
        32..=63 => Some(Key::derive_from(bytes)),
        _ => Some(Key::from(bytes)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::providers::Serialized;

    fn config(pairs: &[(&str, Value)]) -> Result<AppConfig, ConfigError> {
        let mut figment = Figment::new();
        for (key, value) in pairs {
            figment = figment.merge(Serialized::default(key, value));
        }
        AppConfig::from_figment(&figment)
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let cfg = config(&[]).unwrap();
        let expected = Expiry::new(Duration::from_secs(1800), Duration::from_secs(28800));
        assert_eq!(cfg.expiry, expected);
        assert_eq!(cfg.session_cookie, "session");
        assert_eq!(cfg.csrf_cookie, "csrf");
        assert!(cfg.fallback_keys.is_empty());
    }

    #[test]
    fn secure_cookies_get_the_host_prefix() {
        let cfg = config(&[("session_cookie_secure", true.into())]).unwrap();
        assert_eq!(cfg.session_cookie, "__Host-session");
        assert_eq!(cfg.csrf_cookie, "__Host-csrf");
    }

    #[test]
    fn key_lengths_follow_rocket() {
        assert!(key_from_bytes(&[7; 31]).is_none());
        assert!(key_from_bytes(&[7; 32]).is_some());
        assert!(key_from_bytes(&[7; 64]).is_some());
    }

    #[test]
    fn keys_read_like_rockets() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        assert_eq!(decode_key_text(hex).unwrap().len(), 32);
        assert_eq!(decode_key_text(DEV_SECRET_KEY).unwrap().len(), 32);
        assert!(decode_key_text("not base64!").is_none());
        assert!(decode_key_text(&"!".repeat(64)).is_none());
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
