//! The request's session: [`Session`], the one handle routes use to read
//! and change it.
//!
//! The cookie is opened once per request (cached), a sealed value already
//! opened and still in the bounded cache of `opened_cache.rs` is not
//! decrypted again, and opening applies every rule: a cookie that no key
//! opens, that does not decode, that has expired or whose session was
//! revoked is removed and counts as no session ([`Ended`] says why); one
//! due for renewal, or sealed under a fallback key, is re-issued in the
//! same response.

use std::borrow::Cow;
use std::convert::Infallible;
use std::time::SystemTime;

use rocket::http::{CookieJar, Method};
use rocket::request::{FromRequest, Outcome, Request};

use crate::clock::Clock;
use crate::cookie::{CookieRules, Lifetime, Opened};
use crate::counts::{Counts, EndReason};
use crate::events::{Events, RequestIds};
use crate::expiry::{Expiry, Verdict, Why};
use crate::opened_cache::OpenedCache;
use crate::record::Record;
use crate::revocations::Revocations;
use crate::store::Durability;

/// Why the request's cookie was no session, when it carried one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Its idle or absolute window closed (or it was dated in the future).
    TimedOut,
    /// It was ended elsewhere: logged out, or its subject logged out
    /// everywhere.
    Revoked,
    /// No key opens it, or it is not a session of this version.
    Unreadable,
}

/// Why an entry was not inserted; the session is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InsertError {
    /// There is no session to insert it in.
    #[error("there is no session")]
    NoSession,
    /// The session holds as many entries as it may, or the key, the value
    /// or the attachment breaks a limit of [`crate::limits`].
    #[error("the session holds as many entries as it may, or the entry is too long")]
    TooMany,
    /// The cookie would outgrow its budget; `room` bytes are left.
    #[error("the session cookie would outgrow its budget ({room} bytes left)")]
    TooBig {
        /// Bytes left in the cookie's budget.
        room: usize,
    },
}

/// The session of the request being served: a request guard that never
/// fails (no session is a session that is not [`Session::is_active`]).
///
/// ```
/// use rocket::{get, post};
/// use rocket_sealed_sessions::Session;
///
/// #[post("/login/<user>")]
/// fn login(user: &str, mut session: Session<'_>) {
///     session.start(user).expect("a short subject");
/// }
///
/// #[get("/")]
/// fn whoami(session: Session<'_>) -> String {
///     session.subject().unwrap_or("nobody").to_owned()
/// }
///
/// #[post("/logout")]
/// async fn logout(mut session: Session<'_>) {
///     session.clear().await;
/// }
/// ```
pub struct Session<'r> {
    jar: &'r CookieJar<'r>,
    rules: Rules<'r>,
    revocations: &'r Revocations,
    current: Option<Cow<'r, Record>>,
    ended: Option<Ended>,
}

/// What the fairing manages, as a request reads it.
#[derive(Clone, Copy)]
struct Rules<'r> {
    expiry: &'r Expiry,
    cookies: &'r CookieRules,
    clock: &'r Clock,
    counts: &'r Counts,
    events: Events<'r>,
    opened: &'r OpenedCache,
}

/// What every request reads, in one managed value: one lookup per
/// request, not one per part. Copies of what the fairing also manages on
/// its own for the app (they share the clock's and the counts' state).
pub(crate) struct Layer {
    pub(crate) expiry: Expiry,
    pub(crate) cookies: CookieRules,
    pub(crate) clock: Clock,
    pub(crate) counts: Counts,
    pub(crate) request_ids: RequestIds,
    pub(crate) opened: OpenedCache,
}

impl<'r> Rules<'r> {
    fn of(req: &'r Request<'_>) -> Rules<'r> {
        let layer: &'r Layer = managed(req);
        Rules {
            expiry: &layer.expiry,
            cookies: &layer.cookies,
            clock: &layer.clock,
            counts: &layer.counts,
            events: Events::of(req, &layer.request_ids),
            opened: &layer.opened,
        }
    }

    /// Stores `record` in the cookie, kept by the browser as long as
    /// [`Expiry::cookie_lifetime`] says.
    fn save(self, jar: &CookieJar<'_>, record: &Record) {
        self.seal(jar, record, record.encode());
    }

    /// [`Rules::save`] with `record` already encoded as `plaintext`.
    fn seal(self, jar: &CookieJar<'_>, record: &Record, plaintext: String) {
        let now = self.clock.millis();
        let max_age = self.expiry.cookie_lifetime_at(record, now);
        let lifetime = Lifetime::For { max_age };
        let name = self.cookies.session_cookie();
        self.cookies.seal(jar, name, plaintext, lifetime);
    }
}

/// The per-request cache of the opened cookie.
struct Opening {
    record: Option<Record>,
    ended: Option<Ended>,
}

impl<'r> Session<'r> {
    /// The session of `req`, opened under the session rules (once per
    /// request, whoever asks first).
    pub fn of(req: &'r Request<'_>) -> Session<'r> {
        let (rules, revocations) = (Rules::of(req), managed(req));
        let opening = req.local_cache(|| open(req, rules, revocations));
        Session {
            jar: req.cookies(),
            rules,
            revocations,
            current: opening.record.as_ref().map(Cow::Borrowed),
            ended: opening.ended,
        }
    }

    /// The live session of `req`, if there is one, for guards of an app's
    /// own: opened once per request, and borrowed for the request's life.
    pub fn record_of(req: &'r Request<'_>) -> Option<&'r Record> {
        opened(req).record.as_ref()
    }

    /// What the app attached to the live session of `req`, if anything:
    /// opened with the session, at no further cost.
    pub fn attachment_of(req: &'r Request<'_>) -> Option<&'r str> {
        Session::record_of(req)?.attachment()
    }

    /// Applies the session rules to `req` now (removing a dead cookie,
    /// renewing a live one), for pages that do not otherwise read the
    /// session. Says why a cookie the request carried was no session.
    pub fn apply_rules(req: &'r Request<'_>) -> Option<Ended> {
        opened(req).ended
    }

    /// The live session, if there is one.
    pub fn record(&self) -> Option<&Record> {
        self.current.as_deref()
    }

    /// Whether there is a live session.
    pub fn is_active(&self) -> bool {
        self.current.is_some()
    }

    /// Who the live session was started for.
    pub fn subject(&self) -> Option<&str> {
        self.record()?.subject()
    }

    /// Entry `key` of the live session.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.record()?.get(key)
    }

    /// Why the cookie the request carried was no session, if it was not.
    pub fn ended(&self) -> Option<Ended> {
        self.ended
    }

    /// The time by the session's clock: what a session started now is
    /// dated.
    pub fn now(&self) -> SystemTime {
        self.rules.clock.now()
    }

    /// Replaces whatever session there was with a fresh one for `subject`,
    /// under a new identifier (so an identifier planted before the start is
    /// worthless after it), its absolute end sealed in it. Refused, with
    /// nothing changed, for an empty subject or one longer than
    /// [`MAX_SUBJECT_BYTES`](crate::limits::MAX_SUBJECT_BYTES).
    pub fn start(&mut self, subject: &str) -> Result<(), InsertError> {
        self.start_with(Some(subject), [])
    }

    /// [`Session::start`] with `entries` in it from the start: one cookie
    /// sealed, not one per entry. With no subject, the session is bound to
    /// nobody (an app without identities): [`Session::log_out_everywhere`]
    /// then does nothing for it, and its logout ends it as any other.
    pub fn start_with<'a>(
        &mut self,
        subject: Option<&str>,
        entries: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(), InsertError> {
        self.begin(subject, entries, None)
    }

    /// [`Session::start_with`], with `attachment` (as [`Session::attach`]
    /// takes it) sealed in the same cookie: a login that also gives the
    /// browser a fresh CSRF token seals once, not twice. Refused, with
    /// nothing changed, as `start_with` is, and with
    /// [`InsertError::TooMany`] for an attachment that is not a token.
    pub fn start_attached<'a>(
        &mut self,
        subject: Option<&str>,
        entries: impl IntoIterator<Item = (&'a str, &'a str)>,
        attachment: String,
    ) -> Result<(), InsertError> {
        self.begin(subject, entries, Some(attachment))
    }

    fn begin<'a>(
        &mut self,
        subject: Option<&str>,
        entries: impl IntoIterator<Item = (&'a str, &'a str)>,
        attachment: Option<String>,
    ) -> Result<(), InsertError> {
        let now = self.rules.clock.millis();
        let mut record = self
            .rules
            .expiry
            .start(subject, now)
            .ok_or(InsertError::TooMany)?;
        for (key, value) in entries {
            record.insert(key, value);
        }
        if let Some(attachment) = attachment {
            record = record
                .with_attachment(attachment)
                .ok_or(InsertError::TooMany)?;
        }
        self.replace(record)?;
        self.rules.counts.count_start();
        self.rules.events.info(format_args!("session: login"));
        Ok(())
    }

    /// Seals `attachment` (up to 64 letters, digits, `-` or `_`) into the
    /// live session, beside its entries; false, with nothing changed, when
    /// there is no session or it is not of that form.
    pub fn attach(&mut self, attachment: String) -> bool {
        let Some(current) = self.current.as_ref() else {
            return false;
        };
        let Some(record) = current.clone().into_owned().with_attachment(attachment) else {
            return false;
        };
        self.replace(record).is_ok()
    }

    /// Sets entry `key` to `value`; says whether it replaced a value.
    /// Refused, with nothing changed, for one entry too many, a key or
    /// value past [`crate::limits`], a cookie that would outgrow its
    /// budget, or without a session to insert it in.
    pub fn insert(&mut self, key: &str, value: &str) -> Result<bool, InsertError> {
        let Some(current) = self.current.as_ref() else {
            return Err(InsertError::NoSession);
        };
        let mut record = current.clone().into_owned();
        let replaced = record.insert(key, value).is_some();
        self.replace(record)?;
        self.rules.events.info(format_args!("session: one key set"));
        Ok(replaced)
    }

    /// Seals `record` as the live session, if it keeps every limit.
    fn replace(&mut self, record: Record) -> Result<(), InsertError> {
        let plaintext = record.encode();
        if !record.is_well_formed() {
            return Err(InsertError::TooMany);
        }
        let budget = self.rules.cookies.session_budget();
        if plaintext.len() > budget {
            let used = self.record().map_or(0, |current| current.encode().len());
            let room = budget.saturating_sub(used);
            return Err(InsertError::TooBig { room });
        }
        self.rules.seal(self.jar, &record, plaintext);
        self.current = Some(Cow::Owned(record));
        Ok(())
    }

    /// Deletes entry `key`; says whether it was there. The other entries
    /// stay.
    pub fn remove(&mut self, key: &str) -> bool {
        let Some(current) = self.current.as_ref() else {
            return false;
        };
        if current.get(key).is_none() {
            return false;
        }
        let mut record = current.clone().into_owned();
        record.remove(key);
        self.rules.save(self.jar, &record);
        self.current = Some(Cow::Owned(record));
        self.rules
            .events
            .info(format_args!("session: one key deleted"));
        true
    }

    /// Takes the live session's subject away (if it has one), keeping its
    /// entries: its identifier is revoked, as at logout, and what stays is
    /// kept under a new one without a subject: a copy of the cookie from
    /// before no longer opens. `None` when there is no session; else
    /// what the store did with the revocation.
    pub async fn detach_subject(&mut self) -> Option<Durability> {
        let record = self.current.as_ref()?.clone().into_owned();
        let durability = self.revoke("subject detached").await;
        self.rules.counts.count_end(EndReason::SubjectDetached);
        let record = record.detached();
        self.rules.save(self.jar, &record);
        self.current = Some(Cow::Owned(record));
        Some(durability)
    }

    /// Ends the session: it is revoked on every instance that shares the
    /// revocation store, and its cookie removed from this browser. Says
    /// what the store did with the revocation.
    pub async fn clear(&mut self) -> Durability {
        let durability = self.revoke("logout").await;
        if self.current.is_some() {
            self.rules.counts.count_end(EndReason::Logout);
        }
        self.end();
        durability
    }

    /// Ends every session of the live session's subject started until
    /// now, on every instance that shares the revocation store, this one
    /// included, and removes its cookie from this browser. Sessions the
    /// subject starts afterwards are not touched. `None`, with nothing
    /// changed, when there is no session or it has no subject.
    ///
    /// To end a subject's sessions from anywhere else (an admin page, a
    /// password change), call [`Revocations::revoke_subject`].
    pub async fn log_out_everywhere(&mut self) -> Option<Durability> {
        let subject = self.subject()?.to_owned();
        let durability = self.revocations.revoke_subject(&subject).await;
        log(self.rules.events, durability, "logout everywhere");
        self.rules.counts.count_end(EndReason::LogoutEverywhere);
        self.end();
        Some(durability)
    }

    fn end(&mut self) {
        self.current = None;
        let cookies = self.rules.cookies;
        cookies.discard(self.jar, cookies.session_cookie());
    }

    /// Revokes the current session until it would have ended anyway.
    async fn revoke(&self, why: &str) -> Durability {
        let Some(record) = self.record() else {
            return Durability::Written;
        };
        let until = self.rules.expiry.revoke_until(record);
        let durability = self.revocations.revoke_ms(record.id(), until).await;
        log(self.rules.events, durability, why);
        durability
    }
}

/// The log line of a revocation: what the store did with it.
fn log(events: Events<'_>, durability: Durability, why: &str) {
    match durability {
        Durability::Written => events.info(format_args!("session: {why}; revocation stored")),
        Durability::Queued => events.info(format_args!(
            "session: {why}; revocation queued until the store is back (spooled to disk)"
        )),
        Durability::MemoryOnly => events.error(format_args!(
            "session: {why}; revocation NOT stored, held in memory only: \
             the store could not be written"
        )),
    }
}

fn managed<'r, T: Send + Sync + 'static>(req: &'r Request<'_>) -> &'r T {
    req.rocket().state::<T>().unwrap_or_else(|| {
        panic!(
            "BUG: {} is managed by the Sessions fairing: attach it",
            std::any::type_name::<T>()
        )
    })
}

/// The request's session, opened under the rules by whoever asks first.
fn opened<'r>(req: &'r Request<'_>) -> &'r Opening {
    req.local_cache(|| open(req, Rules::of(req), managed(req)))
}

fn open(req: &Request<'_>, rules: Rules<'_>, revocations: &Revocations) -> Opening {
    let jar = req.cookies();
    let name = rules.cookies.session_cookie();
    // A cookie that is no session: said, counted, and removed.
    let end = |ended: Ended, reason: EndReason, line: std::fmt::Arguments<'_>| {
        rules.events.info(line);
        rules.counts.count_end(reason);
        rules.cookies.discard(jar, name);
        Opening {
            record: None,
            ended: Some(ended),
        }
    };
    let refuse = |ended: Ended, why: &str| {
        let reason = match ended {
            Ended::Revoked => EndReason::Revoked,
            _ => EndReason::Unreadable,
        };
        end(
            ended,
            reason,
            format_args!("session: cookie rejected: {why}"),
        )
    };
    // A cookie opened before, and still kept, is not decrypted again
    // (opened_cache.rs).
    let sealed = jar.get(name).map(|cookie| cookie.value());
    let kept = sealed.and_then(|sealed| rules.opened.get(sealed));
    let (mut record, source) = match kept {
        Some(record) => (record, Source::Kept),
        None => match decrypted(jar, rules, name) {
            Ok(opened) => opened,
            Err(Some(why)) => return refuse(Ended::Unreadable, why),
            Err(None) => {
                return Opening {
                    record: None,
                    ended: None,
                }
            }
        },
    };
    if revocations.revokes(&record) {
        return refuse(Ended::Revoked, "revoked");
    }
    let stale_key = source == Source::StaleKey;
    let now = rules.clock.millis();
    match rules.expiry.check_at(&record, now) {
        Verdict::Expired(why) => {
            let reason = match why {
                Why::Idle => EndReason::Idle,
                Why::Absolute | Why::Future => EndReason::Absolute,
            };
            let line = format_args!("session: expired ({})", why.as_str());
            return end(Ended::TimedOut, reason, line);
        }
        Verdict::Renew => {
            record.touch(now);
            rules.save(jar, &record);
        }
        Verdict::Fresh if stale_key => rules.save(jar, &record),
        Verdict::Fresh => {
            // Kept only once it passed every rule and needs no new cookie,
            // and only from a request that reads: a form (a POST) mostly
            // re-seals the session or ends it, so its text would not come
            // back, and keeping it would push out one that does.
            let reads = matches!(req.method(), Method::Get | Method::Head);
            if let (Source::Decrypted { plaintext_len }, Some(sealed), true) =
                (source, sealed, reads)
            {
                rules.opened.keep(sealed, plaintext_len, &record);
            }
        }
    }
    if stale_key {
        rules
            .events
            .info(format_args!("session: re-sealed under the current key"));
    }
    Opening {
        record: Some(record),
        ended: None,
    }
}

/// Where an opened session came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// From the cache of opened cookies.
    Kept,
    /// Decrypted under the current key, from a plaintext of this length.
    Decrypted { plaintext_len: usize },
    /// Decrypted under a fallback key: to be re-sealed, not kept.
    StaleKey,
}

/// Decrypts and decodes the session cookie. `Err(None)` for no cookie;
/// `Err(Some(why))` for one that is no session.
fn decrypted(
    jar: &CookieJar<'_>,
    rules: Rules<'_>,
    name: &str,
) -> Result<(Record, Source), Option<&'static str>> {
    let (plaintext, source) = match rules.cookies.open(jar, name) {
        Opened::Missing => return Err(None),
        Opened::Rejected => return Err(Some("no key opens it")),
        Opened::Current(plaintext) => {
            let plaintext_len = plaintext.len();
            (plaintext, Source::Decrypted { plaintext_len })
        }
        Opened::Fallback(plaintext) => (plaintext, Source::StaleKey),
    };
    let record = Record::decode(&plaintext).ok_or(Some("not a session of this version"))?;
    Ok((record, source))
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Session<'r> {
    type Error = Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Infallible> {
        Outcome::Success(Session::of(req))
    }
}

#[cfg(test)]
mod tests {
    use std::ops::Deref;
    use std::path::PathBuf;
    use std::time::Duration;

    use rocket::http::{Cookie, Status};
    use rocket::local::blocking::Client;
    use rocket::{get, post, routes};

    use super::{Layer, Session};
    use crate::{Clock, Sessions};

    #[post("/start")]
    fn start(mut session: Session<'_>) {
        session.start("taro").unwrap();
    }

    #[get("/")]
    fn show(session: Session<'_>) -> String {
        session.subject().unwrap_or("nobody").to_owned()
    }

    #[post("/logout")]
    async fn logout(mut session: Session<'_>) {
        session.clear().await;
    }

    #[post("/peek")]
    fn peek(session: Session<'_>) -> String {
        show(session)
    }

    const KEY: &str = "V+Ly6JPKyHU+z4DyD0e0PU1AxvY83MtQi5HFTAa0WKc=";
    const OLD_KEY: &str = "QVRPsWlRRrOPJsdXsx9/HtkeZJbKenQIcLXGD0zZcVQ=";

    /// A client of the test routes, and the folder of its revocation
    /// store, removed with it.
    struct App {
        client: Client,
        folder: PathBuf,
    }

    impl Deref for App {
        type Target = Client;

        fn deref(&self) -> &Client {
            &self.client
        }
    }

    impl Drop for App {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.folder);
        }
    }

    fn client(key: &str, fallbacks: &[&str], clock: &Clock) -> App {
        let folder = std::env::temp_dir().join(format!(
            "sealed-sessions-guard-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        let store = folder.join("revoked");
        let figment = rocket::Config::figment()
            .merge(("secret_key", key))
            .merge(("secret_key_fallbacks", fallbacks))
            .merge(("log_level", "off"))
            .merge(("session_idle_timeout", 60))
            .merge(("session_revocation_store", store.display().to_string()));
        let rocket = rocket::custom(figment)
            .attach(Sessions::builder().clock(clock.clone()).build())
            .mount("/", routes![start, show, logout, peek]);
        App {
            client: Client::untracked(rocket).unwrap(),
            folder,
        }
    }

    fn started(client: &Client) -> Cookie<'static> {
        let response = client.post("/start").dispatch();
        response.cookies().get("session").unwrap().clone()
    }

    fn show_with(client: &Client, cookie: &Cookie<'static>) -> String {
        let page = client.get("/").cookie(cookie.clone()).dispatch();
        page.into_string().unwrap()
    }

    fn kept(client: &Client, cookie: &Cookie<'static>) -> bool {
        let layer = client.rocket().state::<Layer>().unwrap();
        layer.opened.get(cookie.value()).is_some()
    }

    #[test]
    fn a_kept_cookie_still_meets_every_rule() {
        let clock = Clock::manual_from_now();
        let client = client(KEY, &[], &clock);
        let cookie = started(&client);
        assert!(!kept(&client, &cookie));
        assert_eq!(show_with(&client, &cookie), "taro");
        assert!(kept(&client, &cookie), "opened once, then kept");
        assert_eq!(show_with(&client, &cookie), "taro");

        // One character changed in the middle: not kept, and no key opens it.
        let mut altered: Vec<char> = cookie.value().chars().collect();
        let middle = altered.len() / 2;
        altered[middle] = if altered[middle] == 'A' { 'B' } else { 'A' };
        let altered = Cookie::new("session", altered.into_iter().collect::<String>());
        assert_eq!(show_with(&client, &altered), "nobody");

        // A copy kept from before the logout is refused, though it is kept.
        let copy = cookie.clone();
        client.post("/logout").cookie(cookie).dispatch();
        assert!(kept(&client, &copy));
        assert_eq!(show_with(&client, &copy), "nobody");

        // Past the idle window, a kept cookie is refused too.
        let idle = started(&client);
        assert_eq!(show_with(&client, &idle), "taro");
        assert!(kept(&client, &idle));
        clock.advance(Duration::from_secs(61));
        assert_eq!(show_with(&client, &idle), "nobody");
    }

    #[test]
    fn only_a_request_that_reads_keeps_a_cookie() {
        let clock = Clock::manual_from_now();
        let client = client(KEY, &[], &clock);
        let cookie = started(&client);
        let peeked = client.post("/peek").cookie(cookie.clone()).dispatch();
        assert_eq!(peeked.into_string().unwrap(), "taro");
        assert!(
            !kept(&client, &cookie),
            "a POST opened it, and did not keep it"
        );
        assert_eq!(show_with(&client, &cookie), "taro");
        assert!(kept(&client, &cookie), "a GET opened it, and kept it");
    }

    #[test]
    fn a_cookie_under_a_fallback_key_is_resealed_each_time_not_kept() {
        let clock = Clock::manual_from_now();
        let before = client(OLD_KEY, &[], &clock);
        let cookie = started(&before);
        let after = client(KEY, &[OLD_KEY], &clock);
        for _ in 0..2 {
            let page = after.get("/").cookie(cookie.clone()).dispatch();
            assert_eq!(page.status(), Status::Ok);
            let resealed = page.cookies().get("session").map(|c| c.value().to_owned());
            assert!(resealed.is_some_and(|value| value != cookie.value()));
            assert_eq!(page.into_string().unwrap(), "taro");
            assert!(!kept(&after, &cookie));
        }
    }
}
