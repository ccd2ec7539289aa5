//! The one clock every session rule reads. An app runs on the system's;
//! tests build the app with a manual one and move it, so no expiry test
//! waits on real time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch: the unit the cookie and the stores
/// write. The API speaks [`SystemTime`]; this stays inside the crate.
pub(crate) type Millis = u64;

/// `at` in [`Millis`]; a time before 1970 is 0.
pub(crate) fn to_millis(at: SystemTime) -> Millis {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| {
        Millis::try_from(d.as_millis()).unwrap_or(Millis::MAX)
    })
}

/// `millis` as a [`SystemTime`] (the furthest one, if it is past that).
pub(crate) fn from_millis(millis: Millis) -> SystemTime {
    UNIX_EPOCH
        .checked_add(Duration::from_millis(millis))
        .unwrap_or_else(|| UNIX_EPOCH + Duration::from_secs(u64::from(u32::MAX)) * 64)
}

/// The time as the session rules see it: the system's, or a manual one that
/// only moves when told to. Cheap to clone; clones share the same time.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use rocket_sealed_sessions::Clock;
///
/// let clock = Clock::manual(UNIX_EPOCH + Duration::from_secs(60));
/// clock.clone().advance(Duration::from_secs(1));
/// assert_eq!(clock.now(), UNIX_EPOCH + Duration::from_secs(61));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Clock(Option<Arc<AtomicU64>>);

impl Clock {
    /// The system's clock.
    pub fn system() -> Clock {
        Clock(None)
    }

    /// A clock standing still at `at` (to the millisecond) until
    /// [`Clock::advance`] or [`Clock::set`] moves it.
    pub fn manual(at: SystemTime) -> Clock {
        Clock(Some(Arc::new(AtomicU64::new(to_millis(at)))))
    }

    /// A manual clock starting at the system's current time.
    pub fn manual_from_now() -> Clock {
        Clock::manual(SystemTime::now())
    }

    /// The current time.
    pub fn now(&self) -> SystemTime {
        from_millis(self.millis())
    }

    /// The current time in [`Millis`].
    pub(crate) fn millis(&self) -> Millis {
        match &self.0 {
            Some(at) => at.load(Ordering::SeqCst),
            None => to_millis(SystemTime::now()),
        }
    }

    /// Moves a manual clock forward by `by`.
    ///
    /// # Panics
    /// On the system clock, which nobody may move.
    pub fn advance(&self, by: Duration) {
        let by = Millis::try_from(by.as_millis()).unwrap_or(Millis::MAX);
        self.manual_time().fetch_add(by, Ordering::SeqCst);
    }

    /// Sets a manual clock to `at`, backwards too.
    ///
    /// # Panics
    /// On the system clock.
    pub fn set(&self, at: SystemTime) {
        self.manual_time().store(to_millis(at), Ordering::SeqCst);
    }

    fn manual_time(&self) -> &AtomicU64 {
        self.0
            .as_deref()
            .expect("BUG: only a manual clock can be moved")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let clock = Clock::manual(from_millis(1_000));
        let shared = clock.clone();
        assert_eq!(clock.millis(), 1_000);
        shared.advance(Duration::from_secs(2));
        assert_eq!(clock.millis(), 3_000);
        shared.set(from_millis(10));
        assert_eq!(clock.millis(), 10);
    }

    #[test]
    fn the_system_clock_is_recent() {
        // 2025-01-01 in milliseconds.
        assert!(Clock::system().millis() > 1_735_689_600_000);
    }

    #[test]
    fn millis_round_trip() {
        for millis in [0, 1, 1_764_090_000_123] {
            assert_eq!(to_millis(from_millis(millis)), millis);
        }
        assert_eq!(to_millis(UNIX_EPOCH - Duration::from_secs(1)), 0);
    }
}
