//! What the session promises beyond the tutorial: CSRF, cookie attributes,
//! refusal of tampered or junk cookies, server-side expiry, headers.

use crate::common;

use std::collections::BTreeMap;
use std::thread::sleep;
use std::time::Duration;

use common::*;
use rocket::http::{Cookie, Status};
use rocket::local::blocking::Client;
use rocket::uri;
use rocket_sealed_sessions::{Clock, Record};
use session_app::routes;

const SECOND: Duration = Duration::from_secs(1);
const MILLI: Duration = Duration::from_millis(1);

/// The sealed (encrypted) session cookie value the client holds.
fn sealed_session(client: &Client) -> String {
    client
        .cookies()
        .get(SESSION_COOKIE)
        .expect("a session cookie")
        .value()
        .to_owned()
}

#[test]
fn posts_without_a_valid_token_are_forbidden_and_change_nothing() {
    for path in [
        uri!(routes::login),
        uri!(routes::logout),
        uri!(routes::delete_key),
    ] {
        let client = client();
        login(&client, "太郎");
        let before = sealed_session(&client);
        let token = csrf_token(&client);
        let wrong = format!("{}x", &token[..token.len() - 1]);

        let attempts: [&[(&str, &str)]; 4] = [
            &[("name", "攻撃者"), ("key", "name")],
            &[("name", "攻撃者"), ("key", "name"), ("csrf_token", "")],
            &[("name", "攻撃者"), ("key", "name"), ("csrf_token", &wrong)],
            &[
                ("name", "攻撃者"),
                ("key", "name"),
                ("csrf_token", &token[..10]),
            ],
        ];
        for fields in attempts {
            let response = post_raw(&client, path.clone(), fields);
            assert_eq!(response.status(), Status::Forbidden, "{path} {fields:?}");
            assert_eq!(response.headers().get("Set-Cookie").count(), 0, "{path}");
            assert!(response.into_string().unwrap().contains("403"));
        }
        assert_eq!(sealed_session(&client), before, "{path}");
        assert_eq!(session_of(&client).unwrap().get("name"), Some("太郎"));
    }
}

#[test]
fn login_is_protected_without_any_session() {
    // A forged cross-site login: no token cookie, a token from another browser.
    let victim = client();
    let attacker = client();
    let attackers_token = csrf_token(&attacker);
    let response = post_raw(
        &victim,
        uri!(routes::login),
        &[("name", "攻撃者"), ("csrf_token", &attackers_token)],
    );
    assert_eq!(response.status(), Status::Forbidden);
    assert!(session_of(&victim).is_none());
}

#[test]
fn the_token_is_renewed_at_login_and_survives_logout() {
    let client = client();
    let before = csrf_token(&client);
    let response = login(&client, "太郎");
    assert!(
        set_cookie(&response, CSRF_COOKIE).is_some(),
        "a new token at login"
    );
    drop(response);
    let after_login = csrf_token(&client);
    assert_ne!(after_login, before);

    // The old token no longer works; the new one does, and outlives logout.
    let stale = post_raw(&client, uri!(routes::logout), &[("csrf_token", &before)]);
    assert_eq!(stale.status(), Status::Forbidden);
    drop(stale);
    post_form(&client, uri!(routes::logout), &[]);
    assert_eq!(csrf_token(&client), after_login);
}

#[test]
fn cookies_are_private_httponly_lax_and_expire() {
    let client = client();
    let page = client.get(uri!(routes::index)).dispatch();
    let csrf = set_cookie(&page, CSRF_COOKIE).expect("the token cookie is set");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(csrf.contains(attribute), "{csrf}");
    }
    assert!(
        !csrf.contains("Max-Age"),
        "the token lives as long as the browser: {csrf}"
    );
    assert!(
        !csrf.contains("Secure"),
        "plain HTTP without the proxy setting: {csrf}"
    );
    drop(page);

    let response = login(&client, "太郎");
    let cookie = set_cookie(&response, SESSION_COOKIE).expect("the session cookie is set");
    // Kept until the absolute window (8 hours) closes, and an hour more.
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=32400"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    // Encrypted: neither the name nor the JSON shows.
    let sealed = sealed_session(&client);
    assert!(
        !sealed.contains("name") && !sealed.contains('{'),
        "{sealed}"
    );
}

#[test]
fn tampered_and_junk_cookies_are_no_session_and_are_removed() {
    let client = client();
    login(&client, "太郎");
    let sealed = sealed_session(&client);
    let mut flipped = sealed.clone().into_bytes();
    let middle = flipped.len() / 2;
    flipped[middle] = if flipped[middle] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();

    let junk = [
        flipped,
        sealed[..sealed.len() / 2].to_owned(),
        "garbage".to_owned(),
        String::new(),
        "%ZZ%00".to_owned(),
        "A".repeat(4000),
    ];
    for value in junk {
        let fresh = common::client();
        let response = output_with(&fresh, Cookie::new(SESSION_COOKIE, value.clone()));
        assert_eq!(response.status(), Status::SeeOther, "{value:.40}");
        assert_eq!(location(&response), uri!(routes::index).to_string());
        assert_removes(&response, SESSION_COOKIE);
        drop(response);

        // Any page removes it, the login page included.
        let page = fresh
            .get(uri!(routes::index))
            .cookie(Cookie::new(SESSION_COOKIE, value.clone()))
            .dispatch();
        assert_eq!(page.status(), Status::Ok);
        assert_removes(&page, SESSION_COOKIE);
    }
}

#[test]
fn well_sealed_cookies_of_the_wrong_shape_are_no_session() {
    for plaintext in [
        "",
        "{}",
        "not json",
        r#"{"v":1,"c":5,"u":1,"e":{"name":"x"}}"#,
        r#"{"v":9,"c":1,"u":1,"e":{"name":"x"}}"#,
    ] {
        let client = client();
        let response = output_with_private(&client, Cookie::new(SESSION_COOKIE, plaintext));
        assert_eq!(response.status(), Status::SeeOther, "{plaintext}");
        assert_removes(&response, SESSION_COOKIE);
    }
}

#[test]
fn a_captured_cookie_replayed_after_the_idle_window_is_refused() {
    let (client, clock) = client_with_timeouts(1, 60);
    login(&client, "太郎");
    let captured = sealed_session(&client);
    assert_eq!(
        client.get(uri!(routes::output)).dispatch().status(),
        Status::Ok
    );

    clock.advance(Duration::from_millis(1100));

    // The browser's own copy is refused, and removed.
    let response = client.get(uri!(routes::output)).dispatch();
    assert_eq!(location(&response), uri!(routes::index).to_string());
    assert_removes(&response, SESSION_COOKIE);

    // So is a copy replayed from elsewhere, exactly like no cookie.
    let (thief, thief_clock) = client_with_timeouts(1, 60);
    thief_clock.set(clock.now());
    let replay = output_with(&thief, Cookie::new(SESSION_COOKIE, captured));
    assert_eq!(replay.status(), Status::SeeOther);
    assert_eq!(location(&replay), uri!(routes::index).to_string());
}

#[test]
fn activity_renews_the_idle_window_but_not_on_every_request() {
    // A five-second window: renewal is due after half a second.
    let (client, clock) = client_with_timeouts(5, 60);
    login(&client, "太郎");
    let started = session_of(&client).unwrap();

    // Straight after login: nothing to renew.
    let response = client.get(uri!(routes::output)).dispatch();
    assert_eq!(response.status(), Status::Ok);
    assert!(set_cookie(&response, SESSION_COOKIE).is_none());
    drop(response);

    // Past a tenth of the window: renewed, once.
    clock.advance(Duration::from_millis(600));
    let response = client.get(uri!(routes::output)).dispatch();
    let renewed =
        set_cookie(&response, SESSION_COOKIE).expect("renewed past a tenth of the window");
    // 60 s of absolute window left, less 0.6 s, plus an hour.
    assert!(renewed.contains("Max-Age=3660"), "{renewed}");
    drop(response);
    let session = session_of(&client).unwrap();
    assert_eq!(session.created(), started.created());
    assert!(session.last_seen() >= started.last_seen() + 600 * MILLI);
    let response = client.get(uri!(routes::output)).dispatch();
    assert!(set_cookie(&response, SESSION_COOKIE).is_none());
    drop(response);

    // Kept active, it outlives the idle timeout.
    for _ in 0..7 {
        clock.advance(Duration::from_millis(800));
        let response = client.get(uri!(routes::output)).dispatch();
        assert_eq!(response.status(), Status::Ok);
    }
}

#[test]
fn with_a_two_second_idle_window_activity_still_renews_it() {
    let (client, clock) = client_with_timeouts(2, 60);
    login(&client, "太郎");
    let started = session_of(&client).unwrap();

    // A tenth of two seconds is 200 ms: past it, the cookie is re-issued.
    clock.advance(Duration::from_millis(300));
    let response = client.get(uri!(routes::output)).dispatch();
    let renewed = set_cookie(&response, SESSION_COOKIE).expect("renewed");
    assert!(renewed.contains("Max-Age=3660"), "{renewed}");
    drop(response);
    assert!(session_of(&client).unwrap().last_seen() >= started.last_seen() + 300 * MILLI);

    // A request every half second keeps it alive well past two seconds.
    for _ in 0..7 {
        clock.advance(Duration::from_millis(500));
        assert_eq!(
            client.get(uri!(routes::output)).dispatch().status(),
            Status::Ok
        );
    }
}

#[test]
fn the_absolute_window_ends_even_an_active_session() {
    let (client, clock) = client_with_timeouts(1, 2);
    login(&client, "太郎");
    // Active every 300 ms, so never idle for 1 s...
    for _ in 0..5 {
        clock.advance(Duration::from_millis(300));
        assert_eq!(
            client.get(uri!(routes::output)).dispatch().status(),
            Status::Ok
        );
    }
    // ...yet gone 2 s after login.
    clock.advance(Duration::from_millis(500));
    assert_logged_out(&client);
}

/// The one test on real time: the system clock, not a manual one, ends an
/// idle session.
#[test]
fn on_the_system_clock_an_idle_session_ends() {
    let client = client_with(
        figment()
            .merge(("session_idle_timeout", 1))
            .merge(("session_absolute_timeout", 60)),
    );
    login(&client, "太郎");
    assert_eq!(
        client.get(uri!(routes::output)).dispatch().status(),
        Status::Ok
    );
    sleep(Duration::from_millis(1100));
    assert_logged_out(&client);
}

#[test]
fn sessions_from_long_ago_are_refused_without_waiting() {
    let clock = Clock::manual_from_now();
    let now = clock.now();
    let entries = BTreeMap::from([("name".to_owned(), "太郎".to_owned())]);
    let cases = [
        // Last seen just now, but started more than 8 hours ago.
        (now - 28_800 * SECOND - MILLI, now),
        // Started recently, but idle for 30 minutes.
        (now - 1800 * SECOND - 5 * MILLI, now - 1800 * SECOND),
        // Dated ten minutes ahead: a clock running fast must not stretch it.
        (now + 600 * SECOND, now + 600 * SECOND),
    ];
    for (created, last_seen) in cases {
        let old = Record::from_parts(created, last_seen, entries.clone()).unwrap();
        let (client, client_clock) = client_at(figment());
        client_clock.set(now);
        let response = output_with_private(&client, Cookie::new(SESSION_COOKIE, old.encode()));
        assert_eq!(response.status(), Status::SeeOther);
        assert_removes(&response, SESSION_COOKIE);
    }

    // Just inside both windows it is still a session.
    let recent = Record::from_parts(now - 28_000 * SECOND, now - 60 * SECOND, entries).unwrap();
    let (client, client_clock) = client_at(figment());
    client_clock.set(now);
    let response = output_with_private(&client, Cookie::new(SESSION_COOKIE, recent.encode()));
    assert_eq!(response.status(), Status::Ok);
}

#[test]
fn every_page_sends_the_security_headers() {
    let client = client();
    login(&client, "太郎");
    let pages = [
        client.get(uri!(routes::index)).dispatch(),
        client.get(uri!(routes::output)).dispatch(),
        client.get(uri!(routes::logout_page)).dispatch(),
        client.get("/no/such/page").dispatch(),
        post_raw(&client, uri!(routes::login), &[]),
        client.get(uri!(routes::healthz)).dispatch(),
        client.get(uri!(routes::login_page)).dispatch(),
        client.get(uri!(routes::readyz)).dispatch(),
        client.get("/static/nope.css").dispatch(),
    ];
    for page in &pages {
        let headers = page.headers();
        let csp = headers.get_one("Content-Security-Policy").expect("a CSP");
        assert!(
            csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("script-src"),
            "{csp}"
        );
        assert_eq!(headers.get_one("X-Content-Type-Options"), Some("nosniff"));
        assert_eq!(headers.get_one("X-Frame-Options"), Some("DENY"));
        let caching: Vec<_> = headers.get("Cache-Control").collect();
        assert_eq!(caching, ["no-store"]);
    }
    assert_eq!(pages[3].status(), Status::NotFound);
}

#[test]
fn pages_have_no_inline_script_or_style() {
    let client = client();
    login(&client, "太郎");
    for path in every_page() {
        let html = client.get(path.clone()).dispatch().into_string().unwrap();
        assert!(!html.contains("<script"), "{path}");
        assert!(!html.contains("style="), "{path}");
        assert!(!html.contains("<style"), "{path}");
    }
}

#[test]
fn a_logged_in_page_takes_the_token_from_the_session() {
    let client = client();
    login(&client, "太郎");
    let token = csrf_token(&client);
    // Without its token cookie (a browser restart ends it; the session
    // cookie lives on), the logged-in pages still carry the same token...
    client.cookies().remove(Cookie::from(CSRF_COOKIE));
    let page = client.get(uri!(routes::output)).dispatch();
    assert!(
        set_cookie(&page, CSRF_COOKIE).is_none(),
        "no new token cookie"
    );
    assert_eq!(
        token_in(&page.into_string().unwrap()).as_deref(),
        Some(token.as_str())
    );
    // ...and it is the one the forms are checked against.
    let response = post_raw(&client, uri!(routes::logout), &[("csrf_token", &token)]);
    assert_redirects_to(&response, uri!(routes::index));
    drop(response);
    assert_logged_out(&client);
    // Another token is refused, as before.
    login(&client, "太郎");
    let wrong = post_raw(&client, uri!(routes::logout), &[("csrf_token", "forged")]);
    assert_eq!(wrong.status(), Status::Forbidden);
}
