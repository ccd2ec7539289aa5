//! What a start writes: one session cookie with its attachment, kept by
//! `Max-Age` alone, and nothing at all when the start is refused. (That
//! the start seals once is shown by its count of instructions in
//! bench/README.md: Rocket writes one header per cookie name however many
//! times it was sealed. The cache of opened cookies is tested inside the
//! crate, in `guard.rs`, where its content can be seen.)

mod common;

use rocket::local::blocking::{Client, LocalResponse};
use rocket::{get, post, routes};
use rocket_sealed_sessions::{InsertError, Session, Sessions};

/// Starts a session with an entry and `token` attached: what the
/// start answered, as text.
#[post("/start/<token>")]
fn start(token: &str, mut session: Session<'_>) -> String {
    match session.start_attached(Some("taro"), [("color", "blue")], token.to_owned()) {
        Ok(()) => "started".to_owned(),
        Err(InsertError::TooMany) => "refused".to_owned(),
        Err(other) => format!("{other:?}"),
    }
}

#[get("/")]
fn show(session: Session<'_>) -> String {
    match session.record() {
        Some(record) => format!(
            "{} {:?} {}",
            record.subject().unwrap_or_default(),
            record.get("color"),
            record.attachment().unwrap_or("no attachment")
        ),
        None => "nobody".to_owned(),
    }
}

const KEY: &str = "V+Ly6JPKyHU+z4DyD0e0PU1AxvY83MtQi5HFTAa0WKc=";

fn client(store: &std::path::Path) -> Client {
    let figment = rocket::Config::figment()
        .merge(("secret_key", KEY))
        .merge(("log_level", "off"))
        .merge(("session_revocation_store", store.display().to_string()));
    let rocket = rocket::custom(figment)
        .attach(Sessions::fairing())
        .mount("/", routes![start, show]);
    Client::untracked(rocket).unwrap()
}

/// Every `Set-Cookie` header of `response` for the cookie `name`.
fn set_cookies<'a>(response: &'a LocalResponse<'_>, name: &str) -> Vec<&'a str> {
    let prefix = format!("{name}=");
    response
        .headers()
        .get("Set-Cookie")
        .filter(|value| value.starts_with(&prefix))
        .collect()
}

#[test]
fn a_start_with_an_attachment_writes_one_cookie_kept_by_max_age() {
    let folder = common::scratch("start");
    let client = client(&folder.join("revoked"));

    let started = client.post("/start/token-1_A").dispatch();
    let headers = set_cookies(&started, "session");
    assert_eq!(headers.len(), 1, "one session cookie: {headers:?}");
    let attributes: Vec<&str> = headers[0].split("; ").skip(1).collect();
    assert!(
        attributes.iter().any(|a| a.starts_with("Max-Age=")),
        "{attributes:?}"
    );
    assert!(
        !attributes.iter().any(|a| a.starts_with("Expires=")),
        "{attributes:?}"
    );
    let cookie = started.cookies().get("session").unwrap().clone();
    assert_eq!(started.into_string().unwrap(), "started");

    let page = client.get("/").cookie(cookie).dispatch();
    assert_eq!(
        page.into_string().unwrap(),
        r#"taro Some("blue") token-1_A"#
    );
}

#[test]
fn an_attachment_that_is_no_token_starts_nothing() {
    let folder = common::scratch("start-refused");
    let client = client(&folder.join("revoked"));

    let refused = client.post("/start/not%20a%20token").dispatch();
    assert!(set_cookies(&refused, "session").is_empty());
    assert_eq!(refused.into_string().unwrap(), "refused");
}
