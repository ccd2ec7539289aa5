//! Logout really ends a session: a copy of the cookie taken before logout
//! (or before `name` was deleted) is refused afterwards, the revocation
//! survives `kill -9` and a restart, and revocations are forgotten once
//! the sessions they name would have expired anyway.

mod common;

use std::time::Duration;

use common::server::{Agent, Server};
use common::*;
use rocket::http::{Cookie, Status};
use rocket::local::blocking::Client;
use rocket::uri;
use session_app::routes;
use session_app::session::Revocations;

/// The sealed session cookie the client holds now.
fn captured(client: &Client) -> Cookie<'static> {
    client
        .cookies()
        .get(SESSION_COOKIE)
        .expect("a session cookie")
        .clone()
        .into_owned()
}

fn revocations(client: &Client) -> &Revocations {
    client.rocket().state::<Revocations>().unwrap()
}

#[test]
fn a_copy_taken_before_logout_is_refused_after_it() {
    let client = client();
    login(&client, "太郎");
    let copy = captured(&client);

    // Log out.
    let response = post_form(&client, uri!(routes::logout), &[]);
    assert_redirects_to(&response, uri!(routes::index));
    drop(response);

    // The copy, replayed, is no session, and is removed.
    let replay = output_with(&client, copy);
    assert_redirects_to(&replay, uri!(routes::index));
    assert_removes(&replay, SESSION_COOKIE);
    assert_eq!(revocations(&client).len(), 1);
}

#[test]
fn a_copy_taken_before_name_was_deleted_is_refused_after_it() {
    let client = client();
    login(&client, "太郎");
    let copy = captured(&client);

    let response = post_form(&client, uri!(routes::delete_key), &[("key", "name")]);
    assert_redirects_to(&response, uri!(routes::index));
    drop(response);

    // What stays of the session lives on under a new identifier...
    let rest = session_of(&client).expect("the other entries stay");
    assert!(rest.entries().contains_key("logged_in_at"));
    assert_eq!(
        output_with(&client, captured(&client)).status(),
        Status::SeeOther,
        "nobody is logged in"
    );
    // ...while the copy that still names 太郎 is refused.
    let replay = output_with(&client, copy);
    assert_redirects_to(&replay, uri!(routes::index));
    assert_removes(&replay, SESSION_COOKIE);
}

#[test]
fn other_sessions_are_untouched() {
    let client = client();
    login(&client, "太郎");
    let taro = captured(&client);
    // 花子 logs in with the same browser, then logs out.
    login(&client, "花子");
    let hanako = captured(&client);
    post_form(&client, uri!(routes::logout), &[]);

    // Only 花子's session ended: 太郎's was never logged out.
    assert_eq!(output_with(&client, taro).status(), Status::Ok);
    assert_redirects_to(&output_with(&client, hanako), uri!(routes::index));
}

#[test]
fn revocations_are_forgotten_once_their_sessions_would_have_expired() {
    let (client, clock) = client_at(
        figment()
            .merge(("session_idle_timeout", 60))
            .merge(("session_absolute_timeout", 600)),
    );
    login(&client, "太郎");
    let id = session_of(&client).unwrap().id();
    post_form(&client, uri!(routes::logout), &[]);
    assert_eq!(revocations(&client).len(), 1);

    // Still revoked just before the session's absolute expiry...
    clock.advance(Duration::from_secs(599));
    assert!(revocations(&client).is_revoked(&id));

    // ...then no longer, and dropped from memory by the next revocation.
    clock.advance(Duration::from_secs(2));
    assert!(!revocations(&client).is_revoked(&id));
    login(&client, "花子");
    post_form(&client, uri!(routes::logout), &[]);
    assert_eq!(revocations(&client).len(), 1, "only 花子's is held");
}

#[test]
fn a_revocation_survives_kill_9_and_a_restart() {
    let store = fresh_store();
    let env = [("ROCKET_SESSION_REVOCATION_STORE", store.as_str())];
    let server = Server::start(&env);
    let mut browser = Agent::plain(server.port);
    let page = browser.get(uri!(routes::index)).unwrap();
    let token = token_in(&page.body).unwrap();
    browser
        .post(
            uri!(routes::login),
            &form_body(&[("name", "太郎"), ("csrf_token", &token)]),
        )
        .unwrap();
    let copy = browser.cookies[SESSION_COOKIE].clone();
    let token = token_in(&browser.get(uri!(routes::output)).unwrap().body).unwrap();
    let logout = browser
        .post(uri!(routes::logout), &form_body(&[("csrf_token", &token)]))
        .unwrap();
    assert_eq!(logout.status, 303);

    // The logout has answered: kill -9 (Server's drop sends SIGKILL).
    drop(server);

    let restarted = Server::start(&env);
    let mut thief = Agent::plain(restarted.port);
    thief.cookies.insert(SESSION_COOKIE.into(), copy);
    let replay = thief.get(uri!(routes::output)).unwrap();
    assert_eq!(
        (replay.status, replay.header("Location")),
        (303, Some(uri!(routes::index).to_string().as_str()))
    );
    assert!(restarted.prints_soon("session: cookie rejected: revoked"));
}

#[test]
fn an_unusable_store_refuses_to_start_in_one_line() {
    for store in [
        "/proc/no/such/folder/revoked",
        "redis://no host/",
        "ftp://x/y",
    ] {
        let run = common::server::run_binary(
            env!("CARGO_MANIFEST_DIR").as_ref(),
            &[
                ("ROCKET_PROFILE", "release"),
                ("ROCKET_SECRET_KEY", common::server::TEST_KEY),
                ("ROCKET_SESSION_REVOCATION_STORE", store),
            ],
        );
        let line = run.refusal();
        assert!(
            line.starts_with("session_app: refusing to start: session_revocation_store"),
            "{store}: {line}"
        );
    }
}

#[test]
fn readiness_reports_the_file_store_as_reachable() {
    let client = client();
    let response = client.get(uri!(routes::readyz)).dispatch();
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(response.into_string().as_deref(), Some("ready"));
}
