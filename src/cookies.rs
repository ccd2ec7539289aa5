//! The app's four cookies: their names, their attributes, and sealing and
//! opening them under the current key and the fallback keys of a rotation.
//!
//! - the session: private (encrypted), lives as long as its nearer window;
//! - the CSRF token: private, lives until the browser closes;
//! - the one-time notice: private, read once by the next page;
//! - the chosen language: `ja` or `en`, kept for a year.
//!
//! All four are `HttpOnly`, `Path=/`, `SameSite=Lax`, and under TLS (or
//! `session_cookie_secure`) `Secure` with the `__Host-` prefix.

use std::time::Duration;

use cookie::Key;
use rocket::http::{Cookie, CookieJar, SameSite};
use rocket::time::OffsetDateTime;
use rocket::Request;

use super::Millis;
use crate::config::AppConfig;

/// The session cookie's default name (`session_cookie_name`).
pub const SESSION_COOKIE: &str = "session";
/// The CSRF token cookie's name.
pub const CSRF_COOKIE: &str = "csrf";
/// The one-time notice cookie's name.
pub const FLASH_COOKIE: &str = "_flash";
/// The chosen language's cookie name.
pub const LANG_COOKIE: &str = "lang";
/// How long the language choice is kept: a year.
const LANG_LIFETIME_SECS: i64 = 365 * 24 * 3600;
/// The prefix browsers accept only on `Secure`, `Path=/` cookies without a
/// `Domain`: no sibling subdomain can plant such a cookie.
pub const HOST_PREFIX: &str = "__Host-";

/// The most a session `Set-Cookie` header may take, name and attributes
/// included: RFC 6265's minimum that every browser must keep. A larger
/// cookie is dropped silently, and the whole session with it.
pub const COOKIE_BUDGET: usize = 4096;

/// The cookies' names and attributes, and the keys that open them.
#[derive(Debug)]
pub struct CookieSettings {
    /// Whether cookies are `Secure` and `__Host-` prefixed.
    pub secure: bool,
    /// The session cookie's name, prefixed when `secure`.
    pub session: String,
    /// The CSRF token cookie's name, prefixed when `secure`.
    pub csrf: String,
    /// The notice cookie's name, prefixed when `secure`.
    pub flash: String,
    /// The language cookie's name, prefixed when `secure`.
    pub lang: String,
    /// Older keys whose cookies are still accepted, then re-sealed.
    pub fallback_keys: Vec<Key>,
    /// The longest session plaintext whose cookie stays within
    /// [`COOKIE_BUDGET`].
    pub session_budget: usize,
}

impl CookieSettings {
    /// Names the cookies; `session` is the unprefixed session cookie name.
    pub fn new(session: &str, secure: bool, fallback_keys: Vec<Key>) -> CookieSettings {
        let prefixed = |name: &str| {
            if secure {
                format!("{HOST_PREFIX}{name}")
            } else {
                name.to_owned()
            }
        };
        let mut settings = CookieSettings {
            secure,
            session: prefixed(session),
            csrf: prefixed(CSRF_COOKIE),
            flash: prefixed(FLASH_COOKIE),
            lang: prefixed(LANG_COOKIE),
            fallback_keys,
            session_budget: 0,
        };
        settings.session_budget = (0..COOKIE_BUDGET)
            .rev()
            .find(|len| settings.session_header_bound(*len) <= COOKIE_BUDGET)
            .unwrap_or(0);
        settings
    }

    /// A bound on the `Set-Cookie` header of the session cookie sealing a
    /// plaintext of `len` bytes, as Rocket writes it: the name, the sealed
    /// value in base64 with `/` and `=` percent-encoded, and the attributes
    /// with the longest `Max-Age`. The number of `/` in the sealed value is
    /// random (the nonce is); the bound covers all but a 2^-100 chance of
    /// more, by Bernstein's inequality.
    pub fn session_header_bound(&self, len: usize) -> usize {
        let mut cookie = self.attributes(Cookie::new(self.session.clone(), ""));
        cookie.set_max_age(rocket::time::Duration::seconds(
            crate::config::MAX_TIMEOUT_SECS as i64,
        ));
        cookie.set_expires(OffsetDateTime::UNIX_EPOCH);
        let fixed = cookie.encoded().to_string().len();
        // AES-256-GCM: a 12-byte nonce and a 16-byte tag around the text.
        let sealed = len + 28;
        let chars = 4 * sealed.div_ceil(3);
        let padding = (3 - sealed % 3) % 3;
        let mean = chars as f64 / 64.0;
        let c = 100.0 * std::f64::consts::LN_2;
        let slashes = (mean + c / 3.0 + (c * c / 9.0 + 2.0 * c * mean).sqrt()).ceil() as usize;
        fixed + chars + 2 * (slashes + padding)
    }

    /// `HttpOnly`, `Path=/`, `SameSite=Lax`, and `Secure` when configured (or,
    /// left unset, when Rocket itself serves TLS: Rocket then adds it).
    fn attributes(&self, mut cookie: Cookie<'static>) -> Cookie<'static> {
        cookie.set_http_only(true);
        cookie.set_path("/");
        cookie.set_same_site(SameSite::Lax);
        if self.secure {
            cookie.set_secure(true);
        }
        cookie
    }
}

/// What was found under a private cookie's name.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Opened {
    /// No such cookie.
    Missing,
    /// Sealed under the current `secret_key`.
    Current(String),
    /// Sealed under a fallback key: valid, but it should be re-sealed.
    Fallback(String),
    /// Present, but no key we hold opens it (tampered, foreign or retired).
    Rejected,
}

/// How long the browser keeps a cookie.
pub(crate) enum Lifetime {
    /// Until the browser closes.
    BrowserSession,
    /// `max_age` from `now`.
    For { max_age: Duration, now: Millis },
}

/// Opens the private cookie `name` under the current key, then under each
/// fallback key in order.
pub(crate) fn open(jar: &CookieJar<'_>, settings: &CookieSettings, name: &str) -> Opened {
    if let Some(cookie) = jar.get_private(name) {
        return Opened::Current(cookie.value().to_owned());
    }
    let Some(sealed) = jar.get(name) else {
        return Opened::Missing;
    };
    let mut scratch = cookie::CookieJar::new();
    settings
        .fallback_keys
        .iter()
        .find_map(|key| scratch.private_mut(key).decrypt(sealed.clone()))
        .map_or(Opened::Rejected, |cookie| {
            Opened::Fallback(cookie.value().to_owned())
        })
}

/// Seals `value` under the current key as cookie `name`.
pub(crate) fn seal(
    jar: &CookieJar<'_>,
    settings: &CookieSettings,
    name: &str,
    value: String,
    lifetime: Lifetime,
) {
    let mut cookie = settings.attributes(Cookie::new(name.to_owned(), value));
    match lifetime {
        Lifetime::For { max_age, now } => {
            let secs = max_age.as_secs_f64().ceil() as i64;
            cookie.set_max_age(rocket::time::Duration::seconds(secs));
            let now = OffsetDateTime::from_unix_timestamp((now / 1000) as i64)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH);
            cookie.set_expires(now + rocket::time::Duration::seconds(secs));
        }
        Lifetime::BrowserSession => cookie.set_expires(cookie::Expiration::Session),
    }
    jar.add_private(cookie);
}

/// Tells the browser to drop private cookie `name`. The removal carries the
/// same attributes as the cookie, as browsers require for `__Host-` names.
pub(crate) fn discard(jar: &CookieJar<'_>, settings: &CookieSettings, name: &str) {
    jar.remove_private(settings.attributes(Cookie::from(name.to_owned())));
}

fn settings<'r>(req: &'r Request<'_>) -> &'r CookieSettings {
    &AppConfig::of(req).cookies
}

/// This browser's CSRF token, if it has a valid one. A token sealed under a
/// fallback key is re-sealed under the current key in the same response.
pub fn csrf_token(req: &Request<'_>) -> Option<String> {
    let settings = settings(req);
    let jar = req.cookies();
    match open(jar, settings, &settings.csrf) {
        Opened::Current(token) => Some(token),
        Opened::Fallback(token) => {
            set_csrf_token(req, token.clone());
            Some(token)
        }
        Opened::Missing | Opened::Rejected => None,
    }
}

/// Gives this browser `token` as its CSRF token, until the browser closes.
pub fn set_csrf_token(req: &Request<'_>, token: String) {
    seal_csrf_token(req.cookies(), settings(req), token);
}

pub(crate) fn seal_csrf_token(jar: &CookieJar<'_>, settings: &CookieSettings, token: String) {
    seal(
        jar,
        settings,
        &settings.csrf,
        token,
        Lifetime::BrowserSession,
    );
}

/// Leaves notice `key` for the next page to show once, with `kept`, text
/// the person typed that the page gives back (sealed: never readable or
/// forgeable by anyone without the key).
pub fn set_notice(req: &Request<'_>, key: &'static str, kept: Option<&str>) {
    let settings = settings(req);
    let value = match kept {
        Some(kept) => format!("{key}\n{kept}"),
        None => key.to_owned(),
    };
    seal(
        req.cookies(),
        settings,
        &settings.flash,
        value,
        Lifetime::BrowserSession,
    );
}

/// Takes the pending notice, if the request carries one, as its key and
/// kept text: the cookie is removed, so it is shown once. A cookie no key
/// opens is removed and is no notice.
pub fn take_notice(req: &Request<'_>) -> Option<(String, Option<String>)> {
    let settings = settings(req);
    let jar = req.cookies();
    let opened = open(jar, settings, &settings.flash);
    if opened != Opened::Missing {
        discard(jar, settings, &settings.flash);
    }
    let (Opened::Current(value) | Opened::Fallback(value)) = opened else {
        return None;
    };
    Some(match value.split_once('\n') {
        Some((key, kept)) => (key.to_owned(), Some(kept.to_owned())),
        None => (value, None),
    })
}

/// The language this browser chose, if it chose one: its cookie's value
/// read by `read`, on every request, so not copied.
pub fn language<T>(req: &Request<'_>, read: impl FnOnce(&str) -> Option<T>) -> Option<T> {
    let settings = settings(req);
    req.cookies()
        .get(&settings.lang)
        .and_then(|cookie| read(cookie.value()))
}

/// Remembers `code` as this browser's language for a year.
pub fn set_language(req: &Request<'_>, code: &'static str) {
    let settings = settings(req);
    let mut cookie = settings.attributes(Cookie::new(settings.lang.clone(), code));
    cookie.set_max_age(rocket::time::Duration::seconds(LANG_LIFETIME_SECS));
    req.cookies().add(cookie);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header Rocket would write for `plaintext` sealed under `key`.
    fn sealed_header(settings: &CookieSettings, key: &Key, plaintext: &str) -> usize {
        let mut jar = cookie::CookieJar::new();
        jar.private_mut(key)
            .add(Cookie::new(settings.session.clone(), plaintext.to_owned()));
        let sealed = jar.get(&settings.session).unwrap().value().to_owned();
        let mut cookie = settings.attributes(Cookie::new(settings.session.clone(), sealed));
        cookie.set_max_age(rocket::time::Duration::seconds(
            crate::config::MAX_TIMEOUT_SECS as i64,
        ));
        cookie.set_expires(OffsetDateTime::now_utc());
        cookie.encoded().to_string().len()
    }

    #[test]
    fn the_bound_holds_for_every_seal_and_is_not_loose() {
        let key = Key::generate();
        for secure in [false, true] {
            let settings = CookieSettings::new(SESSION_COOKIE, secure, Vec::new());
            for len in [0, 1, 2, 3, 100, 1000, settings.session_budget] {
                let plaintext = "x".repeat(len);
                let bound = settings.session_header_bound(len);
                let largest = (0..300)
                    .map(|_| sealed_header(&settings, &key, &plaintext))
                    .max()
                    .unwrap();
                assert!(largest <= bound, "{len}: {largest} > {bound}");
                // Only the random slashes' allowance separates them.
                assert!(bound - largest < 400, "{len}: {largest} vs {bound}");
            }
            assert!(settings.session_header_bound(settings.session_budget) <= COOKIE_BUDGET);
            assert!(settings.session_header_bound(settings.session_budget + 1) > COOKIE_BUDGET);
        }
    }
}
