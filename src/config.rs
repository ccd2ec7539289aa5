//! The application's settings: read once from Rocket's figment, validated at
//! ignition, then shared as managed state. Nothing here is global.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use cookie::Key;
use figment::error::Kind;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::magic::RelativePathBuf;
use figment::value::{Dict, Value};
use figment::{Figment, Profile, Source};
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

/// The `session_*` settings the app reads. Any other key starting with
/// `session_` is refused: misspelled, it would be ignored without a word.
pub const SESSION_SETTINGS: [&str; 6] = [
    "session_idle_timeout",
    "session_absolute_timeout",
    "session_cookie_name",
    "session_cookie_secure",
    "session_revocation_store",
    "session_revocation_spool",
];

/// Rocket's defaults with the app's [`DEFAULTS`] over them: the base every
/// figment of the app starts from.
pub fn base() -> Figment {
    Figment::from(rocket::Config::default()).merge(Toml::string(DEFAULTS).nested())
}

/// The settings the binary runs with: [`base`], then `Rocket.toml` (or the
/// file `ROCKET_CONFIG` names), then `ROCKET_*` variables, in the profile
/// `ROCKET_PROFILE` selects, exactly as Rocket reads its own.
pub fn figment() -> Figment {
    let figment = base().merge(Toml::file(settings_file().0).nested()).merge(
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

/// The settings file as Rocket names it: the one `ROCKET_CONFIG` names
/// (then `true`), or `Rocket.toml`. A relative name is looked for in the
/// working folder, then in its parents.
fn settings_file() -> (String, bool) {
    match Env::var("ROCKET_CONFIG") {
        Some(name) => (name, true),
        None => ("Rocket.toml".to_owned(), false),
    }
}

/// The file [`figment`] reads for `name`, found as figment finds it: an
/// absolute path as it is, a relative one in the working folder or the
/// nearest parent that has it.
fn find_settings_file(name: &Path) -> Option<PathBuf> {
    if name.as_os_str().is_empty() {
        return None;
    }
    if name.is_absolute() {
        return name.is_file().then(|| name.to_owned());
    }
    let cwd = std::env::current_dir().ok()?;
    cwd.ancestors()
        .map(|folder| folder.join(name))
        .find(|path| path.is_file())
}

/// Checks the settings file before anything reads it: a `ROCKET_CONFIG`
/// that names no file (a typo, a folder) would otherwise start on the
/// defaults without a word, and a file that is not TOML would make Rocket
/// panic before the app could explain. `Rocket.toml` itself may be absent:
/// the defaults then hold, as when the binary runs from another folder.
pub fn check_settings_file() -> Result<(), ConfigError> {
    let (name, named) = settings_file();
    match find_settings_file(Path::new(&name)) {
        Some(path) => check_toml(&path),
        None if !named => Ok(()),
        None if name.is_empty() => refuse(
            "ROCKET_CONFIG is set but empty: name the settings file, or unset it to read Rocket.toml",
        ),
        None if Path::new(&name).is_dir() => refuse(format!(
            "ROCKET_CONFIG names the folder `{name}`: name the settings file in it (e.g. `{}`)",
            Path::new(&name).join("Rocket.toml").display()
        )),
        None => refuse(format!(
            "ROCKET_CONFIG names `{name}`, which is no file{}: fix the path, or unset ROCKET_CONFIG \
             to read Rocket.toml",
            if Path::new(&name).is_absolute() {
                ""
            } else {
                " in the working folder or its parents"
            }
        )),
    }
}

/// Whether `path` reads as TOML. The error says where it stopped and why,
/// never what the line holds: it may hold a key.
fn check_toml(path: &Path) -> Result<(), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError(format!(
            "the settings file `{}` cannot be read: {e}",
            path.display()
        ))
    })?;
    Toml::from_str::<Dict>(&text).map(drop).map_err(|e| {
        let at = e
            .span()
            .and_then(|span| text.get(..span.start))
            .map(|before| {
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
                format!(" at line {line}, column {column}")
            })
            .unwrap_or_default();
        ConfigError(format!(
            "the settings file `{}` is not valid TOML{at} ({}): fix that line",
            path.display(),
            one_line(e.message())
        ))
    })
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
        check_thread_counts(figment)?;
        let rocket_config = rocket_config(figment)?;
        check_log_level(&rocket_config, build)?;
        check_session_keys(figment)?;
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
        if raw.session_revocation_spool.as_os_str().is_empty() {
            return refuse(
                "session_revocation_spool must not be empty: name a file, or leave it unset for \
                 data/revocation-spool",
            );
        }
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
/// value (Rocket's would print the offending value: the secret), nor the
/// line of a settings file that is not TOML.
fn rocket_config(figment: &Figment) -> Result<rocket::Config, ConfigError> {
    figment.extract::<rocket::Config>().map_err(|error| {
        // A file that does not parse fails every read with the parser's
        // message, which quotes the line: say where instead.
        let unparsed = error.clone().into_iter().find_map(|e| {
            let source = e.metadata.as_ref()?.source.as_ref()?;
            match (&e.kind, source) {
                (Kind::Message(_), Source::File(path)) => check_toml(path).err(),
                _ => None,
            }
        });
        if let Some(refusal) = unparsed {
            return refusal;
        }
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

/// Rocket hands `workers` and `max_blocking` to its runtime, which panics
/// on 0 (and Rocket on a negative count) before the app could explain.
fn check_thread_counts(figment: &Figment) -> Result<(), ConfigError> {
    for (key, variable, default) in [
        ("workers", "ROCKET_WORKERS", "one per CPU"),
        ("max_blocking", "ROCKET_MAX_BLOCKING", "512"),
    ] {
        // Unset: Rocket's default. Unreadable: reported with Rocket's
        // settings.
        let Ok(value) = figment.find_value(key) else {
            continue;
        };
        let count = whole_number(&value);
        if !count.is_some_and(|n| n >= 1 && usize::try_from(n).is_ok()) {
            let shown = count.map(|n| format!(", not {n}")).unwrap_or_default();
            return refuse(format!(
                "{key} ({variable}) must be a whole number of threads, at least 1{shown}: leave it \
                 unset for Rocket's default ({default})"
            ));
        }
    }
    Ok(())
}

/// Rocket's `debug` level logs every request's headers and form fields:
/// names, entries, CSRF tokens, Cookie and Set-Cookie values and
/// Authorization headers. A release build, which serves real people,
/// refuses it.
fn check_log_level(config: &rocket::Config, build: Build) -> Result<(), ConfigError> {
    if build == Build::Release && config.log_level == rocket::config::LogLevel::Debug {
        return refuse(
            "log_level `debug` is refused in a release build: it logs names, CSRF tokens, cookies \
             and Authorization headers; use `normal`, or `critical` or `off` for less",
        );
    }
    Ok(())
}

/// Every `session_*` key must be one the app reads ([`SESSION_SETTINGS`]):
/// a misspelled one (`ROCKET_SESSION_IDEL_TIMEOUT`, a typo in the file)
/// would be ignored and its default used without a word.
fn check_session_keys(figment: &Figment) -> Result<(), ConfigError> {
    // Unreadable settings are reported with Rocket's, before this.
    let Ok(settings) = figment.extract::<Dict>() else {
        return Ok(());
    };
    let unknown = settings.keys().find(|key| {
        key.to_ascii_lowercase().starts_with("session_")
            && !SESSION_SETTINGS.contains(&key.as_str())
    });
    let Some(key) = unknown else {
        return Ok(());
    };
    let from = match figment.find_metadata(key) {
        Some(metadata) => match &metadata.source {
            Some(Source::File(path)) => format!(" in {}", path.display()),
            // Named as figment names it: "`ROCKET_` environment variable(s)".
            _ if metadata.name.contains("environment variable") => format!(
                " (set by {}{})",
                metadata.name.split('`').nth(1).unwrap_or_default(),
                metadata.interpolate(figment.profile(), &[key.as_str()])
            ),
            _ => format!(" (from {})", metadata.name),
        },
        None => String::new(),
    };
    refuse(format!(
        "unknown setting `{key}`{from}: check its spelling; the session settings are {}",
        SESSION_SETTINGS.join(", ")
    ))
}

/// A number without a fraction, signed or not, as written.
fn whole_number(value: &Value) -> Option<i128> {
    value
        .to_i128()
        .or_else(|| value.to_u128().and_then(|n| i128::try_from(n).ok()))
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
    if secret_key_bytes(figment).is_some_and(|bytes| !looks_random(&bytes)) {
        return refuse(format!(
            "secret_key has too few distinct bytes to be a random key: {KEY_HINT}"
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

/// The bytes of `secret_key` as Rocket reads them (a string, or a list of
/// bytes), if it is set, readable and not all zeros: Rocket takes an
/// all-zero key for none, refused without a key of its own above.
fn secret_key_bytes(figment: &Figment) -> Option<Vec<u8>> {
    let bytes = match figment.find_value("secret_key").ok()? {
        Value::String(_, text) => decode_key_text(&text)?,
        Value::Array(_, items) => items
            .iter()
            .map(|item| u8::try_from(whole_number(item)?).ok())
            .collect::<Option<Vec<u8>>>()?,
        _ => return None,
    };
    bytes.iter().any(|b| *b != 0).then_some(bytes)
}

/// The fewest distinct byte values a key may have: see [`looks_random`].
const MIN_DISTINCT_KEY_BYTES: usize = 16;

/// Whether `key` could have come from a random generator: it has at least
/// [`MIN_DISTINCT_KEY_BYTES`] distinct byte values. A key typed by hand or
/// built from a pattern (`AAAA…AE=`, nearly all zeros; one word repeated)
/// has a handful, while 32 random bytes have about 30 distinct values.
///
/// A random key is refused only if its 32 bytes take 15 values or fewer:
/// the chance is the sum over k = 1..=15 of C(256, k) · S(32, k) · k! /
/// 256^32 (S: Stirling numbers of the second kind), about 3.2 × 10^-17 per
/// key from `openssl rand -base64 32`, and about 10^-55 for 64 bytes.
/// The rule catches keys with almost no entropy, not every weak key.
fn looks_random(key: &[u8]) -> bool {
    let mut seen = [false; 256];
    key.iter().for_each(|b| seen[usize::from(*b)] = true);
    seen.iter().filter(|s| **s).count() >= MIN_DISTINCT_KEY_BYTES
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
            if !looks_random(&bytes) {
                return Err(bad(
                    "has too few distinct bytes to be a random key: drop it from the list (a key \
                     this guessable protects nothing)",
                ));
            }
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
        // Varied bytes: keys of one repeated byte are refused as not random
        // (see `keys_with_almost_no_entropy_are_refused`).
        let hex: String = varied(32).iter().map(|b| format!("{b:02x}")).collect();
        let texts = [
            (STANDARD.encode(varied(32)), true),
            (STANDARD.encode(varied(64)), true),
            (hex.clone(), true),
            (STANDARD.encode(varied(48)), false),
            (STANDARD.encode(varied(31)), false),
            (format!("{hex}07"), false),
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

    /// `len` bytes, each different from the 255 before it.
    fn varied(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 37 + 11) as u8).collect()
    }

    #[test]
    fn keys_with_almost_no_entropy_are_refused() {
        use base64::engine::general_purpose::STANDARD;
        let mut patterned = [0u8; 32];
        patterned[31] = 1; // "AAAA…AE=": 31 zero bytes and a one
        assert_eq!(
            STANDARD.encode(patterned),
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE="
        );
        let weak = [
            STANDARD.encode(patterned),
            STANDARD.encode(b"password".repeat(4)),
            STANDARD.encode([7u8; 64]),
            "07".repeat(32),
            // 15 distinct values: one short of the rule.
            STANDARD.encode((0..32).map(|i| (i % 15) as u8).collect::<Vec<_>>()),
        ];
        for text in &weak {
            for profile in ["debug", "release"] {
                let as_key = figment(profile, &[("secret_key", text.as_str().into())]);
                let refused = AppConfig::validate(&as_key, Build::Debug).unwrap_err();
                assert!(refused.0.contains("too few distinct bytes"), "{refused}");
                assert!(refused.0.contains("openssl rand -base64 32"), "{refused}");
                assert!(!refused.0.contains(text.as_str()), "{refused}");
            }
            let fallback = config(&[("secret_key_fallbacks", vec![A_KEY, text].into())]);
            let refused = fallback.unwrap_err();
            assert!(
                refused
                    .0
                    .starts_with("secret_key_fallbacks[1] has too few distinct bytes"),
                "{refused}"
            );
            assert!(!refused.0.contains(text.as_str()), "{refused}");
        }
        // As a list of bytes, as Rocket also reads `secret_key`.
        let bytes = figment("release", &[("secret_key", vec![9u8; 32].into())]);
        let refused = AppConfig::validate(&bytes, Build::Debug).unwrap_err();
        assert!(refused.0.contains("too few distinct bytes"), "{refused}");
        // 16 distinct values pass; so do the keys the repository uses.
        let sixteen = STANDARD.encode((0..32).map(|i| (i % 16) as u8).collect::<Vec<_>>());
        for key in [sixteen.as_str(), A_KEY, DEV_SECRET_KEY] {
            // The development key is refused in release for being public.
            let debug = figment("debug", &[("secret_key", key.into())]);
            assert!(AppConfig::validate(&debug, Build::Debug).is_ok(), "{key}");
        }
        let release = figment("release", &[("secret_key", sixteen.as_str().into())]);
        assert!(AppConfig::validate(&release, Build::Release).is_ok());
        // An all-zero key is Rocket's "no key": refused as such outside debug.
        let zero = figment(
            "release",
            &[("secret_key", STANDARD.encode([0u8; 32]).into())],
        );
        let refused = AppConfig::validate(&zero, Build::Debug).unwrap_err();
        assert!(refused.0.contains("no secret key"), "{refused}");
    }

    #[test]
    fn random_keys_always_look_random() {
        // The rule's false refusals are about 3 in 10^17 for 32 bytes
        // (see `looks_random`): none is expected here, in 20,000 keys.
        for _ in 0..10_000 {
            let key = Key::generate();
            assert!(looks_random(&key.master()[..32]));
            assert!(looks_random(key.master()));
        }
        assert!(!looks_random(&[0; 32]));
    }

    #[test]
    fn a_release_build_refuses_the_debug_log_level() {
        for profile in ["debug", "release"] {
            let debug_log = figment(
                profile,
                &[("secret_key", A_KEY.into()), ("log_level", "debug".into())],
            );
            let refused = AppConfig::validate(&debug_log, Build::Release).unwrap_err();
            for needed in [
                "log_level `debug` is refused in a release build",
                "CSRF tokens",
                "`normal`",
                "`critical` or `off`",
            ] {
                assert!(refused.0.contains(needed), "{profile}: {refused}");
            }
            // A debug build keeps it, for development.
            assert!(AppConfig::validate(&debug_log, Build::Debug).is_ok());
            for level in ["normal", "critical", "off"] {
                let quieter = figment(
                    profile,
                    &[("secret_key", A_KEY.into()), ("log_level", level.into())],
                );
                assert!(
                    AppConfig::validate(&quieter, Build::Release).is_ok(),
                    "{profile}: {level}"
                );
            }
        }
    }

    #[test]
    fn thread_counts_rocket_would_panic_on_are_refused() {
        let cases: [(&str, Value, &str); 5] = [
            ("workers", 0.into(), "workers (ROCKET_WORKERS)"),
            ("workers", (-1).into(), "not -1"),
            ("workers", "four".into(), "whole number of threads"),
            (
                "max_blocking",
                0.into(),
                "max_blocking (ROCKET_MAX_BLOCKING)",
            ),
            ("max_blocking", (-3).into(), "at least 1"),
        ];
        for (key, value, needed) in cases {
            let refused = config(&[(key, value.clone())]).unwrap_err();
            assert!(refused.0.contains(needed), "{key}={value:?}: {refused}");
        }
        assert!(config(&[("workers", 1.into()), ("max_blocking", 1.into())]).is_ok());
    }

    #[test]
    fn unknown_session_settings_are_refused() {
        for key in [
            "session_idel_timeout",
            "session_cookie",
            "Session_Idle_Timeout",
            "SESSION_REVOCATION_STORE",
        ] {
            let refused = config(&[(key, 60.into())]).unwrap_err();
            assert!(
                refused.0.starts_with(&format!("unknown setting `{key}`")),
                "{refused}"
            );
            assert!(refused.0.contains("session_idle_timeout"), "{refused}");
        }
        for known in SESSION_SETTINGS {
            assert!(DEFAULTS.contains(known), "{known} has a default");
        }
        // Other settings are Rocket's or the app's: not this rule's.
        assert!(config(&[("sessions", 1.into())]).is_ok());
        let spool = config(&[("session_revocation_spool", "/tmp/spool".into())]).unwrap();
        assert_eq!(spool.revocation_spool, PathBuf::from("/tmp/spool"));
        let empty = config(&[("session_revocation_spool", "".into())]).unwrap_err();
        assert!(empty.0.contains("session_revocation_spool"), "{empty}");
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
