//! Helpers shared by the integration tests: a client per test, the login
//! flow, and reading the session back out of the cookie jar.
#![allow(dead_code)] // each test binary uses its own subset

pub mod front;
pub mod redis;
pub mod server;

use figment::providers::{Format, Toml};
use figment::Figment;
use rocket::http::uri::Origin;
use rocket::http::{ContentType, Cookie, Status};
use rocket::local::blocking::{Client, LocalResponse};
use rocket::uri;
use rocket_sealed_sessions::{Clock, Record};
#[allow(unused_imports)] // each group of tests uses its own subset
pub use session_app::cookies::{
    CSRF_COOKIE, FLASH_COOKIE, HOST_PREFIX, LANG_COOKIE, SESSION_COOKIE,
};
use session_app::routes;

/// The app's templates, wherever the test runs.
pub const TEMPLATES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");

/// Cookie `name` as it is named under TLS or `session_cookie_secure`.
pub fn secure(name: &str) -> String {
    format!("{HOST_PREFIX}{name}")
}

/// The app's configuration for tests: its defaults, then `Rocket.toml`'s
/// debug profile, quiet.
///
/// Unlike `session_app::config::figment()` it reads no `ROCKET_*` variable
/// and no path relative to the working directory: tests that use
/// `figment::Jail` change both for the whole process while they run.
pub fn figment() -> Figment {
    session_app::config::base()
        .merge(Toml::file(concat!(env!("CARGO_MANIFEST_DIR"), "/Rocket.toml")).nested())
        .merge(("template_dir", TEMPLATES))
        .merge(("session_revocation_store", fresh_store()))
        .merge(("log_level", "off"))
        .select(rocket::Config::DEBUG_PROFILE)
}

/// A revocation file no other client uses.
pub fn fresh_store() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static STORES: AtomicUsize = AtomicUsize::new(0);
    std::env::temp_dir()
        .join(format!("session-app-tests-{}", std::process::id()))
        .join(format!("revoked-{}", STORES.fetch_add(1, Ordering::SeqCst)))
        .display()
        .to_string()
}

/// A fresh tracked client with the default settings.
pub fn client() -> Client {
    client_with(figment())
}

/// A fresh tracked client with `figment`.
pub fn client_with(figment: Figment) -> Client {
    Client::tracked(session_app::rocket_with(figment)).expect("valid rocket instance")
}

/// A fresh tracked client with `figment` whose time stands still until the
/// returned clock is moved.
pub fn client_at(figment: Figment) -> (Client, Clock) {
    let clock = Clock::manual_from_now();
    let rocket = session_app::rocket_at(figment, clock.clone());
    (
        Client::tracked(rocket).expect("valid rocket instance"),
        clock,
    )
}

/// A client whose session windows are `idle` and `absolute` seconds, on a
/// clock that moves only when told.
pub fn client_with_timeouts(idle: u64, absolute: u64) -> (Client, Clock) {
    client_at(
        figment()
            .merge(("session_idle_timeout", idle))
            .merge(("session_absolute_timeout", absolute)),
    )
}

/// The pages a logged-in person can open.
pub fn logged_in_pages() -> [Origin<'static>; 3] {
    [
        uri!(routes::index),
        uri!(routes::output),
        uri!(routes::logout_page),
    ]
}

/// Those pages, and one that does not exist: the error page.
pub fn every_page() -> [Origin<'static>; 4] {
    let [index, output, logout] = logged_in_pages();
    [index, output, logout, uri!("/nope")]
}

/// The body of `GET uri`, which must answer 200.
pub fn html(client: &Client, uri: Origin<'_>) -> String {
    let response = client.get(uri.to_string()).dispatch();
    assert_eq!(response.status(), Status::Ok, "GET {uri}");
    response.into_string().unwrap()
}

/// Asserts that `response` is a `303 See Other` to `to`.
pub fn assert_redirects_to(response: &LocalResponse<'_>, to: Origin<'_>) {
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(location(response), to.to_string());
}

/// Asserts that nobody is logged in: `/output` sends the browser to `/`.
pub fn assert_logged_out(client: &Client) {
    let response = client.get(uri!(routes::output)).dispatch();
    assert_redirects_to(&response, uri!(routes::index));
}

/// Reads the CSRF token out of a page's hidden `csrf_token` field.
pub fn token_in(html: &str) -> Option<String> {
    let start = html.find(r#"name="csrf_token" value=""#)? + r#"name="csrf_token" value=""#.len();
    let end = start + html[start..].find('"')?;
    Some(html[start..end].to_owned())
}

/// Opens the login page and returns the CSRF token its form carries.
pub fn csrf_token(client: &Client) -> String {
    let page = client.get(uri!(routes::index)).dispatch();
    assert_eq!(page.status(), Status::Ok);
    token_in(&page.into_string().unwrap()).expect("the login form carries a CSRF token")
}

/// Posts `fields` as a form, with the client's CSRF token added.
pub fn post_form<'c>(
    client: &'c Client,
    path: Origin<'static>,
    fields: &[(&str, &str)],
) -> LocalResponse<'c> {
    let token = csrf_token(client);
    let mut all = fields.to_vec();
    all.push(("csrf_token", &token));
    post_raw(client, path, &all)
}

/// Posts `fields` as a form, exactly as given.
pub fn post_raw<'c>(
    client: &'c Client,
    path: Origin<'static>,
    fields: &[(&str, &str)],
) -> LocalResponse<'c> {
    client
        .post(path)
        .header(ContentType::Form)
        .body(form_body(fields))
        .dispatch()
}

/// URL-encodes `fields` as `application/x-www-form-urlencoded`.
pub fn form_body(fields: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

/// Says why a test does nothing here and returns, outside CI; under CI,
/// where everything a test needs is installed, fails it instead.
pub fn skip_outside_ci(message: &str) {
    assert!(std::env::var_os("CI").is_none(), "{message}");
    eprintln!("skipped: {message}");
}

/// The first of `paths` that is a file; else `None`, after
/// [`skip_outside_ci`] with `missing` (what to install).
pub fn installed(paths: &[&str], missing: &str) -> Option<std::path::PathBuf> {
    let found = paths
        .iter()
        .map(std::path::PathBuf::from)
        .find(|path| path.is_file());
    if found.is_none() {
        skip_outside_ci(missing);
    }
    found
}

/// Logs in as `name` through the form; returns the response to the POST.
pub fn login<'c>(client: &'c Client, name: &str) -> LocalResponse<'c> {
    post_form(client, uri!(routes::login), &[("name", name)])
}

/// The session the client now holds, decrypted with the app's key.
pub fn session_of(client: &Client) -> Option<Record> {
    let cookie = client.cookies().get_private(SESSION_COOKIE)?;
    Record::decode(cookie.value())
}

/// The `Location` of a redirect.
pub fn location(response: &LocalResponse<'_>) -> String {
    response
        .headers()
        .get_one("Location")
        .unwrap_or_default()
        .to_owned()
}

/// The raw `Set-Cookie` header for cookie `name`, if the response sets one.
pub fn set_cookie(response: &LocalResponse<'_>, name: &str) -> Option<String> {
    response
        .headers()
        .get("Set-Cookie")
        .find(|h| h.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// The text of the `role="alert"` element, if the page has one (inside
/// its link to the refused field, when it has one).
pub fn alert_in(html: &str) -> Option<&str> {
    let tag = html.find(r#"role="alert""#)?;
    let mut start = tag + html[tag..].find('>')? + 1;
    if html[start..].starts_with("<a ") {
        start += html[start..].find('>')? + 1;
    }
    let end = start + html[start..].find('<')?;
    Some(&html[start..end])
}

/// The text of the page's one-time notice (`<p id="notice" …>`), if any,
/// with the tags inside it (an entry's `<code>`) left out.
pub fn notice_in(html: &str) -> Option<String> {
    let start = html.find(r#"<p id="notice""#)?;
    let text = &html[start..];
    let text = &text[text.find('>')? + 1..text.find("</p>")?];
    let mut plain = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => plain.push(c),
            _ => {}
        }
    }
    Some(plain)
}

/// The alert the login page shows now, if any (showing it uses it up).
pub fn login_page_alert(client: &Client) -> Option<String> {
    alert_in(&html(client, uri!(routes::index))).map(str::to_owned)
}

/// A base64 key written as hex digits, the other form Rocket accepts.
pub fn as_hex(base64_key: &str) -> String {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(base64_key)
        .unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Asserts that `response` tells the browser to drop cookie `name`, and
/// returns that `Set-Cookie` header.
pub fn assert_removes(response: &LocalResponse<'_>, name: &str) -> String {
    let removal = set_cookie(response, name).unwrap_or_else(|| panic!("no Set-Cookie for {name}"));
    assert!(removal.contains("Max-Age=0"), "{removal}");
    removal
}

/// `GET /output` carrying `cookie` as sent, besides the client's own.
pub fn output_with<'c>(client: &'c Client, cookie: Cookie<'static>) -> LocalResponse<'c> {
    client.get(uri!(routes::output)).cookie(cookie).dispatch()
}

/// `GET /output` carrying `cookie`'s value sealed with the app's key.
pub fn output_with_private<'c>(client: &'c Client, cookie: Cookie<'static>) -> LocalResponse<'c> {
    client
        .get(uri!(routes::output))
        .private_cookie(cookie)
        .dispatch()
}

/// `POST /login` with `body` sent as a form, exactly as given.
pub fn post_login_body(client: &Client, body: impl AsRef<[u8]>) -> LocalResponse<'_> {
    client
        .post(uri!(routes::login))
        .header(ContentType::Form)
        .body(body)
        .dispatch()
}
