//! Behind a TLS-terminating proxy: `session_cookie_secure` marks cookies
//! `Secure` and gives them the `__Host-` prefix.

use crate::common;

use common::*;
use rocket::http::Status;
use rocket::uri;
use rocket_sealed_sessions::Record;
use session_app::routes;

#[test]
fn the_proxy_setting_gives_secure_host_prefixed_cookies() {
    let client = client_with(figment().merge(("session_cookie_secure", true)));

    let page = client.get(uri!(routes::index)).dispatch();
    let csrf = set_cookie(&page, &secure(CSRF_COOKIE)).expect("the secure CSRF cookie");
    assert!(
        csrf.contains("Secure") && csrf.contains("Path=/") && !csrf.contains("Domain"),
        "{csrf}"
    );
    drop(page);

    let response = login(&client, "太郎");
    assert_eq!(location(&response), uri!(routes::output).to_string());
    let cookie = set_cookie(&response, &secure(SESSION_COOKIE)).expect("the secure session cookie");
    for attribute in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Domain"));
    assert!(set_cookie(&response, SESSION_COOKIE).is_none());
    drop(response);

    let sealed = client
        .cookies()
        .get_private(&secure(SESSION_COOKIE))
        .unwrap();
    assert_eq!(
        Record::decode(sealed.value()).unwrap().get("name"),
        Some("太郎")
    );
    assert_eq!(
        client.get(uri!(routes::output)).dispatch().status(),
        Status::Ok
    );

    // Even the removal is Secure, or browsers would ignore it for a __Host- name.
    let logout = post_form(&client, uri!(routes::logout), &[]);
    let removal = set_cookie(&logout, &secure(SESSION_COOKIE)).unwrap();
    assert!(
        removal.contains("Max-Age=0") && removal.contains("Secure"),
        "{removal}"
    );
}

#[test]
fn a_custom_cookie_name_is_prefixed_too() {
    let client = client_with(
        figment()
            .merge(("session_cookie_secure", true))
            .merge(("session_cookie_name", "sid")),
    );
    let response = login(&client, "太郎");
    assert!(set_cookie(&response, &secure("sid")).is_some());
}

#[test]
fn without_the_setting_plain_http_cookies_are_not_secure() {
    let client = client();
    let response = login(&client, "太郎");
    let cookie = set_cookie(&response, SESSION_COOKIE).unwrap();
    assert!(!cookie.contains("Secure"), "{cookie}");
}
