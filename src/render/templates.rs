//! The pages' handlebars templates, resolved once per language at ignition.
//!
//! The files in `template_dir` stay the source: at ignition each page
//! (`index`, `output`, `logout`, `error`) is registered once per language
//! as `PAGE.LANG`, with its partials spliced into `base` and every literal
//! text (`{{t "key"}}`) already written out, escaped; and once more as
//! `PAGE.LANG.notice`, with the `notice` partial spliced in too, for a
//! request that has a notice to show. What is left to evaluate per request
//! is only what changes per request: the name, the entries, the token, the
//! notice. Pages render from that one registry, kept in managed state,
//! with one context value.
//!
//! Editing a template and restarting changes the page; a template that
//! names a text no language has refuses the start.

use std::path::Path;

use rocket_dyn_templates::handlebars::Handlebars;
use serde::Serialize;

use super::i18n::{Catalog, Lang};
use crate::escape::escape;

/// A page the app renders; each uses `base` and may use the partials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageName {
    Index,
    Output,
    Logout,
    Error,
}

impl PageName {
    pub const ALL: [PageName; 4] = [
        PageName::Index,
        PageName::Output,
        PageName::Logout,
        PageName::Error,
    ];

    /// Its template file in `template_dir`, without `.html.hbs`.
    pub fn file(self) -> &'static str {
        match self {
            PageName::Index => "index",
            PageName::Output => "output",
            PageName::Logout => "logout",
            PageName::Error => "error",
        }
    }
}

/// The templates that are no page of their own: the frame and its parts.
const FRAME: [&str; 5] = ["base", "csrf_field", "notice", "field_error", "notice_text"];

/// Every template file the app needs in `template_dir`.
pub fn required() -> impl Iterator<Item = &'static str> {
    FRAME
        .into_iter()
        .chain(PageName::ALL.into_iter().map(PageName::file))
}

/// The name `page` is registered under in `lang`, with or without the
/// notice: `PAGE.LANG` or `PAGE.LANG.notice`.
fn registered_name(page: PageName, lang: Lang, notice: bool) -> String {
    let suffix = if notice { ".notice" } else { "" };
    format!("{}.{}{suffix}", page.file(), lang.code())
}

/// Where the name of `page` in `lang`, with or without the notice, is kept
/// in [`Built::names`].
fn slot(page: PageName, lang: Lang, notice: bool) -> usize {
    (page as usize * Lang::ALL.len() + lang as usize) * 2 + usize::from(notice)
}

/// A page's inline partials spliced into `base`, then the shared partials,
/// in this order: a partial may use those after it (`field_error` uses
/// `notice_text`, as does `notice`).
const PARTIALS: [&str; 3] = ["csrf_field", "field_error", "notice_text"];

/// Where `base` shows the one-time notice: the `notice` partial in a page
/// that has one to show, nothing in a page that has none, so that most
/// pages need not ask per request whether there is one.
const NOTICE: &str = "{{> notice}}";

fn read(dir: &Path, name: &str) -> Result<String, String> {
    let path = dir.join(format!("{name}.html.hbs"));
    std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// The `{{#*inline "NAME"}}…{{/inline}}` blocks of `source`, by name.
/// Kept rather than left to handlebars at render time: resolving pages once
/// at ignition is what bench/README.md measures as the render's largest win.
fn inline_blocks(source: &str) -> Result<Vec<(String, String)>, String> {
    const OPEN: &str = "{{#*inline \"";
    const CLOSE: &str = "{{/inline}}";
    let mut blocks = Vec::new();
    let mut rest = source;
    while let Some(start) = rest.find(OPEN) {
        let after = &rest[start + OPEN.len()..];
        let (name, body) = after
            .split_once("\"}}")
            .ok_or("an inline partial's name is not closed")?;
        let end = body.find(CLOSE).ok_or("an inline partial is not closed")?;
        blocks.push((name.to_owned(), body[..end].to_owned()));
        rest = &body[end + CLOSE.len()..];
    }
    Ok(blocks)
}

/// `source` with every `{{t "key"}}` replaced by the text, escaped, and
/// every `{{t expression}}` calling the language's own helper.
fn resolve_texts(source: &str, catalog: &Catalog, lang: Lang) -> Result<String, String> {
    const OPEN: &str = "{{t ";
    let mut out = String::with_capacity(source.len() * 2);
    let mut rest = source;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let end = after.find("}}").ok_or("a {{t …}} is not closed")?;
        let argument = after[..end].trim();
        match argument.strip_prefix('"').and_then(|a| a.strip_suffix('"')) {
            Some(key) => {
                let text = catalog.text(lang, key).ok_or_else(|| {
                    format!(
                        "the templates use the text `{key}`, which {} lacks",
                        lang.code()
                    )
                })?;
                out.push_str(&escape(text));
            }
            None => {
                out.push_str(&format!("{{{{{} {argument}}}}}", Catalog::helper(lang)));
            }
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `source` as a page without a notice renders it: each `{{#if notice}}A
/// {{else}}B{{/if}}` replaced by `B` (or nothing without an `{{else}}`), so
/// that the fields a notice may mark cost nothing on the other pages.
fn without_notice(source: &str) -> Result<String, String> {
    const OPEN: &str = "{{#if notice}}";
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let body = &rest[start + OPEN.len()..];
        // The `{{else}}` and `{{/if}}` of this block, past nested ones.
        let (mut depth, mut at, mut otherwise) = (0usize, 0, None);
        let end = loop {
            let next = body[at..]
                .find("{{")
                .ok_or("a {{#if notice}} is not closed")?
                + at;
            let tag = &body[next..];
            if tag.starts_with("{{#if") {
                depth += 1;
            } else if tag.starts_with("{{/if}}") {
                if depth == 0 {
                    break next;
                }
                depth -= 1;
            } else if tag.starts_with("{{else}}") && depth == 0 {
                otherwise = Some(next);
            }
            at = next + 2;
        };
        if let Some(otherwise) = otherwise {
            out.push_str(&body[otherwise + "{{else}}".len()..end]);
        }
        rest = &body[end + "{{/if}}".len()..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `source` with each `{{> NAME}}` of `partials` replaced by its body, in
/// their order.
fn splice(source: String, partials: &[(String, String)]) -> String {
    partials.iter().fold(source, |source, (name, body)| {
        source.replace(&format!("{{{{> {name}}}}}"), body)
    })
}

/// Every page in every language, without and with the notice, as
/// `(name, source)`: read from `dir` now, so an edited file counts from the
/// next start.
pub fn flatten(dir: &Path, catalog: &Catalog) -> Result<Vec<(String, String)>, String> {
    let base = read(dir, "base")?;
    if !base.contains(NOTICE) {
        return Err(format!("base: it has no `{NOTICE}`"));
    }
    let partials: Vec<(String, String)> = PARTIALS
        .iter()
        .map(|name| Ok((name.to_string(), read(dir, name)?.trim_end().to_owned())))
        .collect::<Result<_, String>>()?;
    let notice = splice(read(dir, "notice")?.trim_end().to_owned(), &partials);
    let mut pages = Vec::new();
    for page in PageName::ALL {
        let file = page.file();
        let blocks = inline_blocks(&read(dir, file)?).map_err(|e| format!("{file}: {e}"))?;
        // The page's blocks first: they may use the shared partials.
        let source = splice(splice(base.clone(), &blocks), &partials);
        let plain = without_notice(
            &source
                .replace(&format!("{NOTICE}\n"), "")
                .replace(NOTICE, ""),
        )
        .map_err(|e| format!("{file}: {e}"))?;
        let with_notice = source.replace(NOTICE, &notice);
        for lang in Lang::ALL {
            for (has_notice, source) in [(false, &plain), (true, &with_notice)] {
                let resolved = resolve_texts(source, catalog, lang)
                    .map_err(|e| format!("{file}: {e}"))?
                    .replace("{{lang}}", lang.code());
                pages.push((registered_name(page, lang, has_notice), resolved));
            }
        }
    }
    Ok(pages)
}

/// Every page in every language, ready to render: one handlebars registry
/// holding only the resolved pages, and the name each is registered under,
/// by [`slot`].
pub struct Pages {
    registry: Handlebars<'static>,
    names: Vec<String>,
}

impl Pages {
    /// Reads the templates in `dir` and resolves every page in every
    /// language; an edited file counts from the next start.
    pub fn load(dir: &Path) -> Result<Pages, String> {
        let catalog = Catalog::load()?;
        let mut registry = Handlebars::new();
        // A typo in a template fails the render (and the tests) instead of
        // showing an empty string.
        registry.set_strict_mode(true);
        registry.register_escape_fn(escape);
        catalog.register(&mut registry);
        for (name, source) in flatten(dir, &catalog)? {
            registry
                .register_template_string(&name, source)
                .map_err(|e| format!("{name}: {e}"))?;
        }
        let mut names = vec![String::new(); PageName::ALL.len() * Lang::ALL.len() * 2];
        for page in PageName::ALL {
            for lang in Lang::ALL {
                for notice in [false, true] {
                    names[slot(page, lang, notice)] = registered_name(page, lang, notice);
                }
            }
        }
        Ok(Pages { registry, names })
    }

    /// Renders `page` in `lang` with `context`; `notice` says whether the
    /// context has a notice to show.
    pub fn render<C: Serialize>(
        &self,
        page: PageName,
        lang: Lang,
        notice: bool,
        context: &C,
    ) -> Result<Vec<u8>, String> {
        let mut html = Vec::with_capacity(8 * 1024);
        let name = &self.names[slot(page, lang, notice)];
        self.registry
            .render_to_write(name, context, &mut html)
            .map_err(|e| format!("{name}: {e}"))?;
        Ok(html)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_page_has_its_own_slot_and_name() {
        let mut slots = Vec::new();
        for page in PageName::ALL {
            for lang in Lang::ALL {
                let plain = format!("{}.{}", page.file(), lang.code());
                assert_eq!(registered_name(page, lang, false), plain);
                assert_eq!(registered_name(page, lang, true), format!("{plain}.notice"));
                slots.extend([slot(page, lang, false), slot(page, lang, true)]);
            }
        }
        slots.sort();
        assert_eq!(
            slots,
            (0..PageName::ALL.len() * Lang::ALL.len() * 2).collect::<Vec<_>>()
        );
    }

    #[test]
    fn inline_blocks_are_found_by_name() {
        let blocks = inline_blocks(
            "{{#*inline \"title\"}}T{{/inline}}\n{{#*inline \"content\"}}\n<p>{{x}}</p>\n{{/inline}}\n{{> base}}",
        )
        .unwrap();
        assert_eq!(
            blocks,
            [
                ("title".to_owned(), "T".to_owned()),
                ("content".to_owned(), "\n<p>{{x}}</p>\n".to_owned())
            ]
        );
        assert!(inline_blocks("{{#*inline \"x\"}}open").is_err());
    }

    #[test]
    fn literal_texts_are_written_out_and_escaped() {
        let catalog = Catalog::load().unwrap();
        let resolved = resolve_texts(
            "<h1>{{t \"title\"}}</h1>{{t notice.key}}",
            &catalog,
            Lang::Ja,
        )
        .unwrap();
        assert_eq!(resolved, "<h1>セッション確認</h1>{{t_ja notice.key}}");
        let missing = resolve_texts("{{t \"no_such_text\"}}", &catalog, Lang::En).unwrap_err();
        assert!(missing.contains("no_such_text"), "{missing}");
    }

    #[test]
    fn a_page_without_a_notice_keeps_only_the_else_branches() {
        let source = "a{{#if notice}}N{{#if notice.x}}X{{else}}Y{{/if}}{{else}}P{{/if}}b\
                      {{#if notice}}only{{/if}}c{{#if other}}o{{/if}}";
        assert_eq!(without_notice(source).unwrap(), "aPbc{{#if other}}o{{/if}}");
        assert!(without_notice("{{#if notice}}open").is_err());
    }

    #[test]
    fn every_page_flattens_in_every_language() {
        let catalog = Catalog::load().unwrap();
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/templates"));
        let pages = flatten(dir, &catalog).unwrap();
        assert_eq!(pages.len(), PageName::ALL.len() * Lang::ALL.len() * 2);
        for (name, source) in &pages {
            assert_eq!(
                source.contains("id=\"notice\""),
                name.ends_with(".notice"),
                "{name} shows the notice exactly when it is the notice variant"
            );
            assert!(!source.contains("{{> "), "{name} keeps a partial");
            assert!(!source.contains("{{t \""), "{name} keeps a literal text");
            assert!(
                !source.contains("{{#*inline"),
                "{name} keeps an inline block"
            );
        }
    }
}
