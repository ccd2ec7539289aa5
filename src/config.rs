//! The application's settings: read once from Rocket's figment, validated at
//! ignition, then shared as managed state. Nothing here is global.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use cookie::Key;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::magic::RelativePathBuf;
use figment::value::Value;
use figment::{Figment, Profile};
use rocket::Request;
use serde::Deserialize;

use crate::session::revocation::StoreSetting;
use crate::session::{CookieSettings, Expiry, CSRF_COOKIE, FLASH_COOKIE, HOST_PREFIX, LANG_COOKIE};

/// The secret key committed in `Rocket.toml` for the `debug` profile only.
/// A release build refuses to start with it.
pub const DEV_SECRET_KEY: &str = "QVRPsWlRRrOPJsdXsx9/HtkeZJbKenQIcLXGD0zZcVQ=";

/// The message shown when a release build has no key of its own.
const KEY_HINT: &str =
    "generate one with `openssl rand -base64 32` and pass it as ROCKET_SECRET_KEY";

/// The app's defaults: the one source for them. They sit above Rocket's own
/// defaults and below `Rocket.toml` and `ROCKET_*` variables, so a binary
/// started from any folder keeps them, and each setting changes only where
/// a file or variable names it.
pub const DEFAULTS: &str = r#"
[default]
address = "127.0.0.1"
port = 8080                     # the tutorial's port
template_dir = "templates"
log_level = "normal"            # session events are logged at info level
session_idle_timeout = 1800
session_absolute_timeout = 28800
session_cookie_name = "session"
session_cookie_secure = false
session_revocation_store = "data/revoked-sessions"
session_revocation_spool = "data/revocation-spool"  # with Redis: kept while it is down
secret_key_fallbacks = []

[default.limits]
# Every form here is a few fields; anything larger is refused with 413.
form = "4 KiB"
data-form = "4 KiB"
string = "4 KiB"
bytes = "4 KiB"
json = "4 KiB"
msgpack = "4 KiB"
file = "4 KiB"
"#;

/// Rocket's defaults with the app's [`DEFAULTS`] over them: the base every
/// figment of the app starts from.
pub fn base() -> Figment {
    Figment::from(rocket::Config::default()).merge(Toml::string(DEFAULTS).nested())
}

/// The settings the binary runs with: [`base`], then `Rocket.toml` (or the
/// file `ROCKET_CONFIG` names), then `ROCKET_*` variables, in the profile
/// `ROCKET_PROFILE` selects, exactly as Rocket reads its own.
pub fn figment() -> Figment {
    let figment = base()
        .merge(Toml::file(Env::var_or("ROCKET_CONFIG", "Rocket.toml")).nested())
        .merge(
            Env::prefixed("ROCKET_")
                .ignore(&["PROFILE", "SESSION_COOKIE_NAME"])
                .global(),
        );
    // Figment reads variables as values: `123` would become a number, `0123`
    // a different one. A cookie name is text, taken as written.
    let figment = match std::env::var("ROCKET_SESSION_COOKIE_NAME") {
        Ok(name) => figment.merge(Serialized::global("session_cookie_name", name)),
        Err(_) => figment,
    };
    figment.select(Profile::from_env_or(
        "ROCKET_PROFILE",
        rocket::Config::DEFAULT_PROFILE,
    ))
}

/// The settings as they appear in `Rocket.toml` and `ROCKET_*` variables.
#[derive(Debug, Deserialize)]
struct Raw {
    session_idle_timeout: i64,
    session_absolute_timeout: i64,
    session_cookie_name: Value,
    session_cookie_secure: bool,
    session_revocation_store: String,
    session_revocation_spool: PathBuf,
    secret_key_fallbacks: Value,
}

/// Validated settings. Holding one means every rule below was checked:
/// timeouts are positive and idle ≤ absolute, cookie names are valid tokens,
/// fallback keys are keys as `secret_key` takes them, the form limit fits
/// the app's forms, the template folder has the app's templates, and the
/// committed development key is not in use where it is refused.
#[derive(Debug)]
pub struct AppConfig {
    /// The session's idle and absolute windows.
    pub expiry: Expiry,
    /// The cookies' names and attributes, and the fallback keys.
    pub cookies: CookieSettings,
    /// Where revoked sessions are kept: a file, or Redis.
    pub revocation_store: StoreSetting,
    /// With Redis, the file that keeps revocations while it is unreachable.
    pub revocation_spool: PathBuf,
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
    /// Reads and validates the settings from `figment` (one built on
    /// [`base`], so the app's defaults apply). Rocket's own settings are
    /// checked too, so that every refusal is one [`ConfigError`].
    pub fn from_figment(figment: &Figment) -> Result<AppConfig, ConfigError> {
        AppConfig::validate(figment, Build::current())
    }

    /// The validated settings the app was built with.
    pub fn of<'r>(req: &'r Request<'_>) -> &'r AppConfig {
        req.rocket()
            .state::<AppConfig>()
            .expect("BUG: AppConfig is managed at ignition")
    }

    fn validate(figment: &Figment, build: Build) -> Result<AppConfig, ConfigError> {
        let rocket_config = rocket_config(figment)?;
        check_secret_key(figment, build)?;
        check_form_limit(&rocket_config)?;
        check_templates(figment)?;
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

        let name = cookie_name(raw.session_cookie_name)?;
        // Under Rocket's own TLS the cookies are Secure anyway; the prefix then
        // also keeps a sibling subdomain from planting them.
        let secure = raw.session_cookie_secure || rocket_config.tls_enabled();
        let fallbacks = fallback_keys(raw.secret_key_fallbacks, build.refuses_dev_key(figment))?;
        let revocation_store =
            StoreSetting::parse(&raw.session_revocation_store).map_err(ConfigError)?;
        Ok(AppConfig {
            expiry: Expiry::new(idle, absolute),
            cookies: CookieSettings::new(&name, secure, fallbacks),
            revocation_store,
            revocation_spool: raw.session_revocation_spool,
        })
    }
}

/// How the binary was built: a release build (without debug assertions)
/// refuses the committed development key under every profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Build {
    Debug,
    Release,
}

impl Build {
    fn current() -> Build {
        if cfg!(debug_assertions) {
            Build::Debug
        } else {
            Build::Release
        }
    }

    /// Whether the development key is refused: always in a release build,
    /// and in the release profile of any build.
    fn refuses_dev_key(self, figment: &Figment) -> bool {
        self == Build::Release || is_release_profile(figment)
    }
}

/// Rocket's own settings, with an error that never shows `secret_key`'s
/// value (Rocket's would print the offending value: the secret).
fn rocket_config(figment: &Figment) -> Result<rocket::Config, ConfigError> {
    figment.extract::<rocket::Config>().map_err(|error| {
        let mentions_key = error
            .clone()
            .into_iter()
            .any(|e| e.path.iter().any(|p| p == "secret_key"));
        if mentions_key {
            ConfigError("invalid value for `secret_key` (not shown)".into())
        } else {
            ConfigError(one_line(&error.to_string()))
        }
    })
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The cookie name: text, or a number written without quotes in a file.
fn cookie_name(value: Value) -> Result<String, ConfigError> {
    let name = match value {
        Value::String(_, name) => name,
        Value::Num(_, num) => match num.to_u128_lossy().map(|n| n.to_string()) {
            Some(digits) => digits,
            None => return refuse("session_cookie_name must be text"),
        },
        _ => return refuse("session_cookie_name must be text"),
    };
    let lower = name.to_ascii_lowercase();
    if !is_cookie_token(&name)
        || lower.starts_with(&HOST_PREFIX.to_ascii_lowercase())
        || lower.starts_with("__secure-")
    {
        return refuse(
            "session_cookie_name must be 1-64 letters, digits, '-' or '_', without a __Host- or \
             __Secure- prefix (set session_cookie_secure = true to get __Host-)",
        );
    }
    if [CSRF_COOKIE, FLASH_COOKIE, LANG_COOKIE].contains(&lower.as_str()) {
        return refuse(format!(
            "session_cookie_name `{name}` is taken by another of the app's cookies"
        ));
    }
    Ok(name)
}

/// The app's own forms must fit under the `form` limit, or every login
/// would answer 413.
fn check_form_limit(config: &rocket::Config) -> Result<(), ConfigError> {
    let needed = crate::routes::LARGEST_FORM_BYTES;
    let limit = config.limits.get("form").map_or(0, |limit| limit.as_u64());
    if limit < needed {
        return refuse(format!(
            "limits.form ({limit} bytes) is too small for the app's own forms: at least {needed} bytes"
        ));
    }
    Ok(())
}

/// Where the templates are: `template_dir`, relative to the working folder
/// (or to the file that set it).
pub fn template_dir(figment: &Figment) -> Result<PathBuf, ConfigError> {
    figment
        .extract_inner::<RelativePathBuf>("template_dir")
        .map(|dir| dir.relative())
        .map_err(|e| {
            ConfigError(format!(
                "invalid template_dir: {}",
                one_line(&e.to_string())
            ))
        })
}

/// Every page's template must be in `template_dir`, or every page would
/// answer 500; and every text the templates name must exist.
fn check_templates(figment: &Figment) -> Result<(), ConfigError> {
    let dir = template_dir(figment)?;
    let missing = crate::templates::required()
        .map(|name| format!("{name}.html.hbs"))
        .find(|file| !dir.join(file).is_file());
    if let Some(file) = missing {
        return refuse(format!(
            "template_dir `{}` lacks the app's template {file}: set ROCKET_TEMPLATE_DIR to the \
             app's templates/ folder",
            dir.display()
        ));
    }
    let catalog = crate::i18n::Catalog::load().map_err(ConfigError)?;
    crate::templates::flatten(&dir, &catalog)
        .map(drop)
        .map_err(|e| ConfigError(format!("template_dir `{}`: {e}", dir.display())))
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

fn is_release_profile(figment: &Figment) -> bool {
    figment.profile() == rocket::Config::RELEASE_PROFILE
}

/// The release profile must bring its own key, and the committed one is
/// refused wherever [`Build::refuses_dev_key`] says: Rocket would otherwise
/// refuse with a long message, and would happily accept the public one.
fn check_secret_key(figment: &Figment, build: Build) -> Result<(), ConfigError> {
    let key: rocket::config::SecretKey = figment
        .extract_inner("secret_key")
        .map_err(|_| ConfigError("invalid value for `secret_key` (not shown)".into()))?;
    // Rocket itself refuses every profile but `debug` without a key, in
    // lines of its own: say it first, in one.
    if figment.profile() != rocket::Config::DEBUG_PROFILE && !key.is_provided() {
        return refuse(format!(
            "no secret key in the {} profile: {KEY_HINT}",
            figment.profile()
        ));
    }
    // Compared as keys, so the same key written in hex is refused too.
    if build.refuses_dev_key(figment)
        && key == rocket::config::SecretKey::derive_from(&dev_key_bytes())
    {
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

/// A key written as Rocket reads `secret_key`: 44 or 88 characters of
/// base64, or 64 hex digits. Nothing else.
fn decode_key_text(text: &str) -> Option<Vec<u8>> {
    match text.len() {
        44 | 88 => base64::engine::general_purpose::STANDARD.decode(text).ok(),
        64 => {
            let digit = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
            text.as_bytes()
                .chunks(2)
                .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
                .collect()
        }
        _ => None,
    }
}

/// Parses `secret_key_fallbacks`: a list of keys in the forms `secret_key`
/// takes. Errors name the entry's position, never its value.
fn fallback_keys(value: Value, refuse_dev_key: bool) -> Result<Vec<Key>, ConfigError> {
    let dev_key = key_from_bytes(&dev_key_bytes());
    let Value::Array(_, entries) = value else {
        // A lone string must not be read as a list of one-character keys.
        return refuse(
            "secret_key_fallbacks must be a list of keys, e.g. ROCKET_SECRET_KEY_FALLBACKS='[\"...\"]'",
        );
    };
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let bad = |why: &str| ConfigError(format!("secret_key_fallbacks[{i}] {why}"));
            let text = entry.as_str().ok_or_else(|| bad("is not a string"))?;
            let bytes = decode_key_text(text).ok_or_else(|| {
                match base64::engine::general_purpose::STANDARD.decode(text) {
                    Ok(bytes) if bytes.len() < 32 => bad("is shorter than 256 bits"),
                    Ok(_) => bad("is not written as secret_key takes a key: 44 or 88 base64 characters, or 64 hex digits"),
                    Err(_) => bad("is not valid base64 (44 or 88 characters) or 64 hex digits"),
                }
            })?;
            let key = key_from_bytes(&bytes)
                .ok_or_else(|| bad("is shorter than 256 bits, or all zeros"))?;
            // The development key is public: as a fallback it would let
            // anyone seal a session the release build accepts.
            if refuse_dev_key
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
    if bytes.iter().all(|b| *b == 0) {
        return None;
    }
    match bytes.len() {
        0..=31 => None,
        32..=63 => Some(Key::derive_from(bytes)),
        _ => Some(Key::from(bytes)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A_KEY: &str = "hPRYyVRiMyxpw5sBB1XeCMN1kFsDCqKvBi2QJxBVHQk=";

    /// The app's base with the repository's templates and a revocation
    /// file of its own (tests run at once, and a file serves one user), in
    /// `profile`.
    fn figment(profile: &str, pairs: &[(&str, Value)]) -> Figment {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static STORES: AtomicUsize = AtomicUsize::new(0);
        let store = std::env::temp_dir()
            .join(format!("session-app-config-tests-{}", std::process::id()))
            .join(format!("revoked-{}", STORES.fetch_add(1, Ordering::SeqCst)));
        let mut figment = base()
            .merge((
                "template_dir",
                concat!(env!("CARGO_MANIFEST_DIR"), "/templates"),
            ))
            .merge(("session_revocation_store", store.display().to_string()));
        for (key, value) in pairs {
            figment = figment.merge(Serialized::global(key, value));
        }
        figment.select(profile)
    }

    fn config(pairs: &[(&str, Value)]) -> Result<AppConfig, ConfigError> {
        AppConfig::validate(&figment("debug", pairs), Build::Debug)
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let cfg = config(&[]).unwrap();
        let expected = Expiry::new(Duration::from_secs(1800), Duration::from_secs(28800));
        assert_eq!(cfg.expiry, expected);
        assert_eq!(cfg.cookies.session, "session");
        assert_eq!(cfg.cookies.csrf, "csrf");
        assert!(cfg.cookies.fallback_keys.is_empty());
        let rocket: rocket::Config = figment("debug", &[]).extract().unwrap();
        assert_eq!(rocket.port, 8080);
        assert_eq!(rocket.limits.get("form").unwrap().as_u64(), 4096);
        assert_eq!(rocket.log_level, rocket::config::LogLevel::Normal);
    }

    #[test]
    fn secure_cookies_get_the_host_prefix() {
        let cfg = config(&[("session_cookie_secure", true.into())]).unwrap();
        assert_eq!(cfg.cookies.session, "__Host-session");
        assert_eq!(cfg.cookies.csrf, "__Host-csrf");
        assert_eq!(cfg.cookies.flash, "__Host-_flash");
    }

    #[test]
    fn every_profile_but_debug_needs_a_key() {
        for profile in ["release", "staging", "default"] {
            let refused = AppConfig::validate(&figment(profile, &[]), Build::Debug).unwrap_err();
            assert!(
                refused
                    .0
                    .contains(&format!("no secret key in the {profile} profile")),
                "{refused}"
            );
        }
        assert!(AppConfig::validate(&figment("debug", &[]), Build::Debug).is_ok());
    }

    #[test]
    fn a_cookie_name_of_digits_is_a_name() {
        let cfg = config(&[("session_cookie_name", 123.into())]).unwrap();
        assert_eq!(cfg.cookies.session, "123");
    }

    #[test]
    fn a_release_build_refuses_the_development_key_under_every_profile() {
        let hex: String = dev_key_bytes().iter().map(|b| format!("{b:02x}")).collect();
        for profile in [
            "debug",
            "default",
            "prod",
            "production",
            "release",
            "staging",
        ] {
            for key in [DEV_SECRET_KEY, hex.as_str()] {
                let as_key = figment(profile, &[("secret_key", key.into())]);
                let refused = AppConfig::validate(&as_key, Build::Release).unwrap_err();
                assert!(refused.0.contains("development"), "{profile}: {refused}");

                let as_fallback = figment(
                    profile,
                    &[
                        ("secret_key", A_KEY.into()),
                        ("secret_key_fallbacks", vec![key].into()),
                    ],
                );
                let refused = AppConfig::validate(&as_fallback, Build::Release).unwrap_err();
                assert!(refused.0.contains("development"), "{profile}: {refused}");
            }
        }
        // A debug build keeps `cargo run` working with the committed key.
        let debug = figment("debug", &[("secret_key", DEV_SECRET_KEY.into())]);
        assert!(AppConfig::validate(&debug, Build::Debug).is_ok());
    }

    #[test]
    fn fallback_keys_take_exactly_what_secret_key_takes() {
        use base64::engine::general_purpose::STANDARD;
        let texts = [
            (STANDARD.encode([7u8; 32]), true),
            (STANDARD.encode([7u8; 64]), true),
            ("07".repeat(32), true),
            (STANDARD.encode([7u8; 48]), false),
            (STANDARD.encode([7u8; 31]), false),
            ("07".repeat(33), false),
            (STANDARD.encode([0u8; 32]), false),
        ];
        for (text, valid) in texts {
            let rocket_takes = figment("debug", &[("secret_key", text.as_str().into())])
                .extract_inner::<rocket::config::SecretKey>("secret_key")
                .is_ok_and(|key| !key.is_zero());
            assert_eq!(rocket_takes, valid, "Rocket on {text}");
            let fallback = config(&[("secret_key_fallbacks", vec![text.as_str()].into())]);
            assert_eq!(fallback.is_ok(), valid, "fallback {text}");
        }
    }

    #[test]
    fn a_form_limit_below_the_apps_forms_is_refused() {
        let tiny = figment("debug", &[]).merge(("limits.form", 0));
        let refused = AppConfig::validate(&tiny, Build::Debug).unwrap_err();
        assert!(refused.0.contains("limits.form"), "{refused}");
        let enough =
            figment("debug", &[]).merge(("limits.form", crate::routes::LARGEST_FORM_BYTES));
        assert!(AppConfig::validate(&enough, Build::Debug).is_ok());
    }

    #[test]
    fn a_template_folder_without_the_apps_templates_is_refused() {
        let elsewhere = figment("debug", &[("template_dir", "/etc".into())]);
        let refused = AppConfig::validate(&elsewhere, Build::Debug).unwrap_err();
        assert!(refused.0.contains("template_dir `/etc`"), "{refused}");
        assert!(refused.0.contains("ROCKET_TEMPLATE_DIR"), "{refused}");
    }

    #[test]
    fn key_lengths_follow_rocket() {
        assert!(key_from_bytes(&[7; 31]).is_none());
        assert!(key_from_bytes(&[7; 32]).is_some());
        assert!(key_from_bytes(&[7; 64]).is_some());
        assert!(key_from_bytes(&[0; 32]).is_none());
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
