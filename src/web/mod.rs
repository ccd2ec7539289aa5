//! The web layer: what a request means. The tutorial's routes
//! ([`routes`]) and its login on the session crate ([`login`]), the page's
//! language ([`lang`]), the frame every page shares ([`page`]) with its
//! one-time notices ([`notices`]) and the session pages it keeps
//! ([`kept_pages`]), CSRF protection for every form ([`csrf`]), the error
//! pages ([`catchers`]), route paths as Rocket matches them ([`paths`]),
//! the security headers on every answer ([`headers`]), and request logs
//! and metrics ([`telemetry`], with the process's own from [`process`],
//! and each request named by [`request_id`]).
//!
//! Files import one way: `routes` → `page` → `lang`, `notices`, `csrf`,
//! `headers`, `kept_pages` (which `routes` also uses); `catchers` →
//! `page`, `telemetry`; `lang`, `catchers` → `paths`; `telemetry`, `csrf`
//! → `request_id`.

pub mod catchers;
pub mod csrf;
pub mod headers;
pub mod kept_pages;
pub mod lang;
pub mod login;
pub mod notices;
pub mod page;
pub mod paths;
pub mod process;
pub mod request_id;
pub mod routes;
pub mod telemetry;

use rocket::fairing::AdHoc;
use rocket::routes;

use rocket_sealed_sessions::cookie::CookieRules;
use rocket_sealed_sessions::Counts;

use crate::cookies::CookieSettings;
use telemetry::{RequestLog, Telemetry};

/// The web layer: mounts the routes, registers the catchers, and adds the
/// security headers (the wiring replaces Rocket's shield with them), the
/// request log and the metrics, with the session layer's counts in them.
pub fn stage() -> AdHoc {
    AdHoc::on_ignite("Web", |rocket| async {
        use routes::*;
        let counts = rocket.state::<Counts>().cloned().unwrap_or_default();
        // Absent only when the session fairing refused: ignition fails.
        let rocket = match rocket.state::<CookieRules>().cloned() {
            Some(rules) => rocket.manage(CookieSettings::new(rules)),
            None => rocket,
        };
        rocket
            .manage(Telemetry::new(counts))
            .manage(kept_pages::KeptPages::default())
            .attach(RequestLog)
            .attach(headers::SecurityHeaders)
            .mount(
                "/",
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
                    telemetry::metrics,
                    asset
                ],
            )
            .register("/", catchers::catchers())
    })
}
