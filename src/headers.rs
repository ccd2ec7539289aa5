//! Security headers on every response, and `Cache-Control: no-store` on
//! everything that did not choose its own caching.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Header;
use rocket::response::{self, Responder};
use rocket::shield::{Frame, NoSniff, Shield};
use rocket::{Request, Response};

/// Scripts from nowhere (the pages have none), styles and forms from this
/// origin only, no framing.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// Pages depend on the language asked for and on the cookies (the session,
/// the language chosen).
const VARY: &str = "Accept-Language, Cookie";

/// Rocket's shield, set to deny framing and sniffing.
pub fn shield() -> Shield {
    Shield::default()
        .enable(Frame::Deny)
        .enable(NoSniff::Enable)
}

/// Adds the CSP, `Vary` (pages are negotiated), and
/// `Cache-Control: no-store` unless a route set its own.
pub struct SecurityHeaders;

#[rocket::async_trait]
impl Fairing for SecurityHeaders {
    fn info(&self) -> Info {
        Info {
            name: "Security headers",
            kind: Kind::Response,
        }
    }

    async fn on_response<'r>(&self, _: &'r Request<'_>, res: &mut Response<'r>) {
        res.set_header(Header::new("Content-Security-Policy", CSP));
        res.set_header(Header::new("Vary", VARY));
        if !res.headers().contains("Cache-Control") {
            res.set_header(Header::new("Cache-Control", "no-store"));
        }
    }
}

/// A response carrying every security header itself. Error pages use it:
/// Rocket answers a request with an unknown method (`PROPFIND`) through the
/// catchers without running response fairings.
pub struct Secured<R>(pub R);

impl<'r, 'o: 'r, R: Responder<'r, 'o>> Responder<'r, 'o> for Secured<R> {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'o> {
        let mut res = self.0.respond_to(req)?;
        res.set_header(Header::new("Content-Security-Policy", CSP));
        res.set_header(Header::new("X-Content-Type-Options", "nosniff"));
        res.set_header(Header::new("X-Frame-Options", "DENY"));
        res.set_header(Header::new("Vary", VARY));
        res.set_header(Header::new("Cache-Control", "no-store"));
        Ok(res)
    }
}
