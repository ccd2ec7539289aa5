//! One suite of checks that every [`RevocationStore`] must pass, run by
//! this crate against each store it ships, and open to a store of your
//! own (feature `conformance`):
//!
//! ```no_run
//! use rocket_sealed_sessions::{conformance, store::FileStore};
//!
//! #[rocket::async_test]
//! async fn the_file_store_conforms() {
//!     let place = std::env::temp_dir().join("conformance-example");
//!     conformance::run(|| FileStore::new(&place)).await;
//! }
//! ```
//!
//! `make` is called for each opening and must give a store on the same
//! place each time (the same file, the same Redis database; a Redis store
//! with a spool of its own, as another instance has): the suite checks
//! that what one opening wrote, the next one loads. Each check
//! waits for what it expects for up to [`PATIENCE`], since a shared store
//! may load in the background; it panics, saying what did not hold.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::clock::Clock;
use crate::id::SessionId;
use crate::store::{Durability, Memory, Revocation, RevocationStore};

/// How long a check waits for a revocation to show.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Runs every check against stores made by `make`; see the module's docs.
pub async fn run<S: RevocationStore>(mut make: impl FnMut() -> S) {
    let clock = Clock::manual_from_now();
    let now = clock.now();
    let hour = Duration::from_secs(3600);

    // A revocation written is held at once, and stored.
    let (first, memory) = open(&mut make, &clock).await;
    let kept = SessionId::random();
    let expiring = SessionId::random();
    let subject = "subject with spaces, ユニコード and ~";
    for revocation in [
        Revocation::Session {
            id: kept,
            until: now + hour,
        },
        Revocation::Session {
            id: expiring,
            until: now + Duration::from_secs(60),
        },
        Revocation::Subject {
            subject: subject.to_owned(),
            before: now,
            until: now + hour,
        },
    ] {
        memory.insert(&revocation);
        let durability = first.write(revocation).await;
        assert!(
            matches!(durability, Durability::Written | Durability::Queued),
            "a write on a healthy store is stored, not {durability:?}"
        );
    }
    let health = first.health();
    assert!(health.reachable, "a healthy store is reachable: {health:?}");
    assert!(!first.describe().is_empty(), "a store says what it is");
    drop(first);

    // A new opening, later, loads what still runs, and only that.
    clock.advance(Duration::from_secs(120));
    let (second, memory) = open(&mut make, &clock).await;
    let later = clock.now();
    wait(
        || memory.is_revoked(&kept, later),
        "a revocation survives a reopening",
    )
    .await;
    let live = || memory.live(later);
    wait(
        || {
            live().iter().any(|revocation| {
                matches!(revocation, Revocation::Subject { subject: s, before, .. }
                    if s == subject && *before == truncate(now))
            })
        },
        "a subject's revocation survives a reopening, its subject and start intact",
    )
    .await;
    assert!(
        !memory.is_revoked(&expiring, later),
        "a revocation past its end is not held"
    );
    assert!(
        !memory.is_revoked(&SessionId::random(), later),
        "nothing else is revoked"
    );
    let health = second.health();
    assert_eq!(health.trouble, None, "a healthy store has no trouble");
}

async fn open<S: RevocationStore>(make: &mut impl FnMut() -> S, clock: &Clock) -> (S, Arc<Memory>) {
    let memory = Arc::new(Memory::default());
    let mut store = make();
    if let Err(e) = store.open(memory.clone(), clock.clone()).await {
        panic!("the store does not open: {e}");
    }
    (store, memory)
}

/// `at` as stores keep it: to the millisecond.
fn truncate(at: SystemTime) -> SystemTime {
    crate::clock::from_millis(crate::clock::to_millis(at))
}

async fn wait(holds: impl Fn() -> bool, what: &str) {
    let deadline = std::time::Instant::now() + PATIENCE;
    while !holds() {
        assert!(std::time::Instant::now() < deadline, "{what}");
        rocket::tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
