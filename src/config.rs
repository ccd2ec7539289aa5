//! The app's settings: its defaults, the figment that reads them (as
//! Rocket reads its own), and the app's own rules on Rocket's settings and
//! keys. The wiring layer: each layer reads its own settings at ignition
//! (the session crate's in [`rocket_sealed_sessions::settings`], the templates' in
//! [`crate::render`]); this module composes them and checks what none of
//! them owns. Nothing here is global, and nothing below imports it.

use std::fmt;
use std::path::{Path, PathBuf};

use figment::error::Kind;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Value};
use figment::{Figment, Profile, Source};
use rocket::config::LogLevel;
use rocket::fairing::AdHoc;
use rocket::Rocket;

use rocket_sealed_sessions::cookie::{decode_key_text, key_from_bytes};
use rocket_sealed_sessions::settings::{self as session, Settings, SettingsError};

use crate::cookies::APP_COOKIES;
use crate::logger;
use crate::refusal::{one_line, refuse};
use crate::text::LARGEST_FORM_BYTES;

/// The secret key committed in `Rocket.toml` for the `debug` profile only.
/// A release build refuses to start with it.
pub const DEV_SECRET_KEY: &str = "QVRPsWlRRrOPJsdXsx9/HtkeZJbKenQIcLXGD0zZcVQ=";

/// The key printed in Rocket's documentation and its `examples/config`:
/// public, so anyone could seal sessions for an app that copied it.
pub const ROCKET_DOCS_KEY: &str = "hPRYyVRiMyxpw5sBB1XeCMN1kFsDCqKvBi2QJxBVHQk=";

/// Keys anyone can read, refused where [`Build::refuses_dev_key`] says, with
/// what each is.
const PUBLIC_KEYS: [(&str, &str); 2] = [
    (DEV_SECRET_KEY, "the committed development key"),
    (
        ROCKET_DOCS_KEY,
        "the key published in Rocket's documentation",
    ),
];

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
log_level = "normal"            # request lines and session events, at info level
log_format = "text"             # or "json": one object per line
ip_header = false               # behind a proxy: "X-Real-IP" (see deploy/nginx.conf)
# The session crate's settings keep its defaults (docs/operations.md lists
# them), but for the Redis keys, which this app has always kept here.
session_redis_prefix = "session_app:"

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
fn check_settings_file() -> Result<(), Refusal> {
    let (name, named) = settings_file();
    match find_settings_file(Path::new(&name)) {
        Some(path) => check_toml(&path),
        None if !named => Ok(()),
        None if name.is_empty() => Err(Refusal::SettingsFileEmptyName),
        None if Path::new(&name).is_dir() => Err(Refusal::SettingsFileIsFolder(name)),
        None => Err(Refusal::SettingsFileMissing(name)),
    }
}

/// Whether `path` reads as TOML. The error says where it stopped and why,
/// never what the line holds: it may hold a key.
fn check_toml(path: &Path) -> Result<(), Refusal> {
    let text = std::fs::read_to_string(path).map_err(|e| Refusal::SettingsFileUnreadable {
        path: path.to_owned(),
        error: e.to_string(),
    })?;
    let dict = Toml::from_str::<Dict>(&text).map_err(|e| {
        let at = e
            .span()
            .and_then(|span| text.get(..span.start))
            .map(|before| {
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
                format!(" at line {line}, column {column}")
            })
            .unwrap_or_default();
        Refusal::SettingsFileNotToml {
            path: path.to_owned(),
            at,
            why: one_line(e.message()),
        }
    })?;
    // Each top-level key names a profile: `port = 9000` written above
    // `[default]` would be a profile called `port`, and every setting
    // would then fail to read.
    match dict
        .iter()
        .find(|(_, value)| !matches!(value, Value::Dict(..)))
    {
        Some((key, _)) => Err(Refusal::OutsideProfile {
            path: path.to_owned(),
            key: key.clone(),
        }),
        None => Ok(()),
    }
}

/// Why the app refused to start. Each says what to do in one line, and
/// never shows a key.
#[derive(Debug)]
pub enum Refusal {
    /// `ROCKET_CONFIG` is set, but to nothing.
    SettingsFileEmptyName,
    /// `ROCKET_CONFIG` names a folder.
    SettingsFileIsFolder(String),
    /// `ROCKET_CONFIG` names no file.
    SettingsFileMissing(String),
    /// The settings file cannot be read.
    SettingsFileUnreadable { path: PathBuf, error: String },
    /// The settings file is not TOML; `at` says where, never the line.
    SettingsFileNotToml {
        path: PathBuf,
        at: String,
        why: String,
    },
    /// A thread count Rocket's runtime would panic on.
    ThreadCount {
        key: &'static str,
        variable: &'static str,
        default: &'static str,
        most: i128,
        given: Option<i128>,
    },
    /// Rocket's own settings do not read (the message never shows a key).
    RocketSettings(String),
    /// `log_level = "debug"` in a release build.
    DebugLogInRelease,
    /// `log_format` is neither `text` nor `json`.
    LogFormat,
    /// A setting neither Rocket nor the app reads: a misspelling, named
    /// with the setting it is closest to, if any.
    UnknownSetting {
        key: String,
        from: String,
        near: Option<String>,
    },
    /// A key of the settings file outside every profile (`[default]`, …).
    OutsideProfile { path: PathBuf, key: String },
    /// No `secret_key` in a profile that needs one.
    NoSecretKey { profile: String },
    /// `secret_key` does not read as a key.
    SecretKeyUnreadable,
    /// `secret_key` has too few distinct bytes to be random.
    SecretKeyNotRandom,
    /// `secret_key` is a public key (see `PUBLIC_KEYS`), in release.
    SecretKeyIsPublic { which: &'static str },
    /// A fallback key has too few distinct bytes to be random.
    FallbackNotRandom { index: usize },
    /// A fallback key is a public key, in release.
    FallbackIsPublic { index: usize, which: &'static str },
    /// `limits.form` is smaller than the app's own forms.
    FormLimit { limit: u64, needed: u64 },
    /// The session cookie would take the name of another of the app's.
    CookieNameTaken(String),
    /// The session layer's settings.
    Session(SettingsError),
    /// The rendering layer's `template_dir`.
    Templates(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::SettingsFileEmptyName => f.write_str(
                "ROCKET_CONFIG is set but empty: name the settings file, or unset it to read \
                 Rocket.toml",
            ),
            Refusal::SettingsFileIsFolder(name) => write!(
                f,
                "ROCKET_CONFIG names the folder `{name}`: name the settings file in it (e.g. `{}`)",
                Path::new(name).join("Rocket.toml").display()
            ),
            Refusal::SettingsFileMissing(name) => write!(
                f,
                "ROCKET_CONFIG names `{name}`, which is no file{}: fix the path, or unset \
                 ROCKET_CONFIG to read Rocket.toml",
                if Path::new(name).is_absolute() {
                    ""
                } else {
                    " in the working folder or its parents"
                }
            ),
            Refusal::SettingsFileUnreadable { path, error } => write!(
                f,
                "the settings file `{}` cannot be read: {error}",
                path.display()
            ),
            Refusal::SettingsFileNotToml { path, at, why } => write!(
                f,
                "the settings file `{}` is not valid TOML{at} ({why}): fix that line",
                path.display()
            ),
            Refusal::ThreadCount {
                key,
                variable,
                default,
                most,
                given,
            } => write!(
                f,
                "{key} ({variable}) must be a whole number of threads, at least 1 and at most \
                 {most}{}: leave it unset for Rocket's default ({default})",
                given.map(|n| format!(", not {n}")).unwrap_or_default()
            ),
            Refusal::RocketSettings(why) => f.write_str(why),
            Refusal::LogFormat => f.write_str("log_format must be \"text\" or \"json\""),
            Refusal::DebugLogInRelease => f.write_str(
                "log_level `debug` is refused in a release build: it logs names, CSRF tokens, \
                 cookies and Authorization headers; use `normal`, or `critical` or `off` for less",
            ),
            Refusal::UnknownSetting { key, from, near } => write!(
                f,
                "unknown setting `{key}`{from}: {} The session settings are {}; \
                 docs/operations.md lists every setting.",
                match near {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => "check its spelling.".to_owned(),
                },
                session_keys().collect::<Vec<_>>().join(", ")
            ),
            Refusal::OutsideProfile { path, key } => write!(
                f,
                "`{key}` in the settings file `{}` is outside a profile: put it under \
                 [default] (or [debug], [release])",
                path.display()
            ),
            Refusal::NoSecretKey { profile } => {
                write!(f, "no secret key in the {profile} profile: {KEY_HINT}")
            }
            Refusal::SecretKeyUnreadable => {
                f.write_str("invalid value for `secret_key` (not shown)")
            }
            Refusal::SecretKeyNotRandom => write!(
                f,
                "secret_key has too few distinct bytes to be a random key: {KEY_HINT}"
            ),
            Refusal::SecretKeyIsPublic { which } => write!(
                f,
                "secret_key is {which}, which anyone can read (and so seal sessions with): \
                 refused in release; {KEY_HINT}"
            ),
            Refusal::FallbackNotRandom { index } => write!(
                f,
                "secret_key_fallbacks[{index}] has too few distinct bytes to be a random key: \
                 drop it from the list (a key this guessable protects nothing)"
            ),
            Refusal::FallbackIsPublic { index, which } => write!(
                f,
                "secret_key_fallbacks[{index}] is {which}, which anyone can read: refused in \
                 release"
            ),
            Refusal::FormLimit { limit, needed } => write!(
                f,
                "limits.form ({limit} bytes) is too small for the app's own forms: at least \
                 {needed} bytes"
            ),
            Refusal::CookieNameTaken(name) => write!(
                f,
                "session_cookie_name `{name}` is taken by another of the app's cookies"
            ),
            Refusal::Session(e) => e.fmt(f),
            Refusal::Templates(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for Refusal {}

impl From<SettingsError> for Refusal {
    fn from(e: SettingsError) -> Refusal {
        Refusal::Session(e)
    }
}

/// The `session_*` keys the session layer reads.
fn session_keys() -> impl Iterator<Item = &'static str> {
    session::KEYS
        .into_iter()
        .filter(|key| key.starts_with("session_"))
}

/// How the log is written: Rocket's `log_level`, and the app's
/// `log_format`.
pub fn log_settings(figment: &Figment) -> Result<(LogLevel, logger::Format), Refusal> {
    let format = figment
        .extract_inner("log_format")
        .map_err(|_| Refusal::LogFormat)?;
    Ok((rocket_config(figment)?.log_level, format))
}

/// What must hold before Rocket builds its runtime, which reads the
/// settings file and the thread counts first and panics on what it cannot
/// use: checked by `main` before anything else.
pub fn check_before_runtime(figment: &Figment) -> Result<(), Refusal> {
    check_settings_file()?;
    check_thread_counts(figment)
}

/// The app's own rules on Rocket's settings and keys, checked once at
/// ignition by [`stage`]: Rocket's settings read, no debug log in a release
/// build, no misspelled `session_*` setting, a random secret key of the
/// profile's own (and not the committed one in release), random fallback
/// keys, and a form limit that fits the app's forms.
pub fn check(figment: &Figment) -> Result<(), Refusal> {
    check_with(figment, Build::current())
}

fn check_with(figment: &Figment, build: Build) -> Result<(), Refusal> {
    check_thread_counts(figment)?;
    let rocket_config = rocket_config(figment)?;
    check_log_level(&rocket_config, build)?;
    log_settings(figment)?;
    check_unknown_keys(figment)?;
    check_cookie_name(figment)?;
    check_secret_key(figment, build)?;
    check_fallback_keys(figment, build.refuses_dev_key(figment))?;
    check_form_limit(&rocket_config)
}

/// The wiring's stage: [`check`] at ignition; only once it holds are the
/// layers attached (by `layers`), so a refused start names the app's rule
/// and opens nothing: no store, no lock file, no template.
pub fn stage(
    layers: impl FnOnce(Rocket<rocket::Build>) -> Rocket<rocket::Build> + Send + Sync + 'static,
) -> AdHoc {
    AdHoc::try_on_ignite("Settings", |rocket| async move {
        match check(rocket.figment()) {
            Ok(()) => Ok(layers(rocket)),
            Err(e) => refuse(rocket, e),
        }
    })
}

/// Every layer's settings, as the stages will read them at ignition:
/// checked without opening anything (no store, no template file).
#[derive(Debug)]
pub struct AppConfig {
    /// The session layer's: expiry, cookies, store.
    pub session: Settings,
    /// Where the rendering layer reads the templates.
    pub template_dir: PathBuf,
}

impl AppConfig {
    /// Checks `figment` as a start would (see [`check`]) and reads each
    /// layer's settings from it.
    pub fn from_figment(figment: &Figment) -> Result<AppConfig, Refusal> {
        AppConfig::validate(figment, Build::current())
    }

    fn validate(figment: &Figment, build: Build) -> Result<AppConfig, Refusal> {
        check_with(figment, build)?;
        Ok(AppConfig {
            session: Settings::from_figment(figment)?,
            template_dir: crate::render::template_dir(figment).map_err(Refusal::Templates)?,
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
fn rocket_config(figment: &Figment) -> Result<rocket::Config, Refusal> {
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
            Refusal::SecretKeyUnreadable
        } else {
            Refusal::RocketSettings(one_line(&error.to_string()))
        }
    })
}

/// Rocket hands `workers` and `max_blocking` to its runtime, which panics
/// on 0 (and Rocket on a negative count) before the app could explain.
fn check_thread_counts(figment: &Figment) -> Result<(), Refusal> {
    // The most of each that still starts: far more than any machine
    // serves with, far fewer than the tens of thousands of threads at
    // which the runtime aborts (ROCKET_WORKERS=100000 did, after 15,883).
    for (key, variable, default, most) in [
        ("workers", "ROCKET_WORKERS", "one per CPU", 1024),
        ("max_blocking", "ROCKET_MAX_BLOCKING", "512", 4096),
    ] {
        // Unset: Rocket's default. Unreadable: reported with Rocket's
        // settings.
        let Ok(value) = figment.find_value(key) else {
            continue;
        };
        let count = whole_number(&value);
        if !count.is_some_and(|n| (1..=most).contains(&n)) {
            return Err(Refusal::ThreadCount {
                key,
                variable,
                default,
                most,
                given: count,
            });
        }
    }
    Ok(())
}

/// Rocket's `debug` level logs every request's headers and form fields:
/// names, entries, CSRF tokens, Cookie and Set-Cookie values and
/// Authorization headers. A release build, which serves real people,
/// refuses it.
fn check_log_level(config: &rocket::Config, build: Build) -> Result<(), Refusal> {
    if build == Build::Release && config.log_level == rocket::config::LogLevel::Debug {
        return Err(Refusal::DebugLogInRelease);
    }
    Ok(())
}

/// The session cookie keeps out of the app's own cookies' names.
fn check_cookie_name(figment: &Figment) -> Result<(), Refusal> {
    let name = match figment.find_value("session_cookie_name") {
        Ok(Value::String(_, name)) => name,
        _ => return Ok(()),
    };
    match APP_COOKIES.contains(&name.to_ascii_lowercase().as_str()) {
        true => Err(Refusal::CookieNameTaken(name)),
        false => Ok(()),
    }
}

/// The settings the app reads beside Rocket's own and the session's.
const APP_KEYS: [&str; 4] = [
    "template_dir",
    "log_format",
    // `ROCKET_CONFIG` and `ROCKET_PROFILE` as figment reads them.
    "config",
    "profile",
];

/// Every setting must be one Rocket, the session layer or the app reads:
/// a misspelled one (`ROCKET_SESSION_IDEL_TIMEOUT`, `ROCKET_COOKIE_SECURE`
/// for `session_cookie_secure`, a typo in the file) would be ignored and
/// its default used without a word. The refusal names the closest setting.
fn check_unknown_keys(figment: &Figment) -> Result<(), Refusal> {
    // Unreadable settings are reported with Rocket's, before this.
    let Ok(settings) = figment.extract::<Dict>() else {
        return Ok(());
    };
    let known: Vec<&str> = rocket::Config::PARAMETERS
        .iter()
        .copied()
        .chain(session::KEYS)
        .chain(APP_KEYS)
        .collect();
    let unknown = settings.keys().find(|key| !known.contains(&key.as_str()));
    let Some(key) = unknown else {
        return Ok(());
    };
    let near = nearest(key, &known).map(str::to_owned);
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
    Err(Refusal::UnknownSetting {
        key: key.clone(),
        from,
        near,
    })
}

/// The known setting `key` most likely meant: one a typo or two away, or
/// one that ends in it (`revocation_store` for
/// `session_revocation_store`).
fn nearest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    let key = key.to_ascii_lowercase();
    let by_suffix = known
        .iter()
        .find(|k| k.ends_with(&format!("_{key}")))
        .copied();
    let by_typo = known
        .iter()
        .map(|k| (edits(&key, k), *k))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, k)| k);
    by_typo.or(by_suffix)
}

/// How many one-character insertions, deletions or substitutions turn `a`
/// into `b` (Levenshtein).
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// A number without a fraction, signed or not, as written.
fn whole_number(value: &Value) -> Option<i128> {
    value
        .to_i128()
        .or_else(|| value.to_u128().and_then(|n| i128::try_from(n).ok()))
}

/// The app's own forms must fit under the `form` limit, or every login
/// would answer 413.
fn check_form_limit(config: &rocket::Config) -> Result<(), Refusal> {
    let needed = LARGEST_FORM_BYTES;
    let limit = config.limits.get("form").map_or(0, |limit| limit.as_u64());
    if limit < needed {
        return Err(Refusal::FormLimit { limit, needed });
    }
    Ok(())
}

fn is_release_profile(figment: &Figment) -> bool {
    figment.profile() == rocket::Config::RELEASE_PROFILE
}

/// The release profile must bring its own key, and the committed one is
/// refused wherever [`Build::refuses_dev_key`] says: Rocket would otherwise
/// refuse with a long message, and would happily accept the public one.
fn check_secret_key(figment: &Figment, build: Build) -> Result<(), Refusal> {
    let key: rocket::config::SecretKey = figment
        .extract_inner("secret_key")
        .map_err(|_| Refusal::SecretKeyUnreadable)?;
    // Rocket itself refuses every profile but `debug` without a key, in
    // lines of its own: say it first, in one.
    if figment.profile() != rocket::Config::DEBUG_PROFILE && !key.is_provided() {
        return Err(Refusal::NoSecretKey {
            profile: figment.profile().to_string(),
        });
    }
    if secret_key_bytes(figment).is_some_and(|bytes| !looks_random(&bytes)) {
        return Err(Refusal::SecretKeyNotRandom);
    }
    // Compared as keys, so the same key written in hex is refused too.
    if build.refuses_dev_key(figment) {
        if let Some((_, which)) = PUBLIC_KEYS
            .iter()
            .find(|(public, _)| key == rocket::config::SecretKey::derive_from(&key_bytes(public)))
        {
            return Err(Refusal::SecretKeyIsPublic { which });
        }
    }
    Ok(())
}

/// The bytes of `secret_key` as Rocket reads them (a string, or a list of
/// bytes), if it is set, readable and not all zeros: Rocket takes an
/// all-zero key for none, refused without a key of its own above.
fn secret_key_bytes(figment: &Figment) -> Option<Vec<u8>> {
    let bytes = match figment.find_value("secret_key").ok()? {
        Value::String(_, text) => decode_key_text(&text).ok()?,
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

/// The bytes of a key of [`PUBLIC_KEYS`].
fn key_bytes(public: &str) -> Vec<u8> {
    decode_key_text(public).expect("BUG: the public keys are valid base64")
}

/// The app's rules on `secret_key_fallbacks`, beyond the session layer's
/// reading of them: each key random, and the public development key
/// refused where [`Build::refuses_dev_key`] says. An entry the session
/// cannot read is left to it to refuse, by position.
fn check_fallback_keys(figment: &Figment, refuse_dev_key: bool) -> Result<(), Refusal> {
    let Ok(Value::Array(_, entries)) = figment.find_value("secret_key_fallbacks") else {
        return Ok(());
    };
    let public: Vec<_> = PUBLIC_KEYS
        .iter()
        .filter_map(|(text, which)| Some((key_from_bytes(&key_bytes(text))?, *which)))
        .collect();
    for (index, entry) in entries.iter().enumerate() {
        let Some(bytes) = entry.as_str().and_then(|text| decode_key_text(text).ok()) else {
            continue;
        };
        let Some(key) = key_from_bytes(&bytes) else {
            continue;
        };
        if !looks_random(&bytes) {
            return Err(Refusal::FallbackNotRandom { index });
        }
        // A public key as a fallback would let anyone seal a session the
        // release build accepts.
        let found = public
            .iter()
            .find(|(known, _)| known.master() == key.master());
        if let (true, Some((_, which))) = (refuse_dev_key, found) {
            return Err(Refusal::FallbackIsPublic { index, which });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cookies::CookieSettings;
    use base64::Engine as _;
    use cookie::Key;
    use std::time::Duration;

    const A_KEY: &str = "V+Ly6JPKyHU+z4DyD0e0PU1AxvY83MtQi5HFTAa0WKc=";

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

    fn config(pairs: &[(&str, Value)]) -> Result<AppConfig, Refusal> {
        AppConfig::validate(&figment("debug", pairs), Build::Debug)
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let cfg = config(&[]).unwrap();
        assert_eq!(cfg.session.expiry.idle(), Duration::from_secs(1800));
        assert_eq!(cfg.session.expiry.absolute(), Duration::from_secs(28800));
        assert_eq!(cfg.session.cookies.session_cookie(), "session");
        assert_eq!(CookieSettings::new(cfg.session.cookies).csrf, "csrf");
        let rocket: rocket::Config = figment("debug", &[]).extract().unwrap();
        assert_eq!(rocket.port, 8080);
        assert_eq!(rocket.limits.get("form").unwrap().as_u64(), 4096);
        assert_eq!(rocket.log_level, rocket::config::LogLevel::Normal);
    }

    #[test]
    fn secure_cookies_get_the_host_prefix() {
        let cfg = config(&[("session_cookie_secure", true.into())]).unwrap();
        assert_eq!(cfg.session.cookies.session_cookie(), "__Host-session");
        let cookies = CookieSettings::new(cfg.session.cookies);
        assert_eq!(cookies.csrf, "__Host-csrf");
        assert_eq!(cookies.flash, "__Host-_flash");
    }

    #[test]
    fn every_profile_but_debug_needs_a_key() {
        for profile in ["release", "staging", "default"] {
            let refused = AppConfig::validate(&figment(profile, &[]), Build::Debug).unwrap_err();
            assert!(
                refused
                    .to_string()
                    .contains(&format!("no secret key in the {profile} profile")),
                "{refused}"
            );
        }
        assert!(AppConfig::validate(&figment("debug", &[]), Build::Debug).is_ok());
    }

    #[test]
    fn a_cookie_name_of_digits_is_a_name() {
        let cfg = config(&[("session_cookie_name", 123.into())]).unwrap();
        assert_eq!(cfg.session.cookies.session_cookie(), "123");
    }

    #[test]
    fn a_release_build_refuses_the_public_keys_under_every_profile() {
        for (public, says) in [
            (DEV_SECRET_KEY, "the committed development key"),
            (ROCKET_DOCS_KEY, "published in Rocket's documentation"),
        ] {
            let hex: String = key_bytes(public)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            for profile in [
                "debug",
                "default",
                "prod",
                "production",
                "release",
                "staging",
            ] {
                for key in [public, hex.as_str()] {
                    let as_key = figment(profile, &[("secret_key", key.into())]);
                    let refused = AppConfig::validate(&as_key, Build::Release).unwrap_err();
                    assert!(refused.to_string().contains(says), "{profile}: {refused}");
                    assert!(!refused.to_string().contains(public), "never echoed");

                    let as_fallback = figment(
                        profile,
                        &[
                            ("secret_key", A_KEY.into()),
                            ("secret_key_fallbacks", vec![key].into()),
                        ],
                    );
                    let refused = AppConfig::validate(&as_fallback, Build::Release).unwrap_err();
                    assert!(refused.to_string().contains(says), "{profile}: {refused}");
                }
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
                assert!(
                    refused.to_string().contains("too few distinct bytes"),
                    "{refused}"
                );
                assert!(
                    refused.to_string().contains("openssl rand -base64 32"),
                    "{refused}"
                );
                assert!(!refused.to_string().contains(text.as_str()), "{refused}");
            }
            let fallback = config(&[("secret_key_fallbacks", vec![A_KEY, text].into())]);
            let refused = fallback.unwrap_err();
            assert!(
                refused
                    .to_string()
                    .starts_with("secret_key_fallbacks[1] has too few distinct bytes"),
                "{refused}"
            );
            assert!(!refused.to_string().contains(text.as_str()), "{refused}");
        }
        // As a list of bytes, as Rocket also reads `secret_key`.
        let bytes = figment("release", &[("secret_key", vec![9u8; 32].into())]);
        let refused = AppConfig::validate(&bytes, Build::Debug).unwrap_err();
        assert!(
            refused.to_string().contains("too few distinct bytes"),
            "{refused}"
        );
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
        assert!(refused.to_string().contains("no secret key"), "{refused}");
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
                assert!(refused.to_string().contains(needed), "{profile}: {refused}");
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
        let cases: [(&str, Value, &str); 7] = [
            ("workers", 0.into(), "workers (ROCKET_WORKERS)"),
            ("workers", (-1).into(), "not -1"),
            ("workers", "four".into(), "whole number of threads"),
            (
                "max_blocking",
                0.into(),
                "max_blocking (ROCKET_MAX_BLOCKING)",
            ),
            ("max_blocking", (-3).into(), "at least 1"),
            ("workers", 100_000.into(), "at most 1024, not 100000"),
            ("max_blocking", 4097.into(), "at most 4096, not 4097"),
        ];
        for (key, value, needed) in cases {
            let refused = config(&[(key, value.clone())]).unwrap_err();
            assert!(
                refused.to_string().contains(needed),
                "{key}={value:?}: {refused}"
            );
        }
        assert!(config(&[("workers", 1.into()), ("max_blocking", 1.into())]).is_ok());
    }

    #[test]
    fn unknown_settings_are_refused_with_the_nearest_name() {
        for key in [
            "session_idel_timeout",
            "session_cookie",
            "Session_Idle_Timeout",
            "SESSION_REVOCATION_STORE",
        ] {
            let refused = config(&[(key, 60.into())]).unwrap_err();
            assert!(
                refused
                    .to_string()
                    .starts_with(&format!("unknown setting `{key}`")),
                "{refused}"
            );
            assert!(
                refused.to_string().contains("session_idle_timeout"),
                "{refused}"
            );
        }
        // The session crate keeps its own defaults: the app repeats none,
        // and sets only its Redis prefix.
        for known in session::KEYS {
            let set_here = DEFAULTS.contains(&format!("{known} ="));
            assert_eq!(set_here, known == "session_redis_prefix", "{known}");
        }
        // Any other setting nobody reads, named with what it is closest to.
        for (key, near) in [
            ("sesion_revocation_store", Some("session_revocation_store")),
            ("revocation_store", Some("session_revocation_store")),
            ("cookie_secure", Some("session_cookie_secure")),
            ("idle_timeout", Some("session_idle_timeout")),
            ("prot", Some("port")),
            ("log_formt", Some("log_format")),
            ("sessions", None),
            ("databases", None),
        ] {
            let refused = config(&[(key, 1.into())]).unwrap_err().to_string();
            assert!(
                refused.starts_with(&format!("unknown setting `{key}`")),
                "{refused}"
            );
            match near {
                Some(near) => assert!(
                    refused.contains(&format!("did you mean `{near}`?")),
                    "{refused}"
                ),
                None => assert!(refused.contains("check its spelling"), "{refused}"),
            }
        }
        // Rocket's own settings, and the app's, are known.
        for key in ["cli_colors", "keep_alive", "ident", "template_dir"] {
            let set = config(&[(key, Value::from(true))]);
            assert!(
                !matches!(set, Err(Refusal::UnknownSetting { .. })),
                "{key}: {set:?}"
            );
        }
        // Read by the Redis store (tests/peers/redis.rs spools to it).
        assert!(config(&[("session_revocation_spool", "/tmp/spool".into())]).is_ok());
        let empty = config(&[("session_revocation_spool", "".into())]).unwrap_err();
        assert!(
            empty.to_string().contains("session_revocation_spool"),
            "{empty}"
        );
    }

    #[test]
    fn a_form_limit_below_the_apps_forms_is_refused() {
        let tiny = figment("debug", &[]).merge(("limits.form", 0));
        let refused = AppConfig::validate(&tiny, Build::Debug).unwrap_err();
        assert!(refused.to_string().contains("limits.form"), "{refused}");
        let enough = figment("debug", &[]).merge(("limits.form", LARGEST_FORM_BYTES));
        assert!(AppConfig::validate(&enough, Build::Debug).is_ok());
    }
}
