//! The one clock every session rule reads. The app manages a [`Clock`] at
//! build time; tests build the app with a manual one and move it, so no
//! expiry test waits on real time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, the session's unit of time.
pub type Millis = u64;

/// The time as the session rules see it: the system's, or a manual one that
/// only moves when told to. Cheap to clone; clones share the same time.
#[derive(Debug, Clone, Default)]
pub struct Clock(Option<Arc<AtomicU64>>);

impl Clock {
    /// The system's clock.
    pub fn system() -> Clock {
        Clock(None)
    }

    /// A clock standing still at `at` until [`Clock::advance`] or
    /// [`Clock::set`] moves it.
    pub fn manual(at: Millis) -> Clock {
        Clock(Some(Arc::new(AtomicU64::new(at))))
    }

    /// A manual clock starting at the system's current time.
    pub fn manual_from_now() -> Clock {
        Clock::manual(Clock::system().now())
    }

    /// The current time in [`Millis`].
    pub fn now(&self) -> Millis {
        match &self.0 {
            Some(at) => at.load(Ordering::SeqCst),
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as Millis),
        }
    }

    /// Moves a manual clock forward by `by`.
    ///
    /// # Panics
    /// On the system clock, which nobody may move.
    pub fn advance(&self, by: Duration) {
        self.manual_time()
            .fetch_add(by.as_millis() as Millis, Ordering::SeqCst);
    }

    /// Sets a manual clock to `at`, backwards too.
    ///
    /// # Panics
    /// On the system clock.
    pub fn set(&self, at: Millis) {
        self.manual_time().store(at, Ordering::SeqCst);
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
        let clock = Clock::manual(1_000);
        let shared = clock.clone();
        assert_eq!(clock.now(), 1_000);
        shared.advance(Duration::from_secs(2));
        assert_eq!(clock.now(), 3_000);
        shared.set(10);
        assert_eq!(clock.now(), 10);
    }

    #[test]
    fn the_system_clock_is_recent() {
        // 2025-01-01 in milliseconds.
        assert!(Clock::system().now() > 1_735_689_600_000);
    }
}
