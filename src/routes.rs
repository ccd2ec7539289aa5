//! The tutorial's flow: log in with a name, see the session, delete one
//! entry, log out. Plus a health check and the stylesheet.

use rocket::form::FromForm;
use rocket::http::{ContentType, Header, Status};
use rocket::response::Redirect;
use rocket::{get, post, routes, uri, Responder, Route, State};
use rocket_dyn_templates::Template;
use serde::Serialize;

use crate::csrf::{Csrf, CsrfToken, Protected};
use crate::pages::{Notice, NoticeRedirect, Page};
use crate::session::{LoggedIn, RequestSession, Revocations};
use crate::text::{self, Refusal};

/// The longest accepted name, in Unicode scalar values.
pub const MAX_NAME_CHARS: usize = 100;

/// The largest form the app's own pages send: the login form with the
/// longest name, every character four UTF-8 bytes, each byte
/// percent-encoded, plus the other fields. `limits.form` must allow it.
pub const LARGEST_FORM_BYTES: u64 = (MAX_NAME_CHARS * 4 * 3 + 256) as u64;

pub fn routes() -> Vec<Route> {
    routes![
        index,
        login,
        output,
        output_anonymous,
        logout_page,
        logout_page_anonymous,
        logout,
        delete_key,
        healthz,
        readyz,
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

#[get("/")]
pub fn index(page: Page, csrf: CsrfToken) -> Template {
    page.render("index", Some(&csrf), ())
}

#[post("/login", data = "<form>")]
// Rocket's idiom for an expected failure; the value lives for one return.
#[allow(clippy::result_large_err)]
pub fn login(
    form: Csrf<LoginForm<'_>>,
    mut session: RequestSession<'_>,
) -> Result<Redirect, NoticeRedirect> {
    let name = valid_name(form.0.name.unwrap_or_default())
        .map_err(|notice| notice.redirect(Redirect::to(uri!(index))))?;
    session.start(name);
    Ok(Redirect::to(uri!(output)))
}

#[derive(Serialize)]
struct Entry<'a> {
    key: &'a str,
    value: &'a str,
}

#[get("/output")]
pub fn output(user: LoggedIn<'_>, page: Page, csrf: CsrfToken) -> Template {
    let entries: Vec<Entry<'_>> = user
        .session()
        .entries()
        .iter()
        .map(|(key, value)| Entry { key, value })
        .collect();
    page.render(
        "output",
        Some(&csrf),
        rocket_dyn_templates::context! { name: user.name(), entries },
    )
}

#[get("/output", rank = 2)]
pub fn output_anonymous() -> Redirect {
    Redirect::to(uri!(index))
}

/// The tutorial logs out on `GET /logout`; a link must not change state, so
/// this page asks for the button instead.
#[get("/logout")]
pub fn logout_page(_user: LoggedIn<'_>, page: Page, csrf: CsrfToken) -> Template {
    page.render("logout", Some(&csrf), ())
}

#[get("/logout", rank = 2)]
pub fn logout_page_anonymous() -> Redirect {
    Redirect::to(uri!(index))
}

#[post("/logout", data = "<_form>")]
pub async fn logout(
    _form: Csrf<LogoutForm<'_>>,
    mut session: RequestSession<'_>,
) -> NoticeRedirect {
    session.clear().await;
    Notice::LoggedOut.redirect(Redirect::to(uri!(index)))
}

#[post("/session/delete", data = "<form>")]
pub async fn delete_key(
    form: Csrf<DeleteForm<'_>>,
    mut session: RequestSession<'_>,
) -> NoticeRedirect {
    let notice = if session.remove(form.0.key.unwrap_or_default()).await {
        Notice::EntryDeleted
    } else {
        Notice::EntryMissing
    };
    let next = if session.is_logged_in() {
        uri!(output)
    } else {
        uri!(index)
    };
    notice.redirect(Redirect::to(next))
}

/// For load balancers: no session work, no template.
#[get("/healthz")]
pub fn healthz() -> &'static str {
    "ok"
}

/// For load balancers that want to know whether the revocation store is
/// reachable: `200 ready`, or `503` while it is not (the app still serves
/// then, and queues revocations).
#[get("/readyz")]
pub fn readyz(revocations: &State<Revocations>) -> (Status, &'static str) {
    if revocations.is_ready() {
        (Status::Ok, "ready")
    } else {
        (Status::ServiceUnavailable, "revocation store unreachable")
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
