//! The language of a page: the one the browser chose with a page's link
//! (kept in its cookie for a year), else the one `Accept-Language` prefers;
//! and the route that makes the choice.

use std::convert::Infallible;
use std::time::Duration;

use rocket::http::uri::{Absolute, Origin};
use rocket::http::Method;
use rocket::request::{self, FromRequest, Request};
use rocket::response::{self, Redirect, Responder};

use super::paths::same_path;
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

/// The path of the page a request came from, when it is on this site: a
/// path a `GET` route serves (an error page's address may be a form's).
pub struct CameFrom(Option<Origin<'static>>);

impl CameFrom {
    /// The page's path, if the request came from one of this site's.
    pub fn page(self) -> Option<Origin<'static>> {
        self.0
    }
}

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

impl LanguageRedirect {
    /// Remembers `lang`, then sends the browser to `to`.
    pub fn new(lang: Lang, to: Origin<'static>) -> LanguageRedirect {
        LanguageRedirect(lang, Redirect::to(to))
    }
}

impl<'r> Responder<'r, 'static> for LanguageRedirect {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let name = cookies::settings(req).lang.clone();
        cookies::set_plain(req, &name, self.0.code(), CHOICE_KEPT_FOR);
        self.1.respond_to(req)
    }
}
