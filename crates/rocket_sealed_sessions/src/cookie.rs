//! Private cookies under the current key and the fallback keys of a
//! rotation: how the session cookie is named, sealed, opened and removed.
//! The same rules serve any other private cookie an app keeps beside the
//! session ([`CookieRules::open`], [`CookieRules::seal`]), so all of them
//! share the session's attributes and keys.
//!
//! Every cookie is `HttpOnly`, `Path=/`, `SameSite=Lax`, and, when
//! [`CookieRules::secure`], `Secure` with the `__Host-` prefix.

use std::time::Duration;

use cookie::Key;
use rocket::http::{Cookie, CookieJar, SameSite};

use crate::limits::{COOKIE_BUDGET, LONGEST_LIFETIME};

/// The prefix browsers accept only on `Secure`, `Path=/` cookies without a
/// `Domain`: no sibling subdomain can plant such a cookie.
pub const HOST_PREFIX: &str = "__Host-";

/// The session cookie's name and attributes, and the keys that open it.
#[derive(Debug, Clone)]
pub struct CookieRules {
    secure: bool,
    session: String,
    fallback_keys: Vec<Key>,
    session_budget: usize,
}

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

/// How long the browser keeps a cookie.
#[derive(Debug, Clone, Copy)]
pub enum Lifetime {
    /// Until the browser closes.
    BrowserSession,
    /// `max_age` from when the browser receives it.
    For {
        /// How long the browser keeps it.
        max_age: Duration,
    },
}

impl CookieRules {
    /// The rules for a session cookie called `name` (prefixed with
    /// [`HOST_PREFIX`] when `secure`), opened under the current key and
    /// then each of `fallback_keys`.
    pub fn new(name: &str, secure: bool, fallback_keys: Vec<Key>) -> CookieRules {
        let mut rules = CookieRules {
            secure,
            session: String::new(),
            fallback_keys,
            session_budget: 0,
        };
        rules.session = rules.prefixed(name);
        rules.session_budget = (0..COOKIE_BUDGET)
            .rev()
            .find(|len| rules.session_header_bound(*len) <= COOKIE_BUDGET)
            .unwrap_or(0);
        rules
    }

    /// Whether cookies are `Secure` and `__Host-` prefixed.
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// The session cookie's name, as the browser sees it.
    pub fn session_cookie(&self) -> &str {
        &self.session
    }

    /// The older keys whose cookies still open, then are re-sealed.
    pub fn fallback_keys(&self) -> &[Key] {
        &self.fallback_keys
    }

    /// The longest session plaintext whose cookie stays within
    /// [`COOKIE_BUDGET`].
    pub fn session_budget(&self) -> usize {
        self.session_budget
    }

    /// `name` as a cookie of these rules is called: with [`HOST_PREFIX`]
    /// when [`CookieRules::secure`].
    pub fn prefixed(&self, name: &str) -> String {
        if self.secure {
            format!("{HOST_PREFIX}{name}")
        } else {
            name.to_owned()
        }
    }

    /// A bound on the `Set-Cookie` header of the session cookie sealing a
    /// plaintext of `len` bytes, as Rocket writes it: the name, the sealed
    /// value in base64 with `/` and `=` percent-encoded, and the attributes
    /// with the longest `Max-Age`. The number of `/` in the sealed value is
    /// random (the nonce is); the bound covers all but a 2^-100 chance of
    /// more, by Bernstein's inequality. Kept rather than sealing a sample
    /// and measuring it: one seal says nothing of the next nonce, and the
    /// worst case (every character encoded) would halve the room for entries.
    pub fn session_header_bound(&self, len: usize) -> usize {
        let mut cookie = self.attributes(Cookie::new(self.session.clone(), ""));
        cookie.set_max_age(longest_max_age());
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
    pub fn attributes(&self, mut cookie: Cookie<'static>) -> Cookie<'static> {
        cookie.set_http_only(true);
        cookie.set_path("/");
        cookie.set_same_site(SameSite::Lax);
        if self.secure {
            cookie.set_secure(true);
        }
        cookie
    }

    /// Opens private cookie `name` under the current key, then under each
    /// fallback key in order.
    pub fn open(&self, jar: &CookieJar<'_>, name: &str) -> Opened {
        if let Some(cookie) = jar.get_private(name) {
            return Opened::Current(cookie.value().to_owned());
        }
        let Some(sealed) = jar.get(name) else {
            return Opened::Missing;
        };
        let mut scratch = cookie::CookieJar::new();
        self.fallback_keys
            .iter()
            .find_map(|key| scratch.private_mut(key).decrypt(sealed.clone()))
            .map_or(Opened::Rejected, |cookie| {
                Opened::Fallback(cookie.value().to_owned())
            })
    }

    /// Seals `value` under the current key as private cookie `name`.
    pub fn seal(&self, jar: &CookieJar<'_>, name: &str, value: String, lifetime: Lifetime) {
        let mut cookie = self.attributes(Cookie::new(name.to_owned(), value));
        // No `Expires` attribute (Rocket would give the cookie one a week
        // away): `Max-Age` says how long, when anything does. Current
        // browsers read it, and it wins over `Expires` (RFC 6265, 5.3);
        // Internet Explorer, retired, ignored it and would keep the cookie
        // until the browser closes. Formatting a date as well cost each
        // seal about 2,700 instructions (bench/README.md).
        cookie.set_expires(cookie::Expiration::Session);
        if let Lifetime::For { max_age } = lifetime {
            let secs = max_age.as_secs_f64().ceil() as i64;
            cookie.set_max_age(rocket::time::Duration::seconds(secs));
        }
        jar.add_private(cookie);
    }

    /// Tells the browser to drop private cookie `name`. The removal carries
    /// the same attributes as the cookie, as browsers require for
    /// `__Host-` names.
    pub fn discard(&self, jar: &CookieJar<'_>, name: &str) {
        jar.remove_private(self.attributes(Cookie::from(name.to_owned())));
    }
}

fn longest_max_age() -> rocket::time::Duration {
    rocket::time::Duration::seconds(LONGEST_LIFETIME.as_secs() as i64)
}

/// A key written as Rocket reads `secret_key`: 44 or 88 characters of
/// base64, or 64 hex digits. Nothing else; the error says which rule the
/// text broke, never the text.
///
/// ```
/// use rocket_sealed_sessions::cookie::decode_key_text;
///
/// assert_eq!(decode_key_text(&"ab".repeat(32)).unwrap().len(), 32);
/// assert!(decode_key_text("hunter2").is_err());
/// ```
pub fn decode_key_text(text: &str) -> Result<Vec<u8>, &'static str> {
    use base64::Engine as _;
    let base64 = base64::engine::general_purpose::STANDARD;
    match text.len() {
        44 | 88 => base64
            .decode(text)
            .map_err(|_| "is not valid base64 (44 or 88 characters) or 64 hex digits"),
        64 => {
            let digit = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
            text.as_bytes()
                .chunks(2)
                .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
                .collect::<Option<Vec<u8>>>()
                .ok_or("is not valid base64 (44 or 88 characters) or 64 hex digits")
        }
        _ => Err(match base64.decode(text) {
            Ok(bytes) if bytes.len() < 32 => "is shorter than 256 bits",
            Ok(_) => "is not written as secret_key takes a key: 44 or 88 base64 characters, or 64 hex digits",
            Err(_) => "is not valid base64 (44 or 88 characters) or 64 hex digits",
        }),
    }
}

/// Builds the cookie key exactly as Rocket does from `secret_key`, so a key
/// moved from `secret_key` to the fallbacks opens the same cookies. `None`
/// for fewer than 256 bits, or all zeros.
pub fn key_from_bytes(bytes: &[u8]) -> Option<Key> {
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

    /// The header Rocket would write for `plaintext` sealed under `key`.
    fn sealed_header(rules: &CookieRules, key: &Key, plaintext: &str) -> usize {
        let mut jar = cookie::CookieJar::new();
        jar.private_mut(key)
            .add(Cookie::new(rules.session.clone(), plaintext.to_owned()));
        let sealed = jar.get(&rules.session).unwrap().value().to_owned();
        let mut cookie = rules.attributes(Cookie::new(rules.session.clone(), sealed));
        cookie.set_max_age(longest_max_age());
        cookie.encoded().to_string().len()
    }

    #[test]
    fn the_bound_holds_for_every_seal_and_is_not_loose() {
        let key = Key::generate();
        for secure in [false, true] {
            let rules = CookieRules::new("session", secure, Vec::new());
            for len in [0, 1, 2, 3, 100, 1000, rules.session_budget] {
                let plaintext = "x".repeat(len);
                let bound = rules.session_header_bound(len);
                let largest = (0..300)
                    .map(|_| sealed_header(&rules, &key, &plaintext))
                    .max()
                    .unwrap();
                assert!(largest <= bound, "{len}: {largest} > {bound}");
                // Only the random slashes' allowance separates them.
                assert!(bound - largest < 400, "{len}: {largest} vs {bound}");
            }
            assert!(rules.session_header_bound(rules.session_budget) <= COOKIE_BUDGET);
            assert!(rules.session_header_bound(rules.session_budget + 1) > COOKIE_BUDGET);
        }
    }

    #[test]
    fn secure_cookies_get_the_host_prefix() {
        let rules = CookieRules::new("sid", true, Vec::new());
        assert_eq!(rules.session_cookie(), "__Host-sid");
        assert_eq!(rules.prefixed("csrf"), "__Host-csrf");
        assert_eq!(
            CookieRules::new("sid", false, Vec::new()).prefixed("x"),
            "x"
        );
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
        let base64 = "QVRPsWlRRrOPJsdXsx9/HtkeZJbKenQIcLXGD0zZcVQ=";
        assert_eq!(decode_key_text(base64).unwrap().len(), 32);
        assert!(decode_key_text("not base64!").is_err());
        assert!(decode_key_text(&"!".repeat(64)).is_err());
    }
}
