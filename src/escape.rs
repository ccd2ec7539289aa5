//! HTML escaping: the one rule every page's text goes through.

/// The bytes [`escape`] replaces, looked up rather than compared one by one.
const SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    let bytes = b"<>\"&'`=";
    while i < bytes.len() {
        table[bytes[i] as usize] = true;
        i += 1;
    }
    table
};

/// HTML-escapes `text` exactly as handlebars does (`<`, `>`, `"`, `&`, `'`,
/// `` ` `` and `=`), but in one pass over the bytes into one allocation of
/// the right size: most values (tokens, names) need no escaping at all.
pub fn escape(text: &str) -> String {
    let count = text.bytes().filter(|b| SPECIAL[usize::from(*b)]).count();
    if count == 0 {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 5 * count);
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        let entity = match b {
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'&' => "&amp;",
            b'\'' => "&#x27;",
            b'`' => "&#x60;",
            b'=' => "&#x3D;",
            _ => continue,
        };
        out.push_str(&text[start..i]);
        out.push_str(entity);
        start = i + 1;
    }
    out.push_str(&text[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_matches_handlebars() {
        for text in [
            "",
            "plain",
            "山田太郎",
            "<b>&\"'`=</b>",
            "a<b",
            "=",
            "x & y & z",
            "👩\u{200D}💻<",
            &(0..=127u8).map(char::from).collect::<String>(),
        ] {
            assert_eq!(
                escape(text),
                rocket_dyn_templates::handlebars::html_escape(text),
                "{text}"
            );
        }
    }
}
