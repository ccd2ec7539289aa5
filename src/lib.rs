//! The Flask cookie-session tutorial on Rocket 0.5: a name kept in an
//! encrypted private cookie, with server-side expiry, a logout that ends
//! the session everywhere, CSRF protection, key rotation and
//! Japanese/English pages.
//!
//! # A reader's map
//!
//! Each layer imports only the layers below it:
//!
//! ```text
//! wiring     lib.rs, main.rs, config     builds the app from its settings
//! web        web::{routes, login, page, notices, csrf, lang, catchers,
//!                 paths, headers, telemetry}
//! rendering  render::{templates, i18n}
//! leaves     cookies, text, escape, refusal, logger
//! session    the rocket_sealed_sessions crate (crates/), which knows
//!            nothing of this app
//! ```
//!
//! A request goes: Rocket → a route in [`web::routes`], whose guards open
//! the session ([`rocket_sealed_sessions::Session`],
//! [`web::login::LoggedIn`]) and check the form's CSRF token
//! ([`web::csrf::Csrf`]) → the route changes the session through its guard
//! → [`web::page::Page`] renders the answer with [`render`], or a
//! [`web::notices::NoticeRedirect`] sends the browser on with a one-time
//! notice.
//!
//! [`rocket`] builds the application from its settings ([`config::figment`]);
//! [`rocket_with`] takes a figment, and [`rocket_at`] a clock as well, for
//! tests and embedding.

pub mod config;
pub mod cookies;
pub mod escape;
pub mod logger;
pub mod refusal;
pub mod render;
pub mod text;
pub mod web;

/// The tutorial's routes, where tests and `uri!` look for them.
pub use web::routes;

use figment::Figment;
use rocket::shield::Shield;
use rocket::{Build, Ignite, Rocket};

use rocket_sealed_sessions::{Clock, Sessions};

use crate::refusal::Refusals;

/// The application, configured by its defaults, `Rocket.toml` and
/// `ROCKET_*` variables (see [`config::figment`]).
pub fn rocket() -> Rocket<Build> {
    rocket_with(config::figment())
}

/// The application, configured by `figment` (one built on
/// [`config::base`]), on the system clock. Ignition fails, with the reason
/// logged, when a setting is refused (see [`ignite`]).
pub fn rocket_with(figment: Figment) -> Rocket<Build> {
    rocket_at(figment, Clock::system())
}

/// The application on `clock`: every session rule reads the time from it.
/// Each layer is a stage: the app's own rules first, then the pages, the
/// session and the web layer.
pub fn rocket_at(figment: Figment, clock: Clock) -> Rocket<Build> {
    let refusals = Refusals::default();
    let sessions = Sessions::builder()
        .clock(clock)
        .request_id(web::request_id::hook)
        .on_refusal({
            let refusals = refusals.clone();
            move |reason| refusals.refused(reason)
        })
        .build();
    rocket::custom(figment)
        .manage(refusals)
        // Each stage attaches the next only once its own checks pass, so a
        // refused start opens nothing: no store, no lock file.
        .attach(config::stage(move |rocket| {
            rocket.attach(render::stage(move |rocket| {
                rocket
                    .attach(sessions)
                    // The app's headers replace Rocket's default shield: one layer.
                    .attach(Shield::new())
                    .attach(web::stage())
            }))
        }))
}

/// Ignites `rocket`; a refusal comes back as the one line that says why.
pub async fn ignite(rocket: Rocket<Build>) -> Result<Rocket<Ignite>, String> {
    let refusals = rocket.state::<Refusals>().cloned().unwrap_or_default();
    // The caller says the one line: nothing else is logged for a refusal.
    refusals.reported_by_caller();
    match rocket.ignite().await {
        Ok(ignited) => Ok(ignited),
        Err(error) => match refusals.first() {
            // Handled (a Rocket error must be, or it panics when dropped)
            // without Rocket's own account, which names only the stage.
            Some(reason) => {
                let _ = error.kind();
                Err(reason)
            }
            // One of Rocket's own checks (its settings, the routes): its
            // account goes to the log.
            None => {
                let summary = error.pretty_print();
                Err(format!("{} ({summary}): see the log above", error.kind()))
            }
        },
    }
}
