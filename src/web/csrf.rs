//! CSRF protection: a random token in its own private cookie, echoed by
//! every state-changing form in a hidden `csrf_token` field.
//!
//! The token lives in its own cookie so the login form is protected too
//! (login CSRF), and survives logout so open tabs keep working. Login gives
//! a new token ([`renew`]), and the session carries it as well, attached
//! beside its entries: a logged-in page takes it from the session, already
//! opened, without opening the token cookie.

use std::convert::Infallible;

use base64::Engine as _;
use rand::RngCore;
use rocket::data::{self, Data, FromData};
use rocket::form::{Form, FromForm};
use rocket::http::{CookieJar, Status};
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};
use subtle::ConstantTimeEq;

use rocket_sealed_sessions::cookie::{Lifetime, Opened};
use rocket_sealed_sessions::Session;

use super::request_id;
use crate::cookies::{self, CookieSettings};

/// The CSRF token of this browser, created on first need. Pages that show a
/// state-changing form take this guard and put [`CsrfToken::as_str`] in it.
pub struct CsrfToken(String);

impl CsrfToken {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A fresh random token: 256 bits, URL-safe base64.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for CsrfToken {
    type Error = Infallible;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Infallible> {
        if let Some(token) = Session::attachment_of(req) {
            return Outcome::Success(CsrfToken(token.to_owned()));
        }
        let (jar, settings) = (req.cookies(), cookies::settings(req));
        let token = token_cookie(jar, settings).unwrap_or_else(|| {
            let token = new_token();
            seal_token(jar, settings, token.clone());
            token
        });
        Outcome::Success(CsrfToken(token))
    }
}

/// This browser's token cookie, if it has a valid one. A token sealed under
/// a fallback key is re-sealed under the current key in the same response.
fn token_cookie(jar: &CookieJar<'_>, settings: &CookieSettings) -> Option<String> {
    match settings.rules.open(jar, &settings.csrf) {
        Opened::Current(token) => Some(token),
        Opened::Fallback(token) => {
            seal_token(jar, settings, token.clone());
            Some(token)
        }
        Opened::Missing | Opened::Rejected => None,
    }
}

/// Gives this browser `token` in its cookie, which lives until the browser
/// closes. At login the token is fresh from [`new_token`], and sealed once
/// the session that carries it has started ([`Session::start_attached`]),
/// so a token planted or seen before login is worthless after it.
pub fn seal_token(jar: &CookieJar<'_>, settings: &CookieSettings, token: String) {
    settings
        .rules
        .seal(jar, &settings.csrf, token, Lifetime::BrowserSession);
}

/// A form that carries a CSRF token field: the one way to declare a
/// protected form is to give it a `csrf_token` field and list it in
/// [`protected_forms!`].
pub trait Protected {
    /// The submitted token, if the form had one.
    fn csrf_token(&self) -> Option<&str>;
}

/// Implements [`Protected`] for forms with a `csrf_token: Option<&str>`
/// field.
macro_rules! protected_forms {
    ($($form:ident),* $(,)?) => {
        $(impl $crate::web::csrf::Protected for $form<'_> {
            fn csrf_token(&self) -> Option<&str> {
                self.csrf_token
            }
        })*
    };
}
pub(crate) use protected_forms;

/// A form of type `T` whose token matched the browser's token cookie. A
/// handler taking `Csrf<T>` runs only after that check; a missing or wrong
/// token answers `403 Forbidden` before anything changes.
pub struct Csrf<T>(pub T);

/// Whether `submitted` equals `expected`, in time that does not depend on
/// where they differ.
pub fn tokens_match(expected: &str, submitted: &str) -> bool {
    bool::from(expected.as_bytes().ct_eq(submitted.as_bytes()))
}

#[rocket::async_trait]
impl<'r, T: FromForm<'r> + Protected + Send> FromData<'r> for Csrf<T> {
    type Error = Option<rocket::form::Errors<'r>>;

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        let form = match Form::<T>::from_data(req, data).await {
            Outcome::Success(form) => form.into_inner(),
            Outcome::Error((status, errors)) => return Outcome::Error((status, Some(errors))),
            Outcome::Forward(forward) => return Outcome::Forward(forward),
        };
        let expected = match Session::attachment_of(req) {
            Some(token) => Some(token.to_owned()),
            None => token_cookie(req.cookies(), cookies::settings(req)),
        };
        let valid = match (expected, form.csrf_token()) {
            (Some(expected), Some(submitted)) => tokens_match(&expected, submitted),
            _ => false,
        };
        if valid {
            Outcome::Success(Csrf(form))
        } else {
            log::info!(
                request = request_id::of(req);
                "csrf: refused a {} to {}: token missing or wrong",
                req.method(),
                req.uri().path()
            );
            Outcome::Error((Status::Forbidden, None))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tokens_match;

    #[test]
    fn tokens_must_match_exactly() {
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abc", "abd"));
        assert!(!tokens_match("abc", "ab"));
        assert!(!tokens_match("abc", ""));
    }
}
