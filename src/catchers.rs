//! Error pages: every status the app answers with on its own, in the app's
//! style and the client's language, without internal detail.

use rocket::http::Status;
use rocket::{catch, catchers, Catcher, Request};
use rocket_dyn_templates::{context, Template};

use crate::headers::Secured;
use crate::pages::Page;

pub fn catchers() -> Vec<Catcher> {
    catchers![error]
}

/// The text key explaining `status`.
fn explanation(status: Status) -> &'static str {
    match status.code {
        400 => "error_400",
        403 => "error_403",
        404 => "error_404",
        413 => "error_413",
        415 => "error_415",
        422 => "error_422",
        _ if status.class().is_client_error() => "error_4xx",
        _ => "error_5xx",
    }
}

#[catch(default)]
fn error(status: Status, req: &Request<'_>) -> Secured<(Status, Template)> {
    let page = Page::plain(req);
    let body = page.render(
        "error",
        None,
        context! { code: status.code, message: explanation(status) },
    );
    Secured((status, body))
}
