//! Revocations shared through a real Redis by instances behind the real
//! front: a logout on one instance is honoured on the other within a
//! second; with Redis down the app keeps serving, stays ready, and spools
//! the revocation to disk, so it reaches Redis even if the instance is
//! killed first; a Redis restarted empty gets it back, and so does an
//! instance started afterwards. Junk in Redis is skipped, and a Redis that
//! never answers cannot hang a logout. Over TLS (`rediss://`, a CA made
//! for the test and named by SSL_CERT_FILE) with an ACL user and password,
//! sharing works the same; credentials Redis refuses stop the start in one
//! line; a certificate not trusted is an outage; and the password is never
//! logged.

use crate::common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::front::{nginx_program, Front};
use common::redis::{
    log_out, logged_in_at, plain_output_status, readiness, redis_command, redis_program,
    refused_plain_within, refused_with, spooled, status_with, wait_ready, wait_unreachable, Redis,
};
use common::server::{eventually, free_port, wait_until, Agent, Server};
use common::{fresh_store, secure, SESSION_COOKIE};

/// An instance sharing revocations through `redis_url`, behind TLS.
fn instance(redis_url: &str) -> Server {
    Server::start(&[
        ("ROCKET_SESSION_COOKIE_SECURE", "true"),
        ("ROCKET_SESSION_REVOCATION_STORE", redis_url),
    ])
}

/// Logs in through the front; returns the browser and its session cookie.
fn logged_in(front: &Front, name: &str) -> (Agent, String) {
    let mut browser = front.browser();
    let (_, login) = browser.log_in(name);
    assert_eq!(login.status, 303);
    let cookie = browser.cookies[&secure(SESSION_COOKIE)].clone();
    (browser, cookie)
}

/// [`status_with`] for an instance behind the front (`__Host-` cookies).
fn output_status(instance: &Server, cookie: &str) -> u16 {
    status_with(instance, &secure(SESSION_COOKIE), cookie)
}

/// [`refused_with`] for an instance behind the front.
fn refused_within(instance: &Server, cookie: &str, within: Duration) -> Option<Duration> {
    refused_with(instance, &secure(SESSION_COOKIE), cookie, within)
}

#[test]
fn a_logout_on_one_instance_is_honoured_on_the_other_within_a_second() {
    let Some(Cluster {
        // Kept alive to the end of the test.
        redis: _redis,
        first,
        second,
        front,
    }) = Cluster::start()
    else {
        return;
    };

    let (mut browser, copy) = logged_in(&front, "太郎");
    assert_eq!(output_status(&first, &copy), 200);
    assert_eq!(output_status(&second, &copy), 200);
    assert_eq!(log_out(&mut browser), 303);

    for instance in [&first, &second] {
        let took = refused_within(instance, &copy, Duration::from_secs(1))
            .expect("refused within one second");
        println!("refused after {took:?}");
    }
}

/// A Redis, two instances sharing revocations through it, and the front.
struct Cluster {
    redis: Redis,
    first: Server,
    second: Server,
    front: Front,
}

impl Cluster {
    /// Everything started and ready, or `None` (a skip outside CI) when
    /// nginx or redis-server is missing.
    fn start() -> Option<Cluster> {
        let (nginx, redis) = (nginx_program()?, redis_program()?);
        let redis = Redis::start(redis, free_port());
        let (first, second) = (instance(&redis.url()), instance(&redis.url()));
        let front = Front::start(&nginx, [first.port, second.port]);
        wait_ready(&[&first, &second]);
        Some(Cluster {
            redis,
            first,
            second,
            front,
        })
    }
}

#[test]
fn a_logout_made_while_redis_is_down_reaches_every_instance_once_it_is_back() {
    let Some(Cluster {
        redis,
        first,
        second,
        front,
    }) = Cluster::start()
    else {
        return;
    };
    let (mut browser, copy) = logged_in(&front, "太郎");
    let (mut other_browser, other) = logged_in(&front, "花子");

    // Redis goes away, taking every revocation with it.
    let port = redis.port;
    let program = redis.program.clone();
    drop(redis);
    wait_unreachable(&[&first, &second]);

    // The app keeps serving: live sessions work, logout answers.
    assert_eq!(output_status(&first, &other), 200);
    assert_eq!(output_status(&second, &other), 200);
    assert_eq!(log_out(&mut browser), 303);
    let took_it = |i: &Server| i.output().contains("revocation queued");
    assert!(eventually(|| took_it(&first) || took_it(&second)));
    let queued: Vec<&Server> = [&first, &second]
        .into_iter()
        .filter(|i| took_it(i))
        .collect();
    assert_eq!(queued.len(), 1, "one instance took the logout");
    // That instance refuses the copy at once.
    assert_eq!(output_status(queued[0], &copy), 303);
    // Logged once per outage, not per request.
    for instance in [&first, &second] {
        assert!(instance.prints_soon("Redis unreachable"));
        assert_eq!(
            instance.output().matches("Redis unreachable").count(),
            1,
            "{}",
            instance.output()
        );
    }

    // Redis comes back empty.
    let redis = Redis::start(program, port);
    for instance in [&first, &second] {
        refused_within(instance, &copy, Duration::from_secs(15))
            .expect("the queued revocation arrives");
    }
    // So does an instance started afterwards.
    let third = instance(&redis.url());
    wait_ready(&[&third]);
    assert_eq!(output_status(&third, &copy), 303);
    assert_eq!(output_status(&third, &other), 200);

    // And a Redis restarted empty again gets it back from the instances.
    let redis = redis.restart_empty();
    wait_ready(&[&first, &second, &third]);
    let fourth = instance(&redis.url());
    wait_ready(&[&fourth]);
    assert!(refused_within(&fourth, &copy, Duration::from_secs(15)).is_some());
    assert_eq!(log_out(&mut other_browser), 303);
    for instance in [&first, &second, &third, &fourth] {
        assert!(refused_within(instance, &other, Duration::from_secs(1)).is_some());
    }
}

#[test]
fn a_revocation_spooled_while_redis_is_down_survives_kill_9() {
    let Some(program) = redis_program() else {
        return;
    };
    let port = free_port();
    let redis = Redis::start(program.clone(), port);
    let spool = fresh_store();
    let first = spooled(&redis.url(), &spool);
    let second = spooled(&redis.url(), &fresh_store());
    wait_ready(&[&first, &second]);
    let (mut browser, copy) = logged_in_at(&first, "太郎");

    drop(redis);
    wait_unreachable(&[&first]);
    assert_eq!(log_out(&mut browser), 303);
    assert!(first.prints_soon("revocation queued"), "{}", first.output());
    // kill -9, before Redis is back.
    drop(first);

    let redis = Redis::start(program, port);
    let first = spooled(&redis.url(), &spool);
    for instance in [&first, &second] {
        assert!(
            refused_plain_within(instance, &copy, Duration::from_secs(15)),
            "the spooled revocation reached Redis:\n{}",
            instance.output()
        );
    }
}

#[test]
fn junk_in_redis_is_skipped_and_sharing_goes_on() {
    let Some(program) = redis_program() else {
        return;
    };
    let redis = Redis::start(program, free_port());
    let junk_id = format!("session_app:revoked:{}", "ab".repeat(16));
    for (key, value) in [
        ("session_app:revoked:zzzz", "not-a-number"),
        (junk_id.as_str(), "-1x"),
    ] {
        assert_eq!(redis_command(redis.port, &["SET", key, value]), "+OK\r\n");
    }
    let first = spooled(&redis.url(), &fresh_store());
    let second = spooled(&redis.url(), &fresh_store());
    wait_ready(&[&first, &second]);
    // A message on the channel that is not a revocation, too.
    redis_command(redis.port, &["PUBLISH", "session_app:revocations", "junk"]);

    let (mut browser, copy) = logged_in_at(&first, "太郎");
    assert_eq!(plain_output_status(&second, &copy), 200);
    assert_eq!(log_out(&mut browser), 303);
    assert!(refused_plain_within(&second, &copy, Duration::from_secs(1)));
    // A new instance loads the revocation past the junk.
    let third = spooled(&redis.url(), &fresh_store());
    wait_ready(&[&third]);
    assert_eq!(plain_output_status(&third, &copy), 303);
    for instance in [&first, &second, &third] {
        assert!(instance.prints_soon("skipping a key in Redis"));
        assert_eq!(
            instance.output().matches("skipping a").count(),
            1,
            "logged once:\n{}",
            instance.output()
        );
        assert!(!instance.output().contains("Redis unreachable"));
    }
}

/// A proxy to Redis on a loopback port that passes everything but a
/// SUBSCRIBE: from then on, that connection's requests are swallowed.
fn swallowing_proxy(redis_port: u16) -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for client in listener.incoming().map_while(Result::ok) {
            let Ok(server) = TcpStream::connect(("127.0.0.1", redis_port)) else {
                return;
            };
            let (mut from_client, mut to_server) =
                (client.try_clone().unwrap(), server.try_clone().unwrap());
            let (mut from_server, mut to_client) = (server, client);
            thread::spawn(move || {
                let _ = std::io::copy(&mut from_server, &mut to_client);
            });
            thread::spawn(move || {
                let mut buffer = [0u8; 4096];
                let mut swallowing = false;
                while let Ok(n @ 1..) = from_client.read(&mut buffer) {
                    swallowing |= buffer[..n]
                        .windows(9)
                        .any(|w| w.eq_ignore_ascii_case(b"SUBSCRIBE"));
                    if !swallowing && to_server.write_all(&buffer[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

#[test]
fn a_redis_that_never_answers_subscribe_cannot_hang_a_logout() {
    let Some(program) = redis_program() else {
        return;
    };
    let redis = Redis::start(program, free_port());
    let proxy = swallowing_proxy(redis.port);
    let instance = spooled(&format!("redis://127.0.0.1:{proxy}/"), &fresh_store());
    let (browser, copy) = logged_in_at(&instance, "太郎");
    // In a thread of its own, so that a hang fails the test, not stalls it.
    let (cookies, port) = (browser.cookies, instance.port);
    let (done, answered) = mpsc::channel();
    thread::spawn(move || {
        let mut browser = Agent::plain(port).with_cookies(cookies);
        let _ = done.send(log_out(&mut browser));
    });
    let status = answered
        .recv_timeout(Duration::from_secs(30))
        .expect("the logout answers");
    assert_eq!(status, 303);
    assert_eq!(plain_output_status(&instance, &copy), 303);
    // Connected, but nothing comes back: told apart from a Redis down.
    assert!(
        instance.prints_soon("Redis does not answer in time"),
        "{}",
        instance.output()
    );
    assert!(readiness(&instance).contains("Redis does not answer in time"));
}

/// A certificate authority made for one test, and a certificate it signed
/// for Redis on `localhost` and 127.0.0.1, as PEM files in a folder.
struct Authority {
    dir: PathBuf,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl Authority {
    fn new(name: &str) -> Authority {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
        let dir = PathBuf::from(fresh_store()).with_file_name(format!("tls-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca.distinguished_name
            .push(DnType::CommonName, format!("session_app test CA {name}"));
        let ca = ca.self_signed(&ca_key).unwrap();
        let key = KeyPair::generate().unwrap();
        let mut server =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        server
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let server = server.signed_by(&key, &ca, &ca_key).unwrap();
        let authority = Authority {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            dir,
        };
        std::fs::write(&authority.ca, ca.pem()).unwrap();
        std::fs::write(&authority.cert, server.pem()).unwrap();
        std::fs::write(&authority.key, key.serialize_pem()).unwrap();
        authority
    }

    fn ca(&self) -> &str {
        self.ca.to_str().unwrap()
    }
}

impl Drop for Authority {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The user the app logs in to Redis as, over TLS.
const TLS_USER: &str = "session_app";

/// A Redis that speaks only TLS, with the certificate `authority` signed,
/// and lets in only [`TLS_USER`] with `password` (the default user is off),
/// until dropped.
struct TlsRedis {
    child: Child,
    port: u16,
    password: String,
}

impl TlsRedis {
    fn start(program: &Path, authority: &Authority) -> TlsRedis {
        let port = free_port();
        let password = format!("pw-{:032x}", rand::random::<u128>());
        let path = |p: &PathBuf| p.to_str().unwrap().to_owned();
        let child = Command::new(program)
            .args(["--bind", "127.0.0.1", "--port", "0"])
            .args(["--tls-port", &port.to_string()])
            .args(["--tls-cert-file", &path(&authority.cert)])
            .args(["--tls-key-file", &path(&authority.key)])
            .args(["--tls-ca-cert-file", &path(&authority.ca)])
            .args(["--tls-auth-clients", "no"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--user", TLS_USER, "on", &format!(">{password}")])
            // Only what the app uses, on its own keys and channel.
            .args(["~session_app:*", "&session_app:*"])
            .args(["+ping", "+scan", "+mget", "+set", "+publish", "+subscribe"])
            .args(["+unsubscribe", "+pexpire", "+info", "+wait"])
            .args(["--user", "default", "off"])
            // Nothing found in a shared folder is loaded.
            .arg("--dir")
            .arg(&authority.dir)
            .current_dir(&authority.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let mut redis = TlsRedis {
            child,
            port,
            password,
        };
        // Listening is all a plain socket can see of a TLS-only server.
        wait_until(
            &mut redis.child,
            "redis over TLS",
            || TcpStream::connect(("127.0.0.1", port)).is_ok(),
            String::new,
        );
        redis
    }

    /// `rediss://` with `password` for [`TLS_USER`].
    fn url_with(&self, password: &str) -> String {
        format!("rediss://{TLS_USER}:{password}@localhost:{}/", self.port)
    }

    fn url(&self) -> String {
        self.url_with(&self.password)
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What rustls-native-certs reads besides SSL_CERT_FILE: the system's
/// roots, named as OpenSSL keeps them (SSL_CERT_FILE alone would replace
/// them), or an empty folder where there are none.
fn system_roots() -> String {
    let system = Path::new("/etc/ssl/certs");
    if system.is_dir() {
        return system.display().to_string();
    }
    let empty = PathBuf::from(fresh_store()).with_file_name("no-roots");
    std::fs::create_dir_all(&empty).unwrap();
    empty.display().to_string()
}

/// An instance behind TLS on `store`, trusting the system's roots and the
/// CA file `ca`.
fn trusting(ca: &str, store: &str) -> Server {
    Server::start(&[
        ("ROCKET_SESSION_COOKIE_SECURE", "true"),
        ("ROCKET_SESSION_REVOCATION_STORE", store),
        ("SSL_CERT_FILE", ca),
        ("SSL_CERT_DIR", &system_roots()),
    ])
}

/// Asserts that `secret` is nowhere in `output`.
fn assert_never_logged(secret: &str, output: &str) {
    assert!(
        !output.contains(secret),
        "the password was logged:\n{output}"
    );
}

#[test]
fn over_tls_with_a_password_a_logout_is_refused_on_the_other_instance() {
    let (Some(nginx), Some(program)) = (nginx_program(), redis_program()) else {
        return;
    };
    let authority = Authority::new("shared");
    let redis = TlsRedis::start(&program, &authority);
    let first = trusting(authority.ca(), &redis.url());
    let second = trusting(authority.ca(), &redis.url());
    let front = Front::start(&nginx, [first.port, second.port]);
    wait_ready(&[&first, &second]);

    let (mut browser, copy) = logged_in(&front, "太郎");
    assert_eq!(output_status(&first, &copy), 200);
    assert_eq!(output_status(&second, &copy), 200);
    assert_eq!(log_out(&mut browser), 303);
    for instance in [&first, &second] {
        refused_within(instance, &copy, Duration::from_secs(1)).expect("refused within a second");
    }
    for instance in [&first, &second] {
        let output = instance.output();
        assert!(!output.contains("Redis unreachable"), "{output}");
        assert_never_logged(&redis.password, &output);
    }
}

#[test]
fn credentials_redis_refuses_stop_the_start_in_one_line() {
    let Some(program) = redis_program() else {
        return;
    };
    let authority = Authority::new("credentials");
    let redis = TlsRedis::start(&program, &authority);
    let wrong = format!("wrong-{:032x}", rand::random::<u128>());
    let no_credentials = format!("rediss://localhost:{}/", redis.port);
    for store in [redis.url_with(&wrong), no_credentials] {
        let run = common::server::run_binary(
            env!("CARGO_MANIFEST_DIR").as_ref(),
            &[
                ("ROCKET_PROFILE", "release"),
                ("ROCKET_SECRET_KEY", common::server::TEST_KEY),
                ("ROCKET_SESSION_REVOCATION_STORE", &store),
                ("SSL_CERT_FILE", authority.ca()),
            ],
        );
        let line = run.refusal();
        assert!(
            line.starts_with(
                "session_app: refusing to start: session_revocation_store: Redis refused the \
                 user name or password"
            ),
            "{line}"
        );
        for secret in [&wrong, &redis.password] {
            assert_never_logged(secret, &format!("{}{}", run.stdout, run.stderr));
        }
    }

    // Verification cannot be switched off from the URL either.
    let insecure = format!("{}#insecure", redis.url());
    let run = common::server::run_binary(
        env!("CARGO_MANIFEST_DIR").as_ref(),
        &[
            ("ROCKET_PROFILE", "release"),
            ("ROCKET_SECRET_KEY", common::server::TEST_KEY),
            ("ROCKET_SESSION_REVOCATION_STORE", &insecure),
        ],
    );
    let line = run.refusal();
    assert!(line.contains("`#insecure`"), "{line}");
    assert_never_logged(&redis.password, &format!("{}{}", run.stdout, run.stderr));
}

#[test]
fn a_redis_whose_certificate_is_not_trusted_is_an_outage_not_a_link() {
    let Some(program) = redis_program() else {
        return;
    };
    let authority = Authority::new("untrusted");
    let redis = TlsRedis::start(&program, &authority);
    // The system's roots only: what an instance without SSL_CERT_FILE
    // trusts. A CA made for this test is not among them; without a system
    // bundle, another such CA stands for them.
    let other = Authority::new("other");
    let bundle = Path::new("/etc/ssl/certs/ca-certificates.crt");
    let roots = if bundle.is_file() {
        bundle.to_str().unwrap()
    } else {
        other.ca()
    };
    let (dir, url) = (system_roots(), redis.url());
    let env = [
        ("SSL_CERT_FILE", roots),
        ("SSL_CERT_DIR", dir.as_str()),
        ("ROCKET_SESSION_REVOCATION_STORE", url.as_str()),
    ];
    let instance = Server::start(&env);

    // It serves, but does not connect, and says so.
    assert!(readiness(&instance).contains("Redis unreachable"));
    assert!(
        instance.prints_soon("Redis unreachable"),
        "{}",
        instance.output()
    );
    let output = instance.output();
    assert!(output.contains("certificate"), "{output}");
    let (mut browser, copy) = logged_in_at(&instance, "太郎");
    assert_eq!(log_out(&mut browser), 303);
    assert_eq!(plain_output_status(&instance, &copy), 303);
    thread::sleep(Duration::from_millis(500));
    assert!(readiness(&instance).contains("Redis unreachable"));
    assert_never_logged(&redis.password, &instance.output());

    // Redis not there at all at start: the instance starts all the same.
    drop(redis);
    let absent = trusting(authority.ca(), &url);
    assert!(readiness(&absent).contains("Redis unreachable"));
}

#[test]
fn two_instances_started_in_one_folder_need_no_spool_setting() {
    let Some(program) = redis_program() else {
        return;
    };
    let redis = Redis::start(program, free_port());
    let dir = std::path::PathBuf::from(fresh_store());
    std::fs::create_dir_all(&dir).unwrap();
    let store = [("ROCKET_SESSION_REVOCATION_STORE", redis.url())];
    let store: Vec<(&str, &str)> = store.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // The second would refuse to start if it took the first one's spool.
    let first = Server::start_in(&dir, &store);
    let second = Server::start_in(&dir, &store);
    for instance in [&first, &second] {
        let spool = dir.join(format!("data/revocation-spool-{}", instance.port));
        assert!(spool.exists(), "{} in {:?}", spool.display(), dir);
    }
    let (mut browser, cookie) = logged_in_at(&first, "太郎");
    assert_eq!(log_out(&mut browser), 303);
    assert!(refused_plain_within(
        &second,
        &cookie,
        Duration::from_secs(1)
    ));
}
