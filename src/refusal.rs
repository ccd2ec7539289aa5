//! Why the app refused to start, kept for the binary to say in one line.
//!
//! A stage that fails at ignition hands Rocket only its name; the reason
//! is kept in [`Refusals`], and logged unless the caller says it will
//! report it ([`crate::ignite`] does): so `main` prints it as the one line
//! a refused start writes, and an app launched some other way still logs
//! why.

use std::fmt::Display;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rocket::fairing;
use rocket::{Build, Rocket};

/// The reasons the stages refused with, in the order they refused.
#[derive(Debug, Clone, Default)]
pub struct Refusals(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    reasons: Mutex<Vec<String>>,
    /// The caller reports the reasons itself: none is logged.
    reported: AtomicBool,
}

impl Refusals {
    /// Records `reason`, and logs it unless the caller reports it.
    pub fn refused(&self, reason: &str) {
        if !self.0.reported.load(Ordering::Acquire) {
            rocket::error!("refusing to start: {reason}");
        }
        let mut reasons = self.0.reasons.lock().expect("BUG: refusals lock poisoned");
        reasons.push(reason.to_owned());
    }

    /// Says that the caller reports the reasons itself, so none is logged.
    pub fn reported_by_caller(&self) {
        self.0.reported.store(true, Ordering::Release);
    }

    /// The first reason recorded, if any: the one a refused start names.
    pub fn first(&self) -> Option<String> {
        let reasons = self.0.reasons.lock().expect("BUG: refusals lock poisoned");
        reasons.first().cloned()
    }
}

/// `text` on one line, its runs of white space made one space: a refusal is
/// one line, whatever message a library gave.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Fails a stage's ignition with `reason`: recorded where the app keeps
/// [`Refusals`] (and logged as it says), else logged.
// Rocket's own fairing result: the Rocket travels back on failure.
#[allow(clippy::result_large_err)]
pub fn refuse(rocket: Rocket<Build>, reason: impl Display) -> fairing::Result {
    let reason = reason.to_string();
    match rocket.state::<Refusals>() {
        Some(refusals) => refusals.refused(&reason),
        None => rocket::error!("refusing to start: {reason}"),
    }
    Err(rocket)
}
