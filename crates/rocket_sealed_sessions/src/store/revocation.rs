//! What a revocation store keeps, and what it answers.

use std::time::SystemTime;

use crate::clock::{from_millis, to_millis, Millis};
use crate::id::{from_hex, hex, SessionId};
use crate::limits::{CLOCK_SKEW, LONGEST_LIFETIME};
use crate::record::decimal;

/// One revocation, as stores keep and share it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// One session, until it would have ended anyway.
    Session {
        /// The session revoked.
        id: SessionId,
        /// When the revocation may be forgotten: the session's sealed end.
        until: SystemTime,
    },
    /// Every session of `subject` started before `before` ("log out
    /// everywhere").
    Subject {
        /// Whose sessions.
        subject: String,
        /// Sessions started before this are revoked; later ones are not.
        before: SystemTime,
        /// When the revocation may be forgotten: when the last session it
        /// covers would have ended anyway.
        until: SystemTime,
    },
}

impl Revocation {
    /// When the revocation may be forgotten.
    pub fn until(&self) -> SystemTime {
        match self {
            Revocation::Session { until, .. } | Revocation::Subject { until, .. } => *until,
        }
    }

    pub(crate) fn until_ms(&self) -> Millis {
        to_millis(self.until())
    }

    /// Whether an instance could have made it at `now`: it ends within the
    /// longest a session lives, and a subject's cut-off is not ahead,
    /// either by more than the clock skew allowed. Anything else read from
    /// a shared store is junk, or forged, and is skipped: held, it would
    /// never be dropped.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn is_plausible(&self, now: Millis) -> bool {
        let skew = CLOCK_SKEW.as_millis() as Millis;
        let horizon = now
            .saturating_add(LONGEST_LIFETIME.as_millis() as Millis)
            .saturating_add(skew);
        let cut_off_ok = match self {
            Revocation::Session { .. } => true,
            Revocation::Subject { before, .. } => to_millis(*before) <= now.saturating_add(skew),
        };
        self.until_ms() <= horizon && cut_off_ok
    }

    /// The revocation as one line of text, newline included: `ID UNTIL`
    /// for a session, `~SUBJECT BEFORE UNTIL` for a subject, with the
    /// identifier and the subject in lowercase hex and the times in
    /// milliseconds since the Unix epoch. The file store, the spool and
    /// Redis's announcements all write it so.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use rocket_sealed_sessions::store::Revocation;
    ///
    /// let revocation = Revocation::Subject {
    ///     subject: "ab".into(),
    ///     before: UNIX_EPOCH + Duration::from_millis(5),
    ///     until: UNIX_EPOCH + Duration::from_millis(9),
    /// };
    /// assert_eq!(revocation.to_line(), "~6162 5 9\n");
    /// assert_eq!(Revocation::from_line("~6162 5 9"), Some(revocation));
    /// ```
    pub fn to_line(&self) -> String {
        match self {
            Revocation::Session { id, until } => format!("{} {}\n", id.to_hex(), to_millis(*until)),
            Revocation::Subject {
                subject,
                before,
                until,
            } => format!(
                "~{} {} {}\n",
                hex(subject.as_bytes()),
                to_millis(*before),
                to_millis(*until)
            ),
        }
    }

    /// Reads a line as [`Revocation::to_line`] writes it, with or without
    /// its newline; anything else is `None`.
    pub fn from_line(line: &str) -> Option<Revocation> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let millis = |text: &str| decimal(text).map(from_millis);
        if let Some(subject) = line.strip_prefix('~') {
            let mut fields = subject.split(' ');
            let subject = String::from_utf8(from_hex(fields.next()?)?).ok()?;
            let before = millis(fields.next()?)?;
            let until = millis(fields.next()?)?;
            if fields.next().is_some() || subject.is_empty() {
                return None;
            }
            return Some(Revocation::Subject {
                subject,
                before,
                until,
            });
        }
        let (id, until) = line.split_once(' ')?;
        Some(Revocation::Session {
            id: SessionId::from_hex(id)?,
            until: millis(until)?,
        })
    }
}

/// What a store did with a revocation before the logout answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Written where the store keeps it (and, for a file, fsynced).
    Written,
    /// The shared store is unreachable: written to the local spool
    /// (fsynced), and to the store when it is back, also after a restart.
    Queued,
    /// No file could be written: kept in memory only, so it holds on this
    /// instance until it restarts or a later write succeeds.
    MemoryOnly,
}

impl Durability {
    /// Whether the revocation is on disk (here or in the shared store) once
    /// answered.
    pub fn is_stored(self) -> bool {
        self != Durability::MemoryOnly
    }
}

/// How a store is doing, for a readiness probe and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    /// What is wrong now, in one line, if anything: the app serves anyway.
    pub trouble: Option<String>,
    /// Revocations acknowledged but not yet in the store.
    pub queued: usize,
    /// Whether the store is reachable now (a local file always is).
    pub reachable: bool,
    /// What keeps a shared store from taking revocations now, if anything.
    pub condition: Condition,
}

/// What keeps a shared store from taking revocations, told apart because
/// each asks something else of an operator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Condition {
    /// Nothing: it takes them (a local file always does).
    #[default]
    Ready,
    /// It cannot be connected to: down, or the wrong address.
    Unreachable,
    /// It is connected but refuses writes: a replica (`READONLY`), another
    /// cluster node's slot (`MOVED`), or a user without the right
    /// (`NOPERM`).
    WritesRefused,
    /// It is connected but nothing comes back in time: a silent partition,
    /// or a server that hangs.
    Partitioned,
}

impl Condition {
    /// Every condition, in order.
    pub const ALL: [Condition; 4] = [
        Condition::Ready,
        Condition::Unreachable,
        Condition::WritesRefused,
        Condition::Partitioned,
    ];

    /// Its name, for a metric's label: `ready`, `unreachable`,
    /// `writes_refused` or `partitioned`.
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Ready => "ready",
            Condition::Unreachable => "unreachable",
            Condition::WritesRefused => "writes_refused",
            Condition::Partitioned => "partitioned",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_an_instance_could_make_is_plausible() {
        let now: Millis = 1_800_000_000_000;
        let day = 86_400_000;
        let longest = LONGEST_LIFETIME.as_millis() as Millis;
        let skew = CLOCK_SKEW.as_millis() as Millis;
        let session = |until| Revocation::Session {
            id: SessionId::random(),
            until: from_millis(until),
        };
        let subject = |before, until| Revocation::Subject {
            subject: "a".into(),
            before: from_millis(before),
            until: from_millis(until),
        };
        assert!(session(now + day).is_plausible(now));
        assert!(session(now + longest + skew).is_plausible(now));
        assert!(!session(now + longest + skew + 1).is_plausible(now));
        assert!(!session(u64::MAX).is_plausible(now));
        assert!(subject(now, now + longest).is_plausible(now));
        assert!(subject(now + skew, now + longest).is_plausible(now));
        assert!(!subject(now + skew + 1, now + longest).is_plausible(now));
    }
}
