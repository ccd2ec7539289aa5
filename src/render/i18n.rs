//! Japanese and English: choosing the language from `Accept-Language`, and
//! the texts, kept in one file per language (`src/render/i18n/*.toml`).

use std::collections::BTreeMap;
use std::sync::Arc;

use figment::providers::{Format, Toml};
use figment::Figment;
use rocket_dyn_templates::handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, Output, RenderContext, RenderErrorReason,
};

/// A language the pages are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Japanese, the tutorial's language and the default.
    #[default]
    Ja,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Ja, Lang::En];

    /// The BCP 47 tag, as written in `<html lang>`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    /// The language written `code` (`ja`, `en`).
    pub fn from_code(code: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|lang| lang.code() == code)
    }

    /// English where the client prefers it to Japanese (by `q` weight),
    /// Japanese otherwise, including on ties and on headers we cannot read.
    pub fn negotiate(accept_language: Option<&str>) -> Lang {
        let (mut ja, mut en, mut any) = (None, None, None);
        for item in accept_language.unwrap_or("").split(',') {
            let mut parts = item.split(';');
            let range = parts.next().unwrap_or("").trim();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1.0), |q| {
                    q.trim()
                        .parse::<f32>()
                        .ok()
                        .filter(|q| (0.0..=1.0).contains(q))
                });
            let Some(q) = q else { continue };
            let primary = range.split('-').next().unwrap_or("");
            let slot = if primary.eq_ignore_ascii_case("ja") {
                &mut ja
            } else if primary.eq_ignore_ascii_case("en") {
                &mut en
            } else if primary == "*" {
                &mut any
            } else {
                continue;
            };
            *slot = Some(slot.map_or(q, |old: f32| old.max(q)));
        }
        let weight = |lang: Option<f32>| lang.or(any).unwrap_or(0.0);
        if weight(en) > weight(ja) {
            Lang::En
        } else {
            Lang::Ja
        }
    }
}

impl Lang {
    /// `rfc3339`, a UTC instant, as a person reads it in this language:
    /// Japanese in Japan's time, English in UTC, each saying which. Written
    /// digit by digit: the session page shows one on every request, and the
    /// formatting machinery costs more than the parse.
    pub fn readable_instant(self, rfc3339: &str) -> Option<String> {
        use rocket::time::format_description::well_known::Rfc3339;
        use rocket::time::{OffsetDateTime, UtcOffset};
        let instant = OffsetDateTime::parse(rfc3339, &Rfc3339).ok()?;
        let mut out = String::with_capacity(48);
        match self {
            Lang::Ja => {
                let jst = instant.to_offset(UtcOffset::from_hms(9, 0, 0).ok()?);
                push_number(&mut out, jst.year().unsigned_abs(), 1);
                out.push('年');
                push_number(&mut out, u8::from(jst.month()).into(), 1);
                out.push('月');
                push_number(&mut out, jst.day().into(), 1);
                out.push_str("日 ");
                push_clock(&mut out, jst.hour(), jst.minute());
                out.push_str("（日本時間）");
            }
            Lang::En => {
                let utc = instant.to_offset(UtcOffset::UTC);
                push_number(&mut out, utc.day().into(), 1);
                out.push(' ');
                out.push_str(MONTHS[usize::from(u8::from(utc.month())) - 1]);
                out.push(' ');
                push_number(&mut out, utc.year().unsigned_abs(), 1);
                out.push_str(", ");
                push_clock(&mut out, utc.hour(), utc.minute());
                out.push_str(" UTC");
            }
        }
        Some(out)
    }
}

/// The months as English writes them, January first.
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// `n` in decimal, zero-padded to at least `width` digits.
fn push_number(out: &mut String, mut n: u32, width: usize) {
    let mut digits = [b'0'; 10];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    start = start.min(digits.len() - width.min(digits.len()));
    // One slice, as the session crate's codec writes its numbers: char by
    // char, each push encodes a char as UTF-8.
    out.push_str(std::str::from_utf8(&digits[start..]).expect("BUG: digits are ASCII"));
}

/// `HH:MM`.
fn push_clock(out: &mut String, hour: u8, minute: u8) {
    push_number(out, hour.into(), 2);
    out.push(':');
    push_number(out, minute.into(), 2);
}

const SOURCES: [(Lang, &str); 2] = [
    (Lang::Ja, include_str!("i18n/ja.toml")),
    (Lang::En, include_str!("i18n/en.toml")),
];

/// Every text of every language, by key. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Catalog(Arc<[BTreeMap<String, String>; 2]>);

impl Catalog {
    /// The texts compiled into the app; see [`Catalog::parse`].
    pub fn load() -> Result<Catalog, String> {
        Catalog::parse(SOURCES)
    }

    /// Parses one TOML text per language; refuses a catalog where one
    /// language lacks a key that another has.
    pub fn parse(sources: [(Lang, &str); 2]) -> Result<Catalog, String> {
        let parse = |(lang, source): (Lang, &str)| {
            Figment::from(Toml::string(source))
                .extract::<BTreeMap<String, String>>()
                .map_err(|e| format!("texts for {}: {e}", lang.code()))
        };
        let [ja, en] = sources;
        let tables = [parse(ja)?, parse(en)?];
        for (lang, table) in Lang::ALL.iter().zip(&tables) {
            for other in &tables {
                if let Some(key) = other.keys().find(|key| !table.contains_key(*key)) {
                    return Err(format!("text `{key}` is missing for {}", lang.code()));
                }
            }
        }
        Ok(Catalog(Arc::new(tables)))
    }

    /// All texts of `lang`.
    pub fn texts(&self, lang: Lang) -> &BTreeMap<String, String> {
        &self.0[lang as usize]
    }

    /// One text of `lang`, if the key exists.
    pub fn text(&self, lang: Lang, key: &str) -> Option<&str> {
        self.texts(lang).get(key).map(String::as_str)
    }

    /// The helper that writes a text of `lang` chosen at render time
    /// (`{{t_ja notice.key}}`), HTML-escaped.
    pub fn helper(lang: Lang) -> &'static str {
        match lang {
            Lang::Ja => "t_ja",
            Lang::En => "t_en",
        }
    }

    /// Registers one [`Catalog::helper`] per language. An unknown key fails
    /// the render rather than showing nothing, so tests catch it.
    pub fn register(&self, handlebars: &mut Handlebars<'_>) {
        for lang in Lang::ALL {
            let texts = Texts {
                catalog: self.clone(),
                lang,
            };
            handlebars.register_helper(Catalog::helper(lang), Box::new(texts));
        }
    }
}

/// The texts of one language, as a handlebars helper.
struct Texts {
    catalog: Catalog,
    lang: Lang,
}

impl HelperDef for Texts {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let key = h
            .param(0)
            .and_then(|p| p.value().as_str())
            .ok_or(RenderErrorReason::ParamNotFoundForIndex("t", 0))?;
        let text = self
            .catalog
            .text(self.lang, key)
            .ok_or_else(|| RenderErrorReason::Other(format!("no text `{key}`")))?;
        out.write(&crate::escape::escape(text))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        let cases = [
            (None, Lang::Ja),
            (Some(""), Lang::Ja),
            (Some("en-US,en;q=0.9"), Lang::En),
            (Some("fr-FR,en;q=0.5"), Lang::En),
            (Some("de"), Lang::Ja),
            (Some("ja,en;q=0.9"), Lang::Ja),
            (Some("en;q=0.5,ja;q=0.5"), Lang::Ja),
            (Some("en;q=0.4,ja;q=0.5"), Lang::Ja),
            (Some("ja;q=0.1,EN-gb;q=0.2"), Lang::En),
            (Some("*"), Lang::Ja),
            (Some("*;q=0.5,ja;q=0.1"), Lang::En),
            (Some("en;q=bogus"), Lang::Ja),
            (Some("en;q=7"), Lang::Ja),
            (Some(",,;;q=,"), Lang::Ja),
        ];
        for (header, lang) in cases {
            assert_eq!(Lang::negotiate(header), lang, "{header:?}");
        }
    }

    #[test]
    fn instants_read_in_each_language() {
        let instant = "2026-11-25T17:05:00Z";
        assert_eq!(
            Lang::Ja.readable_instant(instant).as_deref(),
            Some("2026年11月26日 02:05（日本時間）")
        );
        assert_eq!(
            Lang::En.readable_instant(instant).as_deref(),
            Some("25 November 2026, 17:05 UTC")
        );
        assert_eq!(Lang::En.readable_instant("yesterday"), None);
    }

    #[test]
    fn instants_read_as_the_formatter_would_write_them() {
        use rocket::time::format_description::well_known::Rfc3339;
        use rocket::time::{OffsetDateTime, UtcOffset};
        // From the epoch to year 9999, in uneven steps that reach every
        // month, hour and minute.
        for step in 0..20_000i64 {
            let instant = OffsetDateTime::from_unix_timestamp(step * 12_622_813 + step % 60)
                .unwrap()
                .format(&Rfc3339)
                .unwrap();
            let parsed = OffsetDateTime::parse(&instant, &Rfc3339).unwrap();
            let jst = parsed.to_offset(UtcOffset::from_hms(9, 0, 0).unwrap());
            let utc = parsed.to_offset(UtcOffset::UTC);
            assert_eq!(
                Lang::Ja.readable_instant(&instant).unwrap(),
                format!(
                    "{}年{}月{}日 {:02}:{:02}（日本時間）",
                    jst.year(),
                    u8::from(jst.month()),
                    jst.day(),
                    jst.hour(),
                    jst.minute()
                )
            );
            assert_eq!(
                Lang::En.readable_instant(&instant).unwrap(),
                format!(
                    "{} {} {}, {:02}:{:02} UTC",
                    utc.day(),
                    utc.month(),
                    utc.year(),
                    utc.hour(),
                    utc.minute()
                )
            );
        }
    }

    #[test]
    fn a_text_missing_from_one_language_is_refused() {
        let refused = Catalog::parse([
            (Lang::Ja, "title = \"題\"\nonly_ja = \"だけ\""),
            (Lang::En, "title = \"Title\""),
        ])
        .unwrap_err();
        assert_eq!(refused, "text `only_ja` is missing for en");
    }

    #[test]
    fn every_key_exists_in_every_language() {
        let catalog = Catalog::load().expect("catalog loads");
        let [ja, en] = &*catalog.0;
        let ja_keys: Vec<_> = ja.keys().collect();
        let en_keys: Vec<_> = en.keys().collect();
        assert_eq!(ja_keys, en_keys);
        assert!(ja
            .values()
            .chain(en.values())
            .all(|text| !text.trim().is_empty()));
        assert_eq!(catalog.text(Lang::Ja, "title"), Some("セッション確認"));
    }
}
