//! What every page's template receives besides its own content: the language,
//! the CSRF token for its forms, and a one-time flash notice.

use std::convert::Infallible;

use rocket::request::{FromRequest, Outcome, Request};
use rocket::response::{Flash, Redirect};
use rocket_dyn_templates::Template;
use serde::Serialize;

use crate::csrf::CsrfToken;
use crate::guards::Sessions;
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

    fn kind(self) -> &'static str {
        if self.is_error() {
            "error"
        } else {
            "success"
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
        Flash::new(to, self.kind(), self.key())
    }

    /// The notice a flash cookie holds, compared whole with what
    /// [`Notice::redirect`] writes. Rocket's own `FlashMessage` is not used
    /// to read it: it slices the cookie by a length the client controls,
    /// and panics when that length splits a multi-byte character.
    fn from_flash(value: &str) -> Option<Notice> {
        Notice::ALL.into_iter().find(|notice| {
            let kind = notice.kind();
            value
                .strip_prefix(&format!("{}:{kind}", kind.len()))
                .is_some_and(|key| key == notice.key())
        })
    }
}

/// The cookie Rocket's `Flash` responder writes.
const FLASH_COOKIE: &str = "_flash";

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
        // Opening the session applies its rules on every page: a bad cookie
        // is removed, an active session renewed.
        let _ = Sessions::of(req);
        let jar = req.cookies();
        let notice = jar
            .get(FLASH_COOKIE)
            .map(|cookie| Notice::from_flash(cookie.value()));
        if notice.is_some() {
            // Shown once, or never if it was not ours.
            jar.remove(FLASH_COOKIE);
        }
        Outcome::Success(Page {
            lang: Lang::of(req),
            notice: notice.flatten(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Catalog;

    #[test]
    fn foreign_flash_cookies_are_no_notice() {
        for value in [
            "",
            "1:%E3%81%82x",
            "1:\u{3042}x",
            "7:errorflash_name_empty",
            "7:successflash_name_empty",
            "99:x",
            ":",
        ] {
            assert_eq!(Notice::from_flash(value), None, "{value:?}");
        }
        assert_eq!(Notice::from_flash("5:errorflash_name_empty_"), None);
    }

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
            let written = format!("{}:{}{}", notice.kind().len(), notice.kind(), notice.key());
            assert_eq!(Notice::from_flash(&written), Some(notice));
        }
    }
}
