//! The tutorial's flow through Rocket's local client: log in, see the
//! session, delete one key, log out.

use crate::common;

use common::*;
use rocket::http::{ContentType, Status};
use rocket::uri;
use session_app::routes;

#[test]
fn login_page_is_the_tutorials() {
    let client = client();
    let page = client.get(uri!(routes::index)).dispatch();
    assert_eq!(page.status(), Status::Ok);
    let html = page.into_string().unwrap();
    assert!(html.contains(r#"<html lang="ja">"#));
    assert!(html.contains("<title>ログイン – セッション確認</title>"));
    assert!(html.contains("ログインしてください。"));
    assert!(html.contains(r#"<form method="post" action="/login""#));
    assert!(html.contains(r#"name="name""#));
    assert!(html.contains(r#"<label for="name">名前：</label>"#));
    assert!(html.contains(r#"<button type="submit">ログイン</button>"#));
    assert!(token_in(&html).is_some());
}

#[test]
fn login_keeps_the_trimmed_name_and_shows_it_escaped() {
    let client = client();

    // Log in.
    let response = login(&client, "  山田<b>太郎 ");
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response), uri!(routes::output).to_string());

    // The cookie holds a fresh session with the name and the login time.
    let session = session_of(&client).expect("a session cookie");
    assert_eq!(session.get("name"), Some("山田<b>太郎"));
    assert!(session.entries().contains_key("logged_in_at"));
    assert_eq!(session.created(), session.last_seen());

    // The output page shows it, escaped.
    let page = client.get(uri!(routes::output)).dispatch();
    assert_eq!(page.status(), Status::Ok);
    let html = page.into_string().unwrap();
    assert!(html.contains("<title>セッション情報 – セッション確認</title>"));
    assert!(
        html.contains("<h1>セッション情報：「山田&lt;b&gt;太郎」</h1>"),
        "{html}"
    );
    assert!(!html.contains("<b>太郎"));
}

#[test]
fn a_hundred_japanese_characters_are_a_name() {
    let client = client();
    let name = "あ".repeat(100);
    assert_eq!(
        location(&login(&client, &name)),
        uri!(routes::output).to_string()
    );
    assert_eq!(
        session_of(&client).unwrap().get("name"),
        Some(name.as_str())
    );
}

#[test]
fn bad_names_flash_once_and_log_nobody_in() {
    let cases = [
        ("", "名前を入力してください。"),
        (" \u{3000}\t ", "名前を入力してください。"),
        (&*"あ".repeat(101), "名前は100文字以内で入力してください。"),
        ("山田\u{0}太郎", "名前に制御文字は使えません。"),
        ("a\nb", "名前に制御文字は使えません。"),
    ];
    for (name, message) in cases {
        let client = client();
        let response = login(&client, name);
        assert_eq!(response.status(), Status::SeeOther, "{name:?}");
        assert_eq!(location(&response), uri!(routes::index).to_string());
        assert!(session_of(&client).is_none());

        // The next page shows the message once, in an alert.
        let html = client
            .get(uri!(routes::index))
            .dispatch()
            .into_string()
            .unwrap();
        assert_eq!(alert_in(&html), Some(message), "{name:?}");
        let again = client
            .get(uri!(routes::index))
            .dispatch()
            .into_string()
            .unwrap();
        assert_eq!(alert_in(&again), None);
    }
}

#[test]
fn a_missing_name_field_is_an_empty_name() {
    let client = client();
    let response = post_form(&client, uri!(routes::login), &[]);
    assert_eq!(location(&response), uri!(routes::index).to_string());
    assert_eq!(
        login_page_alert(&client).as_deref(),
        Some("名前を入力してください。")
    );
}

#[test]
fn output_without_a_session_redirects_to_login() {
    let client = client();
    let response = client.get(uri!(routes::output)).dispatch();
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response), uri!(routes::index).to_string());
}

#[test]
fn output_lists_every_entry_with_a_delete_form() {
    let client = client();
    login(&client, "花子");
    let html = client
        .get(uri!(routes::output))
        .dispatch()
        .into_string()
        .unwrap();
    for key in ["name", "logged_in_at"] {
        assert!(
            html.contains(&format!(
                r#"<button type="submit" name="key" value="{key}""#
            )),
            "{key}"
        );
    }
    // One delete form (its token written once), one button per entry.
    assert_eq!(html.matches(r#"action="/session/delete""#).count(), 1);
    assert_eq!(html.matches(r#"name="key" value=""#).count(), 2);
    assert!(html.contains(r#"<form method="post" action="/logout">"#));
}

#[test]
fn logout_clears_the_whole_session() {
    let client = client();
    login(&client, "太郎");

    // Log out.
    let response = post_form(&client, uri!(routes::logout), &[]);
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response), uri!(routes::index).to_string());
    assert_removes(&response, SESSION_COOKIE);
    assert!(session_of(&client).is_none());

    // The output page is gone, and the login page says so once.
    assert_eq!(
        location(&client.get(uri!(routes::output)).dispatch()),
        uri!(routes::index).to_string()
    );
    let html = client
        .get(uri!(routes::index))
        .dispatch()
        .into_string()
        .unwrap();
    assert!(html.contains(r#"role="status" tabindex="-1" autofocus>ログアウトしました。"#));
}

#[test]
fn get_logout_asks_instead_of_logging_out() {
    let client = client();
    login(&client, "太郎");

    let page = client.get(uri!(routes::logout_page)).dispatch();
    assert_eq!(page.status(), Status::Ok);
    assert!(set_cookie(&page, SESSION_COOKIE).is_none());
    let html = page.into_string().unwrap();
    assert!(html.contains(r#"<form method="post" action="/logout""#));
    assert_eq!(session_of(&client).unwrap().get("name"), Some("太郎"));
    assert_eq!(
        client.get(uri!(routes::output)).dispatch().status(),
        Status::Ok
    );

    // Without a session there is nothing to ask about.
    let anonymous = common::client();
    let response = anonymous.get(uri!(routes::logout_page)).dispatch();
    assert_eq!(location(&response), uri!(routes::index).to_string());
}

#[test]
fn deleting_name_keeps_the_other_entries_but_logs_out() {
    let client = client();
    login(&client, "太郎");

    // Delete one key.
    let response = post_form(&client, uri!(routes::delete_key), &[("key", "name")]);
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(&response), uri!(routes::index).to_string());

    let session = session_of(&client).expect("the cookie stays");
    assert_eq!(session.get("name"), None);
    assert!(session.entries().contains_key("logged_in_at"));
    assert_eq!(
        location(&client.get(uri!(routes::output)).dispatch()),
        uri!(routes::index).to_string()
    );
}

#[test]
fn deleting_another_key_keeps_the_user_logged_in() {
    let client = client();
    login(&client, "太郎");

    let response = post_form(
        &client,
        uri!(routes::delete_key),
        &[("key", "logged_in_at")],
    );
    assert_eq!(location(&response), uri!(routes::output).to_string());
    let session = session_of(&client).unwrap();
    assert_eq!(session.get("name"), Some("太郎"));
    assert!(!session.entries().contains_key("logged_in_at"));

    let html = client
        .get(uri!(routes::output))
        .dispatch()
        .into_string()
        .unwrap();
    assert!(html.contains("セッションから削除しました：<code>logged_in_at</code>"));
    assert!(!html.contains(r#"value="logged_in_at""#));
}

#[test]
fn deleting_an_unknown_key_is_harmless() {
    let client = client();
    login(&client, "太郎");
    let before = session_of(&client).unwrap();

    for key in ["nope", "", "../name", "名前"] {
        let response = post_form(&client, uri!(routes::delete_key), &[("key", key)]);
        assert_eq!(response.status(), Status::SeeOther);
        assert_eq!(location(&response), uri!(routes::output).to_string());
    }
    assert_eq!(session_of(&client).unwrap().entries(), before.entries());

    // Without any session, too.
    let anonymous = common::client();
    let response = post_form(&anonymous, uri!(routes::delete_key), &[("key", "name")]);
    assert_eq!(location(&response), uri!(routes::index).to_string());
}

#[test]
fn healthz_does_no_session_work() {
    let client = client();
    let response = client.get(uri!(routes::healthz)).dispatch();
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(response.headers().get("Set-Cookie").count(), 0);
    assert_eq!(response.into_string().as_deref(), Some("ok"));
}

#[test]
fn the_stylesheet_and_icon_are_served_by_the_app() {
    let client = client();
    let response = client.get(uri!(routes::asset("app.css"))).dispatch();
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(response.content_type(), Some(ContentType::CSS));
    // Cached by its own rule alone, with the security headers of every page.
    let caching: Vec<_> = response.headers().get("Cache-Control").collect();
    assert_eq!(caching, ["public, max-age=3600"]);
    assert_eq!(response.headers().get_one("X-Frame-Options"), Some("DENY"));
    assert!(response.into_string().unwrap().contains(":focus-visible"));

    let icon = client.get(uri!(routes::asset("favicon.svg"))).dispatch();
    assert_eq!(icon.content_type(), Some(ContentType::SVG));
    let outside = client
        .get(uri!(routes::asset("..%2FCargo.toml")))
        .dispatch();
    assert_eq!(outside.status(), Status::NotFound);
}
