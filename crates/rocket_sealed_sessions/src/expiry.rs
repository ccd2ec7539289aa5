//! Server-side expiry: the idle and absolute windows every session lives in,
//! judged by the server's clock whatever the browser's `Max-Age` said.

use std::time::{Duration, SystemTime};

use crate::clock::{to_millis, Millis};
use crate::limits::{CLOCK_SKEW, LONGEST_LIFETIME};
use crate::record::Record;

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
    /// Unused for longer than the idle window.
    Idle,
    /// Older than the absolute window, or past the end sealed in it.
    Absolute,
    /// Dated after now (beyond the allowed clock skew): a clock that ran
    /// ahead would otherwise stretch its windows.
    Future,
}

impl Why {
    /// The reason in words, for a log line.
    pub fn as_str(self) -> &'static str {
        match self {
            Why::Idle => "idle timeout",
            Why::Absolute => "absolute timeout",
            Why::Future => "dated in the future",
        }
    }
}

/// How long after its absolute window a dead session's cookie is kept, so
/// that the app can say the session timed out: an hour.
pub const EXPLAIN_FOR: Duration = Duration::from_secs(3600);
const EXPLAIN_MS: Millis = EXPLAIN_FOR.as_millis() as Millis;

const LONGEST_COOKIE: Millis = LONGEST_LIFETIME.as_millis() as Millis;
const SKEW: Millis = CLOCK_SKEW.as_millis() as Millis;

impl Expiry {
    /// Sessions die `idle` after their last renewal, and `absolute` after
    /// they began, whichever comes first.
    pub fn new(idle: Duration, absolute: Duration) -> Expiry {
        Expiry {
            idle: idle.as_millis() as Millis,
            absolute: absolute.as_millis() as Millis,
        }
    }

    /// The idle window.
    pub fn idle(&self) -> Duration {
        Duration::from_millis(self.idle)
    }

    /// The absolute window.
    pub fn absolute(&self) -> Duration {
        Duration::from_millis(self.absolute)
    }

    /// A session for `subject` (or none) started at `at`, its absolute end
    /// sealed in it: a later setting may end it sooner, never later. `None`
    /// for a subject [`Record::new`] refuses.
    pub(crate) fn start(&self, subject: Option<&str>, at: Millis) -> Option<Record> {
        Record::started(subject, at, at.saturating_add(self.absolute))
    }

    /// Judges `record` at time `now`.
    pub fn check(&self, record: &Record, now: SystemTime) -> Verdict {
        self.check_at(record, to_millis(now))
    }

    /// How long a cookie for `record` issued at `now` should live in the
    /// browser: until its absolute window closes, plus [`EXPLAIN_FOR`] (so
    /// the app can say it timed out), never longer than the window plus
    /// that, nor [`LONGEST_LIFETIME`]. Zero once that time has passed.
    pub fn cookie_lifetime(&self, record: &Record, now: SystemTime) -> Duration {
        self.cookie_lifetime_at(record, to_millis(now))
    }

    pub(crate) fn check_at(&self, session: &Record, now: Millis) -> Verdict {
        if session.last_seen_ms() > now.saturating_add(SKEW) {
            return Verdict::Expired(Why::Future);
        }
        let idle = now.saturating_sub(session.last_seen_ms());
        if now >= self.ends_at(session) {
            Verdict::Expired(Why::Absolute)
        } else if idle >= self.idle {
            Verdict::Expired(Why::Idle)
        } else if idle >= self.idle / 10 {
            Verdict::Renew
        } else {
            Verdict::Fresh
        }
    }

    /// When `session` dies however active it is: its absolute expiry under
    /// this setting, or the end sealed at login if that comes first.
    pub(crate) fn ends_at(&self, session: &Record) -> Millis {
        session
            .created_ms()
            .saturating_add(self.absolute)
            .min(session.ends_ms())
    }

    /// How long a revocation of `session` must be kept: until the end
    /// sealed at login, which no setting can move later, so raising the
    /// absolute timeout never revives a logged-out copy.
    pub(crate) fn revoke_until(&self, session: &Record) -> Millis {
        session.ends_ms()
    }

    /// How long a cookie issued at `now` should live in the browser: until
    /// the absolute window closes, plus [`EXPLAIN_FOR`], never more than the
    /// whole window plus that, nor 400 days. Not until the idle window
    /// closes: the server judges that window itself, and a dead cookie the browser still sends is one whose
    /// end the login page can explain. Zero once that time has passed.
    pub(crate) fn cookie_lifetime_at(&self, session: &Record, now: Millis) -> Duration {
        let end = self.ends_at(session).saturating_add(EXPLAIN_MS);
        // A session dated ahead of this clock gets no longer a life.
        let longest = self.absolute.saturating_add(EXPLAIN_MS).min(LONGEST_COOKIE);
        Duration::from_millis(end.saturating_sub(now).min(longest))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const MIN: Millis = 60_000;

    fn start(e: &Expiry, at: Millis) -> Record {
        e.start(Some("a"), at).unwrap()
    }

    fn expiry() -> Expiry {
        Expiry::new(Duration::from_secs(30 * 60), Duration::from_secs(8 * 3600))
    }

    #[test]
    fn expiry_windows() {
        let e = expiry();
        let s = start(&e, 0);
        assert_eq!(e.check_at(&s, 0), Verdict::Fresh);
        assert_eq!(e.check_at(&s, 3 * MIN - 1), Verdict::Fresh);
        assert_eq!(e.check_at(&s, 3 * MIN), Verdict::Renew);
        assert_eq!(e.check_at(&s, 30 * MIN), Verdict::Expired(Why::Idle));

        let mut busy = start(&e, 0);
        busy.touch(8 * 60 * MIN - 1);
        assert_eq!(e.check_at(&busy, 8 * 60 * MIN - 1), Verdict::Fresh);
        assert_eq!(
            e.check_at(&busy, 8 * 60 * MIN),
            Verdict::Expired(Why::Absolute)
        );
    }

    #[test]
    fn renewal_threshold_scales_with_tiny_windows() {
        let e = Expiry::new(Duration::from_secs(2), Duration::from_secs(10));
        let s = start(&e, 0);
        assert_eq!(e.check_at(&s, 199), Verdict::Fresh);
        assert_eq!(e.check_at(&s, 200), Verdict::Renew);
        assert_eq!(e.check_at(&s, 2000), Verdict::Expired(Why::Idle));
    }

    #[test]
    fn the_cookie_lives_to_the_absolute_end_and_an_hour_more() {
        let e = expiry();
        let mut s = start(&e, 0);
        assert_eq!(e.cookie_lifetime_at(&s, 0), Duration::from_secs(9 * 3600));
        s.touch(8 * 60 * MIN - 10 * MIN);
        assert_eq!(
            e.cookie_lifetime_at(&s, s.last_seen_ms()),
            Duration::from_secs(70 * 60)
        );
        assert_eq!(e.cookie_lifetime_at(&s, 9 * 60 * MIN), Duration::ZERO);
    }

    #[test]
    fn a_raised_absolute_timeout_never_lengthens_a_session() {
        let short = Expiry::new(Duration::from_secs(5), Duration::from_secs(8));
        let long = Expiry::new(Duration::from_secs(5), Duration::from_secs(3600));
        let mut s = start(&short, 0);
        s.touch(7_900);
        assert_eq!(long.check_at(&s, 7_999), Verdict::Fresh);
        assert_eq!(long.check_at(&s, 8_000), Verdict::Expired(Why::Absolute));
        assert_eq!(long.ends_at(&s), 8_000);
        assert_eq!(long.revoke_until(&s), 8_000);
        // A shorter one does shorten it; its revocation still runs to the
        // sealed end, in case the setting is raised again.
        let shorter = Expiry::new(Duration::from_secs(2), Duration::from_secs(4));
        assert_eq!(shorter.check_at(&s, 4_000), Verdict::Expired(Why::Absolute));
        assert_eq!(shorter.revoke_until(&s), 8_000);
    }

    #[test]
    fn sessions_from_the_future_are_refused() {
        let e = expiry();
        let now = 1_000 * MIN;
        let ahead = start(&e, now + 4 * MIN);
        assert_eq!(
            e.check_at(&ahead, now),
            Verdict::Fresh,
            "within the clock skew"
        );
        let far = start(&e, now + 6 * MIN);
        assert_eq!(e.check_at(&far, now), Verdict::Expired(Why::Future));
        let far_future = crate::clock::from_millis(u64::MAX);
        let absurd = Record::from_parts(far_future, far_future, BTreeMap::new()).unwrap();
        assert_eq!(e.check_at(&absurd, now), Verdict::Expired(Why::Future));
        assert_eq!(
            e.cookie_lifetime_at(&absurd, now),
            Duration::from_secs(9 * 3600)
        );
    }
}
