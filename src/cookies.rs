//! Sealing and opening the app's private cookies, with one set of attributes
//! and the fallback keys of a key rotation.

use std::time::Duration;

use cookie::Key;
use rocket::http::{Cookie, CookieJar, SameSite};
use rocket::time::OffsetDateTime;

use crate::config::AppConfig;

/// What was found under a private cookie's name.
#[derive(Debug, PartialEq, Eq)]
pub enum Opened {
    /// No such cookie.
    Missing,
    /// Sealed under the current `secret_key`.
    Current(String),
    /// Sealed under a fallback key: valid, but it should be re-sealed.
    Fallback(String),
    /// Present, but no key we hold opens it (tampered, foreign or retired).
    Rejected,
}

/// Opens the private cookie `name` under the current key, then under each
/// fallback key in order.
pub fn open(jar: &CookieJar<'_>, fallbacks: &[Key], name: &str) -> Opened {
    if let Some(cookie) = jar.get_private(name) {
        return Opened::Current(cookie.value().to_owned());
    }
    let Some(sealed) = jar.get(name) else {
        return Opened::Missing;
    };
    let mut scratch = cookie::CookieJar::new();
    fallbacks
        .iter()
        .find_map(|key| scratch.private_mut(key).decrypt(sealed.clone()))
        .map_or(Opened::Rejected, |cookie| {
            Opened::Fallback(cookie.value().to_owned())
        })
}

/// Seals `value` under the current key as cookie `name`. With a `lifetime`
/// the browser keeps it that long; without, until the browser closes.
pub fn seal(
    jar: &CookieJar<'_>,
    config: &AppConfig,
    name: &str,
    value: String,
    lifetime: Option<Duration>,
) {
    let mut cookie = attributes(config, Cookie::new(name.to_owned(), value));
    match lifetime {
        Some(lifetime) => {
            let secs = lifetime.as_secs_f64().ceil() as i64;
            cookie.set_max_age(rocket::time::Duration::seconds(secs));
            cookie.set_expires(OffsetDateTime::now_utc() + rocket::time::Duration::seconds(secs));
        }
        None => cookie.set_expires(cookie::Expiration::Session),
    }
    jar.add_private(cookie);
}

/// Tells the browser to drop cookie `name`. The removal carries the same
/// attributes as the cookie, as browsers require for `__Host-` names.
pub fn discard(jar: &CookieJar<'_>, config: &AppConfig, name: &str) {
    jar.remove_private(attributes(config, Cookie::from(name.to_owned())));
}

/// `HttpOnly`, `Path=/`, `SameSite=Lax`, and `Secure` when configured (or,
/// left unset, when Rocket itself serves TLS: Rocket then adds it).
fn attributes(config: &AppConfig, mut cookie: Cookie<'static>) -> Cookie<'static> {
    cookie.set_http_only(true);
    cookie.set_path("/");
    cookie.set_same_site(SameSite::Lax);
    if config.cookie_secure {
        cookie.set_secure(true);
    }
    cookie
}
