//! What every page's template receives besides its own content: the language,
//! the CSRF token for its forms, and a one-time flash notice.

use std::convert::Infallible;

use rocket::request::{FromRequest, Outcome, Request};
use rocket::response::{self, Redirect, Responder};
use rocket_dyn_templates::Template;
use serde::Serialize;

use crate::csrf::CsrfToken;
use crate::i18n::Lang;
use crate::session::{cookies, RequestSession};

/// The templates the app renders (`templates/NAME.html.hbs`); the app
/// refuses to start without any of them.
pub const TEMPLATES: [&str; 6] = ["base", "csrf_field", "index", "output", "logout", "error"];

/// A notice shown once on the next page, kept as its text key (never free
/// text: the notice cookie is not encrypted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    NameEmpty,
    NameTooLong,
    NameControl,
    NameReordering,
    LoggedOut,
    EntryDeleted,
    EntryMissing,
}

impl Notice {
    const ALL: [Notice; 7] = [
        Notice::NameEmpty,
        Notice::NameTooLong,
        Notice::NameControl,
        Notice::NameReordering,
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
            Notice::NameReordering => "flash_name_reordering",
            Notice::LoggedOut => "flash_logged_out",
            Notice::EntryDeleted => "flash_entry_deleted",
            Notice::EntryMissing => "flash_entry_missing",
        }
    }

    fn is_error(self) -> bool {
        matches!(
            self,
            Notice::NameEmpty
                | Notice::NameTooLong
                | Notice::NameControl
                | Notice::NameReordering
                | Notice::EntryMissing
        )
    }

    /// Redirects to `to`, showing this notice there once.
    pub fn redirect(self, to: Redirect) -> NoticeRedirect {
        NoticeRedirect { notice: self, to }
    }

    /// The notice a notice cookie holds: only the exact keys the app writes.
    fn from_key(value: &str) -> Option<Notice> {
        Notice::ALL.into_iter().find(|notice| notice.key() == value)
    }
}

/// A redirect that leaves a [`Notice`] for the next page.
pub struct NoticeRedirect {
    notice: Notice,
    to: Redirect,
}

impl<'r> Responder<'r, 'static> for NoticeRedirect {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        cookies::set_notice(req, self.notice.key());
        self.to.respond_to(req)
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
        // Every page applies the session rules: a dead cookie is removed
        // and an active session renewed, whatever the page shows.
        RequestSession::apply_rules(req);
        // Shown once, or never if it is not one of ours.
        let notice = cookies::take_notice(req).and_then(|key| Notice::from_key(&key));
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
    fn foreign_notice_cookies_are_no_notice() {
        for value in [
            "",
            "1:%E3%81%82x",
            "1:\u{3042}x",
            "7:errorflash_name_empty",
            "5:errorflash_name_empty",
            "flash_name_empty_",
            "FLASH_NAME_EMPTY",
            ":",
        ] {
            assert_eq!(Notice::from_key(value), None, "{value:?}");
        }
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
            assert_eq!(Notice::from_key(notice.key()), Some(notice));
        }
    }
}
