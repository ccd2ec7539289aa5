//! The Flask cookie-session tutorial on Rocket 0.5: a name kept in an
//! encrypted private cookie, with server-side expiry, CSRF protection, key
//! rotation and Japanese/English pages.
//!
//! [`rocket`] builds the application from Rocket's usual configuration;
//! [`rocket_with`] takes a figment, for tests and embedding.

pub mod catchers;
pub mod config;
pub mod cookies;
pub mod csrf;
pub mod guards;
pub mod headers;
pub mod i18n;
pub mod pages;
pub mod routes;
pub mod session;

use figment::Figment;
use rocket::fairing::AdHoc;
use rocket::{Build, Rocket};
use rocket_dyn_templates::Template;

use crate::config::AppConfig;
use crate::i18n::Catalog;

/// The application, configured by `Rocket.toml` and `ROCKET_*` variables.
pub fn rocket() -> Rocket<Build> {
    rocket_with(rocket::Config::figment())
}

/// The application, configured by `figment`. Ignition fails, with one line
/// logged, when the settings are invalid (see [`AppConfig::from_figment`]).
pub fn rocket_with(figment: Figment) -> Rocket<Build> {
    rocket::custom(figment)
        .attach(AdHoc::try_on_ignite(
            "Session settings",
            |rocket| async move {
                match AppConfig::from_figment(rocket.figment()) {
                    Ok(config) => Ok(rocket.manage(config)),
                    Err(e) => {
                        rocket::error!("refusing to start: {e}");
                        Err(rocket)
                    }
                }
            },
        ))
        .attach(Template::try_custom(|engines| {
            let catalog = Catalog::load()?;
            // A typo in a template fails the render (and the tests) instead of
            // showing an empty string.
            engines.handlebars.set_strict_mode(true);
            catalog.register(&mut engines.handlebars);
            Ok(())
        }))
        .attach(headers::shield())
        .attach(headers::SecurityHeaders)
        .mount("/", routes::routes())
        .register("/", catchers::catchers())
}
