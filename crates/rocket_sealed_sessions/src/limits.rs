//! The limits every session keeps, in one place.

use std::time::Duration;

/// The longest a session, and so its cookie, may live: 400 days, the
/// longest `Max-Age` browsers honour. Both windows are capped by it.
pub const LONGEST_LIFETIME: Duration = Duration::from_secs(400 * 24 * 3600);

/// How many entries a session may hold. The cookie's size budget
/// ([`COOKIE_BUDGET`]) usually binds first.
pub const MAX_ENTRIES: usize = 16;

/// The longest entry key, in bytes.
pub const MAX_KEY_BYTES: usize = 64;

/// The longest entry value, in bytes: room for 200 four-byte characters.
pub const MAX_VALUE_BYTES: usize = 800;

/// The longest subject, in bytes: room for 128 four-byte characters.
pub const MAX_SUBJECT_BYTES: usize = 512;

/// The most a session `Set-Cookie` header may take, name and attributes
/// included: RFC 6265's minimum that every browser must keep. A larger
/// cookie is dropped silently, and the whole session with it, so an insert
/// that would outgrow it is refused instead.
pub const COOKIE_BUDGET: usize = 4096;

/// How far ahead of this server's clock another instance's may run: a
/// session dated further ahead is refused.
pub const CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

/// Whether `text` is a token: 1 to 64 letters, digits, `-` or `_`, the
/// form of a cookie name and of a session's attachment.
pub(crate) fn is_token(text: &str) -> bool {
    (1..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
