//! What every page's template receives besides its own content: the language,
//! the CSRF token for its forms, and a one-time flash notice.

use std::convert::Infallible;

use rocket::request::{FlashMessage, FromRequest, Outcome, Request};
use rocket::response::{Flash, Redirect};
use rocket_dyn_templates::Template;
use serde::Serialize;

use crate::csrf::CsrfToken;
use crate::i18n::Lang;

/// A notice shown once on the next page, as a text key (never free text,
/// since the flash cookie is not encrypted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    NameEmpty,
    NameTooLong,
    NameControl,
    LoggedOut,
    EntryDeleted,
    EntryMissing,
}

impl Notice {
    const ALL: [Notice; 6] = [
        Notice::NameEmpty,
        Notice::NameTooLong,
        Notice::NameControl,
        Notice::LoggedOut,
        Notice::EntryDeleted,
        Notice::EntryMissing,
    ];

    /// The text key in `src/i18n/*.toml`.
    pub fn key(self) -> &'static str {
        match self {
            Notice::NameEmpty => "flash_name_empty",
            Notice::NameTooLong => "flash_name_too_long",
            Notice::NameControl => "flash_name_control",
            Notice::LoggedOut => "flash_logged_out",
            Notice::EntryDeleted => "flash_entry_deleted",
            Notice::EntryMissing => "flash_entry_missing",
        }
    }

    fn is_error(self) -> bool {
        matches!(
            self,
            Notice::NameEmpty | Notice::NameTooLong | Notice::NameControl | Notice::EntryMissing
        )
    }

    /// Redirects to `to`, showing this notice there once.
    pub fn redirect(self, to: Redirect) -> Flash<Redirect> {
        let kind = if self.is_error() { "error" } else { "success" };
        Flash::new(to, kind, self.key())
    }

    fn from_key(key: &str) -> Option<Notice> {
        Notice::ALL.into_iter().find(|notice| notice.key() == key)
    }
}

/// The frame of a page: its language and pending notice.
pub struct Page {
    lang: Lang,
    notice: Option<Notice>,
}

#[derive(Serialize)]
struct Frame<'a, C: Serialize> {
    lang: &'static str,
    csrf: Option<&'a str>,
    notice: Option<NoticeView>,
    #[serde(flatten)]
    content: C,
}

#[derive(Serialize)]
struct NoticeView {
    key: &'static str,
    error: bool,
}

impl Page {
    /// A page in the language `req` asks for, without a notice (for
    /// catchers, which must not consume one meant for the next page).
    pub fn plain(req: &Request<'_>) -> Page {
        Page {
            lang: Lang::of(req),
            notice: None,
        }
    }

    /// Renders `template` with `content`, and `csrf` for its forms.
    pub fn render<C: Serialize>(
        self,
        template: &'static str,
        csrf: Option<&CsrfToken>,
        content: C,
    ) -> Template {
        Template::render(
            template,
            Frame {
                lang: self.lang.code(),
                csrf: csrf.map(CsrfToken::as_str),
                notice: self.notice.map(|n| NoticeView {
                    key: n.key(),
                    error: n.is_error(),
                }),
                content,
            },
        )
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Page {
    type Error = Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Infallible> {
        let flash = req
            .guard::<Option<FlashMessage<'_>>>()
            .await
            .succeeded()
            .flatten();
        let notice = flash.and_then(|flash| Notice::from_key(flash.message()));
        Outcome::Success(Page {
            lang: Lang::of(req),
            notice,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Catalog;

    #[test]
    fn every_notice_has_a_text() {
        let catalog = Catalog::load().unwrap();
        for notice in Notice::ALL {
            for lang in Lang::ALL {
                assert!(
                    catalog.text(lang, notice.key()).is_some(),
                    "{notice:?} in {lang:?}"
                );
            }
            assert_eq!(Notice::from_key(notice.key()), Some(notice));
        }
    }
}
