//! Served over TLS (Rocket's `tls` feature, configured by `ROCKET_TLS`), the
//! session and CSRF cookies are `Secure`.

use crate::common;

use rocket::uri;
use session_app::routes;

use common::server::{https, Agent, Server, TestCertificate};
use common::{form_body, secure, token_in, CSRF_COOKIE, SESSION_COOKIE};

#[test]
fn over_tls_the_cookies_are_secure() {
    // A certificate made now, for this test only.
    let dir = std::env::temp_dir().join(format!("session-app-tls-{}", std::process::id()));
    let cert = TestCertificate::new(&dir);
    let tls = format!(
        "{{certs=\"{}\",key=\"{}\"}}",
        cert.cert_path.display(),
        cert.key_path.display()
    );

    let der = cert.der.clone();
    let server = Server::start_checked(&[("ROCKET_TLS", &tls)], |port| {
        https(port, der.clone())
            .get(uri!(routes::healthz))
            .is_ok_and(|r| r.status == 200)
    });
    let mut browser = https(server.port, cert.der.clone());

    // The login page sets a Secure token cookie, with the __Host- prefix.
    let page = browser.get(uri!(routes::index)).unwrap();
    assert_eq!(page.status, 200);
    let csrf = page
        .set_cookies()
        .find(|c| c.starts_with(&format!("{}=", secure(CSRF_COOKIE))))
        .expect("csrf cookie")
        .to_owned();
    assert!(
        csrf.contains("Secure") && csrf.contains("HttpOnly"),
        "{csrf}"
    );
    let token = token_in(&page.body).unwrap();

    // Log in: the session cookie is Secure too.
    let response = browser
        .post(
            uri!(routes::login),
            &form_body(&[("name", "山田太郎"), ("csrf_token", &token)]),
        )
        .unwrap();
    assert_eq!(response.status, 303);
    let session = response
        .set_cookies()
        .find(|c| c.starts_with(&format!("{}=", secure(SESSION_COOKIE))))
        .expect("session cookie");
    assert!(
        session.contains("Secure")
            && session.contains("HttpOnly")
            && session.contains("SameSite=Lax"),
        "{session}"
    );

    let output = browser.get(uri!(routes::output)).unwrap();
    assert_eq!(output.status, 200);
    assert!(output.body.contains("セッション情報：「山田太郎」"));

    // Plain HTTP on the TLS port gets no page, and the server carries on.
    if let Ok(response) = Agent::plain(server.port).get(uri!(routes::index)) {
        assert!(response.status >= 400, "{response:?}");
    }
    assert_eq!(browser.get(uri!(routes::healthz)).unwrap().status, 200);
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}
