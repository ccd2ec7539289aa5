//! Request guards that carry authority: [`Sessions`] is the only way to the
//! session cookie, and [`LoggedIn`] proves a live session with a name.

use std::convert::Infallible;

use rocket::http::{CookieJar, Status};
use rocket::outcome::IntoOutcome;
use rocket::request::{FromRequest, Outcome, Request};

use crate::config::AppConfig;
use crate::cookies::{self, Opened};
use crate::csrf;
use crate::session::{self, Session, Verdict};

/// The request's session, opened and checked once per request.
///
/// Opening applies every rule: a cookie that no key opens, that does not
/// decode, or that has expired is removed and treated as no session; one
/// due for renewal, or sealed under a fallback key, is re-issued.
pub struct Sessions<'r> {
    jar: &'r CookieJar<'r>,
    config: &'r AppConfig,
    current: &'r Option<Session>,
}

/// The per-request cache of the opened session.
struct Loaded(Option<Session>);

impl<'r> Sessions<'r> {
    pub(crate) fn of(req: &'r Request<'_>) -> Option<Sessions<'r>> {
        let config = req.rocket().state::<AppConfig>()?;
        let jar = req.cookies();
        let Loaded(current) = req.local_cache(|| Loaded(open(jar, config)));
        Some(Sessions {
            jar,
            config,
            current,
        })
    }

    /// The live session, if there is one.
    pub fn current(&self) -> Option<&'r Session> {
        self.current.as_ref()
    }

    /// Replaces whatever session there was with a fresh one for `name`, and
    /// the CSRF token with a fresh one too.
    pub fn start(&self, name: &str) {
        self.save(&Session::start(name, session::now()));
        csrf::issue(self.jar, self.config);
        rocket::info!("session: login");
    }

    /// Stores `session` in the cookie, valid until its nearer window closes.
    pub fn save(&self, session: &Session) {
        save(self.jar, self.config, session);
    }

    /// Ends the session: the cookie is removed.
    pub fn clear(&self) {
        cookies::discard(self.jar, self.config, &self.config.session_cookie);
        rocket::info!("session: logout");
    }
}

fn save(jar: &CookieJar<'_>, config: &AppConfig, session: &Session) {
    let lifetime = config.expiry.remaining(session, session::now());
    cookies::seal(
        jar,
        config,
        &config.session_cookie,
        session.encode(),
        Some(lifetime),
    );
}

fn open(jar: &CookieJar<'_>, config: &AppConfig) -> Option<Session> {
    let name = &config.session_cookie;
    let reject = |why: &str| {
        rocket::info!("session: cookie rejected: {why}");
        cookies::discard(jar, config, name);
        None
    };
    let (plaintext, stale_key) = match cookies::open(jar, &config.fallback_keys, name) {
        Opened::Missing => return None,
        Opened::Rejected => return reject("no key opens it"),
        Opened::Current(plaintext) => (plaintext, false),
        Opened::Fallback(plaintext) => (plaintext, true),
    };
    let Some(mut session) = Session::decode(&plaintext) else {
        return reject("not a session of this version");
    };
    let now = session::now();
    match config.expiry.check(&session, now) {
        Verdict::Expired(why) => {
            rocket::info!("session: expired ({})", why.as_str());
            cookies::discard(jar, config, name);
            return None;
        }
        Verdict::Renew => {
            session.touch(now);
            save(jar, config, &session);
        }
        Verdict::Fresh if stale_key => save(jar, config, &session),
        Verdict::Fresh => {}
    }
    if stale_key {
        rocket::info!("session: re-sealed under the current key");
    }
    Some(session)
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Sessions<'r> {
    type Error = Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Infallible> {
        // Without managed config the app was built wrong: a 500, not a guess.
        Sessions::of(req).or_forward(Status::InternalServerError)
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
        Sessions::of(req)
            .and_then(|sessions| sessions.current())
            .filter(|session| session.name().is_some_and(|name| !name.is_empty()))
            .map(|session| LoggedIn { session })
            .or_forward(Status::Unauthorized)
    }
}
