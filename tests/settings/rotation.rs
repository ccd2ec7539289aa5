//! Secret key rotation: cookies sealed under a fallback key are accepted and
//! re-sealed under the current key; retired keys are refused.

// figment::Jail closures return figment::Error, which is large by design.
#![allow(clippy::result_large_err)]

use crate::common;

use common::*;
use figment::Jail;
use rocket::http::{Cookie, Status};
use rocket::local::blocking::Client;
use rocket::uri;
use session_app::config::AppConfig;
use session_app::routes;

const OLD: &str = "V+Ly6JPKyHU+z4DyD0e0PU1AxvY83MtQi5HFTAa0WKc=";
const NEW: &str = "q0v8Yp6rO5yB3fJ0l7m2b9qC1dXz4sT6uW8eR0tY2iE=";
/// A 512-bit key, the other length Rocket accepts.
const OLDER: &str =
    "WVKNrYvJn0FmOqZh0cbBFZIRZ907MrEuegedl2tAHsz5n3GAgz5ecVf3ZAJ/R/CYGtOqmo1FKmfOuYuZFBbqkA==";

fn app(current: &str, fallbacks: &[&str]) -> Client {
    client_with(
        figment()
            .merge(("secret_key", current))
            .merge(("secret_key_fallbacks", fallbacks)),
    )
}

/// Logs in on an app keyed with `key`; returns the sealed session and CSRF cookies.
fn cookies_sealed_under(key: &str) -> (String, String) {
    let client = app(key, &[]);
    login(&client, "太郎");
    let sealed = |name| client.cookies().get(name).unwrap().value().to_owned();
    (sealed(SESSION_COOKIE), sealed(CSRF_COOKIE))
}

#[test]
fn a_session_under_a_fallback_key_is_accepted_and_resealed() {
    for old in [OLD, OLDER] {
        let (session, _) = cookies_sealed_under(old);
        let client = app(NEW, &[OLDER, old]);

        let response = output_with(&client, Cookie::new(SESSION_COOKIE, session.clone()));
        assert_eq!(response.status(), Status::Ok);
        let resealed =
            set_cookie(&response, SESSION_COOKIE).expect("re-sealed in the same response");
        assert!(
            resealed.contains("HttpOnly") && resealed.contains("Max-Age="),
            "{resealed}"
        );
        drop(response);

        // The new cookie opens under the current key alone.
        assert_eq!(session_of(&client).unwrap().get("name"), Some("太郎"));
        let resealed = client
            .cookies()
            .get(SESSION_COOKIE)
            .unwrap()
            .value()
            .to_owned();
        assert_ne!(resealed, session);
        let only_new = app(NEW, &[]);
        let response = output_with(&only_new, Cookie::new(SESSION_COOKIE, resealed));
        assert_eq!(response.status(), Status::Ok);
        assert!(
            set_cookie(&response, SESSION_COOKIE).is_none(),
            "nothing left to re-seal"
        );
    }
}

#[test]
fn the_csrf_cookie_rotates_too() {
    let (_, csrf) = cookies_sealed_under(OLD);
    let client = app(NEW, &[OLD]);

    let page = client
        .get(uri!(routes::index))
        .cookie(Cookie::new(CSRF_COOKIE, csrf.clone()))
        .dispatch();
    assert!(set_cookie(&page, CSRF_COOKIE).is_some(), "re-sealed");
    let token = token_in(&page.into_string().unwrap()).unwrap();
    assert_ne!(client.cookies().get(CSRF_COOKIE).unwrap().value(), csrf);

    // The same token still works, now under the new key.
    let response = post_raw(
        &client,
        uri!(routes::login),
        &[("name", "花子"), ("csrf_token", &token)],
    );
    assert_eq!(location(&response), uri!(routes::output).to_string());
}

#[test]
fn a_retired_key_is_refused_like_any_bad_cookie() {
    let (session, csrf) = cookies_sealed_under(OLD);
    let client = app(NEW, &[]);

    let response = output_with(&client, Cookie::new(SESSION_COOKIE, session));
    assert_eq!(response.status(), Status::SeeOther);
    assert_removes(&response, SESSION_COOKIE);
    drop(response);

    // A token cookie under the retired key is replaced by a new token.
    let page = client
        .get(uri!(routes::index))
        .cookie(Cookie::new(CSRF_COOKIE, csrf.clone()))
        .dispatch();
    let token = token_in(&page.into_string().unwrap()).unwrap();
    let client2 = app(OLD, &[]);
    let old_token = token_in(
        &client2
            .get(uri!(routes::index))
            .cookie(Cookie::new(CSRF_COOKIE, csrf))
            .dispatch()
            .into_string()
            .unwrap(),
    )
    .unwrap();
    assert_ne!(token, old_token);
}

#[test]
fn malformed_fallbacks_refuse_to_start_without_echoing_keys() {
    let short = "c2hvcnQ="; // "short"
    let cases: [(figment::value::Value, &str); 5] = [
        (OLD.into(), "must be a list"),
        (
            vec![OLD, "not base64!"].into(),
            "secret_key_fallbacks[1] is not valid base64",
        ),
        (
            vec![short].into(),
            "secret_key_fallbacks[0] is shorter than 256 bits",
        ),
        (
            vec![OLD, NEW, "%%%"].into(),
            "secret_key_fallbacks[2] is not valid base64",
        ),
        (
            figment::value::Value::from(vec![1u8, 2, 3]),
            "secret_key_fallbacks[0] is not a string",
        ),
    ];
    for (value, expected) in cases {
        let figment = figment().merge(("secret_key_fallbacks", value.clone()));
        let message = AppConfig::from_figment(&figment)
            .expect_err("refused")
            .to_string();
        assert!(message.contains(expected), "{value:?}: {message}");
        for secret in [OLD, NEW, short, "not base64!"] {
            assert!(!message.contains(secret), "{message}");
        }
        assert!(Client::tracked(session_app::rocket_with(figment))
            .map_err(|e| e.kind().to_string())
            .is_err());
    }
}

#[test]
fn fallbacks_come_from_toml_arrays_and_environment_lists() {
    Jail::expect_with(|jail| {
        jail.set_env("ROCKET_TEMPLATE_DIR", TEMPLATES);
        jail.create_file(
            "Rocket.toml",
            &format!("[default]\nsecret_key_fallbacks = [\"{OLD}\", \"{OLDER}\"]\n"),
        )?;
        let config = AppConfig::from_figment(&session_app::config::figment()).expect("valid");
        assert_eq!(config.session.cookies.fallback_keys().len(), 2);

        jail.set_env("ROCKET_SECRET_KEY_FALLBACKS", format!("[\"{NEW}\"]"));
        let config = AppConfig::from_figment(&session_app::config::figment()).expect("valid");
        assert_eq!(config.session.cookies.fallback_keys().len(), 1);

        // A lone string is not a list of one-character keys.
        jail.set_env("ROCKET_SECRET_KEY_FALLBACKS", NEW);
        let refused = AppConfig::from_figment(&session_app::config::figment())
            .err()
            .unwrap();
        assert!(refused.to_string().contains("must be a list"));
        Ok(())
    });
}

#[test]
fn a_fallback_key_may_be_written_in_hex_like_secret_key() {
    let hex = as_hex(OLD);
    let (session, _) = cookies_sealed_under(OLD);
    let client = app(NEW, &[&hex]);
    let response = output_with(&client, Cookie::new(SESSION_COOKIE, session));
    assert_eq!(response.status(), Status::Ok);
}

#[test]
fn the_binary_rotates_keys_configured_by_environment_alone() {
    use common::server::{Agent, Server};

    // Logged in while OLD was the key.
    let before = Server::start(&[("ROCKET_SECRET_KEY", OLD)]);
    let mut browser = Agent::plain(before.port);
    let token = token_in(&browser.get(uri!(routes::index)).unwrap().body).unwrap();
    let login = browser
        .post(
            uri!(routes::login),
            &form_body(&[("name", "太郎"), ("csrf_token", &token)]),
        )
        .unwrap();
    assert_eq!(login.status, 303);
    let sealed_under_old = browser.cookies.clone();
    drop(before);

    // NEW is the key, OLD a fallback: still logged in, the session re-sealed.
    let fallbacks = format!("[\"{OLD}\"]");
    let during = Server::start(&[
        ("ROCKET_SECRET_KEY", NEW),
        ("ROCKET_SECRET_KEY_FALLBACKS", &fallbacks),
    ]);
    let mut rotated = Agent::plain(during.port);
    rotated.cookies = sealed_under_old.clone();
    let output = rotated.get(uri!(routes::output)).unwrap();
    assert_eq!(output.status, 200);
    assert!(output.body.contains("セッション情報：「太郎」"));
    let session_resealed = format!("{SESSION_COOKIE}=");
    assert!(
        output
            .set_cookies()
            .any(|c| c.starts_with(session_resealed.as_str())),
        "session re-sealed"
    );
    // The token cookie is re-sealed where it is read: on a page without a
    // session (a logged-in page takes the token from the session).
    let mut anonymous = Agent::plain(during.port);
    anonymous
        .cookies
        .insert(CSRF_COOKIE.into(), sealed_under_old[CSRF_COOKIE].clone());
    let page = anonymous.get(uri!(routes::index)).unwrap();
    let csrf_resealed = format!("{CSRF_COOKIE}=");
    assert!(
        page.set_cookies()
            .any(|c| c.starts_with(csrf_resealed.as_str())),
        "csrf re-sealed"
    );
    rotated
        .cookies
        .insert(CSRF_COOKIE.into(), anonymous.cookies[CSRF_COOKIE].clone());
    assert_ne!(rotated.cookies, sealed_under_old);

    // OLD dropped: the re-sealed cookies work, the old ones are refused.
    let after = Server::start(&[
        ("ROCKET_SECRET_KEY", NEW),
        ("ROCKET_SECRET_KEY_FALLBACKS", "[]"),
    ]);
    rotated = Agent::plain(after.port).with_cookies(rotated.cookies);
    assert_eq!(rotated.get(uri!(routes::output)).unwrap().status, 200);
    let mut stale = Agent::plain(after.port).with_cookies(sealed_under_old);
    let refused = stale.get(uri!(routes::output)).unwrap();
    assert_eq!(
        (refused.status, refused.header("Location")),
        (303, Some(uri!(routes::index).to_string().as_str()))
    );
}
