//! The request's session: [`RequestSession`], the one handle routes use to
//! read and change it, and [`LoggedIn`], the guard that proves a live
//! session with a name.
//!
//! The cookie is opened once per request (cached), and opening applies
//! every rule: a cookie that no key opens, that does not decode, or that
//! has expired is removed and counts as no session; one due for renewal, or
//! sealed under a fallback key, is re-issued in the same response.

use std::borrow::Cow;
use std::convert::Infallible;

use rocket::http::{CookieJar, Status};
use rocket::outcome::IntoOutcome;
use rocket::request::{FromRequest, Outcome, Request};

use super::cookies::{self, Lifetime, Opened};
use super::{Clock, Session, Verdict};
use crate::config::AppConfig;

/// The session of the request being served.
pub struct RequestSession<'r> {
    jar: &'r CookieJar<'r>,
    config: &'r AppConfig,
    clock: &'r Clock,
    current: Option<Cow<'r, Session>>,
}

/// The per-request cache of the opened session.
struct Opening(Option<Session>);

impl<'r> RequestSession<'r> {
    /// The session of `req`, opened under the session rules (once per
    /// request, whoever asks first).
    pub fn of(req: &'r Request<'_>) -> RequestSession<'r> {
        RequestSession {
            jar: req.cookies(),
            config: AppConfig::of(req),
            clock: clock(req),
            current: opened(req).as_ref().map(Cow::Borrowed),
        }
    }

    /// Applies the session rules to `req` now (removing a dead cookie,
    /// renewing a live one), for pages that do not otherwise read the session.
    pub fn apply_rules(req: &'r Request<'_>) {
        opened(req);
    }

    /// The live session, if there is one.
    pub fn current(&self) -> Option<&Session> {
        self.current.as_deref()
    }

    /// Whether somebody is logged in (see [`Session::name`]).
    pub fn is_logged_in(&self) -> bool {
        self.current().is_some_and(Session::is_logged_in)
    }

    /// Replaces whatever session there was with a fresh one for `name`, and
    /// the CSRF token with a fresh one too, so a token planted or seen
    /// before login is worthless after it.
    pub fn start(&mut self, name: &str) {
        let session = Session::start(name, self.clock.now());
        self.save(&session);
        cookies::seal_csrf_token(self.jar, &self.config.cookies, crate::csrf::new_token());
        self.current = Some(Cow::Owned(session));
        rocket::info!("session: login");
    }

    /// Deletes entry `key`; says whether it was there. Deleting `name` ends
    /// the login; the other entries stay.
    pub fn remove(&mut self, key: &str) -> bool {
        let Some(session) = self.current.as_mut() else {
            return false;
        };
        if !session.entries().contains_key(key) {
            return false;
        }
        let session = session.to_mut();
        session.remove(key);
        let session = session.clone();
        self.save(&session);
        rocket::info!("session: one key deleted");
        true
    }

    /// Ends the session: the cookie is removed.
    pub fn clear(&mut self) {
        cookies::discard(self.jar, &self.config.cookies, &self.config.cookies.session);
        self.current = None;
        rocket::info!("session: logout");
    }

    fn save(&self, session: &Session) {
        save(self.jar, self.config, self.clock.now(), session);
    }
}

/// Stores `session` in the cookie, valid until its nearer window closes.
fn save(jar: &CookieJar<'_>, config: &AppConfig, now: super::Millis, session: &Session) {
    let max_age = config.expiry.remaining(session, now);
    cookies::seal(
        jar,
        &config.cookies,
        &config.cookies.session,
        session.encode(),
        Lifetime::For { max_age, now },
    );
}

fn clock<'r>(req: &'r Request<'_>) -> &'r Clock {
    req.rocket()
        .state::<Clock>()
        .expect("BUG: the clock is managed when the app is built")
}

/// The request's session, opened under the rules by whoever asks first.
fn opened<'r>(req: &'r Request<'_>) -> &'r Option<Session> {
    let Opening(current) =
        req.local_cache(|| Opening(open(req.cookies(), AppConfig::of(req), clock(req))));
    current
}

fn open(jar: &CookieJar<'_>, config: &AppConfig, clock: &Clock) -> Option<Session> {
    let name = &config.cookies.session;
    let reject = |why: &str| {
        rocket::info!("session: cookie rejected: {why}");
        cookies::discard(jar, &config.cookies, name);
        None
    };
    let (plaintext, stale_key) = match cookies::open(jar, &config.cookies, name) {
        Opened::Missing => return None,
        Opened::Rejected => return reject("no key opens it"),
        Opened::Current(plaintext) => (plaintext, false),
        Opened::Fallback(plaintext) => (plaintext, true),
    };
    let Some(mut session) = Session::decode(&plaintext) else {
        return reject("not a session of this version");
    };
    let now = clock.now();
    match config.expiry.check(&session, now) {
        Verdict::Expired(why) => {
            rocket::info!("session: expired ({})", why.as_str());
            cookies::discard(jar, &config.cookies, name);
            return None;
        }
        Verdict::Renew => {
            session.touch(now);
            save(jar, config, now, &session);
        }
        Verdict::Fresh if stale_key => save(jar, config, now, &session),
        Verdict::Fresh => {}
    }
    if stale_key {
        rocket::info!("session: re-sealed under the current key");
    }
    Some(session)
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for RequestSession<'r> {
    type Error = Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Infallible> {
        Outcome::Success(RequestSession::of(req))
    }
}

/// A live session with a logged-in name. Routes that need a user take this;
/// their `rank = 2` twins catch the forward and redirect.
pub struct LoggedIn<'r> {
    session: &'r Session,
}

impl<'r> LoggedIn<'r> {
    /// The logged-in name: never empty.
    pub fn name(&self) -> &'r str {
        self.session.name().unwrap_or_default()
    }

    /// The whole session, every entry included.
    pub fn session(&self) -> &'r Session {
        self.session
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for LoggedIn<'r> {
    type Error = Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Infallible> {
        opened(req)
            .as_ref()
            .filter(|session| session.is_logged_in())
            .map(|session| LoggedIn { session })
            .or_forward(Status::Unauthorized)
    }
}
