//! What an operator reaches for: one log line per request and per session
//! event, as text or JSON, with no secret in any of them; a start-up line
//! with the effective settings; and metrics in Prometheus' text format,
//! for a scraper on the same machine only, checked by Debian's `promtool`.

use crate::common;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use rocket::time::format_description::well_known::Rfc3339;
use rocket::time::OffsetDateTime;
use rocket::uri;
use session_app::routes;

use common::server::{eventually, Agent, Server};
use common::{form_body, token_in, CSRF_COOKIE, SESSION_COOKIE};

/// Logs in as 太郎, adds an entry, logs out; the cookies and tokens seen.
fn a_visit(server: &Server) -> Vec<String> {
    let mut browser = Agent::plain(server.port);
    browser.get("/?q=secret-query").unwrap();
    // A path no route takes: Rocket names it in a line of its own.
    assert_eq!(browser.get("/nope?secret-query=1").unwrap().status, 404);
    let (_, login) = browser.log_in("太郎");
    assert_eq!(login.status, 303);
    let mut secrets = vec![
        browser.cookies[SESSION_COOKIE].clone(),
        browser.cookies[CSRF_COOKIE].clone(),
    ];
    let token = token_in(&browser.get(uri!(routes::output)).unwrap().body).unwrap();
    let fields = [("key", "color"), ("value", "青"), ("csrf_token", &token)];
    browser
        .post(uri!(routes::set_entry), &form_body(&fields))
        .unwrap();
    secrets.push(token.clone());
    let logout = browser
        .post(uri!(routes::logout), &form_body(&[("csrf_token", &token)]))
        .unwrap();
    assert_eq!(logout.status, 303);
    secrets
}

fn assert_no_secret(output: &str, secrets: &[String]) {
    for secret in secrets
        .iter()
        .map(String::as_str)
        .chain(["太郎", "青", "secret-query"])
    {
        assert!(!output.contains(secret), "{secret:?} logged:\n{output}");
    }
}

#[test]
fn json_lines_say_what_each_request_did_and_nothing_secret() {
    let server = Server::start(&[("ROCKET_LOG_FORMAT", "json")]);
    let secrets = a_visit(&server);
    assert!(server.prints_soon("\"session: logout; revocation stored\""));
    let output = server.output();
    let lines: Vec<serde_json::Value> = output
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    for line in &lines {
        let time = line["time"].as_str().unwrap();
        assert!(OffsetDateTime::parse(time, &Rfc3339).is_ok(), "{line}");
        assert!(
            line["level"].is_string() && line["message"].is_string(),
            "{line}"
        );
    }
    let requests: Vec<_> = lines.iter().filter(|l| l["message"] == "request").collect();
    let first = requests.iter().find(|l| l["path"] == "/").unwrap();
    assert_eq!(first["method"], "GET");
    // Asked for as `/?q=secret-query`: logged without its query.
    assert_eq!(first["path"], "/");
    assert_eq!(first["status"], 200);
    assert!(first["ms"].is_number(), "{first}");
    assert_eq!(first["client"], "127.0.0.1");
    let posts = requests.iter().filter(|l| l["method"] == "POST").count();
    assert_eq!(posts, 3, "login, set, logout");
    let started = lines.iter().find(|l| l["message"] == "started").unwrap();
    assert_eq!(started["version"], env!("CARGO_PKG_VERSION"), "{started}");
    // Fields keep their types.
    assert_eq!(started["secure"], false, "{started}");
    assert_eq!(started["tls"], false, "{started}");
    assert!(started["open_files"].is_u64(), "{started}");
    assert!(started["port"].is_u64(), "{started}");
    for field in [
        "address",
        "port",
        "profile",
        "idle_timeout_s",
        "absolute_timeout_s",
    ] {
        assert!(!started[field].is_null(), "{field}: {started}");
    }
    assert_eq!(
        started["revocation_store"]
            .as_str()
            .unwrap()
            .split(' ')
            .next(),
        Some("file")
    );
    assert!(!output.contains(common::server::TEST_KEY));
    assert_no_secret(&output, &secrets);
}

#[test]
fn text_lines_are_one_per_request_without_rockets_own() {
    let server = Server::start(&[]);
    let secrets = a_visit(&server);
    assert!(server.prints_soon("session: logout; revocation stored"));
    let output = server.output();
    let request = output
        .lines()
        .find(|line| line.contains(" INFO request method=GET path=/ "))
        .unwrap_or_else(|| panic!("{output}"));
    let time = request.split(' ').next().unwrap();
    assert!(OffsetDateTime::parse(time, &Rfc3339).is_ok(), "{request}");
    assert!(request.contains(" status=200 ") && request.contains(" client=127.0.0.1"));
    // Rocket's own lines per request ("Matched:", "Outcome:") are gone.
    for chatter in ["Matched:", "Outcome:", "Response succeeded"] {
        assert!(!output.contains(chatter), "{chatter}:\n{output}");
    }
    assert!(
        output.contains(&format!(
            " INFO started version={} address=127.0.0.1 ",
            env!("CARGO_PKG_VERSION")
        )),
        "{output}"
    );
    assert_no_secret(&output, &secrets);
}

#[test]
fn an_unknown_log_format_is_refused_in_one_line() {
    let run = common::server::run_binary(
        env!("CARGO_MANIFEST_DIR").as_ref(),
        &[
            ("ROCKET_PROFILE", "release"),
            ("ROCKET_SECRET_KEY", common::server::TEST_KEY),
            ("ROCKET_LOG_FORMAT", "xml"),
        ],
    );
    assert!(run.refusal().contains("log_format"), "{}", run.stderr);
}

/// `GET /metrics` as a local scraper sees it.
fn scrape(server: &Server) -> String {
    let response = Agent::plain(server.port).get("/metrics").unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    response.body
}

/// The value of the sample `name` (with its labels as written), if shown.
fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

fn promtool() -> Option<PathBuf> {
    common::installed(
        &["/usr/bin/promtool"],
        "the metrics test needs promtool: install the Debian package `prometheus`",
    )
}

#[test]
fn metrics_move_as_a_browser_logs_in_and_out_and_promtool_accepts_them() {
    let Some(promtool) = promtool() else {
        return;
    };
    let server = Server::start(&[]);
    let before = scrape(&server);
    assert_eq!(
        sample(&before, "session_app_sessions_started_total"),
        Some(0.0)
    );
    assert_eq!(sample(&before, "session_app_revocations_held"), Some(0.0));
    assert_eq!(
        sample(&before, "session_app_revocation_store_reachable"),
        Some(1.0)
    );

    a_visit(&server);
    let after = scrape(&server);
    assert_eq!(
        sample(&after, "session_app_sessions_started_total"),
        Some(1.0)
    );
    let logout = r#"session_app_sessions_ended_total{reason="logout"}"#;
    assert_eq!(sample(&after, logout), Some(1.0), "{after}");
    assert_eq!(sample(&after, "session_app_revocations_held"), Some(1.0));
    assert_eq!(sample(&after, "session_app_revocations_queued"), Some(0.0));
    let logins = r#"session_app_requests_total{route="login",status="303"}"#;
    assert_eq!(sample(&after, logins), Some(1.0), "{after}");
    assert!(sample(&after, "session_app_request_duration_seconds_count").unwrap() >= 6.0);
    // Which build, and the process as Prometheus names it.
    let build = format!(
        r#"session_app_build_info{{version="{}"}}"#,
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(sample(&after, &build), Some(1.0), "{after}");
    assert!(
        sample(&after, "process_resident_memory_bytes").unwrap() > 1e6,
        "{after}"
    );
    assert!(
        sample(&after, "process_open_fds").unwrap() >= 3.0,
        "{after}"
    );
    assert!(
        sample(&after, "process_cpu_seconds_total").is_some(),
        "{after}"
    );
    assert!(
        sample(&after, "process_start_time_seconds").unwrap() > 1.7e9,
        "{after}"
    );

    let mut check = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    check
        .stdin
        .take()
        .unwrap()
        .write_all(after.as_bytes())
        .unwrap();
    let checked = check.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}

#[test]
fn metrics_are_not_served_through_a_proxy() {
    let server = Server::start(&[]);
    for header in ["X-Real-IP", "X-Forwarded-For", "Forwarded"] {
        let mut proxied = Agent::plain(server.port);
        proxied
            .extra_headers
            .push((header.to_owned(), "127.0.0.1".to_owned()));
        let response = proxied.get("/metrics").unwrap();
        assert_eq!(response.status, 404, "{header}");
        assert!(!response.body.contains("session_app_"), "{header}");
    }
    assert!(eventually(|| server
        .output()
        .contains("path=/metrics status=404")));
}

#[test]
fn routine_events_log_below_warn() {
    let mut server = Server::start(&[]);
    let mut browser = Agent::plain(server.port);
    // An anonymous visit to a page that needs a login, a bot's probe, a
    // form without its token, a stop: each routine, none for an operator
    // to act on.
    assert_eq!(browser.get(uri!(routes::output)).unwrap().status, 303);
    assert_eq!(browser.get("/wp-login.php").unwrap().status, 404);
    let refused = browser
        .post(uri!(routes::logout), "csrf_token=forged")
        .unwrap();
    assert_eq!(refused.status, 403);
    assert!(server.prints_soon("method=POST path=/logout status=403"));
    // And a stop, as systemd asks for one.
    assert!(server.stop(), "a clean exit");
    let output = server.output();
    assert!(output.ends_with(" INFO stopped\n"), "{output}");
    for line in output.lines() {
        assert!(
            !line.contains(" WARN ") && !line.contains(" ERROR "),
            "{line}\n{output}"
        );
    }
    // Each is still told, below WARN.
    assert!(output.contains("path=/wp-login.php status=404"), "{output}");
    assert!(
        output.contains("csrf: refused a POST to /logout"),
        "{output}"
    );
}

#[test]
fn nothing_a_client_sends_reaches_a_line_raw_or_whole() {
    let server = Server::start(&[("ROCKET_IP_HEADER", "X-Real-IP")]);
    let mut browser = Agent::plain(server.port);
    // Not an address: Rocket says so in a line that quotes it.
    let malformed = format!("\u{9b}31m\u{2028}{}", "x".repeat(50_000));
    browser
        .extra_headers
        .push(("X-Real-IP".to_owned(), malformed));
    assert_eq!(browser.get("/healthz").unwrap().status, 200);
    // The readiness probe's request line is there already: wait for this
    // request's warning, then for its request line, written after it.
    let logged = || {
        let output = server.output();
        let after = output
            .split_once("header is malformed")
            .map(|(_, after)| after);
        after.is_some_and(|after| after.contains("method=GET path=/healthz status=200"))
    };
    assert!(eventually(logged), "{}", server.output());
    let output = server.output();
    for line in output.lines() {
        assert!(
            !line.contains('\u{9b}') && !line.contains('\u{2028}'),
            "a raw control character: {line}"
        );
        assert!(line.chars().count() < 2_200, "{} characters", line.len());
    }
    assert!(output.contains("\\u009b31m\\u2028"), "escaped, not dropped");
}

const UNIT: &str = include_str!("../../deploy/session_app@.service");

fn systemd_analyze() -> Option<PathBuf> {
    common::installed(
        &["/usr/bin/systemd-analyze", "/bin/systemd-analyze"],
        "the unit test needs systemd-analyze: install the Debian package `systemd`",
    )
}

/// `systemd-analyze verify` on an instance of the template unit, with its
/// `ExecStart=` pointing at the binary these tests built: what it prints,
/// and whether it passed.
fn verify_unit(program: &std::path::Path, unit: &str) -> (bool, String) {
    let dir = PathBuf::from(common::fresh_store());
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("session_app@8081.service");
    let exec = format!("ExecStart={}", env!("CARGO_BIN_EXE_session_app"));
    assert_eq!(
        unit.matches("ExecStart=/usr/local/bin/session_app\n")
            .count(),
        1
    );
    let unit = unit.replace("ExecStart=/usr/local/bin/session_app", &exec);
    std::fs::write(&path, unit).unwrap();
    let out = Command::new(program)
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), said)
}

#[test]
fn the_template_unit_passes_systemd_analyze_verify() {
    let Some(program) = systemd_analyze() else {
        return;
    };
    let (passed, said) = verify_unit(&program, UNIT);
    assert!(passed && said.is_empty(), "{said}");
    // The check is no formality: it names a misspelt key.
    let misspelt = UNIT.replace("DynamicUser=yes", "DynamicUsr=yes");
    let (_, said) = verify_unit(&program, &misspelt);
    assert!(said.contains("Unknown key 'DynamicUsr'"), "{said}");
    // One instance per port, a user made for it, state of its own, and one
    // secrets file for every instance.
    for line in [
        "DynamicUser=yes",
        "StateDirectory=session_app",
        "Environment=ROCKET_PORT=%i",
        "EnvironmentFile=/etc/session_app/session_app.env",
    ] {
        assert!(UNIT.lines().any(|l| l == line), "{line}");
    }
}
