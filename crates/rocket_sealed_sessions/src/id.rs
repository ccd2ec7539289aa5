//! A session's identifier: what a revocation names.

use std::fmt;

use rand::RngCore;

/// 128 random bits, drawn when a session starts and kept in the sealed
/// cookie. Revocation names a session by it. Its `Debug` shows no digits,
/// so an identifier never reaches a log by accident.
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
        hex(&self.0)
    }

    /// Reads 32 lowercase hex digits, as [`SessionId::to_hex`] writes them.
    ///
    /// ```
    /// use rocket_sealed_sessions::SessionId;
    ///
    /// let id = SessionId::random();
    /// assert_eq!(SessionId::from_hex(&id.to_hex()), Some(id));
    /// assert_eq!(SessionId::from_hex("not hex"), None);
    /// ```
    pub fn from_hex(text: &str) -> Option<SessionId> {
        // Read on every request: into the array, without an allocation.
        let digits = text.as_bytes();
        if digits.len() != 32 {
            return None;
        }
        let mut bytes = [0u8; 16];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
        }
        Some(SessionId(bytes))
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(..)")
    }
}

/// `bytes` as lowercase hex digits.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    // Bytes, then one check: `String::push` encodes each char as UTF-8.
    let mut hex = Vec::with_capacity(2 * bytes.len());
    for byte in bytes {
        hex.push(DIGITS[usize::from(byte >> 4)]);
        hex.push(DIGITS[usize::from(byte & 0xf)]);
    }
    String::from_utf8(hex).expect("BUG: hex digits are ASCII")
}

/// Lowercase hex digits, as [`hex`] writes them, back into bytes.
pub(crate) fn from_hex(text: &str) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks_exact(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

/// One lowercase hex digit's value.
fn nibble(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(SessionId::from_hex("0011"), None);
        assert_eq!(format!("{id:?}"), "SessionId(..)");
    }

    #[test]
    fn every_id_is_its_own() {
        assert_ne!(SessionId::random(), SessionId::random());
    }
}
