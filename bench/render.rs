//! In-process cost per request, without sockets: where an authenticated
//! `GET /output` spends its time compared with `GET /healthz`.
//! Run with `cargo bench --bench render`. Instruction-level noise is lower
//! than with wrk, but it is still wall time on a shared machine.

use std::hint::black_box;
use std::time::{Duration, Instant};

use rocket::http::{ContentType, Cookie};
use rocket::local::blocking::Client;
use rocket_sealed_sessions::Record;
use session_app::cookies::{CSRF_COOKIE, SESSION_COOKIE};
use session_app::render::i18n::Lang;
use session_app::render::templates::{PageName, Pages};

const ROUNDS: u32 = 20_000;

/// The binary's allocator, so that the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn per_call(label: &str, mut f: impl FnMut()) -> Duration {
    for _ in 0..ROUNDS / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..ROUNDS {
        f();
    }
    let each = start.elapsed() / ROUNDS;
    println!("{label:<40} {:>8.2} µs", each.as_secs_f64() * 1e6);
    each
}

fn main() {
    // `RENDER_ONLY=N`: only N renders of the output page, for valgrind's
    // instruction counts (repeatable where wall time is not).
    let render_only: Option<u32> = std::env::var("RENDER_ONLY")
        .ok()
        .and_then(|n| n.parse().ok());
    let figment = session_app::config::figment()
        .select("release")
        .merge(("secret_key", "V+Ly6JPKyHU+z4DyD0e0PU1AxvY83MtQi5HFTAa0WKc="))
        .merge(("log_level", "off"));
    let client = Client::untracked(session_app::rocket_with(figment)).unwrap();

    // Log in once; keep the sealed cookies.
    let index = client.get("/").dispatch();
    let csrf = index.cookies().get(CSRF_COOKIE).unwrap().value().to_owned();
    let html = index.into_string().unwrap();
    let marker = r#"name="csrf_token" value=""#;
    let start = html.find(marker).unwrap() + marker.len();
    let token = &html[start..start + html[start..].find('"').unwrap()];
    let login = client
        .post("/login")
        .header(ContentType::Form)
        .cookie(Cookie::new(CSRF_COOKIE, csrf.clone()))
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs([("name", "山田"), ("csrf_token", token)])
                .finish(),
        )
        .dispatch();
    let session = login
        .cookies()
        .get(SESSION_COOKIE)
        .unwrap()
        .value()
        .to_owned();
    drop(login);

    if let Some(times) = render_only {
        return render_loop(&client, token, times);
    }
    // `OUTPUT_ONLY=N`: only N whole `GET /output` requests, likewise.
    if let Some(times) = std::env::var("OUTPUT_ONLY")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
    {
        for _ in 0..times {
            let response = client
                .get("/output")
                .cookie(Cookie::new(SESSION_COOKIE, session.clone()))
                .cookie(Cookie::new(CSRF_COOKIE, csrf.clone()))
                .dispatch();
            black_box(response.into_bytes());
        }
        return;
    }
    let healthz = per_call("GET /healthz", || {
        black_box(client.get("/healthz").dispatch().into_bytes());
    });
    let output = per_call("GET /output (logged in)", || {
        let response = client
            .get("/output")
            .cookie(Cookie::new(SESSION_COOKIE, session.clone()))
            .cookie(Cookie::new(CSRF_COOKIE, csrf.clone()))
            .dispatch();
        assert_eq!(response.status().code, 200);
        black_box(response.into_bytes());
    });
    per_call("GET / (returning visitor)", || {
        black_box(
            client
                .get("/")
                .cookie(Cookie::new(CSRF_COOKIE, csrf.clone()))
                .dispatch()
                .into_bytes(),
        );
    });
    let pages = client.rocket().state::<Pages>().unwrap();
    let context = output_context(token);
    let mut no_entries = context.clone();
    no_entries["entries"] = serde_json::json!([]);
    // A context the page refuses would time an error page instead.
    for context in [&context, &no_entries] {
        assert!(
            pages
                .render(PageName::Output, Lang::Ja, false, context)
                .is_ok(),
            "the bench's context renders"
        );
    }
    per_call("  template: output page render", || {
        let _ = black_box(pages.render(PageName::Output, Lang::Ja, false, &context));
    });
    per_call("  template: output page render, no entries", || {
        let _ = black_box(pages.render(PageName::Output, Lang::Ja, false, &no_entries));
    });
    let error = serde_json::json!({ "csrf": null, "code": 404, "message": "error_404" });
    assert!(
        pages
            .render(PageName::Error, Lang::Ja, false, &error)
            .is_ok(),
        "the bench's error context renders"
    );
    per_call("  template: error page render", || {
        let _ = black_box(pages.render(PageName::Error, Lang::Ja, false, &error));
    });
    // A session as a login leaves it: the name and the time, no subject.
    let at = std::time::UNIX_EPOCH;
    let entries = [
        ("logged_in_at".to_owned(), "1970-01-01T00:00:00Z".to_owned()),
        ("name".to_owned(), "山田".to_owned()),
    ];
    let plaintext = Record::from_parts(at, at, entries.into()).unwrap().encode();
    per_call("  session codec: decode", || {
        black_box(Record::decode(black_box(&plaintext)));
    });
    println!(
        "extra cost of /output over /healthz: {:.2} µs",
        (output.as_secs_f64() - healthz.as_secs_f64()) * 1e6
    );
}

/// The output page's render, `times` times, and nothing else.
fn render_loop(client: &Client, token: &str, times: u32) {
    let pages = client.rocket().state::<Pages>().unwrap();
    let context = output_context(token);
    assert!(
        pages
            .render(PageName::Output, Lang::Ja, false, &context)
            .is_ok(),
        "the bench's context renders"
    );
    for _ in 0..times {
        let _ = black_box(pages.render(PageName::Output, Lang::Ja, false, black_box(&context)));
    }
}

/// What `GET /output` renders for a session with one added entry.
fn output_context(token: &str) -> serde_json::Value {
    serde_json::json!({
        "csrf": token,
        "name": "山田",
        "logged_in_at": "2026-11-25T17:00:00Z",
        "logged_in_at_readable": "2026年11月26日 02:00（日本時間）",
        "entries": [{"key": "color", "value": "青"}],
    })
}
