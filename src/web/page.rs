//! What every page's template receives besides its own content: the language,
//! the CSRF token for its forms, and a one-time notice.

use std::convert::Infallible;

use rocket::request::{FromRequest, Outcome, Request};
use rocket::response::{self, Redirect, Responder};
use serde::Serialize;

use crate::csrf::CsrfToken;
use crate::i18n::Lang;
use crate::session::{cookies, Ended, RequestSession};
use crate::templates::{Html, PageName, Pages};

/// A notice shown once, on the next page or on this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    NameEmpty,
    NameTooLong,
    NameControl,
    NameReordering,
    LoggedOut,
    LogoutNotStored,
    NameDeleted,
    EntryDeleted,
    EntryMissing,
    EntryAdded,
    EntryReplaced,
    EntryKeyInvalid,
    EntryReserved,
    EntryTooMany,
    EntryTooBig,
    ValueEmpty,
    ValueTooLong,
    ValueControl,
    ValueReordering,
    SessionTimedOut,
    SessionEndedElsewhere,
    SessionUnreadable,
}

impl Notice {
    const ALL: [Notice; 22] = [
        Notice::NameEmpty,
        Notice::NameTooLong,
        Notice::NameControl,
        Notice::NameReordering,
        Notice::LoggedOut,
        Notice::LogoutNotStored,
        Notice::NameDeleted,
        Notice::EntryDeleted,
        Notice::EntryMissing,
        Notice::EntryAdded,
        Notice::EntryReplaced,
        Notice::EntryKeyInvalid,
        Notice::EntryReserved,
        Notice::EntryTooMany,
        Notice::EntryTooBig,
        Notice::ValueEmpty,
        Notice::ValueTooLong,
        Notice::ValueControl,
        Notice::ValueReordering,
        Notice::SessionTimedOut,
        Notice::SessionEndedElsewhere,
        Notice::SessionUnreadable,
    ];

    /// The text key in `src/i18n/*.toml`.
    pub fn key(self) -> &'static str {
        match self {
            Notice::NameEmpty => "flash_name_empty",
            Notice::NameTooLong => "flash_name_too_long",
            Notice::NameControl => "flash_name_control",
            Notice::NameReordering => "flash_name_reordering",
            Notice::LoggedOut => "flash_logged_out",
            Notice::LogoutNotStored => "flash_logout_not_stored",
            Notice::NameDeleted => "flash_name_deleted",
            Notice::EntryDeleted => "flash_entry_deleted",
            Notice::EntryMissing => "flash_entry_missing",
            Notice::EntryAdded => "flash_entry_added",
            Notice::EntryReplaced => "flash_entry_replaced",
            Notice::EntryKeyInvalid => "flash_entry_key_invalid",
            Notice::EntryReserved => "flash_entry_reserved",
            Notice::EntryTooMany => "flash_entry_too_many",
            Notice::EntryTooBig => "flash_entry_too_big",
            Notice::ValueEmpty => "flash_value_empty",
            Notice::ValueTooLong => "flash_value_too_long",
            Notice::ValueControl => "flash_value_control",
            Notice::ValueReordering => "flash_value_reordering",
            Notice::SessionTimedOut => "flash_session_timed_out",
            Notice::SessionEndedElsewhere => "flash_session_ended_elsewhere",
            Notice::SessionUnreadable => "flash_session_unreadable",
        }
    }

    fn is_error(self) -> bool {
        !matches!(
            self,
            Notice::LoggedOut
                | Notice::NameDeleted
                | Notice::EntryDeleted
                | Notice::EntryAdded
                | Notice::EntryReplaced
        )
    }

    /// The form field the notice explains, if it is about one.
    fn field(self) -> Option<&'static str> {
        matches!(
            self,
            Notice::NameEmpty | Notice::NameTooLong | Notice::NameControl | Notice::NameReordering
        )
        .then_some("name")
    }

    /// What tells a person that the session they had is gone, and why.
    pub fn ended(ended: Ended) -> Notice {
        match ended {
            Ended::TimedOut => Notice::SessionTimedOut,
            Ended::Revoked => Notice::SessionEndedElsewhere,
            Ended::Unreadable => Notice::SessionUnreadable,
        }
    }

    /// Redirects to `to`, showing this notice there once.
    pub fn redirect(self, to: Redirect) -> NoticeRedirect {
        NoticeRedirect {
            notice: Some(self),
            detail: None,
            to,
        }
    }

    /// Redirects to `to`, showing this notice there once with `detail`:
    /// for a notice about a field, the text typed into it, given back; for
    /// a full cookie, the bytes left.
    pub fn redirect_with(self, detail: &str, to: Redirect) -> NoticeRedirect {
        NoticeRedirect {
            notice: Some(self),
            detail: Some(detail.to_owned()),
            to,
        }
    }

    /// The notice a notice cookie names: only the exact keys the app writes.
    fn from_key(value: &str) -> Option<Notice> {
        Notice::ALL.into_iter().find(|notice| notice.key() == value)
    }
}

/// A redirect that may leave a [`Notice`] for the next page.
pub struct NoticeRedirect {
    notice: Option<Notice>,
    detail: Option<String>,
    to: Redirect,
}

impl NoticeRedirect {
    /// Back to the login page, saying why the session the request carried
    /// ended, if it did.
    pub fn to_login(ended: Option<Ended>) -> NoticeRedirect {
        NoticeRedirect {
            notice: ended.map(Notice::ended),
            detail: None,
            to: Redirect::to(rocket::uri!(crate::routes::index)),
        }
    }
}

impl<'r> Responder<'r, 'static> for NoticeRedirect {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        if let Some(notice) = self.notice {
            cookies::set_notice(req, notice.key(), self.detail.as_deref());
        }
        self.to.respond_to(req)
    }
}

/// The frame of a page: its language and pending notice.
pub struct Page<'r> {
    pages: &'r Pages,
    lang: Lang,
    notice: Option<(Notice, Option<String>)>,
}

#[derive(Serialize)]
struct Frame<'a, C: Serialize> {
    csrf: Option<&'a str>,
    // Left out when there is none. The notice partial, the only place that
    // prints it, is spliced into the notice variants alone; elsewhere pages
    // test it only with `{{#if}}`, which strict mode lets read a missing value.
    #[serde(skip_serializing_if = "Option::is_none")]
    notice: Option<NoticeView>,
    #[serde(flatten)]
    content: C,
}

#[derive(Serialize)]
struct NoticeView {
    key: &'static str,
    error: bool,
    /// The field the notice is about, and the text given back into it.
    field: Option<&'static str>,
    kept: Option<String>,
    /// Bytes left in the session cookie, for a refusal that says so.
    room: Option<String>,
}

fn pages<'r>(req: &'r Request<'_>) -> &'r Pages {
    req.rocket()
        .state::<Pages>()
        .expect("BUG: the pages are managed when the app is built")
}

impl<'r> Page<'r> {
    /// A page in the language `req` asks for, without a notice (for
    /// catchers, which must not consume one meant for the next page).
    pub fn plain(req: &'r Request<'_>) -> Page<'r> {
        Page {
            pages: pages(req),
            lang: Lang::of(req),
            notice: None,
        }
    }

    /// The page's language.
    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// Renders `page` with `content`, and `csrf` for its forms.
    pub fn render<C: Serialize>(
        self,
        page: PageName,
        csrf: Option<&CsrfToken>,
        content: C,
    ) -> Html {
        self.pages.render(
            page,
            self.lang,
            self.notice.is_some(),
            &Frame {
                csrf: csrf.map(CsrfToken::as_str),
                notice: self.notice.map(|(notice, detail)| {
                    let field = notice.field();
                    let (kept, room) = match notice {
                        Notice::EntryTooBig => (None, detail),
                        _ if field.is_some() => (detail, None),
                        _ => (None, None),
                    };
                    NoticeView {
                        key: notice.key(),
                        error: notice.is_error(),
                        field,
                        kept,
                        room,
                    }
                }),
                content,
            },
        )
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Page<'r> {
    type Error = Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Infallible> {
        // Every page applies the session rules: a dead cookie is removed
        // and an active session renewed, whatever the page shows.
        let ended = RequestSession::apply_rules(req);
        // Shown once, or never if it is not one of ours.
        let left = cookies::take_notice(req)
            .and_then(|(key, kept)| Notice::from_key(&key).map(|notice| (notice, kept)));
        let notice = left.or_else(|| ended.map(|ended| (Notice::ended(ended), None)));
        Outcome::Success(Page {
            pages: pages(req),
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
