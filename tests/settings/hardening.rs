//! What an outside review broke at the app's edges, each proven fixed:
//! configuration that does not depend on the working folder, refusals in
//! one line, the notice cookie's attributes, names that show nothing or
//! reorder the page, and a process that cannot be starved of open files.

// figment::Jail closures return figment::Error, which is large by design.
#![allow(clippy::result_large_err)]

use crate::common;

use std::io::Read;
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::server::{run_binary, Agent, Server, TEST_KEY};
use common::*;
use figment::Jail;
use rocket::uri;
use session_app::config::AppConfig;
use session_app::routes;

#[test]
fn names_that_show_nothing_are_refused_like_an_empty_one() {
    let client = client();
    for blank in [
        "\u{200B}",
        "\u{FEFF}",
        "\u{00AD}",
        " \u{200B}\u{2060} ",
        "\u{3164}",
    ] {
        let response = login(&client, blank);
        assert_redirects_to(&response, uri!(routes::index));
        drop(response);
        assert_eq!(
            login_page_alert(&client).as_deref(),
            Some("名前を入力してください。"),
            "{blank:?}"
        );
        assert!(session_of(&client).is_none());
    }
}

#[test]
fn names_that_reorder_or_break_the_page_are_refused_with_their_own_message() {
    let client = client();
    for bad in [
        "abc\u{202E}def",
        "\u{2066}x\u{2069}",
        "x\u{2028}y",
        "name\u{2029}",
    ] {
        let response = login(&client, bad);
        assert_redirects_to(&response, uri!(routes::index));
        drop(response);
        let alert = login_page_alert(&client).expect("a message");
        assert!(alert.contains("文字の向き"), "{bad:?}: {alert}");
        assert!(session_of(&client).is_none());
    }
}

#[test]
fn real_names_still_work() {
    for name in ["山田 太郎", "José", "O'Brien", "ｶﾀｶﾅ", "👩\u{200D}💻"] {
        let client = client();
        assert_redirects_to(&login(&client, name), uri!(routes::output));
        assert_eq!(session_of(&client).unwrap().get("name"), Some(name));
    }
}

#[test]
fn the_notice_cookie_has_the_session_cookies_attributes() {
    let client = client();
    let response = login(&client, "");
    let notice = set_cookie(&response, FLASH_COOKIE).expect("a notice");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(notice.contains(attribute), "{notice}");
    }
    assert!(!notice.contains("Secure"), "{notice}");
    drop(response);
    // Shown once, and removed with the same attributes.
    let page = client.get(uri!(routes::index)).dispatch();
    let removal = assert_removes(&page, FLASH_COOKIE);
    assert!(removal.contains("Path=/") && removal.contains("HttpOnly"));

    let behind_tls = client_with(figment().merge(("session_cookie_secure", true)));
    let response = post_form(&behind_tls, uri!(routes::login), &[("name", "")]);
    assert!(set_cookie(&response, FLASH_COOKIE).is_none());
    let notice = set_cookie(&response, &secure(FLASH_COOKIE)).expect("__Host- notice");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Secure"] {
        assert!(notice.contains(attribute), "{notice}");
    }
    drop(response);
    // And the next page reads it under that name.
    let html = html(&behind_tls, uri!(routes::index));
    assert_eq!(alert_in(&html), Some("名前を入力してください。"));
}

#[test]
fn a_cookie_name_of_digits_stays_as_written() {
    for name in ["123", "0123"] {
        Jail::expect_with(|jail| {
            jail.set_env("ROCKET_TEMPLATE_DIR", TEMPLATES);
            jail.set_env("ROCKET_SESSION_COOKIE_NAME", name);
            let config = AppConfig::from_figment(&session_app::config::figment()).expect("valid");
            assert_eq!(config.session.cookies.session_cookie(), name);
            Ok(())
        });
    }
}

/// A folder with nothing of the app in it, as a service manager's.
fn elsewhere() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("session-app-elsewhere-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_binary_keeps_its_defaults_wherever_it_runs() {
    let dir = elsewhere();
    let mut child = Command::new(env!("CARGO_BIN_EXE_session_app"))
        .current_dir(&dir)
        .env_clear()
        .env("ROCKET_PROFILE", "release")
        .env("ROCKET_SECRET_KEY", TEST_KEY)
        .env("ROCKET_TEMPLATE_DIR", TEMPLATES)
        .env("ROCKET_CLI_COLORS", "false")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The start-up line comes before the app binds: read up to it,
    // whether or not port 8080 is free on this machine.
    let mut stdout = child.stdout.take().unwrap();
    let mut printed = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut buf = [0u8; 4096];
    while !printed.contains(" started ") && Instant::now() < deadline {
        match stdout.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => printed.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(printed.contains(" port=8080 "), "{printed}");
    assert!(printed.contains(" form_limit_bytes=4096 "), "{printed}");
    assert!(printed.contains(" log_level=normal "), "{printed}");
    assert!(printed.contains(" address=127.0.0.1 "), "{printed}");
}

/// Runs the binary from another folder; asserts it refused in exactly one
/// line on stderr, and returns that line.
fn refusal_line(env: &[(&str, &str)]) -> String {
    let mut all = vec![
        ("ROCKET_PROFILE", "release"),
        ("ROCKET_SECRET_KEY", TEST_KEY),
        ("ROCKET_TEMPLATE_DIR", TEMPLATES),
        ("ROCKET_PORT", "0"),
    ];
    all.extend_from_slice(env);
    // A folder of its own, which the refused start must leave empty.
    use std::sync::atomic::{AtomicUsize, Ordering};
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "session-app-refused-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let line = run_binary(&dir, &all).refusal().to_owned();
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert!(left.is_empty(), "a refused start made {left:?}");
    let _ = std::fs::remove_dir_all(&dir);
    line
}

#[test]
fn every_refusal_is_one_line_with_one_prefix() {
    let line = refusal_line(&[("ROCKET_LIMITS", "{form=0}")]);
    assert!(line.contains("limits.form"), "{line}");

    let line = refusal_line(&[("ROCKET_TEMPLATE_DIR", "/etc")]);
    assert!(line.contains("template_dir `/etc`"), "{line}");

    let line = refusal_line(&[("ROCKET_PORT", "not-a-port")]);
    assert!(line.contains("port"), "{line}");

    let line = refusal_line(&[("ROCKET_SESSION_IDLE_TIMEOUT", "0")]);
    assert!(line.contains("session_idle_timeout"), "{line}");

    // A Redis URL missing a slash is no file path: refused, its password
    // never shown, nothing made of it on disk.
    let line = refusal_line(&[(
        "ROCKET_SESSION_REVOCATION_STORE",
        "rediss:/app:s3cret@127.0.0.1:6380/0",
    )]);
    assert!(
        line.contains("session_revocation_store") && !line.contains("s3cret"),
        "{line}"
    );

    // So is a malformed topology: a Sentinel URL without its service,
    // a cluster with a database, a scheme misspelt.
    for url in [
        "redis-sentinel://app:s3cret@127.0.0.1:26379?node=127.0.0.1:26380",
        "rediss-cluster://app:s3cret@127.0.0.1:7000/2",
        "redis-sentinal://app:s3cret@127.0.0.1:26379",
    ] {
        let line = refusal_line(&[("ROCKET_SESSION_REVOCATION_STORE", url)]);
        assert!(
            line.contains("session_revocation_store") && !line.contains("s3cret"),
            "{line}"
        );
    }

    // Unbounded threads abort the runtime: refused before it starts.
    let line = refusal_line(&[("ROCKET_WORKERS", "100000")]);
    assert!(line.contains("at most 1024"), "{line}");

    let line = refusal_line(&[("ROCKET_SECRET_KEY", "short")]);
    assert!(
        line.contains("secret_key") && !line.contains("short"),
        "{line}"
    );

    // A profile Rocket would refuse without a key, refused in the one line.
    let run = run_binary(
        &elsewhere(),
        &[
            ("ROCKET_PROFILE", "staging"),
            ("ROCKET_TEMPLATE_DIR", TEMPLATES),
            ("ROCKET_PORT", "0"),
        ],
    );
    let line = run.refusal();
    assert!(
        line.starts_with("session_app: refusing to start: no secret key in the staging profile"),
        "{line}"
    );

    // Without a template folder of its own, the default is refused too.
    let run = run_binary(
        &elsewhere(),
        &[
            ("ROCKET_PROFILE", "release"),
            ("ROCKET_SECRET_KEY", TEST_KEY),
            ("ROCKET_PORT", "0"),
        ],
    );
    assert_eq!(run.status, Some(1));
    assert!(run.stderr.contains("ROCKET_TEMPLATE_DIR"), "{}", run.stderr);
}

#[test]
fn many_idle_connections_do_not_lock_other_clients_out() {
    // As a host with the usual soft limit would start it.
    let server = Server::start_with_open_files(&[], 1024);
    let idle: Vec<TcpStream> = (0..1100)
        .map(|i| {
            TcpStream::connect(("127.0.0.1", server.port))
                .unwrap_or_else(|e| panic!("connection {i}: {e}"))
        })
        .collect();
    // Another client is still served (the probe gives up after 10 s).
    let page = Agent::plain(server.port)
        .get(uri!(routes::index))
        .expect("served while 1,100 connections idle");
    assert_eq!(page.status, 200);
    assert!(server.prints_soon(" open_files="));
    let log = server.output();
    let limit: u64 = log
        .lines()
        .find_map(|l| l.split(" open_files=").nth(1))
        .and_then(|n| n.split(' ').next()?.trim().parse().ok())
        .unwrap_or_else(|| panic!("the limit is logged:\n{log}"));
    assert!(limit > 1100, "{limit}");
    drop(idle);
}

#[test]
fn an_unknown_method_gets_the_security_headers_too() {
    // Rocket answers it through the catchers without response fairings.
    let server = Server::start(&[]);
    for method in ["PROPFIND", "BREW"] {
        let response = Agent::plain(server.port).send(method, "/", None).unwrap();
        assert_eq!(response.status, 400, "{method}");
        let csp = response.header("Content-Security-Policy").expect("a CSP");
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert_eq!(response.header("X-Content-Type-Options"), Some("nosniff"));
        assert_eq!(response.header("X-Frame-Options"), Some("DENY"));
        assert_eq!(response.header("Cache-Control"), Some("no-store"));
    }
}

#[test]
fn version_and_help_answer_without_starting_or_touching_the_disk() {
    let dir = std::env::temp_dir().join(format!("session-app-arguments-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // In release without a key, a start would be refused: an answer proves
    // nothing started.
    let run = |arg: &str| {
        Command::new(env!("CARGO_BIN_EXE_session_app"))
            .arg(arg)
            .current_dir(&dir)
            .env("ROCKET_PROFILE", "release")
            .env_remove("ROCKET_SECRET_KEY")
            .output()
            .unwrap()
    };
    let version = run("--version");
    assert!(version.status.success());
    let text = String::from_utf8(version.stdout).unwrap();
    assert_eq!(text, format!("session_app {}\n", env!("CARGO_PKG_VERSION")));
    let help = run("--help");
    assert!(help.status.success());
    let text = String::from_utf8(help.stdout).unwrap();
    for says in ["Rocket.toml", "ROCKET_SECRET_KEY", "docs/operations.md"] {
        assert!(text.contains(says), "{says}: {text}");
    }
    let unknown = run("--port=9000\u{1b}[31m");
    assert_eq!(unknown.status.code(), Some(2));
    let text = String::from_utf8(unknown.stderr).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains("unknown argument") && !text.contains('\u{1b}'),
        "{text}"
    );
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert!(left.is_empty(), "nothing made: {left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
