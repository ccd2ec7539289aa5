//! Security headers on every response, and `Cache-Control: no-store` on
//! everything that did not choose its own caching: one layer, in place of
//! Rocket's shield, that the error pages apply too.

use std::sync::atomic::{AtomicBool, Ordering};

use rocket::fairing::{Fairing, Info, Kind};
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

/// What a request's responder told this layer, so that the response
/// fairing need not search the response's headers: each search hashes the
/// name, byte by byte, in Rocket's header map.
#[derive(Default)]
struct Marks {
    /// The response has its headers already (a page's).
    applied: AtomicBool,
    /// The response chose its own caching ([`caches_itself`]).
    own_caching: AtomicBool,
}

fn marks<'r>(req: &'r Request<'_>) -> &'r Marks {
    req.local_cache(Marks::default)
}

/// Tells the response fairing that `req`'s response sets its own
/// `Cache-Control`, so `no-store` is not added beside it.
pub fn caches_itself(req: &Request<'_>) {
    marks(req).own_caching.store(true, Ordering::Relaxed);
}

/// Adjoined, not replaced: nothing else sets them, and adjoining static
/// strings costs no search.
fn add_security_headers(req: &Request<'_>, res: &mut Response<'_>) {
    for (name, value) in HEADERS {
        res.adjoin_raw_header(name, value);
    }
    if req.rocket().config().tls_enabled() {
        res.adjoin_raw_header(HSTS.0, HSTS.1);
    }
}

/// Gives a page's response (error pages included) the security headers and
/// `no-store`. Pages set them in their responder: Rocket answers a request
/// with an unknown method (`PROPFIND`) through the catchers without running
/// response fairings.
pub fn secure_page(req: &Request<'_>, res: &mut Response<'_>) {
    add_security_headers(req, res);
    res.adjoin_raw_header("Cache-Control", "no-store");
    marks(req).applied.store(true, Ordering::Relaxed);
}

/// Gives any other response the security headers, and `no-store` unless it
/// chose its own caching.
fn secure(req: &Request<'_>, res: &mut Response<'_>) {
    let marks = marks(req);
    if marks.applied.swap(true, Ordering::Relaxed) {
        return;
    }
    add_security_headers(req, res);
    let own_caching = marks.own_caching.load(Ordering::Relaxed);
    // The tests run debug builds: a responder that sets its own caching
    // without saying so (or says so and sets none) fails them here.
    debug_assert_eq!(
        own_caching,
        res.headers().contains("Cache-Control"),
        "BUG: caches_itself() and a Cache-Control header go together"
    );
    if !own_caching {
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
