//! What a session is: its identifier, the subject it was started for, its
//! times, its entries, and the cookie plaintext that carries them.
//!
//! The cookie is sealed by Rocket's private jar (AES-256-GCM), so what this
//! module decodes was written by a holder of the key. It is still checked
//! strictly: a cookie from another version, or one that breaks a limit, is
//! no session at all.

use std::collections::BTreeMap;
use std::time::SystemTime;

use crate::clock::{from_millis, to_millis, Millis};
use crate::id::SessionId;
use crate::limits::{
    is_token, LONGEST_LIFETIME, MAX_ENTRIES, MAX_KEY_BYTES, MAX_SUBJECT_BYTES, MAX_VALUE_BYTES,
};

/// One session as its cookie carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    id: SessionId,
    /// Who the app started it for: "log out everywhere" names it.
    subject: Option<String>,
    created: Millis,
    last_seen: Millis,
    /// The absolute end sealed at the start: no later setting can move it
    /// further, so a revocation kept until then outlives every copy.
    ends: Millis,
    entries: BTreeMap<String, String>,
    /// What the app attached beside the entries (a CSRF token, say).
    attachment: Option<String>,
}

/// The codec's version, the plaintext's first field. Version 4 sealed the
/// absolute end; version 5 added the subject. Version 4 cookies still open
/// (without a subject); others are refused.
const VERSION: &str = "5";
const VERSION_WITHOUT_SUBJECT: &str = "4";

impl Record {
    /// A fresh session for `subject` started at `at`, under a new random
    /// identifier, that ends at `ends` at the latest, whatever the settings
    /// say later. Returns `None` for an empty subject or one longer than
    /// [`MAX_SUBJECT_BYTES`].
    pub fn new(subject: &str, at: SystemTime, ends: SystemTime) -> Option<Record> {
        Record::started(Some(subject), to_millis(at), to_millis(ends))
    }

    /// [`Record::new`], for a subject or none, in [`Millis`].
    pub(crate) fn started(subject: Option<&str>, at: Millis, ends: Millis) -> Option<Record> {
        let record = Record {
            id: SessionId::random(),
            subject: subject.map(str::to_owned),
            created: at,
            last_seen: at,
            ends: ends.max(at),
            entries: BTreeMap::new(),
            attachment: None,
        };
        record.is_well_formed().then_some(record)
    }

    /// A session built from parts, for tests and tools that need one from
    /// another time: no subject, and no end sealed but the longest any
    /// setting allows. Returns `None` if it breaks a limit.
    pub fn from_parts(
        created: SystemTime,
        last_seen: SystemTime,
        entries: BTreeMap<String, String>,
    ) -> Option<Record> {
        let created = to_millis(created);
        let record = Record {
            id: SessionId::random(),
            subject: None,
            created,
            last_seen: to_millis(last_seen),
            ends: created.saturating_add(LONGEST_LIFETIME.as_millis() as Millis),
            entries,
            attachment: None,
        };
        record.is_well_formed().then_some(record)
    }

    /// The identifier given at the start.
    pub fn id(&self) -> SessionId {
        self.id
    }

    /// Who the session was started for, if it still is.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// When the session started.
    pub fn created(&self) -> SystemTime {
        from_millis(self.created)
    }

    /// When the session was last renewed.
    pub fn last_seen(&self) -> SystemTime {
        from_millis(self.last_seen)
    }

    /// The absolute end sealed at the start.
    pub fn ends(&self) -> SystemTime {
        from_millis(self.ends)
    }

    /// Every entry, ordered by key.
    pub fn entries(&self) -> &BTreeMap<String, String> {
        &self.entries
    }

    /// Entry `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    /// What the app attached, if anything.
    pub fn attachment(&self) -> Option<&str> {
        self.attachment.as_deref()
    }

    pub(crate) fn created_ms(&self) -> Millis {
        self.created
    }

    pub(crate) fn last_seen_ms(&self) -> Millis {
        self.last_seen
    }

    pub(crate) fn ends_ms(&self) -> Millis {
        self.ends
    }

    /// The same session carrying `attachment`: up to 64 letters, digits,
    /// `-` or `_` (a token), sealed with the entries but not one of them.
    /// `None` if it is not of that form.
    pub(crate) fn with_attachment(self, attachment: String) -> Option<Record> {
        let record = Record {
            attachment: Some(attachment),
            ..self
        };
        record.is_well_formed().then_some(record)
    }

    /// The same entries and times under a fresh identifier and no subject:
    /// what stays of a session once its identifier has been revoked.
    pub(crate) fn detached(self) -> Record {
        Record {
            id: SessionId::random(),
            subject: None,
            ..self
        }
    }

    /// Sets entry `key` to `value`; the value it replaced, if any.
    pub(crate) fn insert(&mut self, key: &str, value: &str) -> Option<String> {
        self.entries.insert(key.to_owned(), value.to_owned())
    }

    /// Deletes one entry; says whether it was there.
    pub(crate) fn remove(&mut self, key: &str) -> bool {
        self.entries.remove(key).is_some()
    }

    /// Marks the session as used at `at`, restarting its idle window.
    pub(crate) fn touch(&mut self, at: Millis) {
        self.last_seen = self.last_seen.max(at);
    }

    /// The cookie's plaintext:
    ///
    /// `5;ID;CREATED;LAST_SEEN;ENDS;ATTACHMENT;SUBJECT ENTRIES`
    ///
    /// with the identifier in 32 hex digits, the times in decimal
    /// milliseconds, the attachment (empty for none), then the subject and
    /// each entry's key and value as `LEN:TEXT`, lengths in decimal bytes
    /// (`0:` for no subject). Text is written as it is: a length, not an
    /// escape, says where each ends, so opening it on every request is a
    /// few splits.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use rocket_sealed_sessions::Record;
    ///
    /// let at = UNIX_EPOCH + Duration::from_secs(5);
    /// let record = Record::new("user-42", at, at + Duration::from_secs(60)).unwrap();
    /// let plaintext = record.encode();
    /// assert!(plaintext.ends_with(";5000;5000;65000;;7:user-42"));
    /// assert_eq!(Record::decode(&plaintext), Some(record));
    /// ```
    pub fn encode(&self) -> String {
        let token = self.attachment.as_deref().unwrap_or_default();
        let subject = self.subject.as_deref().unwrap_or_default();
        let entries: usize = self
            .entries
            .iter()
            .map(|(k, v)| k.len() + v.len() + 8)
            .sum();
        let mut out = String::with_capacity(100 + token.len() + subject.len() + entries);
        // Pushed piece by piece, not through `write!` and its formatting
        // machinery: one of the cuts measured in bench/README.md.
        out.push_str(VERSION);
        out.push(';');
        out.push_str(&self.id.to_hex());
        for time in [self.created, self.last_seen, self.ends] {
            out.push(';');
            push_decimal(&mut out, time);
        }
        out.push(';');
        out.push_str(token);
        out.push(';');
        push_prefixed(&mut out, subject);
        for (key, value) in &self.entries {
            push_prefixed(&mut out, key);
            push_prefixed(&mut out, value);
        }
        out
    }

    /// Reads a cookie's plaintext; anything but a well-formed session
    /// written as [`Record::encode`] writes it (or as version 4 did) is
    /// `None`.
    pub fn decode(plaintext: &str) -> Option<Record> {
        let (version, rest) = until(plaintext, b';')?;
        if version != VERSION && version != VERSION_WITHOUT_SUBJECT {
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
        let mut subject = None;
        if version == VERSION {
            let (text, after) = prefixed(rest)?;
            subject = (!text.is_empty()).then(|| text.to_owned());
            rest = after;
        }
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
        let record = Record {
            id,
            subject,
            created,
            last_seen,
            ends,
            entries,
            attachment,
        };
        record.is_well_formed().then_some(record)
    }

    pub(crate) fn is_well_formed(&self) -> bool {
        self.created <= self.last_seen
            && self.created <= self.ends
            && self.entries.len() <= MAX_ENTRIES
            && self
                .subject
                .as_ref()
                .is_none_or(|s| (1..=MAX_SUBJECT_BYTES).contains(&s.len()))
            && self.attachment.as_deref().is_none_or(is_token)
            && self.entries.iter().all(|(k, v)| {
                !k.is_empty() && k.len() <= MAX_KEY_BYTES && v.len() <= MAX_VALUE_BYTES
            })
    }
}

/// A number as [`Record::encode`] writes it: decimal digits, no sign, no
/// leading zero, within `u64`.
pub(crate) fn decimal(text: &str) -> Option<u64> {
    if text.is_empty() || (text.len() > 1 && text.starts_with('0')) {
        return None;
    }
    text.bytes().try_fold(0u64, |n, b| {
        let digit = b.checked_sub(b'0').filter(|d| *d <= 9)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// `n` in decimal digits, as [`decimal`] reads it.
fn push_decimal(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Pushed as one slice: char by char, these pushes took about 1,800
    // instructions of a seal (bench/README.md).
    out.push_str(std::str::from_utf8(&digits[at..]).expect("BUG: decimal digits are ASCII"));
}

/// `text` as `LEN:TEXT`, as [`prefixed`] reads it.
fn push_prefixed(out: &mut String, text: &str) {
    push_decimal(out, text.len() as u64);
    out.push(':');
    out.push_str(text);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn start(subject: &str, at: Millis, ends: Millis) -> Record {
        Record::new(subject, from_millis(at), from_millis(ends)).unwrap()
    }

    #[test]
    fn a_new_record_holds_its_subject_and_times() {
        let s = start("山田太郎", 1_764_090_000_000, 1_764_090_001_000);
        assert_eq!(s.subject(), Some("山田太郎"));
        assert_eq!(s.created(), s.last_seen());
        assert!(s.entries().is_empty());
        assert!(Record::new("", from_millis(0), from_millis(1)).is_none());
        let long = "s".repeat(MAX_SUBJECT_BYTES + 1);
        assert!(Record::new(&long, from_millis(0), from_millis(1)).is_none());
    }

    #[test]
    fn numbers_are_written_as_they_are_read() {
        for n in [0, 7, 10, 99, 1_764_090_000_000, u64::MAX] {
            let mut out = String::new();
            push_decimal(&mut out, n);
            assert_eq!(out, n.to_string());
            assert_eq!(decimal(&out), Some(n));
        }
    }

    #[test]
    fn codec_round_trips() {
        let mut s = start("<b>&\"'", 42_000, 50_000);
        s.insert("name", "<b>&\"'");
        assert_eq!(Record::decode(&s.encode()), Some(s));
    }

    #[test]
    fn the_plaintext_is_length_prefixed() {
        let id = "00112233445566778899aabbccddeeff";
        let s = Record::decode(&format!("5;{id};5;7;9;;2:u14:name2:ab")).unwrap();
        assert_eq!(s.id().to_hex(), id);
        assert_eq!((s.created_ms(), s.last_seen_ms(), s.ends_ms()), (5, 7, 9));
        assert_eq!(s.subject(), Some("u1"));
        assert_eq!(s.get("name"), Some("ab"));
        assert_eq!(s.attachment(), None);
        let mut s = s.with_attachment("tok-_9".to_owned()).unwrap();
        s.insert("k;:", "v:;4:");
        assert_eq!(
            s.encode(),
            format!("5;{id};5;7;9;tok-_9;2:u13:k;:5:v:;4:4:name2:ab")
        );
        assert_eq!(Record::decode(&s.encode()), Some(s));
    }

    #[test]
    fn version_4_cookies_still_open_without_a_subject() {
        let id = "00112233445566778899aabbccddeeff";
        let s = Record::decode(&format!("4;{id};5;7;9;tok;4:name2:ab")).unwrap();
        assert_eq!(s.subject(), None);
        assert_eq!(s.get("name"), Some("ab"));
        assert_eq!(s.attachment(), Some("tok"));
        assert!(s.encode().starts_with("5;"));
    }

    #[test]
    fn attachments_are_tokens() {
        let s = start("a", 0, 1);
        assert!(s.clone().with_attachment("a".repeat(43)).is_some());
        assert!(s.clone().with_attachment("to ken".into()).is_none());
        assert!(s.with_attachment("t".repeat(65)).is_none());
    }

    #[test]
    fn codec_refuses_other_shapes() {
        let id = "00112233445566778899aabbccddeeff";
        let entries = |n: usize| -> String { (10..10 + n).map(|i| format!("3:k{i}1:v")).collect() };
        assert!(Record::decode(&format!("5;{id};1;1;9;;0:{}", entries(MAX_ENTRIES))).is_some());
        for junk in [
            String::new(),
            "3".into(),
            format!("2;{id};1;1;;"),
            // An end before the start, missing, or past u64.
            format!("5;{id};5;5;4;;0:"),
            format!("5;{id};1;1;;;0:"),
            format!("5;{id};1;1;18446744073709551616;;0:"),
            format!("3;{id};1;1;9;;"),
            format!("6;{id};1;1;9;;0:"),
            format!(r#"{{"v":2,"i":"{id}","c":1,"u":1,"e":{{}}}}"#),
            format!("5;{id};1;1;9;"),
            // No subject field at all, or one that runs past the end.
            format!("5;{id};1;1;9;;"),
            format!("5;{id};1;1;9;;3:ab"),
            "5;0011;1;1;9;;0:".into(),
            "5;00112233445566778899aabbccddeefg;1;1;9;;0:".into(),
            format!("5;{id};5;1;9;;0:"),
            format!("5;{id};+1;1;9;;0:"),
            format!("5;{id};01;1;9;;0:"),
            format!("5;{id};1;;9;;0:"),
            format!("5;{id};1;18446744073709551616;9;;0:"),
            format!("5;{id};1;1;9;a;b;0:"),
            format!("5;{id};1;1;9;to ken;0:"),
            format!("5;{id};1;1;9;{};0:", "t".repeat(65)),
            format!("5;{id};1;1;9;;{}:{}", 513, "s".repeat(513)),
            format!("5;{id};1;1;9;;0:0:1:v"),
            format!("5;{id};1;1;9;;0:1:k"),
            format!("5;{id};1;1;9;;0:1:k1:"),
            format!("5;{id};1;1;9;;0:1:k1:vx"),
            format!("5;{id};1;1;9;;0:1:k01:v"),
            format!("5;{id};1;1;9;;0:1:k-1:v"),
            format!("5;{id};1;1;9;;0:1:k1:v1:k1:w"),
            // Keys out of order, and an identifier in capitals: `encode`
            // writes neither.
            format!("5;{id};1;1;9;;0:1:l1:v1:k1:w"),
            format!("5;{};1;1;9;;0:", id.to_uppercase()),
            format!("5;{id};1;1;9;;0:18446744073709551616:k"),
            format!("5;{id};1;1;9;;0:{}", entries(MAX_ENTRIES + 1)),
            format!("5;{id};1;1;9;;0:65:{}0:", "k".repeat(65)),
            format!("5;{id};1;1;9;;0:1:k801:{}", "v".repeat(801)),
            // A length that ends inside a character.
            format!("5;{id};1;1;9;;0:1:\u{3042}0:"),
            format!("5;{id};1;1;9;;0:1:k2:\u{3042}"),
            format!("5;{id};1;1;9;;2:\u{3042}"),
        ] {
            assert_eq!(Record::decode(&junk), None, "{junk}");
        }
    }

    #[test]
    fn every_session_gets_its_own_id() {
        let (a, b) = (start("a", 0, 1), start("a", 0, 1));
        assert_ne!(a.id(), b.id());
        let decoded = Record::decode(&a.encode()).unwrap();
        assert_eq!(decoded.id(), a.id());
        let detached = a.clone().detached();
        assert_ne!(detached.id(), a.id());
        assert_eq!(detached.subject(), None);
    }

    #[test]
    fn touch_never_goes_back_in_time() {
        let mut s = start("a", 1000, 2000);
        s.touch(500);
        assert_eq!(s.last_seen_ms(), 1000);
    }
}
