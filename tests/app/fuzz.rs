//! Seeded random requests over HTTP (the local client): methods, paths,
//! content types, bodies, cookies (truncated, bit-flipped, foreign, and
//! flash cookies with lying length prefixes), and
//! foreign `Origin` headers. None gets a 5xx, and no session is created
//! without a valid CSRF token.

use crate::common;

use common::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rocket::http::{ContentType, Cookie, Header, Method};
use rocket::local::blocking::Client;
use rocket_sealed_sessions::{Clock, Record};

const REQUESTS: usize = 4000;
const SEED: u64 = 0x5e55_10a5;

/// Real material to mutate: a sealed session and a token with its cookie.
struct Material {
    session: String,
    csrf_cookie: String,
    token: String,
}

fn material() -> Material {
    let client = client();
    login(&client, "太郎");
    let session = client
        .cookies()
        .get(SESSION_COOKIE)
        .unwrap()
        .value()
        .to_owned();
    let csrf_cookie = client
        .cookies()
        .get(CSRF_COOKIE)
        .unwrap()
        .value()
        .to_owned();
    let token = csrf_token(&client);
    Material {
        session,
        csrf_cookie,
        token,
    }
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.gen_range(0..items.len())]
}

fn mutate(rng: &mut StdRng, text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    match rng.gen_range(0..4) {
        0 => bytes.truncate(rng.gen_range(0..=bytes.len())),
        1 if !bytes.is_empty() => {
            let i = rng.gen_range(0..bytes.len());
            bytes[i] ^= 1 << rng.gen_range(0..8);
        }
        2 => bytes.extend((0..rng.gen_range(1..20)).map(|_| rng.gen::<u8>())),
        _ => {
            bytes = (0..rng.gen_range(0..200))
                .map(|_| rng.gen::<u8>())
                .collect()
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn random_text(rng: &mut StdRng, max: usize) -> String {
    let len = rng.gen_range(0..max);
    (0..len).map(|_| rng.gen::<char>()).collect()
}

#[test]
fn random_requests_get_no_5xx_and_create_no_session_without_a_token() {
    let m = material();
    let mut rng = StdRng::seed_from_u64(SEED);
    let client = Client::untracked(session_app::rocket_with(figment())).unwrap();
    let methods = [
        Method::Get,
        Method::Post,
        Method::Put,
        Method::Delete,
        Method::Patch,
        Method::Head,
        Method::Options,
    ];
    let paths = [
        "/",
        "/login",
        "/output",
        "/logout",
        "/session/delete",
        "/healthz",
        "/static/app.css",
        "/static/..%2f..%2fCargo.toml",
        "/%00",
        "/login?x=1",
        "/output/",
        "//output",
        "/a/b/c/d",
    ];
    let content_types = [
        Some(ContentType::Form),
        Some(ContentType::FormData),
        Some(ContentType::JSON),
        Some(ContentType::Plain),
        Some(ContentType::new(
            "application",
            "x-www-form-urlencoded; charset=shift_jis",
        )),
        None,
    ];
    let origins = ["https://evil.example", "null", "http://127.0.0.1:8080", ""];
    let mut statuses = std::collections::BTreeMap::new();
    let mut sessions_created = 0;

    for i in 0..REQUESTS {
        // Mostly the app's own forms and pages, with a tail of the odd ones.
        let method = match rng.gen_range(0..20) {
            0..=9 => Method::Post,
            10..=16 => Method::Get,
            _ => *pick(&mut rng, &methods),
        };
        let path = match rng.gen_range(0..10) {
            0..=6 => pick(&mut rng, &paths[..5]).to_string(),
            7 | 8 => pick(&mut rng, &paths).to_string(),
            _ => format!("/{}", random_text(&mut rng, 12)),
        };
        let path = if rocket::http::uri::Origin::parse(&path).is_ok() {
            path
        } else {
            "/".to_owned()
        };

        // The token field: valid, mutated, or absent.
        let token = match rng.gen_range(0..4) {
            0 | 3 => Some(m.token.clone()),
            1 => Some(mutate(&mut rng, &m.token)),
            _ => None,
        };
        // The token cookie: present, mutated, or absent.
        let csrf_cookie = match rng.gen_range(0..4) {
            0 | 3 => Some(m.csrf_cookie.clone()),
            1 => Some(mutate(&mut rng, &m.csrf_cookie)),
            _ => None,
        };
        let token_matches = token.as_deref() == Some(m.token.as_str());
        let cookie_matches = csrf_cookie.as_deref() == Some(m.csrf_cookie.as_str());

        let mut fields: Vec<(String, String)> = Vec::new();
        if rng.gen_bool(0.7) {
            let name = if rng.gen_bool(0.5) {
                "山田".to_owned()
            } else {
                random_text(&mut rng, 120)
            };
            fields.push(("name".into(), name));
        }
        if rng.gen_bool(0.3) {
            fields.push((
                "key".into(),
                pick(&mut rng, &["name", "logged_in_at", "", "x"]).to_string(),
            ));
        }
        if let Some(token) = &token {
            fields.push(("csrf_token".into(), token.clone()));
        }
        let borrowed: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let body: Vec<u8> = match rng.gen_range(0..5) {
            0..=2 => form_body(&borrowed).into_bytes(),
            3 => (0..rng.gen_range(0..300)).map(|_| rng.gen()).collect(),
            _ => vec![b'a'; rng.gen_range(4000..9000)],
        };

        let mut request = client.req(method, path.clone()).body(&body);
        let content_type = if rng.gen_bool(0.5) {
            &content_types[0]
        } else {
            pick(&mut rng, &content_types)
        };
        if let Some(content_type) = content_type.clone() {
            request = request.header(content_type);
        }
        if rng.gen_bool(0.3) {
            request = request.header(Header::new("Origin", pick(&mut rng, &origins).to_string()));
        }
        if let Some(value) = csrf_cookie {
            request = request.cookie(Cookie::new(CSRF_COOKIE, value));
        }
        if rng.gen_bool(0.2) {
            let flash = format!("{}:{}", rng.gen_range(0..6), random_text(&mut rng, 8));
            request = request.cookie(Cookie::new(FLASH_COOKIE, flash));
        }
        // A live session, the captured one (revoked once a random logout or
        // deletion of `name` has gone through), a mutated one, or none.
        let session_choice = rng.gen_range(0..4);
        // The token is valid when it matches the token cookie, or the token
        // the captured session carries (while that session lives).
        let valid_token = token_matches && (cookie_matches || session_choice == 1);
        match session_choice {
            0 => {
                let now = Clock::system().now();
                let name = [("name".to_owned(), "太郎".to_owned())].into();
                let live = Record::from_parts(now, now, name).unwrap().encode();
                request = request.private_cookie(Cookie::new(SESSION_COOKIE, live))
            }
            1 => request = request.cookie(Cookie::new(SESSION_COOKIE, m.session.clone())),
            2 => {
                request = request.cookie(Cookie::new(SESSION_COOKIE, mutate(&mut rng, &m.session)))
            }
            _ => {}
        }

        let response = request.dispatch();
        let status = response.status();
        assert!(
            status.code < 500,
            "request {i}: {method} {path} got {status}"
        );
        *statuses.entry(status.code).or_insert(0) += 1;

        let created = response
            .headers()
            .get("Set-Cookie")
            .any(|c| c.starts_with(&format!("{SESSION_COOKIE}=")) && !c.contains("Max-Age=0"));
        assert!(
            !created || valid_token,
            "request {i}: {method} {path} set a session without a valid token"
        );
        sessions_created += usize::from(created);
    }
    // The run exercised both sides: refusals and successful logins.
    assert!(
        sessions_created > 20,
        "only {sessions_created} sessions created"
    );
    assert!(
        statuses.get(&303).copied().unwrap_or(0) > 100,
        "{statuses:?}"
    );
    assert!(
        statuses.get(&403).copied().unwrap_or(0) > 100,
        "{statuses:?}"
    );
    eprintln!(
        "statuses over {REQUESTS} requests: {statuses:?}; sessions created: {sessions_created}"
    );
}
