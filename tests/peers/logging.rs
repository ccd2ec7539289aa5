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

/// The app's JSON log lines so far.
fn json_lines(server: &Server) -> Vec<serde_json::Value> {
    server
        .output()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// The lines whose `field` is `value`.
fn lines_with<'a>(
    lines: &'a [serde_json::Value],
    field: &str,
    value: &str,
) -> Vec<&'a serde_json::Value> {
    lines.iter().filter(|line| line[field] == value).collect()
}

#[test]
fn a_request_and_its_session_events_share_one_request_id() {
    let server = Server::start(&[("ROCKET_LOG_FORMAT", "json")]);
    let mut browser = Agent::plain(server.port);
    let page = browser.get(uri!(routes::index)).unwrap();
    let token = token_in(&page.body).unwrap();

    // The front's id is kept, on the request line and on the login.
    let front = "5f0c8e3c1b0f4a7e9d2c6b8a1e3f5d7c";
    browser.extra_headers = vec![("X-Request-Id".into(), front.into())];
    let body = form_body(&[("name", "太郎"), ("csrf_token", &token)]);
    browser.post(uri!(routes::login), &body).unwrap();
    // Without one, an id is made here, and shared the same way.
    browser.extra_headers.clear();
    let token = token_in(&browser.get(uri!(routes::output)).unwrap().body).unwrap();
    browser
        .post(uri!(routes::logout), &form_body(&[("csrf_token", &token)]))
        .unwrap();

    assert!(server.prints_soon("session: logout"));
    let lines = json_lines(&server);
    let login = lines_with(&lines, "message", "session: login");
    assert_eq!(login.len(), 1, "{lines:#?}");
    assert_eq!(login[0]["request"], front);
    let posts = lines_with(&lines, "request", front);
    assert_eq!(posts.len(), 2, "the login and its request line: {posts:#?}");
    assert!(posts.iter().any(|line| line["path"] == "/login"));

    let logout = lines_with(&lines, "message", "session: logout; revocation stored");
    assert_eq!(logout.len(), 1, "{lines:#?}");
    let made = logout[0]["request"].as_str().unwrap();
    assert!(
        made.len() == 32 && made.bytes().all(|b| b.is_ascii_hexdigit()),
        "{made}"
    );
    let same = lines_with(&lines, "request", made);
    assert_eq!(same.len(), 2, "the logout and its request line: {same:#?}");
    assert!(same.iter().any(|line| line["path"] == "/logout"));
    // Every request line has an id of its own.
    let requests = lines_with(&lines, "message", "request");
    let mut ids: Vec<&str> = requests
        .iter()
        .map(|line| line["request"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), requests.len(), "{requests:#?}");
}

#[test]
fn a_request_rocket_cannot_read_gets_a_line_and_a_count_and_no_warning() {
    let server = Server::start(&[("ROCKET_LOG_FORMAT", "json")]);
    let mut client = Agent::plain(server.port);
    let answer = client.send("FROB", "/output", None).unwrap();
    assert_eq!(answer.status, 400);

    assert!(server.prints_soon(r#""method":"-""#));
    let lines = json_lines(&server);
    let unread = lines_with(&lines, "method", "-");
    assert_eq!(unread[0]["status"], 400, "{unread:#?}");
    assert_eq!(unread[0]["path"], "/output");
    assert!(unread[0]["request"].is_string());
    for line in &lines {
        assert!(
            line["level"] == "info",
            "a client's request is no warning: {line}"
        );
    }
    let metrics = client.get("/metrics").unwrap().body;
    assert!(
        metrics.contains(r#"session_app_requests_total{route="none",status="400"} 1"#),
        "{metrics}"
    );
}
