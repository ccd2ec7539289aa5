//! Session events are logged at info level, without cookie values, tokens
//! or keys.

mod common;

use std::thread::sleep;
use std::time::Duration;

use common::server::{Agent, Server, TEST_KEY};
use common::{form_body, token_in};

#[test]
fn session_events_are_logged_without_secrets() {
    let server = Server::start(&[
        ("ROCKET_SESSION_IDLE_TIMEOUT", "1"),
        ("ROCKET_SESSION_ABSOLUTE_TIMEOUT", "2"),
    ]);
    let mut browser = Agent::plain(server.port);
    // The current token, as the page's forms carry it (login renews it).
    let token = |browser: &mut Agent| token_in(&browser.get("/").unwrap().body).unwrap();
    let mut tokens = Vec::new();
    let mut post = |browser: &mut Agent, path: &str, fields: &[(&str, &str)]| {
        let token = token(browser);
        let mut fields = fields.to_vec();
        fields.push(("csrf_token", &token));
        browser.post(path, &form_body(&fields)).unwrap();
        tokens.push(token);
    };

    // Log in, delete a key, log out.
    post(&mut browser, "/login", &[("name", "太郎")]);
    let sealed = browser.cookies["session"].clone();
    let csrf_cookie = browser.cookies["csrf"].clone();
    post(&mut browser, "/session/delete", &[("key", "logged_in_at")]);
    post(&mut browser, "/logout", &[]);

    // A forged token, a tampered cookie, an expired session.
    browser.post("/logout", "csrf_token=forged").unwrap();
    browser
        .cookies
        .insert("session".into(), format!("x{sealed}"));
    browser.get("/output").unwrap();
    post(&mut browser, "/login", &[("name", "花子")]);
    sleep(Duration::from_millis(1100));
    assert_eq!(browser.get("/output").unwrap().status, 303);

    // A well-sealed cookie of the wrong shape.
    browser
        .cookies
        .insert("session".into(), sealed_under_test_key("session", "{}"));
    assert_eq!(browser.get("/output").unwrap().status, 303);

    // Kept active, but past the absolute window.
    post(&mut browser, "/login", &[("name", "花子")]);
    for _ in 0..6 {
        sleep(Duration::from_millis(400));
        browser.get("/output").unwrap();
    }
    assert_eq!(browser.get("/output").unwrap().status, 303);

    let log = server.output();
    for event in [
        "session: login",
        "session: one key deleted",
        "session: logout",
        "csrf: refused a POST to /logout",
        "session: cookie rejected: no key opens it",
        "session: expired (idle timeout)",
        "session: cookie rejected: not a session of this version",
        "session: expired (absolute timeout)",
    ] {
        assert!(log.contains(event), "missing {event:?} in:\n{log}");
    }
    for secret in [
        sealed.as_str(),
        csrf_cookie.as_str(),
        tokens[0].as_str(),
        tokens[1].as_str(),
        TEST_KEY,
        "太郎",
        "花子",
    ] {
        assert!(
            !log.contains(secret),
            "the log shows a secret or a name: {secret}"
        );
    }
}

/// `value` sealed as Rocket's private jar does under the test servers' key.
fn sealed_under_test_key(name: &str, value: &str) -> String {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(TEST_KEY)
        .unwrap();
    let key = cookie::Key::derive_from(&bytes);
    let mut jar = cookie::CookieJar::new();
    jar.private_mut(&key)
        .add(cookie::Cookie::new(name.to_owned(), value.to_owned()));
    jar.get(name).unwrap().value().to_owned()
}
