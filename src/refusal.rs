//! Why the app refused to start, kept for the binary to say in one line.
//!
//! A stage that fails at ignition hands Rocket only its name; the reason
//! goes to the log, and, where the app manages [`Refusals`], here too, so
//! that `main` can print it as the one line a refused start writes.

use std::fmt::Display;
use std::sync::{Arc, Mutex};

use rocket::fairing;
use rocket::{Build, Rocket};

/// The reasons the stages refused with, in the order they refused.
#[derive(Debug, Clone, Default)]
pub struct Refusals(Arc<Mutex<Vec<String>>>);

impl Refusals {
    /// Records `reason`.
    pub fn record(&self, reason: &str) {
        let mut reasons = self.0.lock().expect("BUG: refusals lock poisoned");
        reasons.push(reason.to_owned());
    }

    /// The first reason recorded, if any: the one a refused start names.
    pub fn first(&self) -> Option<String> {
        let reasons = self.0.lock().expect("BUG: refusals lock poisoned");
        reasons.first().cloned()
    }
}

/// `text` on one line, its runs of white space made one space: a refusal is
/// one line, whatever message a library gave.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Fails a stage's ignition with `reason`: logged, and recorded where the
/// app keeps [`Refusals`].
// Rocket's own fairing result: the Rocket travels back on failure.
#[allow(clippy::result_large_err)]
pub fn refuse(rocket: Rocket<Build>, reason: impl Display) -> fairing::Result {
    let reason = reason.to_string();
    rocket::error!("refusing to start: {reason}");
    if let Some(refusals) = rocket.state::<Refusals>() {
        refusals.record(&reason);
    }
    Err(rocket)
}
