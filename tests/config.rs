//! Configuration: Rocket.toml's profiles, environment variables, and the
//! settings that refuse to start.

// figment::Jail closures return figment::Error, which is large by design.
#![allow(clippy::result_large_err)]

mod common;

use rocket::uri;
use session_app::routes;

use common::{secure, CSRF_COOKIE, FLASH_COOKIE, SESSION_COOKIE, TEMPLATES};
use figment::{Figment, Jail};
use rocket::error::ErrorKind;
use rocket::local::blocking::Client;
use session_app::config::{AppConfig, DEV_SECRET_KEY};
use session_app::session::Expiry;
use std::time::Duration;

const A_KEY: &str = "hPRYyVRiMyxpw5sBB1XeCMN1kFsDCqKvBi2QJxBVHQk=";
const OTHER_KEY: &str = "q0v8Yp6rO5yB3fJ0l7m2b9qC1dXz4sT6uW8eR0tY2iE=";

fn refusal(figment: Figment) -> String {
    match Client::tracked(session_app::rocket_with(figment.clone())) {
        Err(e) => assert!(matches!(e.kind(), ErrorKind::FailedFairings(_)), "{e}"),
        Ok(_) => panic!("ignition must fail"),
    }
    AppConfig::from_figment(&figment)
        .expect_err("a refusal")
        .to_string()
}

#[test]
fn release_refuses_to_start_without_a_key() {
    let release = common::figment().select("release");
    let message = refusal(release);
    assert!(message.contains("ROCKET_SECRET_KEY"), "{message}");
    assert!(message.contains("openssl rand -base64 32"), "{message}");
    assert!(!message.contains('\n'));
}

#[test]
fn release_refuses_the_committed_development_key() {
    let release = common::figment()
        .select("release")
        .merge(("secret_key", DEV_SECRET_KEY));
    let message = refusal(release);
    assert!(message.contains("development"), "{message}");
    assert!(!message.contains(DEV_SECRET_KEY), "the key is never echoed");
}

#[test]
fn release_refuses_the_development_key_in_hex_too() {
    let hex = common::as_hex(DEV_SECRET_KEY);
    let release = common::figment()
        .select("release")
        .merge(("secret_key", hex.as_str()));
    assert!(refusal(release).contains("development"));
}

#[test]
fn the_longest_timeouts_still_serve() {
    let most = session_app::config::MAX_TIMEOUT_SECS;
    let figment = common::figment()
        .merge(("session_idle_timeout", most))
        .merge(("session_absolute_timeout", most));
    let client = Client::tracked(session_app::rocket_with(figment)).unwrap();
    let response = common::login(&client, "太郎");
    assert_eq!(response.status(), rocket::http::Status::SeeOther);
    let cookie = common::set_cookie(&response, SESSION_COOKIE).unwrap();
    assert!(cookie.contains(&format!("Max-Age={most}")), "{cookie}");
}

#[test]
fn rockets_own_tls_gives_host_prefixed_secure_cookies() {
    let tls = figment::value::Dict::from([
        ("certs".to_owned(), "cert.pem".into()),
        ("key".to_owned(), "key.pem".into()),
    ]);
    let config = AppConfig::from_figment(&common::figment().merge(("tls", tls))).unwrap();
    assert!(config.cookies.secure);
    assert_eq!(config.cookies.session, secure(SESSION_COOKIE));
    assert_eq!(config.cookies.csrf, secure(CSRF_COOKIE));
}

#[test]
fn a_malformed_key_stops_the_binary_without_printing_it() {
    let secret = "not-a-key-but-secret-material-1234567890abc";
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_session_app"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("ROCKET_PROFILE", "release")
        .env("ROCKET_SECRET_KEY", secret)
        .env("ROCKET_PORT", "0")
        .env_remove("ROCKET_SECRET_KEY_FALLBACKS")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let printed = [output.stdout, output.stderr].concat();
    let printed = String::from_utf8_lossy(&printed);
    assert!(
        printed.contains("invalid value for `secret_key`"),
        "{printed}"
    );
    assert!(!printed.contains(secret), "{printed}");
}

#[test]
fn release_starts_with_a_key_of_its_own() {
    let release = common::figment()
        .select("release")
        .merge(("secret_key", A_KEY));
    let client = Client::tracked(session_app::rocket_with(release)).expect("starts");
    assert_eq!(
        common::login(&client, "太郎").status(),
        rocket::http::Status::SeeOther
    );
    assert_eq!(common::session_of(&client).unwrap().name(), Some("太郎"));
}

#[test]
fn the_debug_profile_runs_with_no_set_up() {
    let figment = common::figment();
    assert_eq!(figment.profile(), "debug");
    let config: rocket::Config = figment.extract().unwrap();
    assert_eq!(config.port, 8080);
    assert!(config.secret_key.is_provided());
    // The committed key in Rocket.toml is the one release refuses.
    assert_eq!(
        figment.find_value("secret_key").unwrap().as_str(),
        Some(DEV_SECRET_KEY)
    );
    assert_eq!(config.limits.get("form").unwrap().as_u64(), 4096);
}

#[test]
fn invalid_settings_refuse_to_start() {
    let cases: [(&str, figment::value::Value, &str); 12] = [
        // Names the browser would treat specially, or the app uses already.
        (
            "session_cookie_name",
            "__Secure-s".into(),
            "session_cookie_name",
        ),
        (
            "session_cookie_name",
            CSRF_COOKIE.into(),
            "taken by another",
        ),
        (
            "session_cookie_name",
            FLASH_COOKIE.into(),
            "taken by another",
        ),
        // "Never" is not a timeout: over 400 days is refused.
        (
            "session_idle_timeout",
            999_999_999_999i64.into(),
            "from 1 to 34560000",
        ),
        (
            "session_absolute_timeout",
            (34_560_000i64 + 1).into(),
            "from 1 to 34560000",
        ),
        (
            "session_idle_timeout",
            0.into(),
            "session_idle_timeout must be a number of seconds from 1",
        ),
        (
            "session_idle_timeout",
            (-5).into(),
            "session_idle_timeout must be a number of seconds from 1",
        ),
        (
            "session_absolute_timeout",
            0.into(),
            "session_absolute_timeout must be a number of seconds from 1",
        ),
        (
            "session_idle_timeout",
            30_000.into(),
            "must not exceed session_absolute_timeout",
        ),
        ("session_idle_timeout", "soon".into(), "invalid setting"),
        (
            "session_cookie_name",
            "bad name;".into(),
            "session_cookie_name",
        ),
        (
            "session_cookie_name",
            secure(SESSION_COOKIE).as_str().into(),
            "session_cookie_name",
        ),
    ];
    for (key, value, expected) in cases {
        let message = refusal(common::figment().merge((key, value.clone())));
        assert!(message.contains(expected), "{key}={value:?}: {message}");
    }
}

#[test]
fn environment_variables_configure_everything() {
    Jail::expect_with(|jail| {
        jail.set_env("ROCKET_TEMPLATE_DIR", TEMPLATES);
        jail.set_env("ROCKET_PROFILE", "release");
        jail.set_env("ROCKET_SECRET_KEY", A_KEY);
        jail.set_env("ROCKET_PORT", "9123");
        jail.set_env("ROCKET_ADDRESS", "0.0.0.0");
        jail.set_env("ROCKET_SESSION_IDLE_TIMEOUT", "60");
        jail.set_env("ROCKET_SESSION_ABSOLUTE_TIMEOUT", "600");
        jail.set_env("ROCKET_SESSION_COOKIE_NAME", "sid");
        jail.set_env("ROCKET_SESSION_COOKIE_SECURE", "true");
        jail.set_env("ROCKET_SECRET_KEY_FALLBACKS", format!("[\"{OTHER_KEY}\"]"));

        let figment = session_app::config::figment();
        let rocket_config: rocket::Config = figment.extract()?;
        assert_eq!(rocket_config.port, 9123);
        assert_eq!(rocket_config.address.to_string(), "0.0.0.0");

        let config = AppConfig::from_figment(&figment).expect("valid");
        assert_eq!(
            config.expiry,
            Expiry::new(Duration::from_secs(60), Duration::from_secs(600))
        );
        assert_eq!(config.cookies.session, secure("sid"));
        assert!(config.cookies.secure);
        assert_eq!(config.cookies.fallback_keys.len(), 1);
        Ok(())
    });
}

#[test]
fn release_refuses_the_development_key_as_a_fallback() {
    let release = common::figment()
        .select("release")
        .merge(("secret_key", A_KEY))
        .merge(("secret_key_fallbacks", [OTHER_KEY, DEV_SECRET_KEY]));
    let message = refusal(release);
    assert!(
        message.contains("secret_key_fallbacks[1]") && message.contains("development"),
        "{message}"
    );
    // In debug it may stay, as during local key-rotation experiments.
    let debug = common::figment().merge(("secret_key_fallbacks", [DEV_SECRET_KEY]));
    assert!(AppConfig::from_figment(&debug).is_ok());
}

/// Runs the binary from the repository with only `env` set; returns its
/// exit status and everything it printed.
fn run_binary(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let run = common::server::run_binary(env!("CARGO_MANIFEST_DIR").as_ref(), env);
    (run.status, run.stdout + &run.stderr)
}

#[test]
fn the_binary_in_release_refuses_to_start_without_its_own_key() {
    let (status, printed) = run_binary(&[("ROCKET_PROFILE", "release"), ("ROCKET_PORT", "0")]);
    assert_eq!(status, Some(1), "{printed}");
    let line = printed
        .lines()
        .find(|l| l.contains("refusing to start"))
        .expect("a reason");
    assert!(
        line.contains("ROCKET_SECRET_KEY") && line.contains("openssl rand -base64 32"),
        "{line}"
    );

    let (status, printed) = run_binary(&[
        ("ROCKET_PROFILE", "release"),
        ("ROCKET_PORT", "0"),
        ("ROCKET_SECRET_KEY", DEV_SECRET_KEY),
    ]);
    assert_eq!(status, Some(1), "{printed}");
    assert!(
        printed.contains("development secret key is refused"),
        "{printed}"
    );
}

#[test]
fn the_binary_serves_with_no_set_up_in_debug() {
    use common::server::{answers, free_port, wait_until, Agent};

    // Nothing but a free port: Rocket.toml's debug profile does the rest.
    let port = free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_session_app"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_clear()
        .env("ROCKET_PORT", port.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until(
        &mut child,
        "the app",
        || answers(port, uri!(routes::healthz)),
        String::new,
    );
    let page = Agent::plain(port).get(uri!(routes::index));
    let _ = child.kill();
    let _ = child.wait();
    let page = page.unwrap();
    assert_eq!(page.status, 200);
    assert!(page.body.contains("ログインしてください。"));
    assert!(page
        .set_cookies()
        .any(|c| c.starts_with(&format!("{CSRF_COOKIE}="))));
}
