//! CSRF protection: a random token in its own private cookie, echoed by
//! every state-changing form in a hidden `csrf_token` field.
//!
//! The token lives in its own cookie so the login form is protected too
//! (login CSRF), and survives logout so open tabs keep working. Login gives
//! a new token, and the session carries it as well: a logged-in page takes
//! it from the session, already opened, without opening the token cookie.

use std::convert::Infallible;

use base64::Engine as _;
use rand::RngCore;
use rocket::data::{self, Data, FromData};
use rocket::form::{Form, FromForm};
use rocket::http::Status;
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};
use subtle::ConstantTimeEq;

use crate::session::{cookies, RequestSession};

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
        if let Some(token) = RequestSession::csrf_token_of(req) {
            return Outcome::Success(CsrfToken(token.to_owned()));
        }
        let token = cookies::csrf_token(req).unwrap_or_else(|| {
            let token = new_token();
            cookies::set_csrf_token(req, token.clone());
            token
        });
        Outcome::Success(CsrfToken(token))
    }
}

/// A form that carries a CSRF token field.
pub trait Protected {
    /// The submitted token, if the form had one.
    fn csrf_token(&self) -> Option<&str>;
}

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
        let expected = match RequestSession::csrf_token_of(req) {
            Some(token) => Some(token.to_owned()),
            None => cookies::csrf_token(req),
        };
        let valid = match (expected, form.csrf_token()) {
            (Some(expected), Some(submitted)) => tokens_match(&expected, submitted),
            _ => false,
        };
        if valid {
            Outcome::Success(Csrf(form))
        } else {
            rocket::info!(
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
