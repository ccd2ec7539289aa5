//! Error pages: every status the app answers with on its own, in the app's
//! style and the client's language, without internal detail. A known path
//! asked for with the wrong method is a `405` that says which methods it
//! takes.

use rocket::http::{Header, Method, Status};
use rocket::response::{self, Responder};
use rocket::{catch, catchers, Catcher, Request};
use rocket_dyn_templates::context;

use super::page::{Html, Page};
use super::paths::same_path;
use super::telemetry;
use crate::render::templates::PageName;

pub fn catchers() -> Vec<Catcher> {
    catchers![error]
}

/// The text keys naming `status` in a few words (the page's title and
/// heading), and explaining it: `error_title_403` and `error_403`.
fn texts(status: Status) -> (&'static str, &'static str) {
    let explanation = explanation(status);
    let title = match explanation {
        "error_400" => "error_title_400",
        "error_403" => "error_title_403",
        "error_404" => "error_title_404",
        "error_405" => "error_title_405",
        "error_413" => "error_title_413",
        "error_415" => "error_title_415",
        "error_422" => "error_title_422",
        "error_4xx" => "error_title_4xx",
        _ => "error_title_5xx",
    };
    (title, explanation)
}

/// The text key explaining `status`.
fn explanation(status: Status) -> &'static str {
    match status.code {
        400 => "error_400",
        403 => "error_403",
        404 => "error_404",
        405 => "error_405",
        413 => "error_413",
        415 => "error_415",
        422 => "error_422",
        _ if status.class().is_client_error() => "error_4xx",
        _ => "error_5xx",
    }
}

/// The methods the app's routes take for `req`'s path, if any route has
/// that path: `GET` routes take `HEAD` too.
fn allowed_methods(req: &Request<'_>) -> Vec<Method> {
    let path = req.uri().path();
    let mut methods: Vec<Method> = req
        .rocket()
        .routes()
        .filter(|route| same_path(route.uri.path(), path.as_str()))
        .flat_map(|route| match route.method {
            Method::Get => vec![Method::Get, Method::Head],
            method => vec![method],
        })
        .collect();
    methods.sort_by_key(|m| m.as_str());
    methods.dedup();
    methods
}

/// An error page, with `Allow` when it is a `405`.
struct ErrorPage {
    status: Status,
    body: Html,
    allow: Option<String>,
}

impl<'r> Responder<'r, 'static> for ErrorPage {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let mut response = (self.status, self.body).respond_to(req)?;
        if let Some(allow) = self.allow {
            response.set_header(Header::new("Allow", allow));
        }
        Ok(response)
    }
}

#[catch(default)]
fn error(status: Status, req: &Request<'_>) -> ErrorPage {
    telemetry::unread_request(req, status);
    // A 404 for a path the app serves with other methods is a 405; a 404
    // that a route itself answered (an unknown file) stays a 404.
    let allowed = if status == Status::NotFound {
        allowed_methods(req)
    } else {
        Vec::new()
    };
    let (status, allow) = if allowed.is_empty() || allowed.contains(&req.method()) {
        (status, None)
    } else {
        let names: Vec<&str> = allowed.iter().map(|m| m.as_str()).collect();
        (Status::MethodNotAllowed, Some(names.join(", ")))
    };
    let body = Page::plain(req).render(PageName::Error, None, {
        let (title, message) = texts(status);
        context! { code: status.code, title, message }
    });
    ErrorPage {
        status,
        body,
        allow,
    }
}
