//! The tutorial's login, on the session crate: a fresh session keeps the
//! name typed in its `name` entry, with the time of the login.
//! [`LoggedIn`] is the guard that proves one.
//!
//! A name typed without a password is no identity (two people may type
//! the same one), so sessions here are bound to no subject, and the app
//! offers no "log out everywhere": the crate's example shows it.

use std::convert::Infallible;
use std::time::SystemTime;

use rocket::http::Status;
use rocket::outcome::IntoOutcome;
use rocket::request::{FromRequest, Outcome, Request};
use rocket::time::format_description::well_known::Rfc3339;
use rocket::time::OffsetDateTime;
use rocket_sealed_sessions::{InsertError, Record, Session};

/// The entry holding the logged-in name; without it nobody is logged in.
pub const NAME: &str = "name";
/// The entry holding when the session was started, as RFC 3339 UTC.
pub const LOGGED_IN_AT: &str = "logged_in_at";
/// The entries the app keeps for itself: the entry form refuses them.
pub const RESERVED_KEYS: [&str; 2] = [NAME, LOGGED_IN_AT];

/// The tutorial's `session["name"] = name`: a fresh session (a new
/// identifier), bound to no subject, holding the name and the time of the
/// login, and carrying `csrf_token` for the pages' forms.
pub fn log_in(
    session: &mut Session<'_>,
    name: &str,
    csrf_token: String,
) -> Result<(), InsertError> {
    let at = rfc3339(session.now());
    let entries = [(NAME, name), (LOGGED_IN_AT, at.as_str())];
    session.start_attached(None, entries, csrf_token)
}

/// The logged-in name of a session: a non-empty `name` entry is the one
/// definition of "logged in".
pub fn name_of(record: &Record) -> Option<&str> {
    record.get(NAME).filter(|name| !name.is_empty())
}

/// A live session with a logged-in name. Routes that need a user take this;
/// their `rank = 2` twins catch the forward and redirect.
pub struct LoggedIn<'r> {
    record: &'r Record,
}

impl<'r> LoggedIn<'r> {
    /// The logged-in name: never empty.
    pub fn name(&self) -> &'r str {
        name_of(self.record).unwrap_or_default()
    }

    /// The whole session, every entry included.
    pub fn record(&self) -> &'r Record {
        self.record
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for LoggedIn<'r> {
    type Error = Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Infallible> {
        Session::record_of(req)
            .filter(|record| name_of(record).is_some())
            .map(|record| LoggedIn { record })
            .or_forward(Status::Unauthorized)
    }
}

/// `at` as an RFC 3339 UTC timestamp with second precision.
pub fn rfc3339(at: SystemTime) -> String {
    let seconds = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    OffsetDateTime::from_unix_timestamp(seconds as i64)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_are_gregorian() {
        let at = |ms: u64| SystemTime::UNIX_EPOCH + Duration::from_millis(ms);
        assert_eq!(rfc3339(at(0)), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(at(951_782_400_000)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(at(4_107_542_399_000)), "2100-02-28T23:59:59Z");
    }
}
