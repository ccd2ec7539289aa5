//! The request's session: [`RequestSession`], the one handle routes use to
//! read and change it, and [`LoggedIn`], the guard that proves a live
//! session with a name.
//!
//! The cookie is opened once per request (cached), and opening applies
//! every rule: a cookie that no key opens, that does not decode, that has
//! expired or whose session was revoked is removed and counts as no
//! session ([`Ended`] says why); one due for renewal, or sealed under a
//! fallback key, is re-issued in the same response.

use std::borrow::Cow;
use std::convert::Infallible;

use rocket::http::{CookieJar, Status};
use rocket::outcome::IntoOutcome;
use rocket::request::{FromRequest, Outcome, Request};

use super::cookies::{self, Lifetime, Opened};
use super::revocation::Durability;
use super::{Clock, Millis, Revocations, Session, Verdict, MAX_ENTRIES, NAME, RESERVED_KEYS};
use crate::config::AppConfig;

/// Why the request's cookie was no session, when it carried one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Its idle or absolute window closed (or it was dated in the future).
    TimedOut,
    /// It was ended elsewhere: logged out, or its `name` deleted.
    Revoked,
    /// No key opens it, or it is not a session of this version.
    Unreadable,
}

/// Why an entry was not set; the session is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetRefusal {
    /// There is no session to set it in.
    NoSession,
    /// The key is one the app keeps for itself.
    Reserved,
    /// The session holds as many entries as it may.
    TooMany,
    /// The cookie would outgrow its budget; `room` bytes are left.
    TooBig { room: usize },
}

/// The session of the request being served.
pub struct RequestSession<'r> {
    jar: &'r CookieJar<'r>,
    config: &'r AppConfig,
    clock: &'r Clock,
    revocations: &'r Revocations,
    current: Option<Cow<'r, Session>>,
    ended: Option<Ended>,
}

/// The per-request cache of the opened cookie.
struct Opening {
    session: Option<Session>,
    ended: Option<Ended>,
}

impl<'r> RequestSession<'r> {
    /// The session of `req`, opened under the session rules (once per
    /// request, whoever asks first).
    pub fn of(req: &'r Request<'_>) -> RequestSession<'r> {
        let opening = opened(req);
        RequestSession {
            jar: req.cookies(),
            config: AppConfig::of(req),
            clock: managed(req),
            revocations: managed(req),
            current: opening.session.as_ref().map(Cow::Borrowed),
            ended: opening.ended,
        }
    }

    /// The CSRF token the live session of `req` carries, if any: opened
    /// with the session, at no further cost.
    pub fn csrf_token_of(req: &'r Request<'_>) -> Option<&'r str> {
        opened(req).session.as_ref()?.csrf_token()
    }

    /// Applies the session rules to `req` now (removing a dead cookie,
    /// renewing a live one), for pages that do not otherwise read the
    /// session. Says why a cookie the request carried was no session.
    pub fn apply_rules(req: &'r Request<'_>) -> Option<Ended> {
        opened(req).ended
    }

    /// The live session, if there is one.
    pub fn current(&self) -> Option<&Session> {
        self.current.as_deref()
    }

    /// Whether somebody is logged in (see [`Session::name`]).
    pub fn is_logged_in(&self) -> bool {
        self.current().is_some_and(Session::is_logged_in)
    }

    /// Why the cookie the request carried was no session, if it was not.
    pub fn ended(&self) -> Option<Ended> {
        self.ended
    }

    /// Replaces whatever session there was with a fresh one for `name`, and
    /// the CSRF token with a fresh one too, so a token planted or seen
    /// before login is worthless after it.
    pub fn start(&mut self, name: &str) {
        let token = crate::csrf::new_token();
        let session = self
            .config
            .expiry
            .start(name, self.clock.now())
            .with_csrf_token(token.clone());
        save(self.jar, self.config, self.clock.now(), &session);
        cookies::seal_csrf_token(self.jar, &self.config.cookies, token);
        self.current = Some(Cow::Owned(session));
        rocket::info!("session: login");
    }

    /// Sets entry `key` to `value` (the tutorial's `session[key] = value`);
    /// says whether it replaced a value. Refused, with nothing changed, for
    /// a reserved key, one entry too many, or a cookie that would outgrow
    /// [`cookies::COOKIE_BUDGET`], or without a session to set it in.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool, SetRefusal> {
        if RESERVED_KEYS.contains(&key) {
            return Err(SetRefusal::Reserved);
        }
        let Some(current) = self.current.as_ref() else {
            return Err(SetRefusal::NoSession);
        };
        let mut session = current.clone().into_owned();
        let replaced = session.set(key, value);
        if session.entries().len() > MAX_ENTRIES {
            return Err(SetRefusal::TooMany);
        }
        let budget = self.config.cookies.session_budget;
        let plaintext = session.encode();
        if plaintext.len() > budget {
            let room = budget.saturating_sub(current.encode().len());
            return Err(SetRefusal::TooBig { room });
        }
        seal(self.jar, self.config, self.clock.now(), &session, plaintext);
        self.current = Some(Cow::Owned(session));
        rocket::info!("session: one key set");
        Ok(replaced)
    }

    /// Deletes entry `key`; says whether it was there, and, when deleting
    /// it revoked the session, whether the revocation was stored. The
    /// other entries stay. Deleting `name` ends the login: the session's
    /// identifier is revoked, as at logout, and what stays is kept under a
    /// new one.
    pub async fn remove(&mut self, key: &str) -> Option<Durability> {
        let session = self.current.as_ref()?;
        if !session.entries().contains_key(key) {
            return None;
        }
        let mut session = session.clone().into_owned();
        session.remove(key);
        let durability = if key == NAME {
            let durability = self.revoke("name deleted").await;
            session = session.with_new_id();
            durability
        } else {
            rocket::info!("session: one key deleted");
            Durability::Written
        };
        save(self.jar, self.config, self.clock.now(), &session);
        self.current = Some(Cow::Owned(session));
        Some(durability)
    }

    /// Ends the session: it is revoked on every instance that shares the
    /// revocation store, and its cookie removed from this browser. Says
    /// what the store did with the revocation.
    pub async fn clear(&mut self) -> Durability {
        let durability = self.revoke("logout").await;
        self.current = None;
        cookies::discard(self.jar, &self.config.cookies, &self.config.cookies.session);
        durability
    }

    /// Revokes the current session until it would have expired anyway.
    async fn revoke(&self, why: &str) -> Durability {
        let Some(session) = self.current() else {
            return Durability::Written;
        };
        let until = self.config.expiry.revoke_until(session);
        let durability = self.revocations.revoke(session.id(), until).await;
        match durability {
            Durability::Written => rocket::info!("session: {why}; revocation stored"),
            Durability::Queued => rocket::info!(
                "session: {why}; revocation queued until the store is back (spooled to disk)"
            ),
            Durability::MemoryOnly => rocket::error!(
                "session: {why}; revocation NOT stored, held in memory only: \
                 the store could not be written"
            ),
        }
        durability
    }
}

/// Stores `session` in the cookie, kept by the browser as long as
/// [`super::Expiry::cookie_lifetime`] says.
fn save(jar: &CookieJar<'_>, config: &AppConfig, now: Millis, session: &Session) {
    seal(jar, config, now, session, session.encode());
}

/// [`save`] with `session` already encoded as `plaintext`.
fn seal(
    jar: &CookieJar<'_>,
    config: &AppConfig,
    now: Millis,
    session: &Session,
    plaintext: String,
) {
    let max_age = config.expiry.cookie_lifetime(session, now);
    cookies::seal(
        jar,
        &config.cookies,
        &config.cookies.session,
        plaintext,
        Lifetime::For { max_age, now },
    );
}

fn managed<'r, T: Send + Sync + 'static>(req: &'r Request<'_>) -> &'r T {
    req.rocket().state::<T>().unwrap_or_else(|| {
        panic!(
            "BUG: {} is managed when the app is built",
            std::any::type_name::<T>()
        )
    })
}

/// The request's session, opened under the rules by whoever asks first.
fn opened<'r>(req: &'r Request<'_>) -> &'r Opening {
    req.local_cache(|| {
        open(
            req.cookies(),
            AppConfig::of(req),
            managed(req),
            managed(req),
        )
    })
}

fn open(
    jar: &CookieJar<'_>,
    config: &AppConfig,
    clock: &Clock,
    revocations: &Revocations,
) -> Opening {
    let name = &config.cookies.session;
    let refuse = |ended: Ended, why: &str| {
        rocket::info!("session: cookie rejected: {why}");
        cookies::discard(jar, &config.cookies, name);
        Opening {
            session: None,
            ended: Some(ended),
        }
    };
    let (plaintext, stale_key) = match cookies::open(jar, &config.cookies, name) {
        Opened::Missing => {
            return Opening {
                session: None,
                ended: None,
            }
        }
        Opened::Rejected => return refuse(Ended::Unreadable, "no key opens it"),
        Opened::Current(plaintext) => (plaintext, false),
        Opened::Fallback(plaintext) => (plaintext, true),
    };
    let Some(mut session) = Session::decode(&plaintext) else {
        return refuse(Ended::Unreadable, "not a session of this version");
    };
    if revocations.is_revoked(&session.id()) {
        return refuse(Ended::Revoked, "revoked");
    }
    let now = clock.now();
    match config.expiry.check(&session, now) {
        Verdict::Expired(why) => {
            rocket::info!("session: expired ({})", why.as_str());
            cookies::discard(jar, &config.cookies, name);
            return Opening {
                session: None,
                ended: Some(Ended::TimedOut),
            };
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
    Opening {
        session: Some(session),
        ended: None,
    }
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
            .session
            .as_ref()
            .filter(|session| session.is_logged_in())
            .map(|session| LoggedIn { session })
            .or_forward(Status::Unauthorized)
    }
}
