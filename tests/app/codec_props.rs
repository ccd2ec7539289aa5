//! Property tests: any session round-trips through the codec; any bytes
//! given as a session cookie are a valid session or none, never a panic.

use crate::common;

use rocket::uri;
use session_app::routes;

use std::collections::BTreeMap;

use proptest::prelude::*;
use rocket::http::{Cookie, Status};
use rocket::local::blocking::Client;
use std::time::Duration;

use common::{CSRF_COOKIE, SESSION_COOKIE};
use rocket_sealed_sessions::limits::LONGEST_LIFETIME;
use rocket_sealed_sessions::{Expiry, Record, Verdict};
use std::time::{SystemTime, UNIX_EPOCH};

const MAX_TIMEOUT_SECS: u64 = LONGEST_LIFETIME.as_secs();

/// `millis` after the Unix epoch.
fn at(millis: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(millis)
}

fn entries() -> impl Strategy<Value = BTreeMap<String, String>> {
    let key = "\\PC{1,16}".prop_filter("keys are 1 to 64 bytes", |k| (1..=64).contains(&k.len()));
    let value = any::<String>().prop_filter("values are at most 512 bytes", |v| v.len() <= 512);
    prop::collection::btree_map(key, value, 0..=16)
}

proptest! {
    #[test]
    fn any_session_round_trips(
        entries in entries(),
        (created, last_seen) in any::<u64>().prop_flat_map(|c| (Just(c), c..=u64::MAX)),
    ) {
        let session = Record::from_parts(at(created), at(last_seen), entries).expect("within the limits");
        prop_assert_eq!(Record::decode(&session.encode()), Some(session));
    }

    #[test]
    fn any_timestamps_are_judged_without_panicking(
        (created, last_seen) in any::<u64>().prop_flat_map(|c| (Just(c), c..=u64::MAX)),
        now in any::<u64>(),
        idle in 1u64..=MAX_TIMEOUT_SECS,
        extra in 0u64..=MAX_TIMEOUT_SECS,
    ) {
        let absolute = (idle + extra).min(MAX_TIMEOUT_SECS);
        let expiry = Expiry::new(Duration::from_secs(idle.min(absolute)), Duration::from_secs(absolute));
        let session = Record::from_parts(at(created), at(last_seen), BTreeMap::new()).unwrap();
        let verdict = expiry.check(&session, at(now));
        let lifetime = expiry.cookie_lifetime(&session, at(now));
        prop_assert!(lifetime <= Duration::from_secs(absolute + 3600));
        prop_assert!(lifetime <= Duration::from_secs(MAX_TIMEOUT_SECS));
        if !matches!(verdict, Verdict::Expired(_)) {
            prop_assert!(lifetime > Duration::ZERO);
        }
    }

    #[test]
    fn any_plaintext_decodes_or_is_refused(text in any::<String>()) {
        if let Some(session) = Record::decode(&text) {
            prop_assert!(session.created() <= session.last_seen());
            prop_assert_eq!(Record::decode(&session.encode()), Some(session));
        }
    }

    #[test]
    fn any_plaintext_shaped_like_a_session_decodes_exactly_when_valid(
        version in 0u8..7, c in any::<u64>(), u in any::<u64>(), e in any::<u64>(),
        subject in "\\PC{0,8}",
        entries in entries(),
        id in "[0-9a-f]{32}|[0-9a-g]{31,33}",
        // Tokens: real ones, and printable text without the field separator.
        token in "[A-Za-z0-9_-]{0,64}|[ -:<-~]{0,70}",
    ) {
        // Version 5 carries a subject; version 4, still read, does not.
        let mut plaintext = format!("{version};{id};{c};{u};{e};{token};");
        if version == 5 {
            plaintext.push_str(&format!("{}:{subject}", subject.len()));
        }
        for (key, value) in &entries {
            plaintext.push_str(&format!("{}:{key}{}:{value}", key.len(), value.len()));
        }
        let decoded = Record::decode(&plaintext);
        let valid_id = id.len() == 32 && !id.contains('g');
        let valid_token = token.len() <= 64
            && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        prop_assert_eq!(
            decoded.is_some(),
            (version == 4 || version == 5) && c <= u && c <= e && valid_id && valid_token
        );
        if let Some(session) = decoded {
            // Written back as version 5, the same session.
            prop_assert_eq!(Record::decode(&session.encode()), Some(session.clone()));
            if version == 5 {
                prop_assert_eq!(session.encode(), plaintext);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_cookie_bytes_are_a_session_or_none(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        thread_local! {
            static CLIENT: Client = Client::untracked(session_app::rocket_with(common::figment())).unwrap();
        }
        let value = String::from_utf8_lossy(&bytes).into_owned();
        CLIENT.with(|client| {
            for (name, private) in [(SESSION_COOKIE, false), (SESSION_COOKIE, true), (CSRF_COOKIE, false)] {
                let request = client.get(uri!(routes::output));
                let cookie = Cookie::new(name, value.clone());
                let request = if private { request.private_cookie(cookie) } else { request.cookie(cookie) };
                let response = request.dispatch();
                // A sealed plaintext that decodes is a session without a
                // name (random bytes never carry one): the login page.
                prop_assert_eq!(response.status(), Status::SeeOther);
            }
            Ok(())
        })?;
    }
}
