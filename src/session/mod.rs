//! The session layer, which any Rocket app can attach with [`stage`]: the
//! map of named entries and its codec (here), its settings ([`settings`]),
//! the expiry rules ([`expiry`]) and the clock they read ([`clock`]), the
//! revocations that make a logout final ([`revocation`]), and the request's
//! handle with the `LoggedIn` guard ([`handle`]).
//!
//! Its API is the tutorial's: [`RequestSession::start`] is
//! `session["name"] = name`, [`RequestSession::set`] `session[k] = v`,
//! [`RequestSession::remove`] `del session[k]`, [`RequestSession::clear`]
//! `session.clear()`. It knows nothing of pages, forms or languages; an app
//! that keeps something of its own beside the entries (this one, its CSRF
//! token) attaches it with [`RequestSession::attach`].
//!
//! The cookie is sealed by Rocket's private jar (AES-256-GCM), so what this
//! module decodes was written by a holder of the key. It is still checked
//! strictly: a cookie from another version, or one that has outlived its
//! idle or absolute window, is no session at all.

pub mod clock;
pub mod expiry;
pub mod handle;
pub mod revocation;
pub mod settings;

use std::collections::BTreeMap;
use std::fmt;
use std::fmt::Write as _;

use rand::RngCore;

pub use clock::{Clock, Millis};
pub use expiry::{Expiry, Verdict, Why};
pub use handle::{Ended, LoggedIn, RequestSession, SetRefusal};
pub use revocation::{Durability, Revocations};
pub use settings::{Settings, SettingsError};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use rocket::fairing::{self, AdHoc};
use rocket::{Build, Rocket};

use crate::refusal::refuse;

/// The session layer on the system clock: see [`stage_at`].
pub fn stage() -> AdHoc {
    stage_at(Clock::system())
}

/// The session layer on `clock`: at ignition it reads its [`Settings`]
/// from Rocket's figment, opens the revocation store, and manages the
/// settings, the cookie settings, the store and the clock for
/// [`RequestSession`] and [`LoggedIn`]. Refuses to start, with the reason
/// logged, when the settings or the store cannot be used.
pub fn stage_at(clock: Clock) -> AdHoc {
    AdHoc::try_on_ignite("Session", |rocket| async move { ignite(rocket, clock) })
}

// Rocket's own fairing result: the Rocket travels back on failure.
#[allow(clippy::result_large_err)]
fn ignite(rocket: Rocket<Build>, clock: Clock) -> fairing::Result {
    let settings = match Settings::from_figment(rocket.figment()) {
        Ok(settings) => settings,
        Err(e) => return refuse(rocket, e),
    };
    let revocations = match Revocations::open(&settings.store, &settings.spool, clock.clone()) {
        Ok(revocations) => revocations,
        Err(e) => return refuse(rocket, e),
    };
    let Settings {
        expiry, cookies, ..
    } = settings;
    Ok(rocket
        .manage(expiry)
        .manage(cookies)
        .manage(revocations)
        .manage(clock)
        .manage(Counts::default()))
}

/// What the session layer counts, for an app that exports metrics:
/// sessions started, and sessions ended by why (managed by [`stage`]).
#[derive(Debug, Clone, Default)]
pub struct Counts {
    /// Logins.
    pub started: Counter,
    /// Sessions ended: `logout`, `name_deleted`, `idle`, `absolute`,
    /// `revoked` (a copy replayed after logout) or `unreadable`.
    pub ended: Family<EndedBy, Counter>,
}

/// The label of [`Counts::ended`].
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndedBy {
    pub reason: &'static str,
}

impl Counts {
    fn ended(&self, reason: &'static str) {
        self.ended.get_or_create(&EndedBy { reason }).inc();
    }
}

/// The entry holding the logged-in name; without it nobody is logged in.
pub const NAME: &str = "name";
/// The entry holding when the session was started, as RFC 3339 UTC.
pub const LOGGED_IN_AT: &str = "logged_in_at";

/// How many entries a session may hold, and how long keys and values may be
/// in bytes: room for 200-character values of four-byte characters. The
/// cookie's size budget ([`crate::cookies::COOKIE_BUDGET`]) usually binds
/// first.
pub const MAX_ENTRIES: usize = 16;
const MAX_KEY_BYTES: usize = 64;
const MAX_VALUE_BYTES: usize = 800;

/// The entries the session keeps for itself: [`RequestSession::set`]
/// refuses them.
pub const RESERVED_KEYS: [&str; 2] = [NAME, LOGGED_IN_AT];

/// A session's identifier: 128 random bits, given at login and kept in the
/// sealed cookie. Revocation names a session by it; it is never logged.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId([u8; 16]);

impl SessionId {
    /// A fresh random identifier.
    pub fn random() -> SessionId {
        let mut bytes = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut bytes);
        SessionId(bytes)
    }

    /// The identifier as 32 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut hex = String::with_capacity(32);
        for byte in self.0 {
            hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
            hex.push(char::from(DIGITS[usize::from(byte & 0xf)]));
        }
        hex
    }

    /// Reads 32 lowercase hex digits, as [`SessionId::to_hex`] writes them.
    pub fn from_hex(text: &str) -> Option<SessionId> {
        let digits = text.as_bytes();
        if digits.len() != 32 {
            return None;
        }
        let nibble = |d: u8| match d {
            b'0'..=b'9' => Some(d - b'0'),
            b'a'..=b'f' => Some(d - b'a' + 10),
            _ => None,
        };
        let mut bytes = [0u8; 16];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
        }
        Some(SessionId(bytes))
    }
}

/// Shows no digits: an identifier must not reach a log by accident.
impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(..)")
    }
}

/// A session: named string entries plus its identifier and when it began
/// and was last renewed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    id: SessionId,
    created: Millis,
    last_seen: Millis,
    /// The absolute end sealed at login: no later setting can move it
    /// further, so a revocation kept until then outlives every copy.
    ends: Millis,
    entries: BTreeMap<String, String>,
    /// What the app attached beside the entries (this app: its CSRF token,
    /// so a logged-in page need not open the token's own cookie too).
    attachment: Option<String>,
}

/// The codec's version, the plaintext's first field. Version 2 added the
/// identifier; version 3 left JSON for the length-prefixed text of
/// [`Session::encode`]; version 4 sealed the absolute end. Cookies of other
/// versions are refused: the person logs in again.
const VERSION: &str = "4";

/// The latest end any valid setting allows: the longest absolute timeout,
/// which is the longest cookie browsers keep (400 days). What a session
/// built from parts, with no end sealed, gets.
pub const LATEST_END: Millis = crate::cookies::LONGEST_MAX_AGE_SECS * 1000;

impl Session {
    /// A fresh session for `name` started at `at`, holding `name` and
    /// `logged_in_at`, that ends at `ends` at the latest, whatever the
    /// settings say later.
    pub fn start(name: &str, at: Millis, ends: Millis) -> Session {
        let mut entries = BTreeMap::new();
        entries.insert(NAME.to_owned(), name.to_owned());
        entries.insert(LOGGED_IN_AT.to_owned(), rfc3339(at));
        Session {
            id: SessionId::random(),
            created: at,
            last_seen: at,
            ends: ends.max(at),
            entries,
            attachment: None,
        }
    }

    /// A session built from parts, for tests and tools that need a session
    /// from another time, with no end sealed but the settings' (see
    /// [`LATEST_END`]). Returns `None` if it breaks a codec limit.
    pub fn from_parts(
        created: Millis,
        last_seen: Millis,
        entries: BTreeMap<String, String>,
    ) -> Option<Session> {
        let session = Session {
            id: SessionId::random(),
            created,
            last_seen,
            ends: created.saturating_add(LATEST_END),
            entries,
            attachment: None,
        };
        session.is_well_formed().then_some(session)
    }

    /// The logged-in name: the session's one definition of "logged in" is
    /// a non-empty `name` entry.
    pub fn name(&self) -> Option<&str> {
        self.entries
            .get(NAME)
            .map(String::as_str)
            .filter(|name| !name.is_empty())
    }

    /// Whether somebody is logged in: see [`Session::name`].
    pub fn is_logged_in(&self) -> bool {
        self.name().is_some()
    }

    /// The same session carrying `attachment`: up to 64 letters, digits,
    /// `-` or `_` (a token), sealed with the entries but not one of them.
    pub fn with_attachment(self, attachment: String) -> Session {
        Session {
            attachment: Some(attachment),
            ..self
        }
    }

    /// What the app attached, if anything.
    pub fn attachment(&self) -> Option<&str> {
        self.attachment.as_deref()
    }

    /// The identifier given at login.
    pub fn id(&self) -> SessionId {
        self.id
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

    /// The absolute end sealed at login.
    pub fn ends(&self) -> Millis {
        self.ends
    }

    /// The same entries and times under a fresh identifier: what stays of a
    /// session once its identifier has been revoked.
    pub fn with_new_id(self) -> Session {
        Session {
            id: SessionId::random(),
            ..self
        }
    }

    /// Sets entry `key` to `value`; says whether it replaced one.
    pub fn set(&mut self, key: &str, value: &str) -> bool {
        self.entries
            .insert(key.to_owned(), value.to_owned())
            .is_some()
    }

    /// Deletes one entry; says whether it was there.
    pub fn remove(&mut self, key: &str) -> bool {
        self.entries.remove(key).is_some()
    }

    /// Marks the session as used at `at`, restarting its idle window.
    pub fn touch(&mut self, at: Millis) {
        self.last_seen = self.last_seen.max(at);
    }

    /// The cookie's plaintext:
    ///
    /// `4;ID;CREATED;LAST_SEEN;ENDS;ATTACHMENT;ENTRIES`
    ///
    /// with the identifier in 32 hex digits, the times in decimal
    /// milliseconds, the attachment (empty for none), then each entry as
    /// `LEN:KEY` and `LEN:VALUE`, lengths in decimal bytes. Keys and values
    /// are written as they are: a length, not an escape, says where each
    /// ends, so opening it on every request is a few splits.
    pub fn encode(&self) -> String {
        let token = self.attachment.as_deref().unwrap_or_default();
        let entries: usize = self
            .entries
            .iter()
            .map(|(k, v)| k.len() + v.len() + 8)
            .sum();
        let mut out = String::with_capacity(96 + token.len() + entries);
        let _ = write!(
            out,
            "{VERSION};{};{};{};{};{token};",
            self.id.to_hex(),
            self.created,
            self.last_seen,
            self.ends
        );
        for (key, value) in &self.entries {
            let _ = write!(out, "{}:{key}{}:{value}", key.len(), value.len());
        }
        out
    }

    /// Reads a cookie's plaintext; anything but a well-formed session of this
    /// version, written as [`Session::encode`] writes it, is `None`.
    pub fn decode(plaintext: &str) -> Option<Session> {
        let (version, rest) = until(plaintext, b';')?;
        if version != VERSION {
            return None;
        }
        let (id, rest) = until(rest, b';')?;
        let id = SessionId::from_hex(id)?;
        let (created, rest) = until(rest, b';')?;
        let created = decimal(created)?;
        let (last_seen, rest) = until(rest, b';')?;
        let last_seen = decimal(last_seen)?;
        let (ends, rest) = until(rest, b';')?;
        let ends = decimal(ends)?;
        let (token, mut rest) = until(rest, b';')?;
        let attachment = match token {
            "" => None,
            token => Some(token.to_owned()),
        };
        let mut entries = BTreeMap::new();
        let mut last_key = None;
        while !rest.is_empty() {
            let (key, after) = prefixed(rest)?;
            let (value, after) = prefixed(after)?;
            // In key order, each key once, as `encode` writes them.
            if entries.len() == MAX_ENTRIES || last_key.is_some_and(|last| last >= key) {
                return None;
            }
            entries.insert(key.to_owned(), value.to_owned());
            last_key = Some(key);
            rest = after;
        }
        let session = Session {
            id,
            created,
            last_seen,
            ends,
            entries,
            attachment,
        };
        session.is_well_formed().then_some(session)
    }

    fn is_well_formed(&self) -> bool {
        self.created <= self.last_seen
            && self.created <= self.ends
            && self.entries.len() <= MAX_ENTRIES
            && self.attachment.as_ref().is_none_or(|t| {
                (1..=64).contains(&t.len())
                    && t.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
            && self.entries.iter().all(|(k, v)| {
                !k.is_empty() && k.len() <= MAX_KEY_BYTES && v.len() <= MAX_VALUE_BYTES
            })
    }
}

/// A number as [`Session::encode`] writes it: decimal digits, no sign, no
/// leading zero, within `u64`.
fn decimal(text: &str) -> Option<u64> {
    if text.is_empty() || (text.len() > 1 && text.starts_with('0')) {
        return None;
    }
    text.bytes().try_fold(0u64, |n, b| {
        let digit = b.checked_sub(b'0').filter(|d| *d <= 9)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// What comes before the first `stop` in `input`, and what follows it.
/// `stop` is ASCII, so the byte after it starts a character. The fields are
/// short, and a byte scan skips the set-up of `split`'s searcher.
fn until(input: &str, stop: u8) -> Option<(&str, &str)> {
    debug_assert!(stop.is_ascii(), "a field ends at an ASCII byte");
    let at = input.bytes().position(|b| b == stop)?;
    Some((&input[..at], &input[at + 1..]))
}

/// `LEN:TEXT` at the start of `input`: the text, and what follows it.
fn prefixed(input: &str) -> Option<(&str, &str)> {
    let (len, rest) = until(input, b':')?;
    let len = usize::try_from(decimal(len)?).ok()?;
    Some((rest.get(..len)?, rest.get(len..)?))
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

    #[test]
    fn start_holds_name_and_login_time() {
        let s = Session::start("山田太郎", 1_764_090_000_000, 1_764_090_000_000 + 1000);
        assert_eq!(s.name(), Some("山田太郎"));
        assert_eq!(s.entries()[LOGGED_IN_AT], "2025-11-25T17:00:00Z");
        assert_eq!(s.created(), s.last_seen());
    }

    #[test]
    fn codec_round_trips() {
        let s = Session::start("<b>&\"'", 42_000, 50_000);
        assert_eq!(Session::decode(&s.encode()), Some(s));
    }

    #[test]
    fn the_plaintext_is_length_prefixed() {
        let id = "00112233445566778899aabbccddeeff";
        let mut s = Session::decode(&format!("4;{id};5;7;9;;4:name2:ab")).unwrap();
        assert_eq!(s.id().to_hex(), id);
        assert_eq!((s.created(), s.last_seen(), s.ends()), (5, 7, 9));
        assert_eq!(s.name(), Some("ab"));
        assert_eq!(s.attachment(), None);
        s = s.with_attachment("tok-_9".to_owned());
        s.set("k;:", "v:;4:");
        assert_eq!(
            s.encode(),
            format!("4;{id};5;7;9;tok-_9;3:k;:5:v:;4:4:name2:ab")
        );
        assert_eq!(Session::decode(&s.encode()), Some(s));
    }

    #[test]
    fn sessions_with_tokens_round_trip() {
        let s = Session::start("山田", 1_764_090_000_000, 1_764_090_000_001)
            .with_attachment("a".repeat(43));
        assert_eq!(Session::decode(&s.encode()), Some(s));
    }

    #[test]
    fn codec_refuses_other_shapes() {
        let id = "00112233445566778899aabbccddeeff";
        let entries = |n: usize| -> String { (10..10 + n).map(|i| format!("3:k{i}1:v")).collect() };
        assert!(Session::decode(&format!("4;{id};1;1;9;;{}", entries(MAX_ENTRIES))).is_some());
        for junk in [
            String::new(),
            "3".into(),
            format!("2;{id};1;1;;"),
            // An end before the start, missing, or past u64.
            format!("4;{id};5;5;4;;"),
            format!("4;{id};1;1;;;"),
            format!("4;{id};1;1;18446744073709551616;;"),
            format!("3;{id};1;1;9;;"),
            format!("5;{id};1;1;9;;"),
            format!(r#"{{"v":2,"i":"{id}","c":1,"u":1,"e":{{}}}}"#),
            format!("4;{id};1;1;9;"),
            "4;0011;1;1;9;;".into(),
            "4;00112233445566778899aabbccddeefg;1;1;9;;".into(),
            format!("4;{id};5;1;9;;"),
            format!("4;{id};+1;1;9;;"),
            format!("4;{id};01;1;9;;"),
            format!("4;{id};1;;9;;"),
            format!("4;{id};1;18446744073709551616;9;;"),
            format!("4;{id};1;1;9;a;b;"),
            format!("4;{id};1;1;9;to ken;"),
            format!("4;{id};1;1;9;{};", "t".repeat(65)),
            format!("4;{id};1;1;9;;0:1:v"),
            format!("4;{id};1;1;9;;1:k"),
            format!("4;{id};1;1;9;;1:k1:"),
            format!("4;{id};1;1;9;;1:k1:vx"),
            format!("4;{id};1;1;9;;1:k01:v"),
            format!("4;{id};1;1;9;;1:k-1:v"),
            format!("4;{id};1;1;9;;1:k1:v1:k1:w"),
            // Keys out of order, and an identifier in capitals: `encode`
            // writes neither.
            format!("4;{id};1;1;9;;1:l1:v1:k1:w"),
            format!("4;{};1;1;9;;", id.to_uppercase()),
            format!("4;{id};1;1;9;;18446744073709551616:k"),
            format!("4;{id};1;1;9;;{}", entries(MAX_ENTRIES + 1)),
            format!("4;{id};1;1;9;;65:{}0:", "k".repeat(65)),
            format!("4;{id};1;1;9;;1:k801:{}", "v".repeat(801)),
            // A length that ends inside a character.
            format!("4;{id};1;1;9;;1:\u{3042}0:"),
            format!("4;{id};1;1;9;;1:k2:\u{3042}"),
        ] {
            assert_eq!(Session::decode(&junk), None, "{junk}");
        }
    }

    #[test]
    fn identifiers_are_written_in_lowercase_hex() {
        let id = SessionId([
            0x00, 0x01, 0x7f, 0x80, 0xab, 0xcd, 0xef, 0xff, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ]);
        assert_eq!(id.to_hex(), "00017f80abcdefff0000000000000010");
        assert_eq!(SessionId::from_hex(&id.to_hex()), Some(id));
        assert_eq!(
            SessionId::from_hex("00017F80ABCDEFFF0000000000000010"),
            None
        );
    }

    #[test]
    fn every_session_gets_its_own_id() {
        let (a, b) = (Session::start("a", 0, 1), Session::start("a", 0, 1));
        assert_ne!(a.id(), b.id());
        assert_eq!(SessionId::from_hex(&a.id().to_hex()), Some(a.id()));
        assert_eq!(format!("{:?}", a.id()), "SessionId(..)");
        let decoded = Session::decode(&a.encode()).unwrap();
        assert_eq!(decoded.id(), a.id());
    }

    #[test]
    fn touch_never_goes_back_in_time() {
        let mut s = Session::start("a", 1000, 2000);
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
