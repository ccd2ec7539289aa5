//! What a person may type into a field that the app stores and shows back:
//! the rules for names, entry keys and values, and the largest form they
//! make, kept in one place.

/// The longest accepted name, in Unicode scalar values.
pub const MAX_NAME_CHARS: usize = 100;

/// The longest accepted entry value, in Unicode scalar values.
pub const MAX_VALUE_CHARS: usize = 200;

/// The longest key the set-entry form accepts.
pub const MAX_SET_KEY_CHARS: usize = 32;

/// The largest form the app's own pages send: the set-entry form with the
/// longest key and value, every character four UTF-8 bytes, each byte
/// percent-encoded, plus the other fields. `limits.form` must allow it.
pub const LARGEST_FORM_BYTES: u64 = (MAX_VALUE_CHARS * 4 * 3 + MAX_SET_KEY_CHARS * 3 + 256) as u64;

/// Whether `key` may be set through the form: 1 to 32 ASCII letters,
/// digits, `_` or `-` (the session's own keys are refused separately).
pub fn is_settable_key(key: &str) -> bool {
    (1..=MAX_SET_KEY_CHARS).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Why a piece of text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Nothing visible: empty, or only spaces and invisible characters.
    Empty,
    /// More characters than allowed.
    TooLong,
    /// A control character (tab, newline, NUL, …).
    Control,
    /// A character that reorders or breaks the text around it where it is
    /// shown: bidirectional overrides and isolates, line and paragraph
    /// separators.
    Reordering,
}

/// Compares keys as a person counts: runs of digits by their value, so
/// `s2` comes before `s10`; the rest byte by byte.
pub fn natural_order(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let digits = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_digit()).count();
                let (da, db) = (digits(a), digits(b));
                // Leading zeros do not count; then the longer run is larger.
                let significant = |n: &[u8]| {
                    let zeros = n.iter().take_while(|c| **c == b'0').count();
                    n[zeros..].to_vec()
                };
                let (na, nb) = (significant(&a[..da]), significant(&b[..db]));
                let order = na.len().cmp(&nb.len()).then(na.cmp(&nb)).then(da.cmp(&db));
                if order != Ordering::Equal {
                    return order;
                }
                (a, b) = (&a[da..], &b[db..]);
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                (a, b) = (&a[1..], &b[1..]);
            }
        }
    }
}

/// Checks `raw`: trimmed of surrounding white space, at least one visible
/// character, at most `max_chars` characters, no control characters and no
/// reordering ones. Returns the trimmed text.
pub fn check(raw: &str, max_chars: usize) -> Result<&str, Refusal> {
    // Before trimming: a separator at either end would be trimmed away
    // silently, yet it was sent, and it is refused wherever it stands.
    if raw.chars().any(reorders) {
        return Err(Refusal::Reordering);
    }
    let text = raw.trim();
    if text.chars().all(is_invisible) {
        Err(Refusal::Empty)
    } else if text.chars().count() > max_chars {
        Err(Refusal::TooLong)
    } else if text.chars().any(char::is_control) {
        Err(Refusal::Control)
    } else {
        Ok(text)
    }
}

/// Bidirectional embeddings, overrides and isolates, and the line and
/// paragraph separators.
fn reorders(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
}

/// White space, and the characters that show nothing on their own: format
/// characters (zero-width spaces and joiners, the byte-order mark, the soft
/// hyphen, direction marks…), fillers, blanks and variation selectors.
fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{2800}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF0}'..='\u{FFFB}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_as_a_person_counts() {
        let mut keys = vec!["s10", "s2", "s1", "b", "a10b", "a9b", "s02", "color"];
        keys.sort_by(|a, b| natural_order(a, b));
        assert_eq!(
            keys,
            ["a9b", "a10b", "b", "color", "s1", "s2", "s02", "s10"]
        );
    }

    #[test]
    fn real_names_pass() {
        for name in [
            "山田 太郎",
            "José",
            "O'Brien",
            "ｶﾀｶﾅ",
            "👩\u{200D}💻",
            "Zoë",
            "a",
        ] {
            assert_eq!(check(name, 100), Ok(name), "{name}");
        }
        assert_eq!(check("  山田太郎\u{3000}", 100), Ok("山田太郎"));
    }

    #[test]
    fn nothing_visible_is_empty() {
        for blank in [
            "",
            " \t ",
            "\u{200B}",
            "\u{FEFF}",
            "\u{00AD}",
            " \u{200B}\u{200C}\u{200D} ",
            "\u{2060}\u{3164}",
            "\u{FE0F}",
        ] {
            assert_eq!(check(blank, 100), Err(Refusal::Empty), "{blank:?}");
        }
    }

    #[test]
    fn reordering_characters_are_refused_anywhere() {
        for bad in [
            "abc\u{202E}def",
            "\u{2066}x\u{2069}",
            "a\u{202A}",
            "x\u{2028}y",
            "name\u{2029}",
            "\u{2028}",
        ] {
            assert_eq!(check(bad, 100), Err(Refusal::Reordering), "{bad:?}");
        }
    }

    #[test]
    fn length_and_control_characters() {
        assert_eq!(check(&"字".repeat(100), 100), Ok(&*"字".repeat(100)));
        assert_eq!(check(&"字".repeat(101), 100), Err(Refusal::TooLong));
        assert_eq!(check("a\u{7}b", 100), Err(Refusal::Control));
        assert_eq!(check("a\nb", 100), Err(Refusal::Control));
    }
}
