//! The tutorial's flow: log in with a name, see the session, delete one
//! entry, log out. Plus the language switch, health checks and the
//! stylesheet.

use std::convert::Infallible;

use rocket::form::FromForm;
use rocket::http::uri::{Absolute, Origin};
use rocket::http::{ContentType, Header};
use rocket::request::{self, FromRequest, Request};
use rocket::response::{self, Redirect, Responder};
use rocket::{get, post, routes, uri, Route, State};
use rocket_dyn_templates::context;
use serde::Serialize;

use crate::csrf::{Csrf, CsrfToken, Protected};
use crate::i18n::Lang;
use crate::pages::{Notice, NoticeRedirect, Page};
use crate::session::{
    cookies, is_settable_key, LoggedIn, RequestSession, Revocations, SetRefusal, LOGGED_IN_AT,
    MAX_SET_KEY_CHARS, NAME, RESERVED_KEYS,
};
use crate::templates::{Html, PageName};
use crate::text::{self, Refusal};

/// The longest accepted name, in Unicode scalar values.
pub const MAX_NAME_CHARS: usize = 100;

/// The longest accepted entry value, in Unicode scalar values.
pub const MAX_VALUE_CHARS: usize = 200;

/// The largest form the app's own pages send: the set-entry form with the
/// longest key and value, every character four UTF-8 bytes, each byte
/// percent-encoded, plus the other fields. `limits.form` must allow it.
pub const LARGEST_FORM_BYTES: u64 = (MAX_VALUE_CHARS * 4 * 3 + MAX_SET_KEY_CHARS * 3 + 256) as u64;

pub fn routes() -> Vec<Route> {
    routes![
        index,
        login_page,
        login,
        output,
        output_anonymous,
        logout_page,
        logout_page_anonymous,
        logout,
        delete_key,
        set_entry,
        healthz,
        readyz,
        switch_language,
        asset
    ]
}

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

impl Protected for SetForm<'_> {
    fn csrf_token(&self) -> Option<&str> {
        self.csrf_token
    }
}

#[derive(FromForm)]
pub struct DeleteForm<'r> {
    key: Option<&'r str>,
    csrf_token: Option<&'r str>,
}

impl Protected for LoginForm<'_> {
    fn csrf_token(&self) -> Option<&str> {
        self.csrf_token
    }
}

impl Protected for LogoutForm<'_> {
    fn csrf_token(&self) -> Option<&str> {
        self.csrf_token
    }
}

impl Protected for DeleteForm<'_> {
    fn csrf_token(&self) -> Option<&str> {
        self.csrf_token
    }
}

/// Checks a submitted name by the [`text`] rules; the trimmed name, or the
/// notice that explains the refusal.
pub fn valid_name(raw: &str) -> Result<&str, Notice> {
    text::check(raw, MAX_NAME_CHARS).map_err(|refusal| match refusal {
        Refusal::Empty => Notice::NameEmpty,
        Refusal::TooLong => Notice::NameTooLong,
        Refusal::Control => Notice::NameControl,
        Refusal::Reordering => Notice::NameReordering,
    })
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

#[post("/login", data = "<form>")]
// Rocket's idiom for an expected failure; the value lives for one return.
#[allow(clippy::result_large_err)]
pub fn login(
    form: Csrf<LoginForm<'_>>,
    mut session: RequestSession<'_>,
) -> Result<Redirect, NoticeRedirect> {
    let typed = form.0.name.unwrap_or_default();
    let name = valid_name(typed).map_err(|notice| {
        let back = Redirect::to(uri!(index));
        let typed = typed.trim();
        match notice {
            Notice::NameTooLong if typed.chars().count() <= KEPT_NAME_CHARS => {
                notice.redirect_with(typed, back)
            }
            _ => notice.redirect(back),
        }
    })?;
    session.start(name);
    Ok(Redirect::to(uri!(output)))
}

/// One row of the session table: an entry added with the form.
#[derive(Serialize)]
struct Entry<'a> {
    key: &'a str,
    value: &'a str,
}

/// The session page. Its table shows `logged_in_at` (while it is there)
/// and `name` in rows of their own, then the added entries in key order.
#[get("/output")]
pub fn output(user: LoggedIn<'_>, page: Page, csrf: CsrfToken) -> Html {
    let lang = page.lang();
    let session = user.session().entries();
    // The login time, exact and as a person reads it, side by side rather
    // than nested: each path segment costs the render an allocation.
    let logged_in_at = session.get(LOGGED_IN_AT);
    let logged_in_at_readable = logged_in_at.map(|value| {
        lang.readable_instant(value)
            .unwrap_or_else(|| value.clone())
    });
    let entries: Vec<Entry<'_>> = session
        .iter()
        .filter(|(key, _)| !RESERVED_KEYS.contains(&key.as_str()))
        .map(|(key, value)| Entry { key, value })
        .collect();
    page.render(
        PageName::Output,
        Some(&csrf),
        context! { name: user.name(), logged_in_at, logged_in_at_readable, entries },
    )
}

#[get("/output", rank = 2)]
pub fn output_anonymous(session: RequestSession<'_>) -> NoticeRedirect {
    NoticeRedirect::to_login(session.ended())
}

/// The tutorial logs out on `GET /logout`; a link must not change state, so
/// this page asks for the button instead.
#[get("/logout")]
pub fn logout_page(_user: LoggedIn<'_>, page: Page, csrf: CsrfToken) -> Html {
    page.render(PageName::Logout, Some(&csrf), ())
}

#[get("/logout", rank = 2)]
pub fn logout_page_anonymous(session: RequestSession<'_>) -> NoticeRedirect {
    NoticeRedirect::to_login(session.ended())
}

#[post("/logout", data = "<_form>")]
pub async fn logout(
    _form: Csrf<LogoutForm<'_>>,
    mut session: RequestSession<'_>,
) -> NoticeRedirect {
    let notice = match session.clear().await.is_stored() {
        true => Notice::LoggedOut,
        false => Notice::LogoutNotStored,
    };
    notice.redirect(Redirect::to(uri!(index)))
}

#[post("/session/delete", data = "<form>")]
pub async fn delete_key(
    form: Csrf<DeleteForm<'_>>,
    mut session: RequestSession<'_>,
) -> NoticeRedirect {
    let key = form.0.key.unwrap_or_default();
    let notice = match session.remove(key).await {
        Some(stored) if !stored.is_stored() => Notice::LogoutNotStored,
        Some(_) if key == NAME => Notice::NameDeleted,
        Some(_) => Notice::EntryDeleted,
        None => Notice::EntryMissing,
    };
    let next = if session.is_logged_in() {
        uri!(output)
    } else {
        uri!(index)
    };
    notice.redirect(Redirect::to(next))
}

/// Sets one entry (the tutorial's `session[key] = value`), then back to the
/// session page, saying what happened.
#[post("/session/set", data = "<form>")]
pub fn set_entry(form: Csrf<SetForm<'_>>, mut session: RequestSession<'_>) -> NoticeRedirect {
    if !session.is_logged_in() {
        return NoticeRedirect::to_login(session.ended());
    }
    let back = || Redirect::to(uri!(output));
    let key = form.0.key.unwrap_or_default();
    if !is_settable_key(key) {
        return Notice::EntryKeyInvalid.redirect(back());
    }
    let value = match text::check(form.0.value.unwrap_or_default(), MAX_VALUE_CHARS) {
        Ok(value) => value,
        Err(refusal) => {
            let notice = match refusal {
                Refusal::Empty => Notice::ValueEmpty,
                Refusal::TooLong => Notice::ValueTooLong,
                Refusal::Control => Notice::ValueControl,
                Refusal::Reordering => Notice::ValueReordering,
            };
            return notice.redirect(back());
        }
    };
    match session.set(key, value) {
        Ok(false) => Notice::EntryAdded.redirect(back()),
        Ok(true) => Notice::EntryReplaced.redirect(back()),
        Err(SetRefusal::TooBig { room }) => {
            Notice::EntryTooBig.redirect_with(&room.to_string(), back())
        }
        Err(SetRefusal::TooMany) => Notice::EntryTooMany.redirect(back()),
        Err(SetRefusal::Reserved) => Notice::EntryReserved.redirect(back()),
        Err(SetRefusal::NoSession) => NoticeRedirect::to_login(session.ended()),
    }
}

/// Remembers the language chosen with a page's link, then goes back to that
/// page: the `Referer`'s path, when the page is on this site, else `/`.
#[get("/lang/<code>")]
pub fn switch_language(code: &str, came_from: CameFrom) -> Option<LanguageRedirect> {
    let lang = Lang::from_code(code)?;
    let to = came_from.0.unwrap_or_else(|| uri!(index));
    Some(LanguageRedirect(lang, Redirect::to(to)))
}

/// The path of the page a request came from, when it is on this site.
pub struct CameFrom(Option<Origin<'static>>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for CameFrom {
    type Error = Infallible;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, Infallible> {
        let headers = req.headers();
        let path = headers
            .get_one("Referer")
            .and_then(|referer| Absolute::parse(referer).ok())
            .filter(|referer| {
                // `Host` in HTTP/1.1; in HTTP/2 there is none, and Rocket
                // takes the host from `:authority`.
                let host = headers
                    .get_one("Host")
                    .map(str::to_owned)
                    .or_else(|| req.host().map(|host| host.to_string()))
                    .unwrap_or_default();
                referer
                    .authority()
                    .is_some_and(|authority| authority.to_string().eq_ignore_ascii_case(&host))
            })
            .map(|referer| referer.path().to_string())
            // Only a path of this site: `//elsewhere` would be another site.
            .filter(|path| path.starts_with('/') && !path.starts_with("//"))
            .and_then(|path| Origin::parse_owned(path).ok());
        request::Outcome::Success(CameFrom(path))
    }
}

/// A redirect that remembers a language.
pub struct LanguageRedirect(Lang, Redirect);

impl<'r> Responder<'r, 'static> for LanguageRedirect {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        cookies::set_language(req, self.0.code());
        self.1.respond_to(req)
    }
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
    match revocations.trouble() {
        None => "ready".to_owned(),
        Some(trouble) => format!("ready; {trouble}"),
    }
}

/// A file compiled into the binary, cached by browsers for an hour.
#[derive(Responder)]
pub struct Asset(&'static str, ContentType, Header<'static>);

/// The stylesheet and the icon: nothing external, nothing read from disk.
#[get("/static/<file>")]
pub fn asset(file: &str) -> Option<Asset> {
    let (body, content_type) = match file {
        "app.css" => (
            include_str!("../templates/static/app.css"),
            ContentType::CSS,
        ),
        "favicon.svg" => (
            include_str!("../templates/static/favicon.svg"),
            ContentType::SVG,
        ),
        _ => return None,
    };
    Some(Asset(
        body,
        content_type,
        Header::new("Cache-Control", "public, max-age=3600"),
    ))
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
