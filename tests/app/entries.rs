//! The session as the tutorial's dictionary: `session[key] = value` through
//! a form, with its rules, within the cookie's 4,096 bytes.

use crate::common;

use common::*;
use rocket::http::Status;
use rocket::local::blocking::{Client, LocalResponse};
use rocket::uri;
use rocket_sealed_sessions::limits::COOKIE_BUDGET;
use session_app::routes;
use std::time::Duration;

fn set<'c>(client: &'c Client, key: &str, value: &str) -> LocalResponse<'c> {
    post_form(
        client,
        uri!(routes::set_entry),
        &[("key", key), ("value", value)],
    )
}

/// The notice the output page shows now (showing it uses it up).
fn notice_on_output(client: &Client) -> String {
    notice_in(&html(client, uri!(routes::output))).expect("a notice")
}

/// Every session `Set-Cookie` of `response` is within the budget; returns
/// the largest.
fn assert_session_cookies_fit(response: &LocalResponse<'_>, name: &str) -> usize {
    response
        .headers()
        .get("Set-Cookie")
        .filter(|c| c.starts_with(&format!("{name}=")))
        .map(|c| {
            assert!(c.len() <= COOKIE_BUDGET, "{} bytes: {c}", c.len());
            c.len()
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn an_entry_is_added_shown_and_replaced() {
    let client = client();
    login(&client, "太郎");
    let response = set(&client, "color", "青");
    assert_redirects_to(&response, uri!(routes::output));
    assert!(assert_session_cookies_fit(&response, SESSION_COOKIE) > 0);
    drop(response);
    assert_eq!(notice_on_output(&client), "セッションに追加しました：color");
    let page = html(&client, uri!(routes::output));
    assert!(page.contains("<code>color</code>"), "{page}");
    assert!(page.contains(r#"value="color""#), "with its delete button");
    assert_eq!(session_of(&client).unwrap().entries()["color"], "青");

    // Setting it again replaces the value.
    set(&client, "color", "赤");
    assert_eq!(notice_on_output(&client), "値を置き換えました：color");
    let session = session_of(&client).unwrap();
    assert_eq!(session.entries()["color"], "赤");
    assert_eq!(session.entries().len(), 3);
}

#[test]
fn reserved_and_malformed_keys_are_refused_and_change_nothing() {
    let client = client();
    login(&client, "太郎");
    let before = session_of(&client).unwrap();
    let cases = [
        (
            "name",
            "攻撃者",
            "name と logged_in_at はこのフォームでは設定できません。",
        ),
        (
            "logged_in_at",
            "x",
            "name と logged_in_at はこのフォームでは設定できません。",
        ),
        (
            "",
            "x",
            "キーは1〜32文字の英数字、_、- で入力してください。",
        ),
        (
            "a b",
            "x",
            "キーは1〜32文字の英数字、_、- で入力してください。",
        ),
        (
            "キー",
            "x",
            "キーは1〜32文字の英数字、_、- で入力してください。",
        ),
        (
            &"k".repeat(33),
            "x",
            "キーは1〜32文字の英数字、_、- で入力してください。",
        ),
    ];
    for (key, value, message) in cases {
        let response = set(&client, key, value);
        assert_redirects_to(&response, uri!(routes::output));
        assert!(response
            .headers()
            .get("Set-Cookie")
            .all(|c| !c.starts_with(&format!("{SESSION_COOKIE}="))));
        drop(response);
        assert_eq!(notice_on_output(&client), message, "{key:?}");
        assert_eq!(session_of(&client).unwrap(), before, "{key:?}");
    }
    // The longest key allowed, and every allowed character.
    set(&client, &"k".repeat(32), "x");
    set(&client, "Az09_-", "x");
    assert_eq!(session_of(&client).unwrap().entries().len(), 4);
}

#[test]
fn values_follow_the_rules_for_names() {
    let client = client();
    login(&client, "太郎");
    let before = session_of(&client).unwrap();
    let cases = [
        ("", "値を入力してください。"),
        ("\u{200B}", "値を入力してください。"),
        (&*"あ".repeat(201), "値は200文字以内で入力してください。"),
        ("a\u{7}b", "値に制御文字は使えません。"),
        (
            "a\u{202E}b",
            "値に文字の向きを変える制御文字や行区切り文字は使えません。",
        ),
    ];
    for (value, message) in cases {
        set(&client, "k", value);
        assert_eq!(notice_on_output(&client), message, "{value:?}");
        assert_eq!(session_of(&client).unwrap(), before);
    }
    // Two hundred four-byte characters are a value.
    let emoji = "😀".repeat(200);
    set(&client, "k", &emoji);
    assert_eq!(session_of(&client).unwrap().entries()["k"], emoji);
}

#[test]
fn the_budget_refuses_an_addition_before_the_cookie_outgrows_4096_bytes() {
    for behind_tls in [false, true] {
        let client = client_with(figment().merge(("session_cookie_secure", behind_tls)));
        let cookie_name = if behind_tls {
            secure(SESSION_COOKIE)
        } else {
            SESSION_COOKIE.to_owned()
        };
        post_form(&client, uri!(routes::login), &[("name", &"山".repeat(100))]);
        let value = "😀".repeat(200);
        let mut largest = 0;
        let mut added = 0;
        let room = loop {
            let key = format!("k{added}");
            let response = set(&client, &key, &value);
            assert_redirects_to(&response, uri!(routes::output));
            let sizes: Vec<usize> = response
                .headers()
                .get("Set-Cookie")
                .filter(|c| c.starts_with(&format!("{cookie_name}=")))
                .map(str::len)
                .collect();
            drop(response);
            let notice = notice_on_output(&client);
            if let Some(rest) = notice.strip_prefix(
                "追加するとセッションのクッキーが4,096バイトを超え、ブラウザーに捨てられるおそれがあるため、追加しませんでした。入力した文字なら、あと",
            ) {
                assert!(sizes.is_empty(), "a refusal writes no session cookie");
                // Characters like the ones typed (😀, 4 bytes each), then
                // the bytes: "N文字まで入ります（Rバイト）。"
                let (chars, rest) = rest.split_once("文字まで入ります（").unwrap();
                let room: usize = rest.strip_suffix("バイト）。").unwrap().parse().unwrap();
                assert_eq!(chars.parse::<usize>().unwrap(), room / 4, "{notice}");
                break room;
            }
            assert_eq!(notice, format!("セッションに追加しました：{key}"));
            for size in sizes {
                assert!(size <= COOKIE_BUDGET, "{size} bytes");
                largest = largest.max(size);
            }
            added += 1;
            assert!(added < 16, "the budget never refused");
        };
        println!("behind TLS {behind_tls}: {added} entries, largest Set-Cookie {largest} bytes, {room} bytes left");
        assert!(added >= 2, "{added}");
        assert!(room < value.len(), "{room}");
        // The session still works, whole.
        let page = html(&client, uri!(routes::output));
        assert!(page.contains(&"山".repeat(100)));
        assert_eq!(
            session_of_named(&client, &cookie_name).entries().len(),
            2 + added
        );

        // A smaller one that fits is still taken.
        if room > 40 {
            let response = set(&client, "small", "x");
            assert!(assert_session_cookies_fit(&response, &cookie_name) > 0);
        }
    }
}

fn session_of_named(client: &Client, name: &str) -> rocket_sealed_sessions::Record {
    let cookie = client.cookies().get_private(name).expect("a session");
    rocket_sealed_sessions::Record::decode(cookie.value()).unwrap()
}

#[test]
fn deleting_an_added_entry_keeps_the_others_and_the_login() {
    let client = client();
    login(&client, "太郎");
    set(&client, "a", "1");
    set(&client, "b", "2");
    let response = post_form(&client, uri!(routes::delete_key), &[("key", "a")]);
    assert_redirects_to(&response, uri!(routes::output));
    drop(response);
    let session = session_of(&client).unwrap();
    assert!(!session.entries().contains_key("a"));
    assert_eq!(session.entries()["b"], "2");
    assert_eq!(session.get("name"), Some("太郎"));

    // Logout clears everything.
    post_form(&client, uri!(routes::logout), &[]);
    assert!(session_of(&client).is_none());
}

#[test]
fn without_a_valid_token_nothing_is_set() {
    let client = client();
    login(&client, "太郎");
    let before = session_of(&client).unwrap();
    let response = post_raw(
        &client,
        uri!(routes::set_entry),
        &[("key", "a"), ("value", "1")],
    );
    assert_eq!(response.status(), Status::Forbidden);
    drop(response);
    let response = post_raw(
        &client,
        uri!(routes::set_entry),
        &[("key", "a"), ("value", "1"), ("csrf_token", "forged")],
    );
    assert_eq!(response.status(), Status::Forbidden);
    drop(response);
    assert_eq!(session_of(&client).unwrap(), before);
}

#[test]
fn without_a_session_nothing_is_set() {
    let client = client();
    let response = set(&client, "a", "1");
    assert_redirects_to(&response, uri!(routes::index));
    drop(response);
    assert!(session_of(&client).is_none());
}

#[test]
fn added_entries_survive_renewal_and_rotation() {
    let (client, clock) = client_with_timeouts(60, 600);
    login(&client, "太郎");
    set(&client, "color", "青");
    clock.advance(Duration::from_secs(30));
    let response = client.get(uri!(routes::output)).dispatch();
    assert!(set_cookie(&response, SESSION_COOKIE).is_some(), "renewed");
    drop(response);
    assert_eq!(session_of(&client).unwrap().entries()["color"], "青");
    // And a copy of the session revoked at logout keeps nothing alive.
    let copy = client.cookies().get(SESSION_COOKIE).unwrap().clone();
    post_form(&client, uri!(routes::logout), &[]);
    assert_redirects_to(&output_with(&client, copy), uri!(routes::index));
}

#[test]
fn added_entries_move_to_a_new_key_with_the_rest_of_the_session() {
    const OLD: &str = "V+Ly6JPKyHU+z4DyD0e0PU1AxvY83MtQi5HFTAa0WKc=";
    const NEW: &str = "q0v8Yp6rO5yB3fJ0l7m2b9qC1dXz4sT6uW8eR0tY2iE=";
    let before = client_with(figment().merge(("secret_key", OLD)));
    login(&before, "太郎");
    set(&before, "color", "青");
    let sealed = before.cookies().get(SESSION_COOKIE).unwrap().clone();

    // NEW is the key, OLD a fallback: the entry is there, and re-sealed.
    let during = client_with(
        figment()
            .merge(("secret_key", NEW))
            .merge(("secret_key_fallbacks", [OLD])),
    );
    let response = output_with(&during, sealed);
    assert_eq!(response.status(), Status::Ok);
    assert!(set_cookie(&response, SESSION_COOKIE).is_some(), "re-sealed");
    assert!(response
        .into_string()
        .unwrap()
        .contains("<code>color</code>"));
    assert_eq!(session_of(&during).unwrap().entries()["color"], "青");
}

#[test]
fn entries_are_listed_as_a_person_counts() {
    let client = client();
    login(&client, "太郎");
    for key in ["s10", "s2", "s1"] {
        set(&client, key, "v");
    }
    let page = html(&client, uri!(routes::output));
    let at = |key: &str| page.find(&format!(r#"value="{key}""#)).unwrap();
    assert!(at("s1") < at("s2") && at("s2") < at("s10"), "{page}");
}

#[test]
fn deleting_after_the_idle_timeout_explains_the_timeout() {
    let (client, clock) = client_with_timeouts(60, 600);
    login(&client, "太郎");
    set(&client, "color", "青");
    // The session page's form, then the person is away past the timeout.
    let token = csrf_token(&client);
    clock.advance(Duration::from_secs(61));
    let fields = [("key", "color"), ("csrf_token", token.as_str())];
    let response = post_raw(&client, uri!(routes::delete_key), &fields);
    assert_redirects_to(&response, uri!(routes::index));
    drop(response);
    let notice = notice_in(&html(&client, uri!(routes::index))).expect("a notice");
    assert!(notice.contains("一定時間が過ぎたため"), "{notice}");
}

#[test]
fn a_refused_entry_comes_back_in_the_form_marked_and_described() {
    let client = client();
    login(&client, "太郎");
    // A value too long: both fields come back, the value marked.
    let long = "値".repeat(201);
    set(&client, "color", &long);
    let page = html(&client, uri!(routes::output));
    let field = |id: &str| {
        let start = page.find(&format!(r#"id="{id}""#)).unwrap();
        page[start..start + page[start..].find('>').unwrap()].to_owned()
    };
    assert!(field("key").contains(r#"value="color""#), "{page}");
    assert!(!field("key").contains("aria-invalid"), "{page}");
    assert!(
        field("value").contains(&format!(r#"value="{long}""#)),
        "{page}"
    );
    assert!(field("value").contains(r#"aria-invalid="true""#), "{page}");
    assert!(field("value").contains(r#"aria-describedby="value-hint value-error""#));
    // Its reason right above it, the summary at the top linking to it
    // and taking the focus (GOV.UK's error pattern).
    let reason = field("value-error");
    assert!(reason.contains(r#"class="field-error""#), "{page}");
    assert!(page.find(r#"id="value-error""#) < page.find(r#"id="value""#));
    assert!(!field("value").contains("autofocus"));
    assert!(field("notice").contains("autofocus"), "{page}");
    assert!(page.contains(r##"role="alert" tabindex="-1" autofocus><a href="#value">"##));

    // A key refused: the key marked, both kept.
    set(&client, "no spaces", "青");
    let page = html(&client, uri!(routes::output));
    let key = &page[page.find(r#"id="key""#).unwrap()..];
    let key = &key[..key.find('>').unwrap()];
    assert!(key.contains(r#"value="no spaces""#), "{page}");
    assert!(key.contains(r#"aria-invalid="true""#), "{page}");
    assert!(page.contains(r#"value="青""#), "{page}");

    // Then a fresh form: nothing kept, nothing marked.
    let page = html(&client, uri!(routes::output));
    assert!(!page.contains("aria-invalid"), "{page}");
    assert!(!page.contains(r#"value="青""#), "{page}");
}
