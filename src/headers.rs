//! Security headers on every response, and `Cache-Control: no-store` on
//! everything that did not choose its own caching: one layer, in place of
//! Rocket's shield, that the error pages apply too.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::response::{self, Responder};
use rocket::{Request, Response};

/// Scripts from nowhere (the pages have none), styles and forms from this
/// origin only, no framing.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// Every response's headers. `Vary`: pages depend on the language asked
/// for and on the cookies (the session, the language chosen).
const HEADERS: [(&str, &str); 5] = [
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Permissions-Policy", "interest-cohort=()"),
    ("Vary", "Accept-Language, Cookie"),
];

/// Under Rocket's own TLS, browsers are told to keep to HTTPS for a year.
const HSTS: (&str, &str) = ("Strict-Transport-Security", "max-age=31536000");

/// Adds the headers once: a response that has its CSP already (an error
/// page, which set them itself) is left as it is. Adjoined, not replaced:
/// nothing else sets them, and adjoining static strings costs no search.
fn secure(req: &Request<'_>, res: &mut Response<'_>) {
    if res.headers().contains(HEADERS[0].0) {
        return;
    }
    for (name, value) in HEADERS {
        res.adjoin_raw_header(name, value);
    }
    if req.rocket().config().tls_enabled() {
        res.adjoin_raw_header(HSTS.0, HSTS.1);
    }
    if !res.headers().contains("Cache-Control") {
        res.adjoin_raw_header("Cache-Control", "no-store");
    }
}

/// Adds the security headers to every response that goes through fairings.
pub struct SecurityHeaders;

#[rocket::async_trait]
impl Fairing for SecurityHeaders {
    fn info(&self) -> Info {
        Info {
            name: "Security headers",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        secure(req, res);
    }
}

/// A response carrying every security header itself. Error pages use it:
/// Rocket answers a request with an unknown method (`PROPFIND`) through the
/// catchers without running response fairings.
pub struct Secured<R>(pub R);

impl<'r, 'o: 'r, R: Responder<'r, 'o>> Responder<'r, 'o> for Secured<R> {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'o> {
        let mut res = self.0.respond_to(req)?;
        secure(req, &mut res);
        Ok(res)
    }
}
