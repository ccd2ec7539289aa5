//! Session events are logged at info level, without cookie values, tokens
//! or keys.

use crate::common;

use rocket::http::uri::Origin;
use rocket::uri;
use session_app::routes;

use std::collections::BTreeMap;

use common::server::{Agent, Server, TEST_KEY};
use common::{form_body, token_in, CSRF_COOKIE, SESSION_COOKIE};
use rocket_sealed_sessions::{Clock, Record};

const SECOND: std::time::Duration = std::time::Duration::from_secs(1);

#[test]
fn session_events_are_logged_without_secrets() {
    let server = Server::start(&[
        ("ROCKET_SESSION_IDLE_TIMEOUT", "60"),
        ("ROCKET_SESSION_ABSOLUTE_TIMEOUT", "120"),
    ]);
    let mut browser = Agent::plain(server.port);
    // The current token, as the page's forms carry it (login renews it).
    let token =
        |browser: &mut Agent| token_in(&browser.get(uri!(routes::index)).unwrap().body).unwrap();
    let mut tokens = Vec::new();
    let mut post = |browser: &mut Agent, path: Origin<'_>, fields: &[(&str, &str)]| {
        let token = token(browser);
        let mut fields = fields.to_vec();
        fields.push(("csrf_token", &token));
        browser.post(path, &form_body(&fields)).unwrap();
        tokens.push(token);
    };

    // Log in, delete a key, log out.
    post(&mut browser, uri!(routes::login), &[("name", "太郎")]);
    let sealed = browser.cookies[SESSION_COOKIE].clone();
    let csrf_cookie = browser.cookies[CSRF_COOKIE].clone();
    post(
        &mut browser,
        uri!(routes::delete_key),
        &[("key", "logged_in_at")],
    );
    post(&mut browser, uri!(routes::logout), &[]);

    // A forged token, a tampered cookie, an expired session.
    browser
        .post(uri!(routes::logout), "csrf_token=forged")
        .unwrap();
    browser
        .cookies
        .insert(SESSION_COOKIE.into(), format!("x{sealed}"));
    browser.get(uri!(routes::output)).unwrap();
    let now = Clock::system().now();
    browser.cookies.insert(
        SESSION_COOKIE.into(),
        sealed_session(now - 90 * SECOND, now - 70 * SECOND),
    );
    assert_eq!(browser.get(uri!(routes::output)).unwrap().status, 303);

    // A well-sealed cookie of the wrong shape.
    browser.cookies.insert(
        SESSION_COOKIE.into(),
        sealed_under_test_key(SESSION_COOKIE, "{}"),
    );
    assert_eq!(browser.get(uri!(routes::output)).unwrap().status, 303);

    // Active a second ago, but past the absolute window.
    browser.cookies.insert(
        SESSION_COOKIE.into(),
        sealed_session(now - 130 * SECOND, now - SECOND),
    );
    assert_eq!(browser.get(uri!(routes::output)).unwrap().status, 303);

    assert!(server.prints_soon("session: expired (absolute timeout)"));
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

/// A session for 花子 with these times, sealed under the test key.
fn sealed_session(created: std::time::SystemTime, last_seen: std::time::SystemTime) -> String {
    let entries = BTreeMap::from([("name".to_owned(), "花子".to_owned())]);
    let session = Record::from_parts(created, last_seen, entries).unwrap();
    sealed_under_test_key(SESSION_COOKIE, &session.encode())
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
