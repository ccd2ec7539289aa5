//! A new secret key deployed one instance at a time behind the real front,
//! while a browser keeps using its session. In three phases (the new key
//! added as a fallback everywhere, then made primary, then the old one
//! dropped) nobody is logged out, though the two instances are a phase
//! apart after every other restart. Jumping straight to the new key as
//! primary logs the browser out: the instance already on it re-seals the
//! cookie under a key the other does not hold.

use crate::common;

use base64::Engine as _;
use common::front::{nginx_program, Front};
use common::server::{answers, free_port, Agent, Server};
use common::{form_body, token_in};

/// The name the browser logs in with, shown on every logged-in page.
const NAME: &str = "太郎";

/// A fresh 256-bit key, as `openssl rand -base64 32` writes one.
fn fresh_key() -> String {
    base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>())
}

/// The old key and the new one, made for one test.
struct Keys {
    old: String,
    new: String,
}

impl Keys {
    fn fresh() -> Keys {
        Keys {
            old: fresh_key(),
            new: fresh_key(),
        }
    }

    /// `ROCKET_SECRET_KEY` and `ROCKET_SECRET_KEY_FALLBACKS` in `phase`:
    /// 0 before the rotation, 1 the new key added as a fallback, 2 the new
    /// key primary with the old as fallback, 3 the old key dropped.
    fn settings(&self, phase: u8) -> (String, String) {
        let list = |key: &str| format!("[\"{key}\"]");
        match phase {
            0 => (self.old.clone(), "[]".to_owned()),
            1 => (self.old.clone(), list(&self.new)),
            2 => (self.new.clone(), list(&self.old)),
            3 => (self.new.clone(), "[]".to_owned()),
            _ => unreachable!("three phases"),
        }
    }
}

/// One of the front's two upstreams: a port that stays, and the instance
/// deployed on it now.
struct Slot {
    name: &'static str,
    port: u16,
    phase: u8,
    instance: Option<Server>,
}

impl Slot {
    fn new(name: &'static str) -> Slot {
        Slot {
            name,
            port: free_port(),
            phase: 0,
            instance: None,
        }
    }

    /// Stops the instance on this slot, if any, and starts one in `phase`
    /// on the same port, as a deploy does.
    fn deploy(&mut self, keys: &Keys, phase: u8) {
        // Stopped first: the port is the front's upstream.
        self.instance = None;
        let (key, fallbacks) = keys.settings(phase);
        let port = self.port;
        self.instance = Some(Server::start_checked(
            &[
                ("ROCKET_PORT", &port.to_string()),
                ("ROCKET_SECRET_KEY", &key),
                ("ROCKET_SECRET_KEY_FALLBACKS", &fallbacks),
                ("ROCKET_SESSION_COOKIE_SECURE", "true"),
            ],
            move |_| answers(port, "/healthz"),
        ));
        self.phase = phase;
    }

    /// How many log lines of this instance name the session page or its
    /// form: it grows with each request it serves them.
    fn served(&self) -> usize {
        let output = self.instance.as_ref().expect("deployed").output();
        output
            .lines()
            .filter(|line| line.contains("/output") || line.contains("/session/set"))
            .count()
    }
}

/// The two instances behind the front, both in phase 0.
fn cluster(keys: &Keys) -> Option<(Slot, Slot, Front)> {
    let nginx = nginx_program()?;
    let (mut a, mut b) = (Slot::new("A"), Slot::new("B"));
    a.deploy(keys, 0);
    b.deploy(keys, 0);
    let front = Front::start(&nginx, [a.port, b.port]);
    Some((a, b, front))
}

/// Logs in through the front.
fn logged_in(front: &Front) -> Agent {
    let mut browser = front.browser();
    let page = browser.get("/").unwrap();
    assert_eq!(page.status, 200);
    let token = token_in(&page.body).expect("the login form carries a token");
    let login = browser
        .post(
            "/login",
            &form_body(&[("name", NAME), ("csrf_token", &token)]),
        )
        .unwrap();
    assert_eq!(login.status, 303, "{}", login.body);
    assert_eq!(login.header("location"), Some("/output"));
    browser
}

/// Where the instances are now, e.g. `A2 B1`.
fn step(a: &Slot, b: &Slot) -> String {
    format!("{}{} {}{}", a.name, a.phase, b.name, b.phase)
}

/// Uses the session as a person would, through the front, until both
/// instances have served it: the session page, its form to add an entry,
/// and the page again. Every page must be the logged-in one, and every
/// post must succeed.
fn browse(browser: &mut Agent, a: &Slot, b: &Slot) {
    let step = step(a, b);
    let before = (a.served(), b.served());
    for i in 0..4 {
        let page = browser.get("/output").unwrap();
        assert_eq!(page.status, 200, "{step}: logged out:\n{}", page.body);
        assert!(page.body.contains(NAME), "{step}: {}", page.body);
        let token = token_in(&page.body).expect("the session page's form carries a token");
        // The same keys each time: a session holds at most 14 added entries.
        let (key, value) = (format!("k{i}"), format!("{}-{i}", step.replace(' ', "")));
        let set = browser
            .post(
                "/session/set",
                &form_body(&[("key", &key), ("value", &value), ("csrf_token", &token)]),
            )
            .unwrap();
        assert_eq!(set.status, 303, "{step}: POST /session/set:\n{}", set.body);
        assert_eq!(set.header("location"), Some("/output"), "{step}");
        let shown = browser.get("/output").unwrap();
        assert_eq!(shown.status, 200, "{step}: logged out:\n{}", shown.body);
        assert!(shown.body.contains(NAME), "{step}: {}", shown.body);
        assert!(shown.body.contains(&value), "{step}: {}", shown.body);
    }
    assert!(a.served() > before.0, "{step}: {} served nothing", a.name);
    assert!(b.served() > before.1, "{step}: {} served nothing", b.name);
}

#[test]
fn a_key_rotated_in_three_phases_instance_by_instance_logs_nobody_out() {
    let keys = Keys::fresh();
    let Some((mut a, mut b, front)) = cluster(&keys) else {
        return;
    };
    let mut browser = logged_in(&front);
    browse(&mut browser, &a, &b);
    for phase in 1..=3 {
        // A goes first: the two instances are a phase apart.
        a.deploy(&keys, phase);
        assert_ne!(a.phase, b.phase);
        browse(&mut browser, &a, &b);
        b.deploy(&keys, phase);
        browse(&mut browser, &a, &b);
    }
    // The session now lives under the new key alone.
    assert_eq!((a.phase, b.phase), (3, 3));
}

#[test]
fn jumping_straight_to_the_new_key_logs_the_browser_out() {
    let keys = Keys::fresh();
    let Some((mut a, b, front)) = cluster(&keys) else {
        return;
    };
    let mut browser = logged_in(&front);
    browse(&mut browser, &a, &b);

    // A naive deploy: A gets the new key as primary (the old one as
    // fallback) while B still has only the old one.
    a.deploy(&keys, 2);
    let step = step(&a, &b);
    let mut statuses = Vec::new();
    for _ in 0..20 {
        let page = browser.get("/output").unwrap();
        statuses.push(page.status);
        if page.status != 200 {
            assert_eq!(page.status, 303, "{step}: {}", page.body);
            assert_eq!(page.header("location"), Some("/"), "{step}");
            break;
        }
        assert!(page.body.contains(NAME), "{step}: {}", page.body);
    }
    assert_eq!(
        statuses.last(),
        Some(&303),
        "{step}: the browser stayed logged in: {statuses:?}"
    );
    // A had re-sealed the cookie under the new key; B could not open it
    // and removed it: the session is gone on both.
    for _ in 0..4 {
        let page = browser.get("/output").unwrap();
        assert_eq!(page.status, 303, "{step}: {statuses:?}");
    }
}
