//! Japanese by default, English where the client prefers it.

use crate::common;

use common::*;
use rocket::http::uri::Origin;
use rocket::http::{Header, Status};
use rocket::local::blocking::Client;
use rocket::uri;
use session_app::routes;

fn page(
    client: &Client,
    path: &Origin<'_>,
    accept_language: Option<&str>,
) -> (Option<String>, String) {
    let mut request = client.get(path.to_string());
    if let Some(value) = accept_language {
        request = request.header(Header::new("Accept-Language", value.to_owned()));
    }
    let response = request.dispatch();
    let vary = response.headers().get_one("Vary").map(str::to_owned);
    (vary, response.into_string().unwrap())
}

#[test]
fn the_client_chooses_the_language() {
    let cases = [
        (None, "ja"),
        (Some("en-US,en;q=0.9"), "en"),
        (Some("fr-FR,en;q=0.5"), "en"),
        (Some("de"), "ja"),
        (Some("ja,en-US;q=0.8"), "ja"),
    ];
    let client = client();
    for (header, lang) in cases {
        let (vary, html) = page(&client, &uri!(routes::index), header);
        assert!(
            html.contains(&format!(r#"<html lang="{lang}">"#)),
            "{header:?}"
        );
        assert_eq!(vary.as_deref(), Some("Accept-Language, Cookie"));
        let heading = if lang == "en" {
            "Please log in."
        } else {
            "ログインしてください。"
        };
        assert!(html.contains(heading), "{header:?}");
    }
}

#[test]
fn every_page_speaks_english_when_asked() {
    let client = client();
    let en = Some("en");
    login(&client, "Taro");

    let (_, output) = page(&client, &uri!(routes::output), en);
    assert!(output.contains("<title>Session information – Session check</title>"));
    assert!(
        output.contains("<h1>Session information: “Taro”</h1>"),
        "{output}"
    );
    assert!(output.contains(">Delete</button>") && output.contains(">Log out</button>"));
    assert!(!output.contains("ログ"));

    let (_, logout) = page(&client, &uri!(routes::logout_page), en);
    assert!(logout.contains("Log out?"));

    let (_, missing) = page(&client, &uri!("/nope"), en);
    assert!(missing.contains("Page not found.") && missing.contains("Back to the start"));

    // Flash messages too.
    post_form(&client, uri!(routes::login), &[("name", " ")]);
    let (_, flashed) = page(&client, &uri!(routes::index), en);
    assert_eq!(alert_in(&flashed), Some("Please enter a name."));
}

#[test]
fn japanese_pages_carry_no_english_texts() {
    let client = client();
    login(&client, "太郎");
    for path in every_page() {
        let (_, html) = page(&client, &path, Some("de,ja;q=0.2"));
        assert!(html.contains(r#"<html lang="ja">"#), "{path}");
        for english in ["Log in", "Log out", "Delete", "Session", "Page not found"] {
            assert!(!html.contains(english), "{path}: {english}");
        }
    }
}

#[test]
fn forbidden_pages_are_translated() {
    let client = client();
    let response = client
        .post(uri!(routes::logout))
        .header(rocket::http::ContentType::Form)
        .header(Header::new("Accept-Language", "en"))
        .body("csrf_token=forged")
        .dispatch();
    assert_eq!(response.status(), Status::Forbidden);
    assert!(response
        .into_string()
        .unwrap()
        .contains("Start again from the first page, where a fresh form waits."));
}

#[test]
fn both_languages_have_the_same_texts() {
    use figment::providers::{Format, Toml};
    use std::collections::BTreeMap;

    let read = |file: &str| -> BTreeMap<String, String> {
        let path = format!("{}/src/render/i18n/{file}", env!("CARGO_MANIFEST_DIR"));
        figment::Figment::from(Toml::file(path)).extract().unwrap()
    };
    let (ja, en) = (read("ja.toml"), read("en.toml"));
    let only_ja: Vec<_> = ja.keys().filter(|k| !en.contains_key(*k)).collect();
    let only_en: Vec<_> = en.keys().filter(|k| !ja.contains_key(*k)).collect();
    assert!(only_ja.is_empty(), "missing in en.toml: {only_ja:?}");
    assert!(only_en.is_empty(), "missing in ja.toml: {only_en:?}");
    assert!(ja.len() > 30);

    // And the app refuses to start with a catalog that differs: it loads.
    let catalog = session_app::render::i18n::Catalog::load().expect("the texts load");
    assert_eq!(catalog.texts(session_app::render::i18n::Lang::En), &en);
}

/// Any Hiragana, Katakana, CJK ideograph or full-width punctuation, outside
/// text marked `lang="ja"` on purpose (the link to the Japanese pages,
/// named in Japanese).
fn japanese_in(html: &str) -> Option<char> {
    let mut rest = html;
    let mut outside = String::new();
    while let Some(start) = rest.find(r#"lang="ja">"#) {
        outside.push_str(&rest[..start]);
        rest = &rest[start..];
        rest = &rest[rest.find('<').unwrap_or(rest.len())..];
    }
    outside.push_str(rest);
    outside
        .chars()
        .find(|c| matches!(*c as u32, 0x3000..=0x30FF | 0x4E00..=0x9FFF | 0xFF00..=0xFFEF))
}

#[test]
fn nothing_japanese_is_left_on_english_pages() {
    let client = client();
    let en = Some("en-US,en;q=0.9");
    let check = |client: &Client, path: Origin<'_>| {
        let (_, html) = page(client, &path, en);
        assert_eq!(japanese_in(&html), None, "{path}: {html}");
        html
    };

    // Every notice, each on the page it leads to.
    type Fields<'a> = &'a [(&'a str, &'a str)];
    let notices: [(Origin<'static>, Fields<'_>, &str); 5] = [
        (uri!(routes::login), &[("name", "")], "Please enter a name."),
        (
            uri!(routes::login),
            &[("name", &"x".repeat(101))],
            "at most 100 characters",
        ),
        (
            uri!(routes::login),
            &[("name", "a\u{1}b")],
            "control characters",
        ),
        (
            uri!(routes::delete_key),
            &[("key", "nope")],
            "no such entry",
        ),
        (uri!(routes::logout), &[], "You have logged out."),
    ];
    for (path, fields, text) in notices {
        post_form(&client, path.clone(), fields);
        let html = check(&client, uri!(routes::index));
        assert!(html.contains(text), "{path} {fields:?}: {html}");
    }
    login(&client, "Taro");
    post_form(
        &client,
        uri!(routes::delete_key),
        &[("key", "logged_in_at")],
    );
    assert!(check(&client, uri!(routes::output))
        .contains("Deleted from the session: <code>logged_in_at</code>"));

    // Every page and error page.
    for path in every_page() {
        check(&client, path);
    }
    // Error pages too: forged token, oversize, wrong type, not UTF-8.
    for (content_type, body) in [
        (
            rocket::http::ContentType::Form,
            b"csrf_token=forged".to_vec(),
        ),
        (rocket::http::ContentType::Form, vec![b'a'; 5000]),
        (rocket::http::ContentType::JSON, b"{}".to_vec()),
        (rocket::http::ContentType::Form, b"name=\xff".to_vec()),
    ] {
        let response = client
            .post(uri!(routes::login))
            .header(content_type)
            .header(Header::new("Accept-Language", "en"))
            .body(body)
            .dispatch();
        assert!(response.status().class().is_client_error());
        let html = response.into_string().unwrap();
        assert_eq!(japanese_in(&html), None, "{html}");
        assert!(html.contains("Back to the start"));
    }
}

#[test]
fn the_language_link_goes_back_over_http2_too() {
    // HTTP/2 sends no `Host`: the page the link came from is recognised by
    // the request's `:authority`. (Cleartext HTTP/2, as the app serves it.)
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    let server = common::server::Server::start(&[]);
    let runtime = rocket::tokio::runtime::Runtime::new().unwrap();
    let (version, status, location) = runtime.block_on(async {
        let client = Client::builder(TokioExecutor::new())
            .http2_only(true)
            .build_http::<String>();
        let request =
            http::Request::get(server.url(uri!(session_app::routes::switch_language("en"))))
                .header("Referer", server.url(uri!(routes::output)))
                .body(String::new())
                .unwrap();
        let response = client.request(request).await.unwrap();
        let location = response.headers().get("Location").cloned();
        (response.version(), response.status(), location)
    });
    assert_eq!(version, http::Version::HTTP_2);
    assert_eq!(status.as_u16(), 303);
    assert_eq!(
        location.unwrap().to_str().unwrap(),
        uri!(routes::output).to_string()
    );
}
