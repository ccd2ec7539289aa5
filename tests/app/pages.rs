//! Pages a person would want to use: no dead ends, a word on why a session
//! ended, a language switch, titles, accessible errors, readable times.

use crate::common;

use std::time::Duration;

use common::*;
use rocket::http::{Cookie, Header, Status};
use rocket::local::blocking::{Client, LocalResponse};
use rocket::uri;
use session_app::render::i18n::Lang;
use session_app::render::templates::PageName;
use session_app::routes;
use session_app::web::kept_pages::{KeptPages, RenderInputs};

#[test]
fn the_front_page_knows_who_is_logged_in() {
    let client = client();
    login(&client, "山田太郎");
    let page = html(&client, uri!(routes::index));
    assert!(
        page.contains("「山田太郎」としてログインしています。"),
        "{page}"
    );
    assert!(page.contains(r#"<a href="/output">セッション情報を見る</a>"#));
    assert!(page.contains(r#"<form method="post" action="/logout">"#));
    // Logging in as someone else is still offered.
    assert!(page.contains("別の名前でログインする"));
    assert!(page.contains(r#"<form method="post" action="/login""#));

    // Logged out, it is the plain login page.
    let anonymous = client_with(figment());
    let page = html(&anonymous, uri!(routes::index));
    assert!(page.contains("ログインしてください。"));
    assert!(!page.contains("としてログインしています"));
}

#[test]
fn get_login_sends_the_browser_to_the_form() {
    let client = client();
    let response = client.get(uri!(routes::login_page)).dispatch();
    assert_redirects_to(&response, uri!(routes::index));
}

/// The notice the login page shows now, if any (showing it uses it up).
fn notice_on_login_page(client: &Client) -> Option<String> {
    notice_in(&html(client, uri!(routes::index)))
}

#[test]
fn a_session_that_timed_out_is_explained_once() {
    let (client, clock) = client_with_timeouts(60, 600);
    login(&client, "太郎");
    clock.advance(Duration::from_secs(61));

    // The output page sends the browser to the login page, which says why.
    let response = client.get(uri!(routes::output)).dispatch();
    assert_redirects_to(&response, uri!(routes::index));
    drop(response);
    let notice = notice_on_login_page(&client).expect("a notice");
    assert!(notice.contains("一定時間が過ぎたため"), "{notice}");
    // Once.
    assert_eq!(notice_on_login_page(&client), None);
}

#[test]
fn a_session_ended_elsewhere_is_explained_on_the_login_page_itself() {
    let client = client();
    login(&client, "太郎");
    let copy = client.cookies().get(SESSION_COOKIE).unwrap().clone();
    post_form(&client, uri!(routes::logout), &[]);
    assert!(notice_on_login_page(&client).is_some_and(|n| n == "ログアウトしました。"));

    // A browser still holding the copy opens the login page.
    let page = client.get(uri!(routes::index)).cookie(copy).dispatch();
    let html = page.into_string().unwrap();
    assert!(
        html.contains("別の場所でログアウトしたため、このセッションは終了しました"),
        "{html}"
    );
}

/// Asserts that `response`, to a request with a session cookie that is no
/// session, sent the browser to the login page, which says so.
fn assert_explained_as_unreadable(client: &Client, response: LocalResponse<'_>) {
    assert_redirects_to(&response, uri!(routes::index));
    drop(response);
    let notice = notice_on_login_page(client).expect("a notice");
    assert!(notice.contains("読み取れなかった"), "{notice}");
}

#[test]
fn an_unreadable_cookie_is_explained() {
    let client = client();
    let response = output_with(&client, Cookie::new(SESSION_COOKIE, "garbage"));
    assert_explained_as_unreadable(&client, response);
}

#[test]
fn a_session_sealed_by_the_json_codec_is_explained_as_unreadable() {
    // What version 2 sealed, under the right key: after an upgrade the
    // person logs in again, told why.
    let client = client();
    let json = r#"{"v":2,"i":"00112233445566778899aabbccddeeff","c":1764090000000,"u":1764090000000,"e":{"name":"太郎"}}"#;
    let response = output_with_private(&client, Cookie::new(SESSION_COOKIE, json));
    assert_explained_as_unreadable(&client, response);
}

#[test]
fn the_forbidden_page_leads_back_to_a_fresh_form() {
    let client = client();
    let response = post_raw(&client, uri!(routes::login), &[("name", "太郎")]);
    assert_eq!(response.status(), Status::Forbidden);
    let html = response.into_string().unwrap();
    assert!(
        html.contains("<title>エラー：このフォームは期限切れです（403） – セッション確認</title>")
    );
    // Words first: the heading says what happened, the code comes second.
    assert!(
        html.contains("<h1>このフォームは期限切れです</h1>"),
        "{html}"
    );
    assert!(html.contains("何も変更されていません"), "{html}");
    assert!(
        !html.contains("読み込み直して"),
        "no advice to reload: {html}"
    );
    assert!(html.contains(r#"<a href="/">最初のページへ戻る</a>"#));
    // Where a fresh form does wait.
    assert!(token_in(&html_of_index(&client)).is_some());
}

fn html_of_index(client: &Client) -> String {
    html(client, uri!(routes::index))
}

#[test]
fn deleting_the_name_says_it_logs_out_before_and_after() {
    let client = client();
    login(&client, "太郎");
    let page = html(&client, uri!(routes::output));
    assert!(
        page.contains(r#"<button type="submit" name="key" value="name" class="danger">削除してログアウト</button>"#),
        "{page}"
    );
    let response = post_form(&client, uri!(routes::delete_key), &[("key", "name")]);
    assert_redirects_to(&response, uri!(routes::index));
    drop(response);
    let page = html_of_index(&client);
    assert!(
        page.contains(r#"role="status" tabindex="-1" autofocus>名前を削除しました。ログアウトした状態です。</p>"#),
        "{page}"
    );
}

#[test]
fn every_page_has_its_own_title() {
    let client = client();
    let title = |html: &str| {
        let start = html.find("<title>").unwrap() + "<title>".len();
        html[start..start + html[start..].find("</title>").unwrap()].to_owned()
    };
    assert_eq!(
        title(&html(&client, uri!(routes::index))),
        "ログイン – セッション確認"
    );
    login(&client, "太郎");
    assert_eq!(
        title(&html(&client, uri!(routes::output))),
        "セッション情報 – セッション確認"
    );
    assert_eq!(
        title(&html(&client, uri!(routes::logout_page))),
        "ログアウト – セッション確認"
    );
    let missing = client.get("/nope").dispatch().into_string().unwrap();
    assert_eq!(
        title(&missing),
        "エラー：ページが見つかりません（404） – セッション確認"
    );
    let english = client
        .get(uri!(routes::output))
        .header(Header::new("Accept-Language", "en"))
        .dispatch()
        .into_string()
        .unwrap();
    assert_eq!(title(&english), "Session information – Session check");
    let missing = client
        .get("/nope")
        .header(Header::new("Accept-Language", "en"))
        .dispatch()
        .into_string()
        .unwrap();
    assert_eq!(
        title(&missing),
        "Error: Page not found (404) – Session check"
    );
    // A page that shows a refusal says so first, too.
    let refused = post_form(&client, uri!(routes::login), &[("name", " ")]);
    assert_eq!(refused.status(), rocket::http::Status::SeeOther);
    drop(refused);
    assert_eq!(
        title(&html(&client, uri!(routes::index))),
        "エラー：ログイン – セッション確認"
    );
}

#[test]
fn a_refused_name_marks_the_field_and_keeps_it_when_only_too_long() {
    let client = client();
    let long = "あ".repeat(101);
    login(&client, &long);
    let page = html_of_index(&client);
    assert!(
        page.contains(r#"aria-invalid="true" aria-describedby="name-hint name-error""#),
        "{page}"
    );
    // The reason, right above the field, says it is an error to a reader.
    let reason = r#"<p id="name-error" class="field-error"><span class="visually-hidden">エラー：</span>名前は100文字以内で入力してください。</p>"#;
    let at = page.find(reason).unwrap_or_else(|| panic!("{page}"));
    assert!(at < page.find(r#"id="name""#).unwrap());
    assert!(
        page.contains(&format!(r#"value="{long}""#)),
        "kept for shortening"
    );
    // The notice at the top is the summary: it takes the focus, and links
    // to the field.
    assert!(
        page.contains(r##"<p id="notice" class="notice notice-error" role="alert" tabindex="-1" autofocus><a href="#name">"##),
        "{page}"
    );
    assert!(!page.contains(r#"size="40" autocomplete="username" aria-invalid="true" aria-describedby="name-hint name-error" autofocus"#));

    // Refused for another reason: marked, not kept.
    login(&client, "a\u{1}b");
    let html = html_of_index(&client);
    assert!(html.contains(r#"aria-invalid="true""#));
    // The name field's own tag: the CSRF token, which may start with `a`
    // too, is another input's value.
    let name_field = &html[html.find(r#"id="name""#).unwrap()..];
    let name_field = &name_field[..name_field.find('>').unwrap()];
    assert!(!name_field.contains("value="), "{html}");

    // Then a fresh form: nothing marked.
    let html = html_of_index(&client);
    assert!(!html.contains("aria-invalid"));
    assert!(html.contains(r#"aria-describedby="name-hint""#));
}

#[test]
fn the_login_time_is_readable_and_exact() {
    let client = client();
    login(&client, "太郎");
    let session = session_of(&client).unwrap();
    let instant = session.entries()["logged_in_at"].clone();
    let page = html(&client, uri!(routes::output));
    let japanese = session_app::render::i18n::Lang::Ja
        .readable_instant(&instant)
        .unwrap();
    assert!(
        page.contains(&format!(r#"<time datetime="{instant}">{japanese}</time>"#)),
        "{page}"
    );
    assert!(japanese.ends_with("（日本時間）"));
    let english = client
        .get(uri!(routes::output))
        .header(Header::new("Accept-Language", "en"))
        .dispatch()
        .into_string()
        .unwrap();
    assert!(english.contains(&format!(r#"<time datetime="{instant}">"#)));
    assert!(english.contains(" UTC</time>"), "{english}");
}

#[test]
fn every_page_links_to_the_other_language() {
    let client = client();
    login(&client, "太郎");
    for path in logged_in_pages() {
        let page = html(&client, path.clone());
        assert!(
            page.contains(r#"<a href="/lang/en" hreflang="en" lang="en">English</a>"#),
            "{path}"
        );
    }
    let missing = client.get("/nope").dispatch().into_string().unwrap();
    assert!(missing.contains(r#"href="/lang/en""#));
    let english = client
        .get(uri!(routes::index))
        .header(Header::new("Accept-Language", "en"))
        .dispatch()
        .into_string()
        .unwrap();
    assert!(english.contains(r#"<a href="/lang/ja" hreflang="ja" lang="ja">日本語</a>"#));
}

#[test]
fn the_language_link_remembers_the_choice_and_goes_back() {
    let client = client();
    login(&client, "太郎");

    // From the output page of this site: back to it, in English.
    let response = client
        .get(uri!(session_app::routes::switch_language("en")))
        .header(Header::new("Host", "localhost"))
        .header(Header::new("Referer", "http://localhost/output?x=1"))
        .dispatch();
    assert_redirects_to(&response, uri!(routes::output));
    let cookie = set_cookie(&response, LANG_COOKIE).expect("the choice is kept");
    for attribute in [
        "en",
        "HttpOnly",
        "SameSite=Lax",
        "Path=/",
        "Max-Age=31536000",
    ] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    drop(response);

    // The choice beats Accept-Language, and Vary says pages depend on both.
    let page = client
        .get(uri!(routes::output))
        .header(Header::new("Accept-Language", "ja"))
        .dispatch();
    assert_eq!(
        page.headers().get_one("Vary"),
        Some("Accept-Language, Cookie")
    );
    assert!(page.into_string().unwrap().contains(r#"<html lang="en">"#));

    // From another site, or with no Referer: to the front page.
    for referer in [
        Some("https://evil.example/output"),
        Some("//evil.example/x"),
        None,
    ] {
        let mut request = client
            .get(uri!(session_app::routes::switch_language("ja")))
            .header(Header::new("Host", "localhost"));
        if let Some(referer) = referer {
            request = request.header(Header::new("Referer", referer));
        }
        let response = request.dispatch();
        assert_redirects_to(&response, uri!(routes::index));
    }
    assert!(html(&client, uri!(routes::index)).contains(r#"<html lang="ja">"#));

    // An unknown language is a 404.
    let response = client
        .get(uri!(session_app::routes::switch_language("fr")))
        .dispatch();
    assert_eq!(response.status(), Status::NotFound);
}

#[test]
fn behind_tls_the_language_cookie_is_secure_too() {
    let client = client_with(figment().merge(("session_cookie_secure", true)));
    let response = client
        .get(uri!(session_app::routes::switch_language("en")))
        .dispatch();
    let cookie = set_cookie(&response, &secure(LANG_COOKIE)).expect("__Host-lang");
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[test]
fn wrong_methods_on_known_paths_say_what_works() {
    let client = client();
    let response = client.put(uri!(routes::login)).dispatch();
    assert_eq!(response.status(), Status::MethodNotAllowed);
    assert_eq!(response.headers().get_one("Allow"), Some("GET, HEAD, POST"));
    let html = response.into_string().unwrap();
    assert!(html.contains("このアドレスはページのフォーム専用のため、直接は開けません。ページに戻り、ボタンから操作してください。"));
    let response = client.delete(uri!(routes::output)).dispatch();
    assert_eq!(response.status(), Status::MethodNotAllowed);
    assert_eq!(response.headers().get_one("Allow"), Some("GET, HEAD"));
}

#[test]
fn the_language_link_of_an_error_page_leads_to_a_page() {
    let client = client();
    // A stale form's 403 is shown at the form's address, which only takes
    // a POST: the link goes to the front page instead of a 405.
    let response = client
        .get(uri!(session_app::routes::switch_language("en")))
        .header(Header::new("Host", "localhost"))
        .header(Header::new("Referer", "http://localhost/session/set"))
        .dispatch();
    assert_redirects_to(&response, uri!(routes::index));
    drop(response);
    assert_eq!(
        client.get(uri!(routes::index)).dispatch().status(),
        Status::Ok
    );
}

#[test]
fn the_first_page_says_what_the_app_shows() {
    let client = client();
    let ja = html(&client, uri!(routes::index));
    assert!(ja.contains("名前は何でもかまいません。"), "{ja}");
    assert!(ja.contains("暗号化されたクッキー"), "{ja}");
    let en = client
        .get(uri!(routes::index))
        .header(Header::new("Accept-Language", "en"))
        .dispatch()
        .into_string()
        .unwrap();
    assert!(en.contains("Any name will do."), "{en}");
    assert!(en.contains("encrypted cookie in this browser"), "{en}");
}

#[test]
fn every_page_has_one_filled_button_at_most() {
    let client = client();
    // A button without a class of its own is filled (the page's main
    // action); secondary and danger ones are outlined.
    let filled = |html: &str| {
        html.matches("<button ")
            .zip(html.split("<button ").skip(1))
            .filter(|(_, rest)| {
                let tag = &rest[..rest.find('>').unwrap()];
                !tag.contains("class=")
            })
            .count()
    };
    assert_eq!(
        filled(&html(&client, uri!(routes::index))),
        1,
        "anonymous front page"
    );
    login(&client, "太郎");
    for page in [
        uri!(routes::index),
        uri!(routes::output),
        uri!(routes::logout_page),
    ] {
        assert_eq!(filled(&html(&client, page.clone())), 1, "{page}");
    }
    // A success notice takes the focus to be read out, without a ring.
    let css = client
        .get("/static/app.css")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(css.contains(".notice-ok:focus, .notice-ok:focus-visible { outline: none; }"));
}

/// The session page as a person sees it while the session changes: shown
/// again unchanged, it is the same page (kept, not rendered again); after
/// each change, and in the other language, it is the page of the session
/// as it is now.
#[test]
fn the_session_page_follows_every_change_of_its_session() {
    let client = client();
    login(&client, "太郎");
    let output = || html(&client, uri!(routes::output));
    let first = output();
    assert_eq!(output(), first, "a reload shows the same page");
    // It was kept, for this session, language and token.
    let kept = client.rocket().state::<KeptPages>().expect("managed");
    let (record, token) = (session_of(&client).unwrap(), token_in(&first).unwrap());
    let shown = RenderInputs {
        page: PageName::Output,
        lang: Lang::Ja,
        record: &record,
        token: &token,
    };
    assert_eq!(kept.get(&shown).as_deref(), Some(first.as_bytes()));

    // An entry set: its notice once, the entry on every view after it.
    post_form(
        &client,
        uri!(routes::set_entry),
        &[("key", "color"), ("value", "青")],
    );
    assert!(notice_in(&output()).is_some());
    let with_entry = output();
    assert_eq!(notice_in(&with_entry), None, "a notice shows once");
    assert!(with_entry.contains("<code>color</code>"), "{with_entry}");
    assert_eq!(output(), with_entry);

    // The other language, for the same session.
    client.get(uri!(routes::switch_language("en"))).dispatch();
    let english = output();
    assert!(english.contains(r#"<html lang="en">"#), "{english}");
    assert!(english.contains("<code>color</code>"));
    client.get(uri!(routes::switch_language("ja"))).dispatch();
    assert_eq!(output(), with_entry);

    // The entry deleted: gone from the page.
    post_form(&client, uri!(routes::delete_key), &[("key", "color")]);
    output();
    assert!(!output().contains("<code>color</code>"));

    // Another login, then a logout: the page is the new session's, then
    // none at all, and the logout dropped the page kept for it.
    login(&client, "花子");
    let other = output();
    assert!(other.contains("花子") && !other.contains("太郎"), "{other}");
    let (record, token) = (session_of(&client).unwrap(), token_in(&other).unwrap());
    let shown = RenderInputs {
        record: &record,
        token: &token,
        ..shown
    };
    assert!(kept.get(&shown).is_some());
    post_form(&client, uri!(routes::logout), &[]);
    assert_eq!(kept.get(&shown), None);
    let response = client.get(uri!(routes::output)).dispatch();
    assert_redirects_to(&response, uri!(routes::index));
}

/// Deleting the name ends the login, and drops the page kept for it.
#[test]
fn deleting_the_name_drops_the_kept_page() {
    let client = client();
    login(&client, "太郎");
    let page = html(&client, uri!(routes::output));
    let (record, token) = (session_of(&client).unwrap(), token_in(&page).unwrap());
    let kept = client.rocket().state::<KeptPages>().expect("managed");
    let shown = RenderInputs {
        page: PageName::Output,
        lang: Lang::Ja,
        record: &record,
        token: &token,
    };
    assert!(kept.get(&shown).is_some());
    post_form(&client, uri!(routes::delete_key), &[("key", "name")]);
    assert_eq!(kept.get(&shown), None);
}
