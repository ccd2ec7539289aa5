//! The frame of every page: its language, the CSRF token for its forms, a
//! one-time notice, and the HTML response with its security headers.

use std::convert::Infallible;
use std::io::Cursor;
use std::sync::Arc;

use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};
use rocket::response::{self, Responder};
use rocket::Response;
use serde::Serialize;

use super::csrf::CsrfToken;
use super::kept_pages::{Context, KeptPages, RenderInputs};
use super::notices::{self, Left, Notice};
use super::{headers, lang};
use crate::render::i18n::Lang;
use crate::render::templates::{PageName, Pages};
use rocket_sealed_sessions::{Record, Session};

/// The frame of a page: its language and pending notice.
pub struct Page<'r> {
    pages: &'r Pages,
    lang: Lang,
    notice: Option<(Notice, Left)>,
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
    /// The field the notice is about: marked invalid, described by it.
    field: Option<&'static str>,
    name_invalid: bool,
    key_invalid: bool,
    value_invalid: bool,
    /// The name typed, given back.
    kept: Option<String>,
    /// The entry form's key and value as typed, given back.
    kept_key: Option<String>,
    kept_value: Option<String>,
    /// Bytes left in the session cookie, and how many characters like the
    /// widest one typed still fit in them.
    room: Option<usize>,
    room_chars: Option<usize>,
    /// The entry the notice is about.
    subject: Option<String>,
}

impl NoticeView {
    fn of(notice: Notice, left: Left) -> NoticeView {
        let field = notice.field();
        let named = matches!(
            notice,
            Notice::EntryAdded | Notice::EntryReplaced | Notice::EntryDeleted
        );
        let (kept_key, kept_value) = left.entry.unzip();
        let widest = kept_value
            .as_deref()
            .and_then(|value| value.chars().map(char::len_utf8).max())
            .unwrap_or(1);
        NoticeView {
            key: notice.key(),
            error: notice.is_error(),
            field,
            name_invalid: field == Some("name"),
            key_invalid: field == Some("key"),
            value_invalid: field == Some("value"),
            kept: left.detail.clone().filter(|_| field == Some("name")),
            kept_key,
            kept_value,
            room: left.room,
            room_chars: left.room.map(|room| room / widest),
            subject: left.detail.filter(|_| named),
        }
    }
}

fn pages<'r>(req: &'r Request<'_>) -> &'r Pages {
    req.rocket()
        .state::<Pages>()
        .expect("BUG: the pages are managed at ignition")
}

impl<'r> Page<'r> {
    /// A page in the language `req` asks for, without a notice (for
    /// catchers, which must not consume one meant for the next page).
    pub fn plain(req: &'r Request<'_>) -> Page<'r> {
        Page {
            pages: pages(req),
            lang: lang::of(req),
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
        let rendered = self.pages.render(
            page,
            self.lang,
            self.notice.is_some(),
            &Frame {
                csrf: csrf.map(CsrfToken::as_str),
                notice: self
                    .notice
                    .map(|(notice, left)| NoticeView::of(notice, left)),
                content,
            },
        );
        Html(rendered.map(Body::Rendered).map_err(|e| {
            rocket::error!("rendering {page:?} failed: {e}");
            Status::InternalServerError
        }))
    }

    /// Renders `page` of the live session `record` as [`Page::render`]
    /// does, with the context `context` builds from the record and the
    /// language, unless [`KeptPages`] has it, rendered from the same
    /// record, language and token: then no context is built. A page with
    /// a notice is rendered each time, and not kept.
    pub fn render_kept(
        self,
        kept: &KeptPages,
        record: &Record,
        page: PageName,
        csrf: &CsrfToken,
        context: Context,
    ) -> Html {
        if self.notice.is_some() {
            let content = context(record, self.lang);
            return self.render(page, Some(csrf), content);
        }
        let inputs = RenderInputs {
            page,
            lang: self.lang,
            record,
            token: csrf.as_str(),
        };
        if let Some(body) = kept.get(&inputs) {
            return Html(Ok(Body::Kept(body)));
        }
        let html = self.render(page, Some(csrf), context(record, inputs.lang));
        if let Ok(Body::Rendered(body)) = &html.0 {
            kept.keep(&inputs, body);
        }
        html
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Page<'r> {
    type Error = Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Infallible> {
        // Every page applies the session rules: a dead cookie is removed
        // and an active session renewed, whatever the page shows.
        let ended = Session::apply_rules(req);
        // Shown once, or never if it is not one of ours.
        let notice = notices::take(req)
            .or_else(|| ended.map(|ended| (Notice::ended(ended), Left::default())));
        Outcome::Success(Page {
            pages: pages(req),
            lang: lang::of(req),
            notice,
        })
    }
}

/// A rendered page, or the status it failed with.
pub struct Html(Result<Body, Status>);

/// A page's bytes: rendered for this request, or kept from an earlier one.
enum Body {
    Rendered(Vec<u8>),
    Kept(Arc<[u8]>),
}

impl AsRef<[u8]> for Body {
    fn as_ref(&self) -> &[u8] {
        match self {
            Body::Rendered(bytes) => bytes,
            Body::Kept(bytes) => bytes,
        }
    }
}

impl<'r> Responder<'r, 'static> for Html {
    /// The page with its own headers: the type, written as it stands rather
    /// than formatted, and the security headers ([`headers::secure_page`]).
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let body = self.0?;
        let mut response = Response::build()
            .raw_header("Content-Type", "text/html; charset=utf-8")
            .sized_body(body.as_ref().len(), Cursor::new(body))
            .finalize();
        headers::secure_page(req, &mut response);
        Ok(response)
    }
}
