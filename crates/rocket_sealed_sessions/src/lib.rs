//! Sessions sealed in Rocket's private cookies, that a logout really ends.
//!
//! A session lives in one encrypted cookie (AES-256-GCM under Rocket's
//! `secret_key`), so serving a request needs no store. What a cookie alone
//! cannot do, this crate adds:
//!
//! - **a logout that ends every copy of the cookie**, on every instance:
//!   the session's identifier is kept as revoked in a [`RevocationStore`]
//!   (an fsynced file, or Redis shared by every instance) before the
//!   logout answers, and every request is checked against it in memory;
//! - **"log out everywhere"**: one call ends every session of a subject
//!   started until then ([`Session::log_out_everywhere`],
//!   [`Revocations::revoke_subject`]);
//! - **idle and absolute ends**, judged by the server and sealed in the
//!   cookie at the start, so no later setting lengthens a session;
//! - **key rotation** that logs nobody out: cookies sealed under a
//!   fallback key open, and are re-sealed under the current one;
//! - **a degraded mode**: while Redis is unreachable, revocations wait in
//!   a local fsynced spool and reach Redis when it is back;
//! - **counts** of sessions started and ended, by why ([`Counts`]).
//!
//! # Quick start
//!
//! ```
//! use rocket::{get, post, routes};
//! use rocket_sealed_sessions::{Session, Sessions};
//!
//! #[post("/login/<user>")]
//! fn login(user: &str, mut session: Session<'_>) -> &'static str {
//!     match session.start(user) {
//!         Ok(()) => "welcome",
//!         Err(_) => "no such user",
//!     }
//! }
//!
//! #[get("/")]
//! fn home(session: Session<'_>) -> String {
//!     format!("hello, {}", session.subject().unwrap_or("stranger"))
//! }
//!
//! #[post("/logout")]
//! async fn logout(mut session: Session<'_>) -> &'static str {
//!     session.clear().await;
//!     "bye"
//! }
//!
//! # let store = std::env::temp_dir().join(format!("quick-start-{}", std::process::id()));
//! # let figment = rocket::Config::figment()
//! #     .merge(("secret_key", "V+Ly6JPKyHU+z4DyD0e0PU1AxvY83MtQi5HFTAa0WKc="))
//! #     .merge(("session_revocation_store", store.display().to_string()));
//! let rocket = rocket::custom(figment)
//!     .attach(Sessions::fairing())
//!     .mount("/", routes![login, home, logout]);
//! # use rocket::local::blocking::Client;
//! # let client = Client::tracked(rocket).unwrap();
//! # client.post("/login/alice").dispatch();
//! # assert_eq!(client.get("/").dispatch().into_string().unwrap(), "hello, alice");
//! # client.post("/logout").dispatch();
//! # assert_eq!(client.get("/").dispatch().into_string().unwrap(), "hello, stranger");
//! # let _ = std::fs::remove_file(store);
//! ```
//!
//! # Configuration
//!
//! From Rocket's figment (`Rocket.toml`, `ROCKET_*` variables): the keys in
//! [`settings`]. From code: [`Sessions::builder`]. Every default is in
//! [`defaults`], every limit in [`limits`].
//!
//! # A reader's map
//!
//! Each file imports only the files above it in this list:
//!
//! ```text
//! clock, limits, defaults      time and the fixed numbers
//! id, record                   what a session is, and its cookie's text
//! expiry                       the idle and absolute windows
//! cookie                       sealing and opening private cookies
//! counts                       sessions started and ended
//! store::{revocation, memory, api, file, redis}
//! revocations                  memory + store: what a request checks
//! settings                     the figment's keys, checked
//! guard                        the Session request guard
//! fairing, builder             attaching it all to a Rocket
//! ```

mod builder;
mod clock;
pub mod cookie;
mod counts;
pub mod defaults;
mod events;
mod expiry;
mod fairing;
mod guard;
mod id;
pub mod limits;
mod opened_cache;
mod record;
mod revocations;
pub mod settings;
pub mod store;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use builder::Builder;
pub use clock::Clock;
pub use counts::{Counts, EndReason};
pub use events::RequestIdHook;
pub use expiry::{Expiry, Verdict, Why, EXPLAIN_FOR};
pub use fairing::Sessions;
pub use guard::{Ended, InsertError, Session};
pub use id::SessionId;
pub use record::Record;
pub use revocations::Revocations;
pub use settings::{Settings, SettingsError};
pub use store::{Durability, RevocationStore};
