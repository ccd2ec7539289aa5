//! What the session layer counts, as plain counters: an app exports them
//! with whatever metrics library it uses, or not at all.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Why a session ended, as [`Counts::ended`] counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// Logged out ([`crate::Session::clear`]).
    Logout,
    /// Logged out of every session of its subject
    /// ([`crate::Session::log_out_everywhere`]).
    LogoutEverywhere,
    /// Its subject taken away, its entries kept under a new identifier
    /// ([`crate::Session::detach_subject`]).
    SubjectDetached,
    /// Unused for longer than the idle window.
    Idle,
    /// Past its absolute window (or dated in the future).
    Absolute,
    /// A copy presented after the session was revoked.
    Revoked,
    /// A cookie no key opens, or not a session of this version.
    Unreadable,
}

impl EndReason {
    /// Every reason, in a fixed order.
    pub const ALL: [EndReason; 7] = [
        EndReason::Logout,
        EndReason::LogoutEverywhere,
        EndReason::SubjectDetached,
        EndReason::Idle,
        EndReason::Absolute,
        EndReason::Revoked,
        EndReason::Unreadable,
    ];

    /// The reason as a metric label: `logout`, `logout_everywhere`,
    /// `subject_detached`, `idle`, `absolute`, `revoked`, `unreadable`.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Logout => "logout",
            EndReason::LogoutEverywhere => "logout_everywhere",
            EndReason::SubjectDetached => "subject_detached",
            EndReason::Idle => "idle",
            EndReason::Absolute => "absolute",
            EndReason::Revoked => "revoked",
            EndReason::Unreadable => "unreadable",
        }
    }

    fn index(self) -> usize {
        EndReason::ALL
            .iter()
            .position(|reason| *reason == self)
            .unwrap_or(0)
    }
}

/// Sessions started and ended since the app was built, managed by the
/// fairing. Cheap to clone: clones count together.
///
/// ```
/// use rocket_sealed_sessions::{Counts, EndReason};
///
/// let counts = Counts::default();
/// counts.clone().count_end(EndReason::Idle);
/// assert_eq!(counts.ended(EndReason::Idle), 1);
/// assert_eq!(counts.started(), 0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Counts(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    started: AtomicU64,
    ended: [AtomicU64; EndReason::ALL.len()],
}

impl Counts {
    /// Sessions started.
    pub fn started(&self) -> u64 {
        self.0.started.load(Ordering::Relaxed)
    }

    /// Sessions ended for `reason`.
    pub fn ended(&self, reason: EndReason) -> u64 {
        self.0.ended[reason.index()].load(Ordering::Relaxed)
    }

    /// Counts one session started.
    pub fn count_start(&self) {
        self.0.started.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one session ended for `reason`.
    pub fn count_end(&self, reason: EndReason) {
        self.0.ended[reason.index()].fetch_add(1, Ordering::Relaxed);
    }
}
