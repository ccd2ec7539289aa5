//! Bad input gets a clear 4xx page, loses nothing, and the server keeps
//! serving.

use crate::common;

use common::*;
use rocket::http::{ContentType, Method, Status};
use rocket::local::blocking::{Client, LocalResponse};
use rocket::uri;
use session_app::routes;

/// The answer is a 4xx HTML page in the app's style.
fn assert_error_page(response: LocalResponse<'_>, expected: Status) {
    assert_eq!(response.status(), expected);
    assert_eq!(response.content_type(), Some(ContentType::HTML));
    let html = response.into_string().unwrap();
    assert!(html.contains(r#"<link rel="stylesheet" href="/static/app.css">"#));
    assert!(
        html.contains(&format!("エラー {}", expected.code)),
        "{html}"
    );
}

/// Still logged in as before, and still serving.
fn assert_unharmed(client: &Client) {
    assert_eq!(session_of(client).unwrap().get("name"), Some("太郎"));
    assert_eq!(
        client.get(uri!(routes::output)).dispatch().status(),
        Status::Ok
    );
}

#[test]
fn unknown_paths_get_the_apps_404_page() {
    let client = client();
    for path in [
        "/nope",
        "/output/extra",
        "/static/missing.css",
        "/%FF%FE",
        "/session",
    ] {
        assert_error_page(client.get(path).dispatch(), Status::NotFound);
    }
    let english = client
        .get("/nope")
        .header(rocket::http::Header::new("Accept-Language", "en"))
        .dispatch();
    assert!(english.into_string().unwrap().contains("Page not found."));
}

#[test]
fn wrong_methods_get_405_pages_that_say_which_methods_work() {
    let client = client();
    login(&client, "太郎");
    let cases = [
        (Method::Put, uri!(routes::login), "GET, HEAD, POST"),
        (Method::Delete, uri!(routes::output), "GET, HEAD"),
        (Method::Patch, uri!(routes::index), "GET, HEAD"),
        (Method::Get, uri!(routes::delete_key), "POST"),
        (Method::Post, uri!(routes::output), "GET, HEAD"),
        (Method::Post, uri!(routes::healthz), "GET, HEAD"),
        (Method::Put, uri!(routes::logout), "GET, HEAD, POST"),
    ];
    for (method, path, allowed) in cases {
        let response = client.req(method, path.clone()).dispatch();
        assert_eq!(
            response.status(),
            Status::MethodNotAllowed,
            "{method} {path}"
        );
        assert_eq!(
            response.headers().get_one("Allow"),
            Some(allowed),
            "{method} {path}"
        );
        assert_eq!(
            response.content_type(),
            Some(ContentType::HTML),
            "{method} {path}"
        );
        let html = response.into_string().unwrap();
        assert!(
            html.contains("<title>エラー：この方法では開けません（405） – セッション確認</title>"),
            "{html}"
        );
    }
    // A path the app does not serve at all stays a 404.
    let response = client.req(Method::Put, "/nowhere").dispatch();
    assert_eq!(response.status(), Status::NotFound);
    assert!(response.headers().get_one("Allow").is_none());
    assert_unharmed(&client);
}

#[test]
fn oversize_bodies_are_refused() {
    let client = client();
    login(&client, "太郎");
    let token = csrf_token(&client);
    let body = form_body(&[("name", &"あ".repeat(3000)), ("csrf_token", &token)]);
    assert!(body.len() > 4096);
    let response = post_login_body(&client, body);
    assert_error_page(response, Status::PayloadTooLarge);
    assert_unharmed(&client);
}

#[test]
fn non_utf8_and_malformed_forms_are_4xx() {
    let client = client();
    login(&client, "太郎");
    let token = csrf_token(&client);
    let with_token =
        |head: &[u8]| -> Vec<u8> { [head, b"&csrf_token=", token.as_bytes()].concat() };
    let refused: [(Vec<u8>, Status); 3] = [
        // Not UTF-8 at all.
        (with_token(b"name=\xff\xfe"), Status::BadRequest),
        // No token to be found in the noise.
        (b"\x00\x01\x02".to_vec(), Status::Forbidden),
        (b"=&=&&==".to_vec(), Status::Forbidden),
    ];
    for (body, expected) in refused {
        let response = post_login_body(&client, &body);
        assert_error_page(response, expected);
    }
    assert_unharmed(&client);

    // A stray percent sign is not an encoding error: Rocket keeps it as text.
    let response = post_login_body(&client, with_token(b"name=%ZZ%"));
    assert_eq!(location(&response), uri!(routes::output).to_string());
    drop(response);
    assert_eq!(session_of(&client).unwrap().get("name"), Some("%ZZ%"));

    // A field given twice is no name at all: back to the form, with the
    // message, and the session as it was.
    let token = csrf_token(&client);
    let body = [b"name=a&name=b&csrf_token=", token.as_bytes()].concat();
    let response = post_login_body(&client, body);
    assert_eq!(location(&response), uri!(routes::index).to_string());
    drop(response);
    assert_eq!(session_of(&client).unwrap().get("name"), Some("%ZZ%"));
    assert_eq!(
        login_page_alert(&client).as_deref(),
        Some("名前を入力してください。")
    );
}

#[test]
fn wrong_content_types_are_4xx() {
    let client = client();
    login(&client, "太郎");
    let token = csrf_token(&client);
    let form = form_body(&[("name", "花子"), ("csrf_token", &token)]);
    for content_type in [
        ContentType::JSON,
        ContentType::Plain,
        ContentType::XML,
        ContentType::Binary,
    ] {
        let response = client
            .post(uri!(routes::login))
            .header(content_type.clone())
            .body(&form)
            .dispatch();
        assert!(
            response.status().class().is_client_error(),
            "{content_type}: {}",
            response.status()
        );
        assert_eq!(response.content_type(), Some(ContentType::HTML));
    }
    let no_type = client.post(uri!(routes::login)).body(&form).dispatch();
    assert!(no_type.status().class().is_client_error());
    drop(no_type);
    assert_unharmed(&client);
}

#[test]
fn absurd_headers_and_cookies_are_harmless() {
    let client = client();
    login(&client, "太郎");
    let cookies = format!("=; ;;; {CSRF_COOKIE}=\u{1}; {FLASH_COOKIE}=9:x");
    let response = client
        .get(uri!(routes::output))
        .header(rocket::http::Header::new(
            "Accept-Language",
            "\u{0}\u{7f};q=;;,,*;q=NaN",
        ))
        .header(rocket::http::Header::new("Cookie", cookies))
        .dispatch();
    assert_eq!(response.status(), Status::Ok);
    drop(response);

    // Flash cookies whose length prefix splits a character (Rocket's own
    // reader would panic on these) or names no notice of ours.
    for forged in [
        "1:%E3%81%82x",
        "1:\u{3042}x",
        "2:\u{3042}",
        "0:",
        "5:error",
        "9999999999999999999999:x",
    ] {
        let response = client
            .get(uri!(routes::index))
            .cookie(rocket::http::Cookie::new(FLASH_COOKIE, forged))
            .dispatch();
        assert_eq!(response.status(), Status::Ok, "{forged}");
        assert_removes(&response, FLASH_COOKIE);
        assert_eq!(alert_in(&response.into_string().unwrap()), None, "{forged}");
    }

    // A forged flash with an unknown message shows nothing.
    let page = client
        .get(uri!(routes::index))
        .cookie(rocket::http::Cookie::new(
            FLASH_COOKIE,
            "5:error<script>alert(1)</script>",
        ))
        .dispatch();
    let html = page.into_string().unwrap();
    assert!(!html.contains("<script"));
    assert_eq!(alert_in(&html), None);
    assert_unharmed(&client);
}
