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

use super::revocation::Durability;
use super::{
    Clock, Counts, Expiry, Revocations, Session, Verdict, Why, MAX_ENTRIES, NAME, RESERVED_KEYS,
};
use crate::cookies::{self, CookieSettings, Lifetime, Opened};

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
    rules: Rules<'r>,
    revocations: &'r Revocations,
    current: Option<Cow<'r, Session>>,
    ended: Option<Ended>,
}

/// What the session layer's stage manages, as a request reads it.
#[derive(Clone, Copy)]
struct Rules<'r> {
    expiry: &'r Expiry,
    cookies: &'r CookieSettings,
    clock: &'r Clock,
    counts: &'r Counts,
}

impl<'r> Rules<'r> {
    fn of(req: &'r Request<'_>) -> Rules<'r> {
        Rules {
            expiry: managed(req),
            cookies: managed(req),
            clock: managed(req),
            counts: managed(req),
        }
    }

    /// Stores `session` in the cookie, kept by the browser as long as
    /// [`Expiry::cookie_lifetime`] says.
    fn save(self, jar: &CookieJar<'_>, session: &Session) {
        self.seal(jar, session, session.encode());
    }

    /// [`Rules::save`] with `session` already encoded as `plaintext`.
    fn seal(self, jar: &CookieJar<'_>, session: &Session, plaintext: String) {
        let now = self.clock.now();
        let max_age = self.expiry.cookie_lifetime(session, now);
        cookies::seal(
            jar,
            self.cookies,
            &self.cookies.session,
            plaintext,
            Lifetime::For { max_age, now },
        );
    }
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
            rules: Rules::of(req),
            revocations: managed(req),
            current: opening.session.as_ref().map(Cow::Borrowed),
            ended: opening.ended,
        }
    }

    /// What the app attached to the live session of `req`, if anything:
    /// opened with the session, at no further cost.
    pub fn attachment_of(req: &'r Request<'_>) -> Option<&'r str> {
        opened(req).session.as_ref()?.attachment()
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

    /// Replaces whatever session there was with a fresh one for `name`
    /// (the tutorial's `session["name"] = name`), under a new identifier,
    /// its absolute end sealed in it.
    pub fn start(&mut self, name: &str) {
        let session = self.rules.expiry.start(name, self.rules.clock.now());
        self.rules.save(self.jar, &session);
        self.current = Some(Cow::Owned(session));
        self.rules.counts.started.inc();
        rocket::info!("session: login");
    }

    /// Seals `attachment` (up to 64 letters, digits, `-` or `_`) into the
    /// live session, beside its entries; false, with nothing changed, when
    /// there is no session or it is not of that form.
    pub fn attach(&mut self, attachment: String) -> bool {
        let Some(current) = self.current.as_ref() else {
            return false;
        };
        let session = current.clone().into_owned().with_attachment(attachment);
        let plaintext = session.encode();
        if Session::decode(&plaintext).is_none() {
            return false;
        }
        self.rules.seal(self.jar, &session, plaintext);
        self.current = Some(Cow::Owned(session));
        true
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
        let budget = self.rules.cookies.session_budget;
        let plaintext = session.encode();
        if plaintext.len() > budget {
            let room = budget.saturating_sub(current.encode().len());
            return Err(SetRefusal::TooBig { room });
        }
        self.rules.seal(self.jar, &session, plaintext);
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
            self.rules.counts.ended("name_deleted");
            session = session.with_new_id();
            durability
        } else {
            rocket::info!("session: one key deleted");
            Durability::Written
        };
        self.rules.save(self.jar, &session);
        self.current = Some(Cow::Owned(session));
        Some(durability)
    }

    /// Ends the session: it is revoked on every instance that shares the
    /// revocation store, and its cookie removed from this browser. Says
    /// what the store did with the revocation.
    pub async fn clear(&mut self) -> Durability {
        let durability = self.revoke("logout").await;
        if self.current.is_some() {
            self.rules.counts.ended("logout");
        }
        self.current = None;
        let cookies = self.rules.cookies;
        cookies::discard(self.jar, cookies, &cookies.session);
        durability
    }

    /// Revokes the current session until it would have expired anyway.
    async fn revoke(&self, why: &str) -> Durability {
        let Some(session) = self.current() else {
            return Durability::Written;
        };
        let until = self.rules.expiry.revoke_until(session);
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
    req.local_cache(|| open(req.cookies(), Rules::of(req), managed(req)))
}

fn open(jar: &CookieJar<'_>, rules: Rules<'_>, revocations: &Revocations) -> Opening {
    let name = &rules.cookies.session;
    let refuse = |ended: Ended, why: &str| {
        rocket::info!("session: cookie rejected: {why}");
        rules.counts.ended(match ended {
            Ended::Revoked => "revoked",
            _ => "unreadable",
        });
        cookies::discard(jar, rules.cookies, name);
        Opening {
            session: None,
            ended: Some(ended),
        }
    };
    let (plaintext, stale_key) = match cookies::open(jar, rules.cookies, name) {
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
    let now = rules.clock.now();
    match rules.expiry.check(&session, now) {
        Verdict::Expired(why) => {
            rocket::info!("session: expired ({})", why.as_str());
            rules.counts.ended(match why {
                Why::Idle => "idle",
                Why::Absolute | Why::Future => "absolute",
            });
            cookies::discard(jar, rules.cookies, name);
            return Opening {
                session: None,
                ended: Some(Ended::TimedOut),
            };
        }
        Verdict::Renew => {
            session.touch(now);
            rules.save(jar, &session);
        }
        Verdict::Fresh if stale_key => rules.save(jar, &session),
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
