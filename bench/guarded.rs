//! The peer (`bench/peer.rs`) with only what issue 26 says must hold and
//! nothing else of the app: what those guarantees cost on Rocket, step by
//! step, when they are the only work added. `bench/steps.sh` measures it
//! against the peer with `APP_BIN=target/release/examples/guarded`.
//!
//! Added to the peer's routes and pages, each written plainly:
//! - every security header, and `Cache-Control: no-store`, on every
//!   response that goes through Rocket's response fairings: the app's own
//!   fairing ([`SecurityHeaders`]), in place of Rocket's default shield,
//!   as the app does;
//! - the CSRF check on every form: a token in a private cookie of its own
//!   for the login form, carried in the session for the others (the app's
//!   token functions);
//! - idle and absolute expiry sealed in the session cookie and checked on
//!   every request that opens it; the session is sealed again once a tenth
//!   of the idle window has passed, as the session crate does;
//! - revocation checked on every request that opens the session, and made
//!   durable before the logout answers: the session crate's file store
//!   (one writer thread; one write and one fsync shared by every logout
//!   waiting, a group commit).
//!
//! `GUARDED_WITHOUT` (environment) leaves some of them out again, to price
//! each: a comma-separated list of `headers` (Rocket's default shield
//! instead, as the peer has), `csrf` (the logout's form parsing and check;
//! its page still carries the token, and the other forms keep theirs) and
//! `write` (the logout answers once the
//! revocation is in memory, without the store). Any other name is refused
//! at launch.
//!
//! Left out, as the peer leaves them out: notices, languages, a page kept,
//! a cache of opened cookies, a token renewed at login, metrics and logs.
//! Like the peer, it uses the system allocator. Templates in
//! `bench/guarded/`.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rocket::fairing::AdHoc;
use rocket::form::{Form, FromForm};
use rocket::http::{CookieJar, Status};
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};
use rocket::response::Redirect;
use rocket::shield::Shield;
use rocket::{get, post, routes, uri, State};
use rocket_dyn_templates::{context, Template};

use rocket_sealed_sessions::defaults::{ABSOLUTE_TIMEOUT, IDLE_TIMEOUT};
use rocket_sealed_sessions::limits::CLOCK_SKEW;
use rocket_sealed_sessions::store::{FileStore, Memory, Revocation};
use rocket_sealed_sessions::{Clock, RevocationStore, SessionId};
use session_app::web::csrf::{new_token, tokens_match};
use session_app::web::headers::SecurityHeaders;

/// The guarantees `GUARDED_WITHOUT` may name.
const GUARANTEES: [&str; 3] = ["headers", "csrf", "write"];

const ABSOLUTE_MS: u64 = ABSOLUTE_TIMEOUT.as_millis() as u64;
const IDLE_MS: u64 = IDLE_TIMEOUT.as_millis() as u64;
const SKEW_MS: u64 = CLOCK_SKEW.as_millis() as u64;

/// The revocations: held in memory, kept in a file (unless `durable` is
/// off: `GUARDED_WITHOUT=write`).
struct Revocations {
    memory: Arc<Memory>,
    store: FileStore,
    durable: bool,
}

/// The guarantees `GUARDED_WITHOUT` leaves out, or the name it refuses.
fn left_out() -> Result<Vec<String>, String> {
    let list = std::env::var("GUARDED_WITHOUT").unwrap_or_default();
    let names = list.split(',').map(str::trim).filter(|n| !n.is_empty());
    names
        .map(|name| match GUARANTEES.contains(&name) {
            true => Ok(name.to_owned()),
            false => Err(format!("GUARDED_WITHOUT: no guarantee `{name}`")),
        })
        .collect()
}

/// The logged-in session, from the private cookie `user`, sealed as
/// `ID.STARTED.LAST_SEEN.TOKEN.NAME` (times in milliseconds).
struct User {
    id: SessionId,
    started: u64,
    last_seen: u64,
    token: String,
    name: String,
}

/// Milliseconds since the Unix epoch.
fn millis(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// Seals `user` as the private cookie `user`.
fn seal(jar: &CookieJar<'_>, user: &User) {
    let User {
        id,
        started,
        last_seen,
        token,
        name,
    } = user;
    let id = id.to_hex();
    jar.add_private(("user", format!("{id}.{started}.{last_seen}.{token}.{name}")));
}

impl User {
    /// The session in `value`, if it has neither expired nor been revoked
    /// at `now`. A last-seen time ahead of `now` by more than the clock
    /// skew the crate allows is refused, as the crate refuses it.
    fn open(value: &str, now: SystemTime, memory: &Memory) -> Option<User> {
        let mut parts = value.splitn(5, '.');
        let user = User {
            id: SessionId::from_hex(parts.next()?)?,
            started: parts.next()?.parse().ok()?,
            last_seen: parts.next()?.parse().ok()?,
            token: parts.next()?.to_owned(),
            name: parts.next()?.to_owned(),
        };
        let at = millis(now);
        let live = user.last_seen <= at.saturating_add(SKEW_MS)
            && at < user.started.saturating_add(ABSOLUTE_MS)
            && at < user.last_seen.saturating_add(IDLE_MS)
            && !memory.is_revoked(&user.id, now);
        live.then_some(user)
    }

    /// A 403 unless `submitted` is this session's token.
    fn check(&self, submitted: Option<&str>) -> Result<(), Status> {
        match submitted.is_some_and(|token| tokens_match(&self.token, token)) {
            true => Ok(()),
            false => Err(Status::Forbidden),
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for User {
    type Error = std::convert::Infallible;

    /// Opens the session; seals it again, seen now, once a tenth of the
    /// idle window has passed since it last was.
    async fn from_request(req: &'r Request<'_>) -> request::Outcome<User, Self::Error> {
        let revocations = req.rocket().state::<Revocations>();
        let memory = &revocations
            .expect("BUG: Revocations is managed at ignition")
            .memory;
        let now = SystemTime::now();
        let jar = req.cookies();
        let user = jar
            .get_private("user")
            .and_then(|cookie| User::open(cookie.value(), now, memory));
        match user {
            Some(mut user) => {
                let at = millis(now);
                if at.saturating_sub(user.last_seen) >= IDLE_MS / 10 {
                    user.last_seen = at;
                    seal(jar, &user);
                }
                Outcome::Success(user)
            }
            None => Outcome::Forward(Status::Unauthorized),
        }
    }
}

/// The login form's token: the one in the `csrf` cookie, or a new one.
fn anonymous_token(jar: &CookieJar<'_>) -> String {
    match jar.get_private("csrf") {
        Some(cookie) => cookie.value().to_owned(),
        None => {
            let token = new_token();
            jar.add_private(("csrf", token.clone()));
            token
        }
    }
}

#[derive(FromForm)]
struct Login<'r> {
    name: &'r str,
    csrf_token: Option<&'r str>,
}

#[derive(FromForm)]
struct Entry<'r> {
    key: &'r str,
    value: &'r str,
    csrf_token: Option<&'r str>,
}

#[derive(FromForm)]
struct Key<'r> {
    key: &'r str,
    csrf_token: Option<&'r str>,
}

#[derive(FromForm)]
struct Token<'r> {
    csrf_token: Option<&'r str>,
}

#[get("/output")]
fn session(user: User) -> Template {
    Template::render("session", context! { user: user.name, token: user.token })
}

#[get("/output", rank = 2)]
fn no_session() -> Redirect {
    Redirect::to(uri!(index))
}

/// Ready once it listens: its store opened at ignition.
#[get("/healthz")]
fn healthz() -> &'static str {
    "ok"
}

#[get("/")]
fn index(jar: &CookieJar<'_>) -> Template {
    Template::render("login", context! { token: anonymous_token(jar) })
}

/// Starts a session carrying the login form's token (not a new one).
#[post("/login", data = "<form>")]
fn login(form: Form<Login<'_>>, jar: &CookieJar<'_>) -> Result<Redirect, Status> {
    let expected = jar.get_private("csrf").ok_or(Status::Forbidden)?;
    let submitted = form.csrf_token.ok_or(Status::Forbidden)?;
    if !tokens_match(expected.value(), submitted) {
        return Err(Status::Forbidden);
    }
    let now = millis(SystemTime::now());
    let user = User {
        id: SessionId::random(),
        started: now,
        last_seen: now,
        token: expected.value().to_owned(),
        name: form.name.to_owned(),
    };
    seal(jar, &user);
    Ok(Redirect::to(uri!(session)))
}

/// An entry, as a private cookie of its own (as the peer keeps it).
#[post("/session/set", data = "<form>")]
fn set_entry(user: User, form: Form<Entry<'_>>, jar: &CookieJar<'_>) -> Result<Redirect, Status> {
    user.check(form.csrf_token)?;
    jar.add_private((format!("entry_{}", form.key), form.value.to_owned()));
    Ok(Redirect::to(uri!(session)))
}

#[post("/session/delete", data = "<form>")]
fn delete_entry(user: User, form: Form<Key<'_>>, jar: &CookieJar<'_>) -> Result<Redirect, Status> {
    user.check(form.csrf_token)?;
    jar.remove_private(format!("entry_{}", form.key));
    Ok(Redirect::to(uri!(session)))
}

#[post("/logout", data = "<form>")]
async fn logout(
    user: User,
    form: Form<Token<'_>>,
    jar: &CookieJar<'_>,
    revocations: &State<Revocations>,
) -> Result<Redirect, Status> {
    user.check(form.csrf_token)?;
    end(user, jar, revocations).await
}

/// The logout without its form (`GUARDED_WITHOUT=csrf`).
#[post("/logout")]
async fn logout_unchecked(
    user: User,
    jar: &CookieJar<'_>,
    revocations: &State<Revocations>,
) -> Result<Redirect, Status> {
    end(user, jar, revocations).await
}

/// Revokes `user`'s session until its sealed absolute end: in memory at
/// once, then written and fsynced by the file store before it answers. A
/// 503, the cookie left as it is, if the store could not keep it.
async fn end(
    user: User,
    jar: &CookieJar<'_>,
    revocations: &Revocations,
) -> Result<Redirect, Status> {
    let until = UNIX_EPOCH + Duration::from_millis(user.started) + ABSOLUTE_TIMEOUT;
    let revocation = Revocation::Session { id: user.id, until };
    revocations.memory.insert(&revocation);
    if revocations.durable && !revocations.store.write(revocation).await.is_stored() {
        return Err(Status::ServiceUnavailable);
    }
    jar.remove_private("user");
    Ok(Redirect::to(uri!(index)))
}

#[rocket::launch]
fn rocket() -> _ {
    let without = left_out().unwrap_or_else(|refused| {
        eprintln!("guarded: {refused}");
        std::process::exit(2)
    });
    let without = |guarantee: &str| without.iter().any(|name| name == guarantee);
    // Found from any working folder, not only the checkout's root.
    let templates = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/guarded");
    let figment = rocket::Config::figment().join(("template_dir", templates));
    let mut rocket = rocket::custom(figment).attach(Template::fairing());
    if !without("headers") {
        // The app's headers replace the shield's, as in the app.
        rocket = rocket.attach(Shield::new()).attach(SecurityHeaders);
    }
    let logout = match without("csrf") {
        true => routes![logout_unchecked],
        false => routes![logout],
    };
    let durable = !without("write");
    rocket
        .attach(AdHoc::try_on_ignite(
            "Revocations",
            move |rocket| async move {
                let path: String = rocket
                    .figment()
                    .extract_inner("session_revocation_store")
                    .unwrap_or_else(|_| "data/guarded-revocations".into());
                let memory = Arc::new(Memory::default());
                let mut store = FileStore::new(path);
                match store.open(memory.clone(), Clock::system()).await {
                    Ok(()) => Ok(rocket.manage(Revocations {
                        memory,
                        store,
                        durable,
                    })),
                    Err(e) => {
                        eprintln!("guarded: {e}");
                        Err(rocket)
                    }
                }
            },
        ))
        .mount(
            "/",
            routes![
                healthz,
                index,
                login,
                session,
                no_session,
                set_entry,
                delete_entry
            ],
        )
        .mount("/", logout)
}
