//! The Flask cookie-session tutorial on Rocket 0.5: a name kept in an
//! encrypted private cookie, with server-side expiry, CSRF protection, key
//! rotation and Japanese/English pages.
//!
//! [`rocket`] builds the application from its settings ([`config::figment`]);
//! [`rocket_with`] takes a figment, and [`rocket_at`] a clock as well, for
//! tests and embedding.

pub mod catchers;
pub mod config;
pub mod csrf;
pub mod headers;
pub mod i18n;
pub mod pages;
pub mod routes;
pub mod session;
pub mod templates;
pub mod text;

use figment::Figment;
use rocket::fairing::AdHoc;
use rocket::{Build, Rocket};
use rocket_dyn_templates::Template;

use crate::config::{AppConfig, ConfigError};
use crate::session::{Clock, Revocations};
use crate::templates::Pages;
use rocket::shield::Shield;

/// The application, configured by its defaults, `Rocket.toml` and
/// `ROCKET_*` variables (see [`config::figment`]).
pub fn rocket() -> Rocket<Build> {
    rocket_with(config::figment())
}

/// The application, configured by `figment` (one built on
/// [`config::base`]), on the system clock. Ignition fails, with one line
/// logged, when the settings are invalid (see [`AppConfig::from_figment`]).
pub fn rocket_with(figment: Figment) -> Rocket<Build> {
    rocket_at(figment, Clock::system())
}

/// The application on `clock`: every session rule reads the time from it.
pub fn rocket_at(figment: Figment, clock: Clock) -> Rocket<Build> {
    let pages = Pages::default();
    let built = pages.clone();
    // An unreadable setting is refused by the settings check; until then,
    // the templates are looked for where Rocket looks by default.
    let template_dir = config::template_dir(&figment).unwrap_or_else(|_| "templates".into());
    rocket::custom(figment)
        .manage(clock)
        .attach(AdHoc::try_on_ignite(
            "Session settings",
            |rocket| async move {
                let opened = AppConfig::from_figment(rocket.figment()).and_then(|config| {
                    let clock = rocket.state::<Clock>().expect("BUG: the clock is managed");
                    Revocations::open(
                        &config.revocation_store,
                        &config.revocation_spool,
                        clock.clone(),
                    )
                    .map(|revocations| (config, revocations))
                    .map_err(ConfigError)
                });
                match opened {
                    Ok((config, revocations)) => Ok(rocket.manage(config).manage(revocations)),
                    Err(e) => {
                        rocket::error!("refusing to start: {e}");
                        Err(rocket)
                    }
                }
            },
        ))
        .attach(Template::try_custom(move |engines| {
            Ok(built.build(&mut engines.handlebars, &template_dir)?)
        }))
        .manage(pages)
        // The app's headers replace Rocket's default shield: one layer.
        .attach(Shield::new())
        .attach(headers::SecurityHeaders)
        .mount("/", routes::routes())
        .register("/", catchers::catchers())
}
