//! The app's cookies beside the session's: their names, and the rules they
//! share with the session cookie (attributes, keys) from the session
//! crate. A leaf: it knows cookies, not what the app keeps in them.
//!
//! - the session (the crate's): private, lives as long as its nearer window;
//! - the CSRF token: private, lives until the browser closes;
//! - the one-time notice: private, read once by the next page;
//! - the chosen language: `ja` or `en`, kept for a year.
//!
//! All four are `HttpOnly`, `Path=/`, `SameSite=Lax`, and under TLS (or
//! `session_cookie_secure`) `Secure` with the `__Host-` prefix.

use std::time::Duration;

use rocket::http::Cookie;
use rocket::Request;
use rocket_sealed_sessions::cookie::CookieRules;

pub use rocket_sealed_sessions::cookie::HOST_PREFIX;
pub use rocket_sealed_sessions::defaults::COOKIE_NAME as SESSION_COOKIE;

/// The CSRF token cookie's name.
pub const CSRF_COOKIE: &str = "csrf";
/// The one-time notice cookie's name.
pub const FLASH_COOKIE: &str = "_flash";
/// The chosen language's cookie name.
pub const LANG_COOKIE: &str = "lang";
/// The app's own cookies: the session cookie may not take their names.
pub const APP_COOKIES: [&str; 3] = [CSRF_COOKIE, FLASH_COOKIE, LANG_COOKIE];

/// The app's cookies as named under the session's rules.
#[derive(Debug)]
pub struct CookieSettings {
    /// The session cookie's rules, which the app's cookies share.
    pub rules: CookieRules,
    /// The CSRF token cookie's name, prefixed when secure.
    pub csrf: String,
    /// The notice cookie's name, prefixed when secure.
    pub flash: String,
    /// The language cookie's name, prefixed when secure.
    pub lang: String,
}

impl CookieSettings {
    /// Names the app's cookies under the session's `rules`.
    pub fn new(rules: CookieRules) -> CookieSettings {
        CookieSettings {
            csrf: rules.prefixed(CSRF_COOKIE),
            flash: rules.prefixed(FLASH_COOKIE),
            lang: rules.prefixed(LANG_COOKIE),
            rules,
        }
    }
}

/// The cookie settings the app was built with (managed by the web stage).
pub fn settings<'r>(req: &'r Request<'_>) -> &'r CookieSettings {
    req.rocket()
        .state::<CookieSettings>()
        .expect("BUG: the cookie settings are managed at ignition")
}

/// Sets plain (readable, unsealed) cookie `name` to `value` for `max_age`,
/// with the app's attributes.
pub fn set_plain(req: &Request<'_>, name: &str, value: &'static str, max_age: Duration) {
    let mut cookie = settings(req)
        .rules
        .attributes(Cookie::new(name.to_owned(), value));
    cookie.set_max_age(rocket::time::Duration::seconds(max_age.as_secs() as i64));
    req.cookies().add(cookie);
}
