//! One-time notices: what the next page says once after a form, carried in
//! a sealed cookie so that nobody without the key can forge or read one.

use rocket::http::uri::Origin;
use rocket::request::Request;
use rocket::response::{self, Redirect, Responder};

use rocket_sealed_sessions::cookie::{Lifetime, Opened};
use rocket_sealed_sessions::{Durability, Ended};

use crate::cookies;
use crate::text::Refusal;

/// Declares [`Notice`] and its text keys in one list, so that a new notice
/// cannot be left out of [`Notice::ALL`] (which the cookie reader trusts).
macro_rules! notices {
    ($($(#[$doc:meta])* $variant:ident => $key:literal,)*) => {
        /// A notice shown once, on the next page or on this one.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Notice {
            $($(#[$doc])* $variant,)*
        }

        impl Notice {
            /// Every notice, in declaration order.
            pub const ALL: &'static [Notice] = &[$(Notice::$variant,)*];

            /// The text key in `src/render/i18n/*.toml`.
            pub fn key(self) -> &'static str {
                match self {
                    $(Notice::$variant => $key,)*
                }
            }
        }
    };
}

notices! {
    NameEmpty => "flash_name_empty",
    NameTooLong => "flash_name_too_long",
    NameControl => "flash_name_control",
    NameReordering => "flash_name_reordering",
    LoggedOut => "flash_logged_out",
    /// Logged out in this browser, but the revocation could not be stored.
    LogoutNotStored => "flash_logout_not_stored",
    NameDeleted => "flash_name_deleted",
    EntryDeleted => "flash_entry_deleted",
    EntryMissing => "flash_entry_missing",
    EntryAdded => "flash_entry_added",
    EntryReplaced => "flash_entry_replaced",
    EntryKeyInvalid => "flash_entry_key_invalid",
    EntryReserved => "flash_entry_reserved",
    EntryTooMany => "flash_entry_too_many",
    EntryTooBig => "flash_entry_too_big",
    ValueEmpty => "flash_value_empty",
    ValueTooLong => "flash_value_too_long",
    ValueControl => "flash_value_control",
    ValueReordering => "flash_value_reordering",
    SessionTimedOut => "flash_session_timed_out",
    SessionEndedElsewhere => "flash_session_ended_elsewhere",
    SessionUnreadable => "flash_session_unreadable",
}

/// Which field a refused text was typed into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Name,
    Value,
}

impl Notice {
    /// Whether it reports a refusal (shown as an alert) rather than news.
    pub fn is_error(self) -> bool {
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
    pub fn field(self) -> Option<&'static str> {
        match self {
            Notice::NameEmpty
            | Notice::NameTooLong
            | Notice::NameControl
            | Notice::NameReordering => Some("name"),
            Notice::EntryKeyInvalid | Notice::EntryReserved => Some("key"),
            Notice::ValueEmpty
            | Notice::ValueTooLong
            | Notice::ValueControl
            | Notice::ValueReordering
            | Notice::EntryTooBig
            | Notice::EntryTooMany => Some("value"),
            _ => None,
        }
    }

    /// The one mapping from a refused text to what the person is told.
    pub fn refused(field: Field, refusal: Refusal) -> Notice {
        match (field, refusal) {
            (Field::Name, Refusal::Empty) => Notice::NameEmpty,
            (Field::Name, Refusal::TooLong) => Notice::NameTooLong,
            (Field::Name, Refusal::Control) => Notice::NameControl,
            (Field::Name, Refusal::Reordering) => Notice::NameReordering,
            (Field::Value, Refusal::Empty) => Notice::ValueEmpty,
            (Field::Value, Refusal::TooLong) => Notice::ValueTooLong,
            (Field::Value, Refusal::Control) => Notice::ValueControl,
            (Field::Value, Refusal::Reordering) => Notice::ValueReordering,
        }
    }

    /// What tells a person that the session they had is gone, and why.
    pub fn ended(ended: Ended) -> Notice {
        match ended {
            Ended::TimedOut => Notice::SessionTimedOut,
            Ended::Revoked => Notice::SessionEndedElsewhere,
            Ended::Unreadable => Notice::SessionUnreadable,
        }
    }

    /// `self`, or what tells the person that their logout could not be
    /// recorded, when the store could not keep it.
    pub fn unless_unstored(self, durability: Durability) -> Notice {
        match durability.is_stored() {
            true => self,
            false => Notice::LogoutNotStored,
        }
    }

    /// Redirects to `to`, showing this notice there once.
    pub fn redirect(self, to: Origin<'static>) -> NoticeRedirect {
        self.leaving(Left::default(), to)
    }

    /// Redirects to `to`, showing this notice there once with `detail`:
    /// for a notice about the name, the text typed, given back; for a
    /// notice about an entry, its key.
    pub fn redirect_with(self, detail: &str, to: Origin<'static>) -> NoticeRedirect {
        let left = Left {
            detail: Some(detail.to_owned()),
            ..Left::default()
        };
        self.leaving(left, to)
    }

    /// Redirects to `to`, showing this notice there once with what `left`
    /// gives back to the page.
    pub fn leaving(self, left: Left, to: Origin<'static>) -> NoticeRedirect {
        NoticeRedirect {
            notice: Some(self),
            left,
            to: Redirect::to(to),
        }
    }

    /// The notice a notice cookie names: only the exact keys the app writes.
    fn from_key(value: &str) -> Option<Notice> {
        Notice::ALL
            .iter()
            .copied()
            .find(|notice| notice.key() == value)
    }
}

/// What a notice gives back to the page that shows it.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Left {
    /// The name typed, or the entry named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The entry form's key and value as typed, for a refused entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<(String, String)>,
    /// Bytes left in the session cookie, for an entry too big.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<usize>,
}

/// The notice cookie's value: the notice and what it gives back.
#[derive(serde::Serialize, serde::Deserialize)]
struct Sealed {
    notice: String,
    #[serde(flatten)]
    left: Left,
}

/// A redirect that may leave a [`Notice`] for the next page.
pub struct NoticeRedirect {
    notice: Option<Notice>,
    left: Left,
    to: Redirect,
}

impl NoticeRedirect {
    /// To `to`, saying why the session the request carried ended, if it
    /// did.
    pub fn ended(ended: Option<Ended>, to: Origin<'static>) -> NoticeRedirect {
        NoticeRedirect {
            notice: ended.map(Notice::ended),
            left: Left::default(),
            to: Redirect::to(to),
        }
    }
}

impl<'r> Responder<'r, 'static> for NoticeRedirect {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        if let Some(notice) = self.notice {
            leave(req, notice, self.left);
        }
        self.to.respond_to(req)
    }
}

/// Leaves `notice` for the next page to show once, with what it gives
/// back (sealed: never readable or forgeable by anyone without the key).
fn leave(req: &Request<'_>, notice: Notice, left: Left) {
    let settings = cookies::settings(req);
    let sealed = Sealed {
        notice: notice.key().to_owned(),
        left,
    };
    let value = serde_json::to_string(&sealed).expect("BUG: a notice always serializes");
    settings.rules.seal(
        req.cookies(),
        &settings.flash,
        value,
        Lifetime::BrowserSession,
    );
}

/// Takes the pending notice, if the request carries one of ours, with
/// what it gives back: the cookie is removed, so it is shown once. A cookie
/// no key opens, or that names no notice, is removed and is no notice.
pub fn take(req: &Request<'_>) -> Option<(Notice, Left)> {
    let settings = cookies::settings(req);
    let jar = req.cookies();
    let opened = settings.rules.open(jar, &settings.flash);
    if opened != Opened::Missing {
        settings.rules.discard(jar, &settings.flash);
    }
    let (Opened::Current(value) | Opened::Fallback(value)) = opened else {
        return None;
    };
    let sealed: Sealed = serde_json::from_str(&value).ok()?;
    Some((Notice::from_key(&sealed.notice)?, sealed.left))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::i18n::{Catalog, Lang};

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
        for notice in Notice::ALL.iter().copied() {
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
