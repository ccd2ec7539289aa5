//! Session events are logged at info level, without cookie values, tokens
//! or keys.

mod common;

use std::thread::sleep;
use std::time::Duration;

use common::server::{Agent, Server, TEST_KEY};
use common::{form_body, token_in};

#[test]
fn session_events_are_logged_without_secrets() {
    let server = Server::start(&[("ROCKET_SESSION_IDLE_TIMEOUT", "1")]);
    let mut browser = Agent::plain(server.port);
    let token = token_in(&browser.get("/").unwrap().body).unwrap();
    let login = |browser: &mut Agent, name: &str| {
        browser
            .post(
                "/login",
                &form_body(&[("name", name), ("csrf_token", &token)]),
            )
            .unwrap()
    };

    // Log in, delete a key, log out.
    login(&mut browser, "太郎");
    let sealed = browser.cookies["session"].clone();
    let csrf_cookie = browser.cookies["csrf"].clone();
    browser
        .post(
            "/session/delete",
            &form_body(&[("key", "logged_in_at"), ("csrf_token", &token)]),
        )
        .unwrap();
    browser
        .post("/logout", &form_body(&[("csrf_token", &token)]))
        .unwrap();

    // A forged token, a tampered cookie, an expired session.
    browser.post("/logout", "csrf_token=forged").unwrap();
    browser
        .cookies
        .insert("session".into(), format!("x{sealed}"));
    browser.get("/output").unwrap();
    login(&mut browser, "花子");
    sleep(Duration::from_millis(1100));
    assert_eq!(browser.get("/output").unwrap().status, 303);

    let log = server.output();
    for event in [
        "session: login",
        "session: one key deleted",
        "session: logout",
        "csrf: refused a POST to /logout",
        "session: cookie rejected: no key opens it",
        "session: expired (idle timeout)",
    ] {
        assert!(log.contains(event), "missing {event:?} in:\n{log}");
    }
    for secret in [
        sealed.as_str(),
        csrf_cookie.as_str(),
        token.as_str(),
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
