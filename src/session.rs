//! The session and its rules: a small map of named entries, the codec that
//! turns it into the private cookie's plaintext, and server-side expiry.
//!
//! The cookie is sealed by Rocket's private jar (AES-256-GCM), so what this
//! module decodes was written by a holder of the key. It is still checked
//! strictly: a cookie from another version, or one that has outlived its
//! idle or absolute window, is no session at all.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The entry holding the logged-in name; without it nobody is logged in.
pub const NAME: &str = "name";
/// The entry holding when the session was started, as RFC 3339 UTC.
pub const LOGGED_IN_AT: &str = "logged_in_at";

/// How many entries a session may hold, and how long keys and values may be.
const MAX_ENTRIES: usize = 16;
const MAX_KEY_BYTES: usize = 64;
const MAX_VALUE_BYTES: usize = 512;

/// Milliseconds since the Unix epoch, the session's unit of time.
pub type Millis = u64;

/// The current time in [`Millis`].
pub fn now() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}

/// A session: named string entries plus when it began and was last renewed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Session {
    #[serde(rename = "v")]
    version: u8,
    #[serde(rename = "c")]
    created: Millis,
    #[serde(rename = "u")]
    last_seen: Millis,
    #[serde(rename = "e")]
    entries: BTreeMap<String, String>,
}

const VERSION: u8 = 1;

impl Session {
    /// A fresh session for `name` started at `at`, holding `name` and
    /// `logged_in_at`.
    pub fn start(name: &str, at: Millis) -> Session {
        let mut entries = BTreeMap::new();
        entries.insert(NAME.to_owned(), name.to_owned());
        entries.insert(LOGGED_IN_AT.to_owned(), rfc3339(at));
        Session {
            version: VERSION,
            created: at,
            last_seen: at,
            entries,
        }
    }

    /// A session built from parts, for tests and tools that need a session
    /// from another time. Returns `None` if it breaks a codec limit.
    pub fn from_parts(
        created: Millis,
        last_seen: Millis,
        entries: BTreeMap<String, String>,
    ) -> Option<Session> {
        let session = Session {
            version: VERSION,
            created,
            last_seen,
            entries,
        };
        session.is_well_formed().then_some(session)
    }

    /// The logged-in name, if the session has one.
    pub fn name(&self) -> Option<&str> {
        self.entries.get(NAME).map(String::as_str)
    }

    /// Every entry, ordered by key.
    pub fn entries(&self) -> &BTreeMap<String, String> {
        &self.entries
    }

    pub fn created(&self) -> Millis {
        self.created
    }

    pub fn last_seen(&self) -> Millis {
        self.last_seen
    }

    /// Deletes one entry; says whether it was there.
    pub fn remove(&mut self, key: &str) -> bool {
        self.entries.remove(key).is_some()
    }

    /// Marks the session as used at `at`, restarting its idle window.
    pub fn touch(&mut self, at: Millis) {
        self.last_seen = self.last_seen.max(at);
    }

    /// The cookie's plaintext.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("a map of strings always serializes")
    }

    /// Reads a cookie's plaintext; anything but a well-formed session of this
    /// version is `None`.
    pub fn decode(plaintext: &str) -> Option<Session> {
        let session: Session = serde_json::from_str(plaintext).ok()?;
        session.is_well_formed().then_some(session)
    }

    fn is_well_formed(&self) -> bool {
        self.version == VERSION
            && self.created <= self.last_seen
            && self.entries.len() <= MAX_ENTRIES
            && self.entries.iter().all(|(k, v)| {
                !k.is_empty() && k.len() <= MAX_KEY_BYTES && v.len() <= MAX_VALUE_BYTES
            })
    }
}

/// The server-side lifetime rules of every session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    idle: Millis,
    absolute: Millis,
}

/// What [`Expiry::check`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Valid, and recently renewed: nothing to send back.
    Fresh,
    /// Valid, and a tenth of the idle window has passed: re-issue it so
    /// activity keeps the session alive.
    Renew,
    /// No longer valid.
    Expired(Why),
}

/// Why a session is no longer valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    Idle,
    Absolute,
    /// Dated after now (beyond the allowed clock skew): a clock that ran
    /// ahead would otherwise stretch its windows.
    Future,
}

impl Why {
    pub fn as_str(self) -> &'static str {
        match self {
            Why::Idle => "idle timeout",
            Why::Absolute => "absolute timeout",
            Why::Future => "dated in the future",
        }
    }
}

/// How far ahead of this server's clock another instance's may run.
const CLOCK_SKEW: Millis = 5 * 60 * 1000;

impl Expiry {
    /// Sessions die `idle` after their last renewal, and `absolute` after
    /// they began, whichever comes first.
    pub fn new(idle: Duration, absolute: Duration) -> Expiry {
        Expiry {
            idle: idle.as_millis() as Millis,
            absolute: absolute.as_millis() as Millis,
        }
    }

    /// Judges `session` at time `now`.
    pub fn check(&self, session: &Session, now: Millis) -> Verdict {
        if session.last_seen > now.saturating_add(CLOCK_SKEW) {
            return Verdict::Expired(Why::Future);
        }
        let age = now.saturating_sub(session.created);
        let idle = now.saturating_sub(session.last_seen);
        if age >= self.absolute {
            Verdict::Expired(Why::Absolute)
        } else if idle >= self.idle {
            Verdict::Expired(Why::Idle)
        } else if idle >= self.idle / 10 {
            Verdict::Renew
        } else {
            Verdict::Fresh
        }
    }

    /// How long a cookie issued at `now` should live in the browser: until
    /// the first of the two windows closes, and never longer than the idle
    /// timeout. Zero if a window has closed.
    pub fn remaining(&self, session: &Session, now: Millis) -> Duration {
        let by_idle = session
            .last_seen
            .saturating_add(self.idle)
            .saturating_sub(now);
        let by_absolute = session
            .created
            .saturating_add(self.absolute)
            .saturating_sub(now);
        Duration::from_millis(by_idle.min(by_absolute).min(self.idle))
    }
}

/// `at` as an RFC 3339 UTC timestamp with second precision.
fn rfc3339(at: Millis) -> String {
    use rocket::time::{format_description::well_known::Rfc3339, OffsetDateTime};
    OffsetDateTime::from_unix_timestamp((at / 1000) as i64)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Millis = 60_000;

    fn expiry() -> Expiry {
        Expiry::new(Duration::from_secs(30 * 60), Duration::from_secs(8 * 3600))
    }

    #[test]
    fn start_holds_name_and_login_time() {
        let s = Session::start("山田太郎", 1_764_090_000_000);
        assert_eq!(s.name(), Some("山田太郎"));
        assert_eq!(s.entries()[LOGGED_IN_AT], "2025-11-25T17:00:00Z");
        assert_eq!(s.created(), s.last_seen());
    }

    #[test]
    fn codec_round_trips() {
        let s = Session::start("<b>&\"'", 42_000);
        assert_eq!(Session::decode(&s.encode()), Some(s));
    }

    #[test]
    fn codec_refuses_other_shapes() {
        for junk in [
            "",
            "null",
            "{}",
            r#"{"v":2,"c":1,"u":1,"e":{}}"#,
            r#"{"v":1,"c":5,"u":1,"e":{}}"#,
            r#"{"v":1,"c":1,"u":1,"e":{"":"x"}}"#,
            r#"{"v":1,"c":1,"u":1,"e":{},"x":0}"#,
            r#"{"v":1,"c":1,"u":1,"e":{"a":1}}"#,
        ] {
            assert_eq!(Session::decode(junk), None, "{junk}");
        }
    }

    #[test]
    fn expiry_windows() {
        let e = expiry();
        let s = Session::start("a", 0);
        assert_eq!(e.check(&s, 0), Verdict::Fresh);
        assert_eq!(e.check(&s, 3 * MIN - 1), Verdict::Fresh);
        assert_eq!(e.check(&s, 3 * MIN), Verdict::Renew);
        assert_eq!(e.check(&s, 30 * MIN), Verdict::Expired(Why::Idle));

        let mut busy = Session::start("a", 0);
        busy.touch(8 * 60 * MIN - 1);
        assert_eq!(e.check(&busy, 8 * 60 * MIN - 1), Verdict::Fresh);
        assert_eq!(
            e.check(&busy, 8 * 60 * MIN),
            Verdict::Expired(Why::Absolute)
        );
    }

    #[test]
    fn renewal_threshold_scales_with_tiny_windows() {
        let e = Expiry::new(Duration::from_secs(2), Duration::from_secs(10));
        let s = Session::start("a", 0);
        assert_eq!(e.check(&s, 199), Verdict::Fresh);
        assert_eq!(e.check(&s, 200), Verdict::Renew);
        assert_eq!(e.check(&s, 2000), Verdict::Expired(Why::Idle));
    }

    #[test]
    fn cookie_lifetime_is_the_nearer_window() {
        let e = expiry();
        let mut s = Session::start("a", 0);
        assert_eq!(e.remaining(&s, 0), Duration::from_secs(30 * 60));
        s.touch(8 * 60 * MIN - 10 * MIN);
        assert_eq!(e.remaining(&s, s.last_seen()), Duration::from_secs(10 * 60));
    }

    #[test]
    fn sessions_from_the_future_are_refused() {
        let e = expiry();
        let now = 1_000 * MIN;
        let ahead = Session::start("a", now + 4 * MIN);
        assert_eq!(
            e.check(&ahead, now),
            Verdict::Fresh,
            "within the clock skew"
        );
        let far = Session::start("a", now + 6 * MIN);
        assert_eq!(e.check(&far, now), Verdict::Expired(Why::Future));
        let absurd = Session::from_parts(u64::MAX, u64::MAX, BTreeMap::new()).unwrap();
        assert_eq!(e.check(&absurd, now), Verdict::Expired(Why::Future));
        assert_eq!(e.remaining(&absurd, now), Duration::from_secs(30 * 60));
    }

    #[test]
    fn touch_never_goes_back_in_time() {
        let mut s = Session::start("a", 1000);
        s.touch(500);
        assert_eq!(s.last_seen(), 1000);
    }

    #[test]
    fn dates_are_gregorian() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(4_107_542_399_000), "2100-02-28T23:59:59Z");
    }
}
