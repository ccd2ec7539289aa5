//! The production front, `deploy/nginx.conf`, run as committed (only its
//! ports and paths filled in) in front of two instances of the app: TLS,
//! the redirect to HTTPS, timeouts for idle and slow clients, room for
//! thousands of slow TLS clients beside a normal one, a header cap that
//! keeps huge `Cookie` headers from the app, security headers on nginx's
//! own answers, sessions shared by instances with one key, and one request
//! id in both logs.

use crate::common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread;
use std::time::{Duration, Instant};

use common::front::{nginx_program, Front};
use common::server::{eventually, free_port, https, Agent, Response, Server, OTHER_KEY};
use common::{form_body, secure, token_in, SESSION_COOKIE};
use rocket::tokio::io::{AsyncReadExt, AsyncWriteExt};
use rocket::tokio::net::TcpStream as TokioTcpStream;
use rocket::tokio::time::Instant as TokioInstant;
use rocket::uri;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};
use session_app::routes;

const CLIENTS: usize = 24;
/// The timeouts the file sets, in seconds.
const HEADER_TIMEOUT: u64 = 10;
const KEEPALIVE_TIMEOUT: u64 = 15;
/// The security headers the front puts on every answer, its own included.
const SECURITY_HEADERS: [&str; 4] = [
    "Content-Security-Policy",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "Strict-Transport-Security",
];

/// Two instances sharing the test key, told that a TLS proxy fronts them.
fn instances() -> (Server, Server) {
    let behind_tls = [("ROCKET_SESSION_COOKIE_SECURE", "true")];
    (Server::start(&behind_tls), Server::start(&behind_tls))
}

/// The slow-client test runs alone: its load would skew the timings and
/// the latency the other tests measure, and theirs its own. The others run
/// side by side.
static ALONE: RwLock<()> = RwLock::new(());

fn beside_others() -> RwLockReadGuard<'static, ()> {
    ALONE
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn alone() -> RwLockWriteGuard<'static, ()> {
    ALONE
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn assert_security_headers(response: &Response) {
    for name in SECURITY_HEADERS {
        let count = response
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count();
        assert_eq!(
            count, 1,
            "{name} on {} {:?}",
            response.status, response.headers
        );
    }
}

/// One person's visit through the front; returns their session cookie.
fn visit(front_port: u16, cert: CertificateDer<'static>, name: &str, outputs: usize) -> String {
    let mut browser = https(front_port, cert);
    let (page, login) = browser.log_in(name);
    assert_eq!(page.status, 200);
    assert_security_headers(&page);
    assert_eq!(
        (login.status, login.header("Location")),
        (303, Some(uri!(routes::output).to_string().as_str()))
    );
    let cookie = browser.cookies[&secure(SESSION_COOKIE)].clone();

    let mut token = String::new();
    for _ in 0..outputs {
        let output = browser.get(uri!(routes::output)).unwrap();
        assert_eq!(output.status, 200, "{name}");
        assert!(output.body.contains(&format!("セッション情報：「{name}」")));
        token = token_in(&output.body).unwrap();
    }

    let logout = browser
        .post(uri!(routes::logout), &form_body(&[("csrf_token", &token)]))
        .unwrap();
    assert_eq!(logout.status, 303);
    let after = browser.get(uri!(routes::output)).unwrap();
    assert_eq!(
        (after.status, after.header("Location")),
        (303, Some(uri!(routes::index).to_string().as_str()))
    );
    cookie
}

/// How many `GET /output` requests an instance has logged.
fn outputs_served(server: &Server) -> usize {
    server
        .output()
        .lines()
        .filter(|line| line.contains(" request method=GET path=/output status=200 "))
        .count()
}

#[test]
fn instances_sharing_a_key_serve_the_same_sessions_behind_the_front() {
    let Some(nginx) = nginx_program() else { return };
    let _beside = beside_others();
    let (first, second) = instances();
    let front = Front::start(&nginx, [first.port, second.port]);

    // The metrics are for scrapers on the app's machine: not passed from
    // outside, though both instances serve them locally.
    let metrics = https(front.https, front.cert.der.clone())
        .get("/metrics")
        .unwrap();
    assert_eq!(metrics.status, 404);
    assert!(!metrics.body.contains("session_app_"), "{}", metrics.body);
    for instance in [&first, &second] {
        let local = Agent::plain(instance.port).get("/metrics").unwrap();
        assert!(local.body.contains("session_app_requests_total"));
    }
    // So is readiness, which names what is wrong with the store, however
    // the path is written (Rocket routes `/readyz/` to it too).
    for path in [
        "/readyz",
        "/readyz/",
        "//readyz//",
        "/%72eadyz",
        "/metrics/",
    ] {
        let answer = https(front.https, front.cert.der.clone())
            .get(path)
            .unwrap();
        assert_eq!(answer.status, 404, "{path}");
        assert!(!answer.body.contains("ready"), "{path}: {}", answer.body);
        assert!(
            !answer.body.contains("session_app_"),
            "{path}: {}",
            answer.body
        );
    }
    for instance in [&first, &second] {
        let local = Agent::plain(instance.port).get("/readyz").unwrap();
        assert!(local.body.starts_with("ready"), "{}", local.body);
    }

    // One person alone: nginx alternates, so after one login on one
    // instance, both instances serve the output page from that cookie.
    let before = (outputs_served(&first), outputs_served(&second));
    visit(front.https, front.cert.der.clone(), "山田太郎", 4);
    let both_read_it =
        eventually(|| outputs_served(&first) > before.0 && outputs_served(&second) > before.1);
    assert!(
        both_read_it,
        "both instances read the session: {before:?} -> {:?}",
        (outputs_served(&first), outputs_served(&second))
    );
    let logins = || {
        first.output().matches("session: login").count()
            + second.output().matches("session: login").count()
    };
    assert!(eventually(|| logins() == 1), "one login: {}", logins());
    // The login's request id is the one nginx logged for the POST.
    let log = first.output() + &second.output();
    let login = log.lines().find(|line| line.contains("session: login"));
    let id = login
        .and_then(|line| line.split(" request=").nth(1))
        .unwrap_or_else(|| panic!("the login names its request: {log}"));
    assert!(id.len() == 32, "nginx's $request_id: {id}");
    let post = format!("request={id}");
    assert!(
        eventually(|| front
            .access_log()
            .lines()
            .any(|line| line.contains("\"POST /login ") && line.ends_with(&post))),
        "{post} in nginx's log:\n{}",
        front.access_log()
    );

    // Many people at once.
    let https_port = front.https;
    let visits: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let der = front.cert.der.clone();
            thread::spawn(move || visit(https_port, der, &format!("利用者{i}"), 3))
        })
        .collect();
    let cookies: Vec<String> = visits
        .into_iter()
        .map(|v| v.join().expect("every request succeeded"))
        .collect();

    // An instance with another key refuses those cookies.
    let stranger = Server::start(&[
        ("ROCKET_SECRET_KEY", OTHER_KEY),
        ("ROCKET_SESSION_COOKIE_SECURE", "true"),
    ]);
    let mut thief = Agent::plain(stranger.port);
    thief
        .cookies
        .insert(secure(SESSION_COOKIE), cookies[0].clone());
    let refused = thief.get(uri!(routes::output)).unwrap();
    assert_eq!(
        (refused.status, refused.header("Location")),
        (303, Some(uri!(routes::index).to_string().as_str()))
    );
}

#[test]
fn the_front_redirects_to_https_serves_challenges_and_marks_its_own_errors() {
    let Some(nginx) = nginx_program() else { return };
    let _beside = beside_others();
    // No app behind it: nginx answers on its own.
    let front = Front::start(&nginx, [free_port(), free_port()]);

    let redirect = Agent::plain(front.http).get(uri!(routes::output)).unwrap();
    assert_eq!(redirect.status, 301);
    assert!(
        redirect.header("Location").unwrap().starts_with("https://"),
        "{redirect:?}"
    );

    // But for Let's Encrypt's challenge, which certbot writes as a file.
    let challenges = std::path::Path::new(&front.at("acme")).join(".well-known/acme-challenge");
    std::fs::create_dir_all(&challenges).unwrap();
    std::fs::write(challenges.join("tok3n"), "tok3n.thumbprint").unwrap();
    let challenge = Agent::plain(front.http)
        .get("/.well-known/acme-challenge/tok3n")
        .unwrap();
    assert_eq!(
        (challenge.status, challenge.body.as_str()),
        (200, "tok3n.thumbprint")
    );
    assert_eq!(
        challenge.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    let missing = Agent::plain(front.http)
        .get("/.well-known/acme-challenge/none")
        .unwrap();
    assert_eq!(missing.status, 404);

    let down = front.browser().get(uri!(routes::output)).unwrap();
    assert_eq!(down.status, 502);
    assert_security_headers(&down);
}

fn logrotate_program() -> Option<std::path::PathBuf> {
    common::installed(
        &["/usr/sbin/logrotate", "/usr/bin/logrotate"],
        "the log rotation test needs logrotate: install the Debian package `logrotate`",
    )
}

#[test]
fn the_fronts_logs_rotate_and_nginx_writes_new_ones() {
    let Some(nginx) = nginx_program() else { return };
    let Some(logrotate) = logrotate_program() else {
        return;
    };
    let _beside = beside_others();
    let (first, second) = instances();
    let front = Front::start(&nginx, [first.port, second.port]);
    // The front logs every request but those for /healthz.
    let index = uri!(routes::index).to_string();
    let logged = |log: &str| log.lines().filter(|l| l.contains("\"GET / HTTP/")).count();
    // nginx writes a request's line once it has answered it.
    assert_eq!(front.browser().get(&index).unwrap().status, 200);
    assert!(eventually(|| logged(&front.access_log()) > 0));
    let before = logged(&front.access_log());

    let conf = front.logrotate_conf();
    let state = conf.with_file_name("logrotate.state");
    let rotated = Command::new(logrotate)
        .arg("--force")
        .arg("--state")
        .arg(&state)
        .arg(&conf)
        .output()
        .unwrap();
    assert!(
        rotated.status.success() && rotated.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    let old = conf.with_file_name("access.log.1");
    assert_eq!(logged(&std::fs::read_to_string(&old).unwrap()), before);

    // nginx reopened its log on USR1: the next request is in a new file.
    assert_eq!(front.browser().get(&index).unwrap().status, 200);
    assert!(
        eventually(|| logged(&front.access_log()) == 1),
        "a fresh access.log with one request: {:?}",
        front.access_log()
    );
    assert_eq!(logged(&std::fs::read_to_string(&old).unwrap()), before);
}

#[test]
fn an_oversized_cookie_header_is_refused_before_the_app() {
    let Some(nginx) = nginx_program() else { return };
    let _beside = beside_others();
    let (first, second) = instances();
    let front = Front::start(&nginx, [first.port, second.port]);

    // 40,000 cookies: about 388 KB of `Cookie` header.
    let cookies: BTreeMap<String, String> = (0..40_000)
        .map(|i| (format!("c{i}"), "1".to_owned()))
        .collect();
    let oversized = || {
        let mut sender = front.browser().with_cookies(cookies.clone());
        sender.get(uri!(routes::output))
    };
    let refused = oversized().unwrap();
    assert_eq!(refused.status, 400, "{refused:?}");
    assert!(refused.body.contains("Request Header Or Cookie Too Large"));
    assert_security_headers(&refused);

    // A normal client, alone and then beside six senders of such headers.
    let p99 = |label: &str| {
        let mut times: Vec<Duration> = (0..200)
            .map(|_| {
                let started = Instant::now();
                let page = front.browser().get(uri!(routes::healthz)).unwrap();
                assert_eq!(page.status, 200);
                started.elapsed()
            })
            .collect();
        times.sort();
        let p99 = times[times.len() * 99 / 100];
        println!("p99 of GET /healthz through the front, {label}: {p99:?}");
        p99
    };
    p99("alone");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // The senders use the plain-HTTP side, refused there by the same cap,
    // and send prepared bytes, so that their own work (TLS handshakes,
    // building the header) does not take the two cores.
    let header: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let request = std::sync::Arc::new(format!(
        "GET /output HTTP/1.1\r\nHost: x\r\nCookie: {}\r\nConnection: close\r\n\r\n",
        header.join("; ")
    ));
    let senders: Vec<_> = (0..6)
        .map(|_| {
            let (stop, request, port) = (stop.clone(), request.clone(), front.http);
            thread::spawn(move || {
                let mut sent = 0;
                while !stop.load(Ordering::SeqCst) && sent < 5_000 {
                    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
                    let _ = stream.write_all(request.as_bytes());
                    let mut answer = String::new();
                    let _ = stream.read_to_string(&mut answer);
                    assert!(
                        answer.is_empty() || answer.starts_with("HTTP/1.1 400"),
                        "{answer}"
                    );
                    sent += 1;
                }
            })
        })
        .collect();
    p99("beside six senders of 388 KB headers");
    stop.store(true, Ordering::SeqCst);
    for sender in senders {
        sender.join().unwrap();
    }

    // None of them reached the app.
    assert_eq!(outputs_served(&first) + outputs_served(&second), 0);
}

/// Seconds until the peer closes `stream`, reading (and after `drip`,
/// writing one byte every two seconds) until it does.
fn seconds_until_closed(mut stream: TcpStream, drip: bool) -> f64 {
    let started = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut buf = [0u8; 4096];
    loop {
        assert!(started.elapsed() < Duration::from_secs(60), "never closed");
        if drip && stream.write_all(b"X").is_err() {
            break;
        }
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
            Err(_) => break,
        }
    }
    started.elapsed().as_secs_f64()
}

#[test]
fn idle_and_slow_clients_are_closed_after_the_timeouts() {
    let Some(nginx) = nginx_program() else { return };
    let _beside = beside_others();
    let front = Front::start(&nginx, [free_port(), free_port()]);
    let (https_port, http_port) = (front.https, front.http);

    // Connected, nothing sent: not even a TLS handshake.
    let idle = thread::spawn(move || {
        seconds_until_closed(
            TcpStream::connect(("127.0.0.1", https_port)).unwrap(),
            false,
        )
    });
    // A request line, then a header trickling in a byte at a time.
    let slow = thread::spawn(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", http_port)).unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .unwrap();
        seconds_until_closed(stream, true)
    });
    // One whole request answered, then the connection left open.
    let kept_alive = thread::spawn(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", http_port)).unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        assert!(head.starts_with(b"HTTP/1.1 301"));
        seconds_until_closed(stream, false)
    });

    let idle = idle.join().unwrap();
    let slow = slow.join().unwrap();
    let kept_alive = kept_alive.join().unwrap();
    println!(
        "closed after: idle {idle:.2} s, slow header {slow:.2} s, kept alive {kept_alive:.2} s"
    );
    let around = |seconds: f64, timeout: u64| {
        (timeout as f64 - 1.0..timeout as f64 + 5.0).contains(&seconds)
    };
    assert!(around(idle, HEADER_TIMEOUT), "idle: {idle}");
    assert!(around(slow, HEADER_TIMEOUT), "slow header: {slow}");
    assert!(
        around(kept_alive, KEEPALIVE_TIMEOUT),
        "kept alive: {kept_alive}"
    );
}

/// The review's slow TLS clients: this many connections from one address,
/// each finishing the TLS handshake, then sending a request line and a
/// header line every two seconds, reconnecting when the front closes it.
const SLOW_CLIENTS: usize = 2_300;
/// How often a slow client sends its next header line.
const SLOW_LINE_EVERY: Duration = Duration::from_secs(2);
/// The normal client's requests during the attack, as in the review, one
/// every `NORMAL_EVERY`: 21 s, through two waves of reconnects (the header
/// timeout closes the slow connections every 10 s).
const NORMAL_REQUESTS: u32 = 35;
const NORMAL_EVERY: Duration = Duration::from_millis(600);
/// How long the normal client waits for each answer. Alone it takes about
/// 10 ms; a connection that waits in nginx's accept queue takes seconds.
const NORMAL_PATIENCE: Duration = Duration::from_secs(2);

/// The slow clients: where they connect, and what they did, summed.
struct Slowloris {
    port: u16,
    config: Arc<ClientConfig>,
    /// When they stop, if the test has not stopped them before.
    until: TokioInstant,
    /// Clients whose first connection was held or failed.
    started: AtomicUsize,
    /// Connections past the handshake with a request line sent, still open.
    held: AtomicUsize,
    /// The most held at once.
    peak: AtomicUsize,
    /// Held connections the front closed (the header timeout).
    closed: AtomicUsize,
    /// Connections the front refused or dropped before a request line.
    failed: AtomicUsize,
}

/// Sends whatever TLS records `tls` has queued.
async fn send_tls(tls: &mut ClientConnection, tcp: &mut TokioTcpStream) -> std::io::Result<()> {
    while tls.wants_write() {
        let mut records = Vec::new();
        tls.write_tls(&mut records)?;
        tcp.write_all(&records).await?;
    }
    Ok(())
}

/// Feeds `data`, read from the socket, to `tls`; no data is the end of the
/// stream, an error (the front closed the connection).
fn receive_tls(tls: &mut ClientConnection, mut data: &[u8]) -> std::io::Result<()> {
    if data.is_empty() {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    while !data.is_empty() {
        tls.read_tls(&mut data)?;
        tls.process_new_packets().map_err(std::io::Error::other)?;
    }
    // Nothing is expected in plaintext; drop what comes.
    let _ = std::io::copy(&mut tls.reader(), &mut std::io::sink());
    Ok(())
}

/// One slow connection: TLS handshake, request line, then a header line
/// every two seconds until the front closes it (`Ok`) or `until`. `Err`
/// when it never got past the request line.
async fn slow_connection(attack: &Slowloris, first: &mut bool) -> std::io::Result<()> {
    let mut tcp = TokioTcpStream::connect(("127.0.0.1", attack.port)).await?;
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls =
        ClientConnection::new(attack.config.clone(), name).map_err(std::io::Error::other)?;
    let mut buf = vec![0u8; 16 * 1024];
    while tls.is_handshaking() {
        send_tls(&mut tls, &mut tcp).await?;
        if tls.is_handshaking() {
            let n = tcp.read(&mut buf).await?;
            receive_tls(&mut tls, &buf[..n])?;
        }
    }
    tls.writer()
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n")?;
    send_tls(&mut tls, &mut tcp).await?;

    let held = attack.held.fetch_add(1, Ordering::SeqCst) + 1;
    attack.peak.fetch_max(held, Ordering::SeqCst);
    if std::mem::take(first) {
        attack.started.fetch_add(1, Ordering::SeqCst);
    }
    let mut next_line = TokioInstant::now() + SLOW_LINE_EVERY;
    let mut line = 0;
    let closed_by_front = loop {
        let read = tcp.read(&mut buf);
        match rocket::tokio::time::timeout_at(next_line.min(attack.until), read).await {
            Err(_) if TokioInstant::now() >= attack.until => break false,
            Err(_) => {
                line += 1;
                let header = format!("X-Slow-{line}: 1\r\n");
                let sent = tls.writer().write_all(header.as_bytes());
                if sent.is_err() || send_tls(&mut tls, &mut tcp).await.is_err() {
                    break true;
                }
                next_line += SLOW_LINE_EVERY;
            }
            Ok(Ok(n)) => {
                if receive_tls(&mut tls, &buf[..n]).is_err() {
                    break true;
                }
            }
            Ok(Err(_)) => break true,
        }
    };
    attack.held.fetch_sub(1, Ordering::SeqCst);
    if closed_by_front {
        attack.closed.fetch_add(1, Ordering::SeqCst);
    }
    Ok(())
}

/// A slow client: slow connections one after another until `until`.
async fn slow_client(attack: Arc<Slowloris>) {
    let mut first = true;
    while TokioInstant::now() < attack.until {
        if slow_connection(&attack, &mut first).await.is_err() {
            attack.failed.fetch_add(1, Ordering::SeqCst);
            if std::mem::take(&mut first) {
                attack.started.fetch_add(1, Ordering::SeqCst);
            }
            // Refused at once: try again soon, without spinning.
            rocket::tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

#[test]
fn slow_tls_clients_from_one_address_leave_a_normal_client_served() {
    let Some(nginx) = nginx_program() else { return };
    let _alone = alone();
    // The slow connections are this process's open files.
    let open_files = rlimit::increase_nofile_limit(u64::MAX).unwrap();
    assert!(
        open_files >= SLOW_CLIENTS as u64 + 1_000,
        "this test needs {} open files, the limit is {open_files}",
        SLOW_CLIENTS + 1_000
    );
    let (first, second) = instances();
    let front = Front::start(&nginx, [first.port, second.port]);

    let mut roots = RootCertStore::empty();
    roots.add(front.cert.der.clone()).unwrap();
    let config = Arc::new(
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    // Dropped at the end, or on a failure, closing every slow connection.
    let runtime = rocket::tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let attack = Arc::new(Slowloris {
        port: front.https,
        config,
        // A bound on the attack even if the runtime outlived the test.
        until: TokioInstant::now() + Duration::from_secs(120),
        started: AtomicUsize::new(0),
        held: AtomicUsize::new(0),
        peak: AtomicUsize::new(0),
        closed: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
    });
    for _ in 0..SLOW_CLIENTS {
        runtime.spawn(slow_client(attack.clone()));
    }

    // Every slow client has made its first connection.
    let started = Instant::now();
    while attack.started.load(Ordering::SeqCst) < SLOW_CLIENTS {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "slow clients started: {}",
            attack.started.load(Ordering::SeqCst)
        );
        thread::sleep(Duration::from_millis(50));
    }
    let ramp = started.elapsed();

    // The normal client: a page at a steady pace, a new connection each,
    // each answered promptly.
    let began = Instant::now();
    let mut answered = 0;
    let mut refused = Vec::new();
    let mut least_held = usize::MAX;
    let mut slowest = Duration::ZERO;
    for i in 0..NORMAL_REQUESTS {
        if let Some(wait) = (began + NORMAL_EVERY * i).checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
        least_held = least_held.min(attack.held.load(Ordering::SeqCst));
        let asked = Instant::now();
        let answer = front.browser().get(uri!(routes::index));
        let took = asked.elapsed();
        slowest = slowest.max(took);
        match answer {
            Ok(page) if page.status == 200 && took < NORMAL_PATIENCE => answered += 1,
            Ok(page) => refused.push(format!("{i}: {} in {took:.1?}", page.status)),
            Err(e) => refused.push(format!("{i}: {e}")),
        }
    }
    let (peak, closed, failed) = (
        attack.peak.load(Ordering::SeqCst),
        attack.closed.load(Ordering::SeqCst),
        attack.failed.load(Ordering::SeqCst),
    );
    drop(runtime);
    println!(
        "{SLOW_CLIENTS} slow TLS clients (all started in {ramp:.1?}): at most {peak} \
         held at once, at least {least_held} while the normal client asked; \
         {closed} closed by the front, {failed} refused; the normal client got \
         {answered} of {NORMAL_REQUESTS} answers in {:.1?}, the slowest in \
         {slowest:.2?} {refused:?}",
        began.elapsed()
    );
    assert_eq!(answered, NORMAL_REQUESTS, "refused: {refused:?}");
    // The workers raised their open files from the service's 1,024 (no
    // `setrlimit` alert, no `accept4() failed (24: Too many open files)`)
    // and never ran short of connections (no `worker_connections are not
    // enough`). Other warnings (say, `user` ignored when not run as root)
    // are not this test's business.
    let log = front.error_log();
    let trouble: Vec<&str> = log
        .lines()
        .filter(|line| !line.contains("[warn]") || line.contains("worker_connections"))
        .collect();
    assert!(trouble.is_empty(), "{log}");
    // The attack was real: every slow client held its connection, the
    // front then closed them (the header timeout) and they reconnected.
    assert_eq!(failed, 0);
    assert_eq!(peak, SLOW_CLIENTS);
    assert!(closed >= SLOW_CLIENTS, "closed by the front: {closed}");
}
