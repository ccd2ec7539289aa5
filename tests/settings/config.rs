//! Configuration: Rocket.toml's profiles, environment variables, and the
//! settings that refuse to start.

// figment::Jail closures return figment::Error, which is large by design.
#![allow(clippy::result_large_err)]

use crate::common;

use rocket::uri;
use session_app::routes;

use common::{secure, CSRF_COOKIE, FLASH_COOKIE, SESSION_COOKIE, TEMPLATES};
use figment::{Figment, Jail};
use rocket::error::ErrorKind;
use rocket::local::blocking::Client;
use rocket_sealed_sessions::Expiry;
use session_app::config::{AppConfig, DEV_SECRET_KEY, ROCKET_DOCS_KEY};
use std::time::Duration;

use common::server::{OTHER_KEY, TEST_KEY};

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
fn the_binary_in_release_refuses_the_key_from_rockets_documentation() {
    // Rocket's docs and examples/config/Rocket.toml print this key: an app
    // that copied it would accept sessions anyone can seal.
    let line = refused_line(&[
        ("ROCKET_PROFILE", "release"),
        ("ROCKET_SECRET_KEY", ROCKET_DOCS_KEY),
    ]);
    assert!(
        line.contains("secret_key is the key published in Rocket's documentation"),
        "{line}"
    );
    assert!(!line.contains(ROCKET_DOCS_KEY), "the key is never echoed");
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
    let most = rocket_sealed_sessions::limits::LONGEST_LIFETIME.as_secs();
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
    assert!(config.session.cookies.secure());
    assert_eq!(
        config.session.cookies.session_cookie(),
        secure(SESSION_COOKIE)
    );
    assert_eq!(
        session_app::cookies::CookieSettings::new(config.session.cookies.clone()).csrf,
        secure(CSRF_COOKIE)
    );
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
        .merge(("secret_key", TEST_KEY));
    let client = Client::tracked(session_app::rocket_with(release)).expect("starts");
    assert_eq!(
        common::login(&client, "太郎").status(),
        rocket::http::Status::SeeOther
    );
    assert_eq!(
        common::session_of(&client).unwrap().get("name"),
        Some("太郎")
    );
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
        jail.set_env("ROCKET_SECRET_KEY", TEST_KEY);
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
            config.session.expiry,
            Expiry::new(Duration::from_secs(60), Duration::from_secs(600))
        );
        assert_eq!(config.session.cookies.session_cookie(), secure("sid"));
        assert!(config.session.cookies.secure());
        assert_eq!(config.session.cookies.fallback_keys().len(), 1);
        Ok(())
    });
}

#[test]
fn release_refuses_the_development_key_as_a_fallback() {
    let release = common::figment()
        .select("release")
        .merge(("secret_key", TEST_KEY))
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
        printed.contains("secret_key is the committed development key"),
        "{printed}"
    );
}

#[test]
fn the_binary_serves_with_no_set_up_in_debug() {
    use common::server::{free_port, Agent};

    // Nothing but a free port: Rocket.toml's debug profile does the rest.
    let port = free_port();
    let child = serving(env!("CARGO_MANIFEST_DIR").as_ref(), &[], port);
    let page = Agent::plain(port).get(uri!(routes::index));
    drop(child);
    let page = page.unwrap();
    assert_eq!(page.status, 200);
    assert!(page.body.contains("ログインしてください。"));
    assert!(page
        .set_cookies()
        .any(|c| c.starts_with(&format!("{CSRF_COOKIE}="))));
}

/// Runs the binary from the repository in the debug profile, on its own
/// revocation files, with `env` besides; asserts it refused in one line
/// (exit 1, the refusal prefix) and returns that line.
fn refused_line(env: &[(&str, &str)]) -> String {
    refused_line_in(env!("CARGO_MANIFEST_DIR").as_ref(), env)
}

fn refused_line_in(dir: &std::path::Path, env: &[(&str, &str)]) -> String {
    let (store, spool) = (common::fresh_store(), common::fresh_store());
    let mut all = vec![
        ("ROCKET_PORT", "0"),
        ("ROCKET_TEMPLATE_DIR", TEMPLATES),
        ("ROCKET_SESSION_REVOCATION_STORE", store.as_str()),
        ("ROCKET_SESSION_REVOCATION_SPOOL", spool.as_str()),
    ];
    all.extend_from_slice(env);
    common::server::run_binary(dir, &all).refusal().to_owned()
}

/// A folder of its own for one test, under the target folder.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("config-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A key that decodes to 31 zero bytes and a one: valid base64 of the
/// right length, and no secret at all.
const WEAK_KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE=";

#[test]
fn thread_counts_rocket_would_panic_on_are_refused_in_one_line() {
    // Rocket reads these to build its runtime, before the app runs, and
    // panics on them (exit 101, several lines).
    for (variable, value, needed) in [
        ("ROCKET_WORKERS", "0", "workers (ROCKET_WORKERS) must be a whole number of threads, at least 1 and at most 1024, not 0"),
        ("ROCKET_WORKERS", "-1", "workers (ROCKET_WORKERS) must be a whole number of threads, at least 1 and at most 1024, not -1"),
        ("ROCKET_MAX_BLOCKING", "0", "max_blocking (ROCKET_MAX_BLOCKING) must be a whole number of threads, at least 1 and at most 4096, not 0"),
        // Enough threads to abort the runtime (15,883 of them did).
        ("ROCKET_WORKERS", "100000", "workers (ROCKET_WORKERS) must be a whole number of threads, at least 1 and at most 1024, not 100000"),
    ] {
        let line = refused_line(&[(variable, value)]);
        assert!(line.contains(needed), "{variable}={value}: {line}");
    }
}

#[test]
fn a_settings_file_that_is_not_toml_is_refused_in_one_line_without_its_text() {
    let dir = scratch("not-toml");
    // The broken line holds a key: the refusal says where, not what.
    let text = format!("[release]\nsecret_key = \"{TEST_KEY}\nport = 8000\n");
    let named = dir.join("settings.toml");
    std::fs::write(&named, &text).unwrap();
    let line = refused_line(&[("ROCKET_CONFIG", named.to_str().unwrap())]);
    assert!(
        line.contains(&format!(
            "the settings file `{}` is not valid TOML at line 2",
            named.display()
        )),
        "{line}"
    );
    assert!(
        !line.contains(TEST_KEY) && !line.contains(&TEST_KEY[..8]),
        "{line}"
    );

    // The same for Rocket.toml, found without ROCKET_CONFIG.
    std::fs::write(dir.join("Rocket.toml"), &text).unwrap();
    let line = refused_line_in(&dir, &[]);
    assert!(
        line.contains("Rocket.toml` is not valid TOML at line 2"),
        "{line}"
    );
    assert!(!line.contains(TEST_KEY), "{line}");
}

#[test]
fn rocket_config_must_name_a_settings_file() {
    let dir = scratch("named-file");
    let missing = dir.join("missing.toml");
    let cases = [
        (missing.to_str().unwrap(), "which is no file: fix the path"),
        (
            "no-such-settings.toml",
            "which is no file in the working folder or its parents",
        ),
        (dir.to_str().unwrap(), "names the folder"),
        ("", "ROCKET_CONFIG is set but empty"),
    ];
    for (named, needed) in cases {
        let line = refused_line(&[("ROCKET_CONFIG", named)]);
        assert!(
            line.starts_with("session_app: refusing to start: ROCKET_CONFIG ")
                && line.contains(needed),
            "{named:?}: {line}"
        );
    }

    // Unset, a missing Rocket.toml is fine: the binary starts on its
    // defaults from a folder without one.
    use common::server::free_port;
    let elsewhere =
        std::env::temp_dir().join(format!("session-app-no-settings-{}", std::process::id()));
    std::fs::create_dir_all(&elsewhere).unwrap();
    assert!(
        elsewhere
            .ancestors()
            .all(|d| !d.join("Rocket.toml").exists()),
        "a Rocket.toml above {} spoils this test",
        elsewhere.display()
    );
    let (store, spool) = (common::fresh_store(), common::fresh_store());
    let env = [
        ("ROCKET_TEMPLATE_DIR", TEMPLATES),
        ("ROCKET_SESSION_REVOCATION_STORE", store.as_str()),
        ("ROCKET_SESSION_REVOCATION_SPOOL", spool.as_str()),
    ];
    drop(serving(&elsewhere, &env, free_port()));
    let _ = std::fs::remove_dir_all(&elsewhere);
}

#[test]
fn misspelled_settings_are_refused_with_the_right_spelling() {
    let line = refused_line(&[("ROCKET_SESSION_IDEL_TIMEOUT", "60")]);
    assert!(
        line.contains(
            "unknown setting `session_idel_timeout` (set by ROCKET_SESSION_IDEL_TIMEOUT): did you mean `session_idle_timeout`?"
        ),
        "{line}"
    );
    // Near misses outside the `session_` names too.
    for (variable, key, near) in [
        (
            "ROCKET_SESION_REVOCATION_STORE",
            "sesion_revocation_store",
            "session_revocation_store",
        ),
        (
            "ROCKET_REVOCATION_STORE",
            "revocation_store",
            "session_revocation_store",
        ),
        (
            "ROCKET_COOKIE_SECURE",
            "cookie_secure",
            "session_cookie_secure",
        ),
    ] {
        let line = refused_line(&[(variable, "/tmp/x")]);
        assert!(
            line.contains(&format!(
                "unknown setting `{key}` (set by {variable}): did you mean `{near}`?"
            )),
            "{line}"
        );
    }

    let file = scratch("misspelled").join("settings.toml");
    std::fs::write(&file, "[default]\nsession_cookie_secur = true\n").unwrap();
    let line = refused_line(&[("ROCKET_CONFIG", file.to_str().unwrap())]);
    assert!(
        line.contains(&format!(
            "unknown setting `session_cookie_secur` in {}",
            file.display()
        )),
        "{line}"
    );

    // A setting written above every profile is named, not taken for a
    // profile of its own (which made every setting fail to read).
    let file = scratch("outside-profile").join("settings.toml");
    std::fs::write(&file, "port = 9000\n[default]\nworkers = 2\n").unwrap();
    let line = refused_line(&[("ROCKET_CONFIG", file.to_str().unwrap())]);
    assert!(
        line.contains(&format!(
            "`port` in the settings file `{}` is outside a profile: put it under [default]",
            file.display()
        )),
        "{line}"
    );

    // In the library too, as a figment carries it.
    let message = refusal(common::figment().merge(("session_revocaton_store", "x")));
    assert!(
        message.contains("unknown setting `session_revocaton_store`"),
        "{message}"
    );
}

#[test]
fn keys_with_almost_no_entropy_are_refused_without_being_shown() {
    let release = ("ROCKET_PROFILE", "release");
    let line = refused_line(&[release, ("ROCKET_SECRET_KEY", WEAK_KEY)]);
    assert!(
        line.contains("secret_key has too few distinct bytes to be a random key")
            && line.contains("openssl rand -base64 32"),
        "{line}"
    );
    assert!(!line.contains(WEAK_KEY), "{line}");

    let fallbacks = format!("[\"{OTHER_KEY}\", \"{WEAK_KEY}\"]");
    let line = refused_line(&[
        release,
        ("ROCKET_SECRET_KEY", TEST_KEY),
        ("ROCKET_SECRET_KEY_FALLBACKS", &fallbacks),
    ]);
    assert!(
        line.contains("secret_key_fallbacks[1] has too few distinct bytes"),
        "{line}"
    );
    assert!(!line.contains(WEAK_KEY), "{line}");

    // In hex too, and in the debug profile: no profile needs such a key.
    let hex = common::as_hex(WEAK_KEY);
    let message = refusal(common::figment().merge(("secret_key", hex.as_str())));
    assert!(message.contains("too few distinct bytes"), "{message}");
}

/// Makes `dir` a folder in which nothing new can be made, even by root:
/// read-only by mode, or immutable (`chattr +i`) where root ignores modes.
/// Undone when dropped. `None` when neither works here.
struct Unwritable(std::path::PathBuf);

impl Unwritable {
    fn make(dir: &std::path::Path) -> Option<Unwritable> {
        use std::os::unix::fs::PermissionsExt;
        let guard = Unwritable(dir.to_owned());
        let writable = || {
            let probe = dir.join("probe");
            let made = std::fs::write(&probe, "").is_ok();
            let _ = std::fs::remove_file(&probe);
            made
        };
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
        if !writable() {
            return Some(guard);
        }
        let immutable = std::process::Command::new("chattr")
            .arg("+i")
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        (immutable && !writable()).then_some(guard)
    }
}

impl Drop for Unwritable {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .arg(&self.0)
            .status();
        let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o755));
    }
}

#[test]
fn an_unusable_revocation_store_is_refused_in_one_line_even_at_ignition() {
    // A device: refused by the settings check.
    let line = refused_line(&[("ROCKET_SESSION_REVOCATION_STORE", "/dev/full")]);
    assert!(
        line.starts_with("session_app: refusing to start: session_revocation_store `/dev/full`"),
        "{line}"
    );

    // A read-only folder whose store and lock files exist: the settings
    // check can open them, and only opening the store at ignition (which
    // rewrites the file beside itself) fails. Its reason is the one line.
    let dir = scratch("read-only-store");
    let store = dir.join("revoked");
    std::fs::write(&store, "").unwrap();
    std::fs::write(dir.join("revoked.lock"), "").unwrap();
    let Some(_unwritable) = Unwritable::make(&dir) else {
        eprintln!("skipped: no folder can be made read-only here (root without chattr)");
        return;
    };
    let store = store.to_str().unwrap();
    let line = refused_line(&[("ROCKET_SESSION_REVOCATION_STORE", store)]);
    assert!(
        line.starts_with(&format!(
            "session_app: refusing to start: session_revocation_store `{store}` cannot be used: "
        )),
        "{line}"
    );
}

/// The binary in `dir` with only `env` and `port` set, once it serves: it
/// is killed when the returned guard is dropped, a failed test included.
fn serving(dir: &std::path::Path, env: &[(&str, &str)], port: u16) -> common::server::Started {
    use common::server::{answers, wait_until, Started};
    let mut child = Started(
        std::process::Command::new(env!("CARGO_BIN_EXE_session_app"))
            .current_dir(dir)
            .env_clear()
            .envs(env.iter().copied())
            .env("ROCKET_PORT", port.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until(
        &mut child.0,
        "the app",
        || answers(port, uri!(routes::healthz)),
        String::new,
    );
    child
}
