//! The tutorial's flow: log in with a name, see the session, set or delete
//! one entry, log out. Plus health checks and the stylesheet.

use rocket::form::FromForm;
use rocket::http::{ContentType, CookieJar};
use rocket::response::{self, Redirect, Responder};
use rocket::{get, post, uri, Request, State};
use rocket_dyn_templates::context;
use serde::Serialize;

use rocket_sealed_sessions::{Durability, Ended, InsertError, Record, Revocations, Session};

use super::csrf::{self, protected_forms, Csrf, CsrfToken};
use super::headers;
use super::kept_pages::KeptPages;
use super::lang::{CameFrom, LanguageRedirect};
use super::login::{log_in, name_of, LoggedIn, LOGGED_IN_AT, NAME, RESERVED_KEYS};
use super::notices::{Field, Left, Notice, NoticeRedirect};
use super::page::{Html, Page};
use crate::cookies::CookieSettings;
use crate::render::i18n::Lang;
use crate::render::templates::PageName;
use crate::text::{self, is_settable_key, MAX_NAME_CHARS, MAX_SET_KEY_CHARS, MAX_VALUE_CHARS};

#[derive(FromForm)]
pub struct LoginForm<'r> {
    name: Option<&'r str>,
    csrf_token: Option<&'r str>,
}

#[derive(FromForm)]
pub struct LogoutForm<'r> {
    csrf_token: Option<&'r str>,
}

#[derive(FromForm)]
pub struct SetForm<'r> {
    key: Option<&'r str>,
    value: Option<&'r str>,
    csrf_token: Option<&'r str>,
}

#[derive(FromForm)]
pub struct DeleteForm<'r> {
    key: Option<&'r str>,
    csrf_token: Option<&'r str>,
}

protected_forms!(LoginForm, LogoutForm, SetForm, DeleteForm);

/// Back to the login page, saying why the session the request carried
/// ended, if it did.
fn to_login(ended: Option<Ended>) -> NoticeRedirect {
    NoticeRedirect::ended(ended, uri!(index))
}

/// Remembers the language chosen with a page's link, then goes back to that
/// page when it is one of this site's, else to `/`.
#[get("/lang/<code>")]
pub fn switch_language(code: &str, came_from: CameFrom) -> Option<LanguageRedirect> {
    let lang = Lang::from_code(code)?;
    let to = came_from.page().unwrap_or_else(|| uri!(index));
    Some(LanguageRedirect::new(lang, to))
}

/// Checks a submitted name by the [`text`] rules; the trimmed name, or the
/// notice that explains the refusal.
pub fn valid_name(raw: &str) -> Result<&str, Notice> {
    text::check(raw, MAX_NAME_CHARS).map_err(|refusal| Notice::refused(Field::Name, refusal))
}

/// The login page; for a logged-in visitor it also says who, and offers
/// the session page and logout before logging in as someone else.
#[get("/")]
pub fn index(page: Page, csrf: CsrfToken, user: Option<LoggedIn<'_>>) -> Html {
    let user = user.as_ref().map(LoggedIn::name);
    page.render(PageName::Index, Some(&csrf), context! { user })
}

/// Where a refused login leaves the address bar: back to the form.
#[get("/login")]
pub fn login_page() -> Redirect {
    Redirect::to(uri!(index))
}

/// Names refused for their length are given back, up to this many
/// characters, so the person can shorten them; longer ones are not kept.
const KEPT_NAME_CHARS: usize = 2 * MAX_NAME_CHARS;

/// The tutorial's `session["name"] = name`, with a fresh CSRF token.
#[post("/login", data = "<form>")]
// Rocket's idiom for an expected failure; the value lives for one return.
#[allow(clippy::result_large_err)]
pub fn login(
    form: Csrf<LoginForm<'_>>,
    mut session: Session<'_>,
    jar: &CookieJar<'_>,
    cookies: &State<CookieSettings>,
) -> Result<Redirect, NoticeRedirect> {
    let typed = form.0.name.unwrap_or_default();
    let name = valid_name(typed).map_err(|notice| {
        let typed = typed.trim();
        match notice {
            Notice::NameTooLong if typed.chars().count() <= KEPT_NAME_CHARS => {
                notice.redirect_with(typed, uri!(index))
            }
            _ => notice.redirect(uri!(index)),
        }
    })?;
    // The name's limits are the text rules', well inside the crate's.
    let token = csrf::new_token();
    log_in(&mut session, name, token.clone())
        .map_err(|_| Notice::NameTooLong.redirect(uri!(index)))?;
    csrf::seal_token(jar, cookies, token);
    Ok(Redirect::to(uri!(output)))
}

/// One row of the session table: an entry added with the form.
#[derive(Serialize)]
struct Entry<'a> {
    key: &'a str,
    value: &'a str,
}

/// The session page: the page kept from the last time, for the same
/// session ([`KeptPages`]), or rendered from [`output_context`].
#[get("/output")]
pub fn output(user: LoggedIn<'_>, page: Page, csrf: CsrfToken, kept: &State<KeptPages>) -> Html {
    page.render_kept(kept, user.record(), PageName::Output, &csrf, output_context)
}

/// The session page's table: `logged_in_at` (while it is there) and
/// `name` in rows of their own, then the added entries in natural order:
/// `s2` before `s10`, as a person counts.
fn output_context(record: &Record, lang: Lang) -> serde_json::Value {
    let session = record.entries();
    // The login time, exact and as a person reads it, side by side rather
    // than nested: each path segment costs the render an allocation.
    let logged_in_at = session.get(LOGGED_IN_AT);
    let logged_in_at_readable = logged_in_at.map(|value| {
        lang.readable_instant(value)
            .unwrap_or_else(|| value.clone())
    });
    let mut entries: Vec<Entry<'_>> = session
        .iter()
        .filter(|(key, _)| !RESERVED_KEYS.contains(&key.as_str()))
        .map(|(key, value)| Entry { key, value })
        .collect();
    entries.sort_by(|a, b| text::natural_order(a.key, b.key));
    let name = name_of(record).unwrap_or_default();
    serde_json::json!({
        "name": name,
        "logged_in_at": logged_in_at,
        "logged_in_at_readable": logged_in_at_readable,
        "entries": entries,
    })
}

#[get("/output", rank = 2)]
pub fn output_anonymous(session: Session<'_>) -> NoticeRedirect {
    to_login(session.ended())
}

/// The tutorial logs out on `GET /logout`; a link must not change state, so
/// this page asks for the button instead.
#[get("/logout")]
pub fn logout_page(_user: LoggedIn<'_>, page: Page, csrf: CsrfToken) -> Html {
    page.render(PageName::Logout, Some(&csrf), ())
}

#[get("/logout", rank = 2)]
pub fn logout_page_anonymous(session: Session<'_>) -> NoticeRedirect {
    to_login(session.ended())
}

/// The tutorial's `session.clear()`, which here also ends the session on
/// every instance, and drops the page kept for it.
#[post("/logout", data = "<_form>")]
pub async fn logout(
    _form: Csrf<LogoutForm<'_>>,
    mut session: Session<'_>,
    kept: &State<KeptPages>,
) -> NoticeRedirect {
    let ended = session.record().map(Record::id);
    let stored = session.clear().await;
    // After the revocation is in, so that a page kept meanwhile goes too.
    if let Some(id) = ended {
        kept.forget(id);
    }
    Notice::LoggedOut
        .unless_unstored(stored)
        .redirect(uri!(index))
}

/// The tutorial's `del session[key]`.
#[post("/session/delete", data = "<form>")]
pub async fn delete_key(
    form: Csrf<DeleteForm<'_>>,
    mut session: Session<'_>,
    kept: &State<KeptPages>,
) -> NoticeRedirect {
    // A session that has just ended says why, as adding an entry does.
    if session.ended().is_some() {
        return to_login(session.ended());
    }
    let key = form.0.key.unwrap_or_default();
    let logged_in = session.record().and_then(name_of).is_some();
    let back = match logged_in {
        true => uri!(output),
        false => uri!(index),
    };
    if !session.remove(key) {
        return Notice::EntryMissing.redirect(back);
    }
    // Deleting the name ends the login: the session's identifier is
    // revoked, as at logout, and the other entries stay under a new one.
    if key != NAME {
        return Notice::EntryDeleted.redirect_with(key, back);
    }
    let ended = session.record().map(Record::id);
    let stored = session
        .detach_subject()
        .await
        .unwrap_or(Durability::Written);
    if let Some(id) = ended {
        kept.forget(id);
    }
    Notice::NameDeleted
        .unless_unstored(stored)
        .redirect(uri!(index))
}

/// The tutorial's `session[key] = value`, then back to the session page,
/// saying what happened.
#[post("/session/set", data = "<form>")]
pub fn set_entry(form: Csrf<SetForm<'_>>, mut session: Session<'_>) -> NoticeRedirect {
    if session.record().and_then(name_of).is_none() {
        return to_login(session.ended());
    }
    let key = form.0.key.unwrap_or_default();
    let typed = form.0.value.unwrap_or_default();
    // A refused entry comes back in the form, as typed, to be corrected.
    let refused = |notice: Notice, room: Option<usize>| {
        let entry = kept_entry(key, typed);
        notice.leaving(
            Left {
                entry,
                room,
                ..Left::default()
            },
            uri!(output),
        )
    };
    if !is_settable_key(key) {
        return refused(Notice::EntryKeyInvalid, None);
    }
    let value = match text::check(typed, MAX_VALUE_CHARS) {
        Ok(value) => value,
        Err(refusal) => return refused(Notice::refused(Field::Value, refusal), None),
    };
    if RESERVED_KEYS.contains(&key) {
        return refused(Notice::EntryReserved, None);
    }
    match session.insert(key, value) {
        Ok(false) => Notice::EntryAdded.redirect_with(key, uri!(output)),
        Ok(true) => Notice::EntryReplaced.redirect_with(key, uri!(output)),
        Err(InsertError::TooBig { room }) => refused(Notice::EntryTooBig, Some(room)),
        Err(InsertError::TooMany) => refused(Notice::EntryTooMany, None),
        Err(InsertError::NoSession) => to_login(session.ended()),
    }
}

/// The entry form's key and value as typed, to give back after a refusal:
/// up to twice the accepted lengths (so a person can shorten them), and
/// never text with a control character, which the form could not show.
fn kept_entry(key: &str, value: &str) -> Option<(String, String)> {
    let fits = |text: &str, most: usize| {
        text.chars().count() <= 2 * most && !text.chars().any(char::is_control)
    };
    let key = if fits(key, MAX_SET_KEY_CHARS) {
        key
    } else {
        ""
    };
    let value = if fits(value, MAX_VALUE_CHARS) {
        value
    } else {
        ""
    };
    Some((key.to_owned(), value.to_owned()))
}

/// For load balancers: no session work, no template.
#[get("/healthz")]
pub fn healthz() -> &'static str {
    "ok"
}

/// For load balancers: an instance that answers can serve, so this is
/// always `200`. Its body is `ready`, followed by what is wrong with the
/// revocation store, if anything: Redis unreachable (shared by every
/// instance, so it must not take them all out at once), revocations not
/// yet written, a store file changed under the app.
#[get("/readyz")]
pub fn readyz(revocations: &State<Revocations>) -> String {
    match revocations.health().trouble {
        None => "ready".to_owned(),
        Some(trouble) => format!("ready; {trouble}"),
    }
}

/// A file compiled into the binary, cached by browsers for an hour.
pub struct Asset(&'static str, ContentType);

impl<'r> Responder<'r, 'static> for Asset {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let mut response = (self.1, self.0).respond_to(req)?;
        response.set_raw_header("Cache-Control", "public, max-age=3600");
        headers::caches_itself(req);
        Ok(response)
    }
}

/// The stylesheet and the icon: nothing external, nothing read from disk.
#[get("/static/<file>")]
pub fn asset(file: &str) -> Option<Asset> {
    let (body, content_type) = match file {
        "app.css" => (
            include_str!("../../templates/static/app.css"),
            ContentType::CSS,
        ),
        "favicon.svg" => (
            include_str!("../../templates/static/favicon.svg"),
            ContentType::SVG,
        ),
        _ => return None,
    };
    Some(Asset(body, content_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(valid_name("  山田太郎\u{3000}"), Ok("山田太郎"));
        assert_eq!(valid_name(&"字".repeat(100)), Ok(&*"字".repeat(100)));
        assert_eq!(valid_name(&"字".repeat(101)), Err(Notice::NameTooLong));
        assert_eq!(valid_name(" \t "), Err(Notice::NameEmpty));
        assert_eq!(valid_name("a\u{7}b"), Err(Notice::NameControl));
        assert_eq!(valid_name("a\nb"), Err(Notice::NameControl));
        assert_eq!(valid_name("\u{200B}"), Err(Notice::NameEmpty));
        assert_eq!(valid_name("a\u{202E}b"), Err(Notice::NameReordering));
    }
}
