//! The language of a page: the one the browser chose with a page's link
//! (kept in its cookie for a year), else the one `Accept-Language` prefers;
//! and the route that makes the choice.

use std::convert::Infallible;
use std::time::Duration;

use rocket::http::uri::{Absolute, Origin};
use rocket::http::Method;
use rocket::request::{self, FromRequest, Request};
use rocket::response::{self, Redirect, Responder};
use rocket::{get, uri};

use super::catchers::same_path;
use crate::cookies;
use crate::render::i18n::Lang;

/// How long the language choice is kept: a year.
const CHOICE_KEPT_FOR: Duration = Duration::from_secs(365 * 24 * 3600);

/// The language for `req`, also usable from catchers: the one the browser
/// chose on a page, else the one `Accept-Language` prefers.
pub fn of(req: &Request<'_>) -> Lang {
    let lang_cookie = &cookies::settings(req).lang;
    req.cookies()
        .get(lang_cookie)
        .and_then(|cookie| Lang::from_code(cookie.value()))
        .unwrap_or_else(|| Lang::negotiate(req.headers().get_one("Accept-Language")))
}

/// Remembers the language chosen with a page's link, then goes back to that
/// page: the `Referer`'s path, when it is a page of this site (a path a
/// `GET` route serves: an error page's address may be a form's), else `/`.
#[get("/lang/<code>")]
pub fn switch_language(code: &str, came_from: CameFrom) -> Option<LanguageRedirect> {
    let lang = Lang::from_code(code)?;
    let to = came_from.0.unwrap_or_else(|| uri!(super::routes::index));
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
            .filter(|path| {
                req.rocket()
                    .routes()
                    .any(|route| route.method == Method::Get && same_path(route.uri.path(), path))
            })
            .and_then(|path| Origin::parse_owned(path).ok());
        request::Outcome::Success(CameFrom(path))
    }
}

/// A redirect that remembers a language.
pub struct LanguageRedirect(Lang, Redirect);

impl<'r> Responder<'r, 'static> for LanguageRedirect {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let name = cookies::settings(req).lang.clone();
        cookies::set_plain(req, &name, self.0.code(), CHOICE_KEPT_FOR);
        self.1.respond_to(req)
    }
}
