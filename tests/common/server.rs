//! The real binary on a free loopback port, and a browser-like HTTP/1.1
//! client with a cookie jar, on hyper: for tests that need a real socket
//! (TLS, nginx, a browser).

use std::collections::BTreeMap;
use std::fmt::Display;
use std::io::{self, BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rcgen::{generate_simple_self_signed, CertifiedKey};
use rocket::tokio;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};

/// A throwaway 256-bit key for test servers.
pub const TEST_KEY: &str = "V+Ly6JPKyHU+z4DyD0e0PU1AxvY83MtQi5HFTAa0WKc=";
/// Another throwaway key: a rotation's next one, or another site's.
pub const OTHER_KEY: &str = "q0v8Yp6rO5yB3fJ0l7m2b9qC1dXz4sT6uW8eR0tY2iE=";

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `env` after a store and a spool of their own, which it may override.
fn fresh_stores(env: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut all = vec![
        (
            "ROCKET_SESSION_REVOCATION_STORE".to_owned(),
            super::fresh_store(),
        ),
        (
            "ROCKET_SESSION_REVOCATION_SPOOL".to_owned(),
            super::fresh_store(),
        ),
    ];
    all.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    all
}

/// The app's binary, running until dropped, with its output captured.
pub struct Server {
    child: Child,
    pub port: u16,
    output: Arc<Mutex<String>>,
}

impl Server {
    /// Starts the binary in the release profile, configured only through
    /// environment variables, plus `env`; waits until it answers.
    pub fn start(env: &[(&str, &str)]) -> Server {
        Server::start_checked(env, |port| answers(port, "/healthz"))
    }

    /// Starts the binary and waits until `ready` says it serves.
    pub fn start_checked(env: &[(&str, &str)], ready: impl Fn(u16) -> bool) -> Server {
        let command = Command::new(env!("CARGO_BIN_EXE_session_app"));
        Server::launch(command, &fresh_stores(env), ready)
    }

    /// Starts the binary in the folder `dir` with the repository's
    /// templates, and no store or spool setting but those in `env`: the
    /// defaults, under `dir`.
    pub fn start_in(dir: &std::path::Path, env: &[(&str, &str)]) -> Server {
        let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut command = Command::new(env!("CARGO_BIN_EXE_session_app"));
        command.current_dir(dir);
        let mut all = vec![(
            "ROCKET_TEMPLATE_DIR".to_owned(),
            templates.display().to_string(),
        )];
        all.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Server::launch(command, &all, |port| answers(port, "/healthz"))
    }

    /// Starts the binary as [`Server::start`] does, with its soft limit of
    /// open files lowered to `soft` first.
    pub fn start_with_open_files(env: &[(&str, &str)], soft: u64) -> Server {
        let mut shell = Command::new("sh");
        shell
            .arg("-c")
            .arg(format!("ulimit -Sn {soft} && exec \"$0\""))
            .arg(env!("CARGO_BIN_EXE_session_app"));
        Server::launch(shell, &fresh_stores(env), |port| answers(port, "/healthz"))
    }

    fn launch(
        mut command: Command,
        env: &[(String, String)],
        ready: impl Fn(u16) -> bool,
    ) -> Server {
        let port = free_port();
        if command.get_current_dir().is_none() {
            command.current_dir(env!("CARGO_MANIFEST_DIR"));
        }
        // Only what is set here: a test elsewhere in this process may be
        // changing the environment (figment's Jail) while this one starts.
        let mut child = command
            .env_clear()
            .env("ROCKET_PROFILE", "release")
            .env("ROCKET_SECRET_KEY", TEST_KEY)
            .env("ROCKET_ADDRESS", "127.0.0.1")
            .env("ROCKET_PORT", port.to_string())
            .env("ROCKET_CLI_COLORS", "false")
            .env("ROCKET_WORKERS", "4")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the app binary starts");
        let output = Arc::new(Mutex::new(String::new()));
        for pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let output = output.clone();
            thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut out = output.lock().unwrap();
                    out.push_str(&line);
                    out.push('\n');
                }
            });
        }
        let mut server = Server {
            child,
            port,
            output,
        };
        // Constructed first, so that a panic while waiting still stops it.
        let log = server.output.clone();
        wait_until(
            &mut server.child,
            "the app",
            || ready(port),
            || log.lock().unwrap().clone(),
        );
        server
    }

    /// Whether the app prints `needed` within five seconds (its output is
    /// read by another thread, a moment after the app wrote it).
    pub fn prints_soon(&self, needed: &str) -> bool {
        eventually(|| self.output().contains(needed))
    }

    /// Everything the app printed so far.
    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    pub fn url(&self, path: impl Display) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// Waits up to 30 seconds for `ready`, checking that `child` (called
/// `what`) is still running; panics with `log()` if it exits or never gets
/// ready.
pub fn wait_until(
    child: &mut Child,
    what: &str,
    mut ready: impl FnMut() -> bool,
    log: impl Fn() -> String,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited with {status}:\n{}", log());
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not get ready:\n{}",
            log()
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// A process a test started: killed, by its id, when the test ends,
/// however it ends (a failed assertion included).
pub struct Started(pub Child);

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Stops `child` as a service manager would: SIGTERM, so that it can stop
/// processes of its own (nginx its workers), then SIGKILL if it lingers.
pub fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    if !eventually(|| matches!(child.try_wait(), Ok(Some(_)))) {
        let _ = child.kill();
    }
    let _ = child.wait();
}

/// Whether `condition` holds within five seconds, checked every 20 ms.
pub fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !condition() {
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
    true
}

/// What a run of the binary that exited printed.
pub struct Run {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The one line a refused start wrote: the binary exited with 1 after
    /// writing a single line to stderr, and nothing to stdout (the log),
    /// with the app's refusal prefix.
    pub fn refusal(&self) -> &str {
        assert_eq!(self.status, Some(1), "{}{}", self.stdout, self.stderr);
        assert_eq!(self.stdout, "", "a refusal logs nothing besides its line");
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{}", self.stderr);
        assert!(
            lines[0].starts_with("session_app: refusing to start: "),
            "{}",
            lines[0]
        );
        lines[0]
    }
}

/// Runs the binary in `dir` with only `env` set, until it exits. One
/// that starts serving instead is killed after 20 seconds, and the test
/// fails with what it printed, rather than waiting for it forever.
pub fn run_binary(dir: &Path, env: &[(&str, &str)]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_session_app"))
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (stdout, stderr) = (drain(child.stdout.take()), drain(child.stderr.take()));
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let run = Run {
        status: status.and_then(|s| s.code()),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    };
    assert!(
        status.is_some(),
        "the binary started instead of refusing:\n{}{}",
        run.stdout,
        run.stderr
    );
    run
}

/// Reads all of `pipe` on a thread of its own (so that a full pipe never
/// blocks the child): its text, once the child has closed it.
fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    })
}

/// Whether `GET path` on 127.0.0.1:`port` answers 200 now.
pub fn answers(port: u16, path: impl Display) -> bool {
    Agent::plain(port).get(path).is_ok_and(|r| r.status == 200)
}

impl Server {
    /// Stops it as systemd does (SIGTERM), and says whether it exited
    /// cleanly; [`Server::output`] then holds all it wrote.
    pub fn stop(&mut self) -> bool {
        stop(&mut self.child);
        let exited = self.child.try_wait().ok().flatten();
        // Its last lines: the threads reading its output end at their
        // pipes' end, and drop their share of it.
        eventually(|| Arc::strong_count(&self.output) == 1);
        exited.is_some_and(|status| status.success())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn set_cookies(&self) -> impl Iterator<Item = &str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
            .map(|(_, v)| v.as_str())
    }
}

/// How an [`Agent`] reaches 127.0.0.1.
#[derive(Clone)]
enum Transport {
    Plain(u16),
    /// TLS to `localhost`, trusting the config's roots only.
    Tls(u16, Arc<ClientConfig>),
}

/// A browser-like client: one connection per request, cookies kept.
pub struct Agent {
    transport: Transport,
    host: String,
    pub cookies: BTreeMap<String, String>,
    /// Headers sent with every request, as a proxy would add them.
    pub extra_headers: Vec<(String, String)>,
    runtime: tokio::runtime::Runtime,
}

impl Agent {
    fn over(transport: Transport, host: String) -> Agent {
        Agent {
            transport,
            host,
            cookies: BTreeMap::new(),
            extra_headers: Vec::new(),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the client"),
        }
    }

    /// Plain HTTP to 127.0.0.1:`port`.
    pub fn plain(port: u16) -> Agent {
        Agent::over(Transport::Plain(port), format!("127.0.0.1:{port}"))
    }

    pub fn with_cookies(mut self, cookies: BTreeMap<String, String>) -> Agent {
        self.cookies = cookies;
        self
    }

    pub fn get(&mut self, path: impl Display) -> io::Result<Response> {
        self.send("GET", &path.to_string(), None)
    }

    pub fn post(&mut self, path: impl Display, body: &str) -> io::Result<Response> {
        self.send("POST", &path.to_string(), Some(body))
    }

    /// Logs in from the login page, as a person would: the page, then the
    /// form with its token.
    pub fn log_in(&mut self, name: &str) -> (Response, Response) {
        let page = self.get(rocket::uri!(session_app::routes::index)).unwrap();
        let token = super::token_in(&page.body).expect("the login form carries a token");
        let body = super::form_body(&[("name", name), ("csrf_token", &token)]);
        let login = self
            .post(rocket::uri!(session_app::routes::login), &body)
            .unwrap();
        (page, login)
    }

    /// Sends one request on a connection of its own, within 10 seconds,
    /// and keeps the cookies the answer sets.
    pub fn send(&mut self, method: &str, path: &str, body: Option<&str>) -> io::Result<Response> {
        let mut request = http::Request::builder()
            .method(method)
            .uri(path)
            .header("Host", &self.host)
            .header("Connection", "close");
        if !self.cookies.is_empty() {
            let jar: Vec<_> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request = request.header("Cookie", jar.join("; "));
        }
        for (name, value) in &self.extra_headers {
            request = request.header(name, value);
        }
        if body.is_some() {
            request = request.header("Content-Type", "application/x-www-form-urlencoded");
        }
        let body = Full::new(Bytes::from(body.unwrap_or_default().to_owned()));
        let request = request.body(body).map_err(io::Error::other)?;
        let transport = self.transport.clone();
        let exchange = async move {
            match transport {
                Transport::Plain(port) => {
                    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
                    exchange(TokioIo::new(tcp), request).await
                }
                Transport::Tls(port, config) => {
                    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
                    let name = ServerName::try_from("localhost").unwrap();
                    let tls = tokio_rustls::TlsConnector::from(config)
                        .connect(name, tcp)
                        .await?;
                    exchange(TokioIo::new(tls), request).await
                }
            }
        };
        let response = self
            .runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(10), exchange).await })
            .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
        for cookie in response.set_cookies() {
            let pair = cookie.split(';').next().unwrap_or("");
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if cookie.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        Ok(response)
    }
}

/// One request and its whole answer over `io`, with hyper.
async fn exchange<I>(io: I, request: http::Request<Full<Bytes>>) -> io::Result<Response>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(io::Error::other)?;
    tokio::spawn(connection);
    let response = sender
        .send_request(request)
        .await
        .map_err(io::Error::other)?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(io::Error::other)?
        .to_bytes();
    Ok(Response {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// A self-signed certificate for `localhost`, made for one test, written
/// as PEM files into a folder.
pub struct TestCertificate {
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
    pub der: CertificateDer<'static>,
}

impl TestCertificate {
    pub fn new(dir: &Path) -> TestCertificate {
        let CertifiedKey { cert, key_pair } =
            generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        std::fs::create_dir_all(dir).unwrap();
        let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key_pair.serialize_pem()).unwrap();
        TestCertificate {
            cert_path,
            key_path,
            der: cert.der().clone(),
        }
    }
}

/// An HTTPS agent for 127.0.0.1:`port` that trusts exactly `cert`.
pub fn https(port: u16, cert: CertificateDer<'static>) -> Agent {
    let mut roots = RootCertStore::empty();
    roots.add(cert).unwrap();
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    Agent::over(
        Transport::Tls(port, Arc::new(config)),
        format!("localhost:{port}"),
    )
}
