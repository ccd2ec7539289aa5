//! The real binary on a free loopback port, and a small HTTP/1.1 client with
//! a cookie jar: for tests that need a real socket (TLS, nginx, a browser).

use std::collections::BTreeMap;
use std::fmt::Display;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rcgen::{generate_simple_self_signed, CertifiedKey};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

/// A throwaway 256-bit key for test servers.
pub const TEST_KEY: &str = "hPRYyVRiMyxpw5sBB1XeCMN1kFsDCqKvBi2QJxBVHQk=";

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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
        Server::launch(Command::new(env!("CARGO_BIN_EXE_session_app")), env, ready)
    }

    /// Starts the binary as [`Server::start`] does, with its soft limit of
    /// open files lowered to `soft` first.
    pub fn start_with_open_files(env: &[(&str, &str)], soft: u64) -> Server {
        let mut shell = Command::new("sh");
        shell
            .arg("-c")
            .arg(format!("ulimit -Sn {soft} && exec \"$0\""))
            .arg(env!("CARGO_BIN_EXE_session_app"));
        Server::launch(shell, env, |port| answers(port, "/healthz"))
    }

    fn launch(mut command: Command, env: &[(&str, &str)], ready: impl Fn(u16) -> bool) -> Server {
        let port = free_port();
        // Only what is set here: a test elsewhere in this process may be
        // changing the environment (figment's Jail) while this one starts.
        let mut child = command
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_clear()
            .env("ROCKET_PROFILE", "release")
            .env("ROCKET_SECRET_KEY", TEST_KEY)
            .env("ROCKET_ADDRESS", "127.0.0.1")
            .env("ROCKET_PORT", port.to_string())
            .env("ROCKET_CLI_COLORS", "false")
            .env("ROCKET_WORKERS", "4")
            .env("ROCKET_SESSION_REVOCATION_STORE", super::fresh_store())
            .env("ROCKET_SESSION_REVOCATION_SPOOL", super::fresh_store())
            .envs(env.iter().copied())
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
    /// writing a single line to stderr, with the app's refusal prefix.
    pub fn refusal(&self) -> &str {
        assert_eq!(self.status, Some(1), "{}{}", self.stdout, self.stderr);
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

/// Runs the binary in `dir` with only `env` set, until it exits.
pub fn run_binary(dir: &Path, env: &[(&str, &str)]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_session_app"))
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Run {
        status: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Whether `GET path` on 127.0.0.1:`port` answers 200 now.
pub fn answers(port: u16, path: impl Display) -> bool {
    Agent::plain(port).get(path).is_ok_and(|r| r.status == 200)
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

pub trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

type Connect = Box<dyn Fn() -> io::Result<Box<dyn Stream>>>;

/// A browser-like client: one connection per request, cookies kept.
pub struct Agent {
    connect: Connect,
    host: String,
    pub cookies: BTreeMap<String, String>,
    /// Headers sent with every request, as a proxy would add them.
    pub extra_headers: Vec<(String, String)>,
}

impl Agent {
    /// Plain HTTP to 127.0.0.1:`port`.
    pub fn plain(port: u16) -> Agent {
        Agent::with(format!("127.0.0.1:{port}"), move || {
            let stream = TcpStream::connect(("127.0.0.1", port))?;
            stream.set_read_timeout(Some(Duration::from_secs(10)))?;
            Ok(Box::new(stream) as Box<dyn Stream>)
        })
    }

    /// The same agent, holding `cookies`.
    pub fn with_cookies(mut self, cookies: BTreeMap<String, String>) -> Agent {
        self.cookies = cookies;
        self
    }

    /// Any transport, e.g. TLS.
    pub fn with(
        host: String,
        connect: impl Fn() -> io::Result<Box<dyn Stream>> + 'static,
    ) -> Agent {
        Agent {
            connect: Box::new(connect),
            host,
            cookies: BTreeMap::new(),
            extra_headers: Vec::new(),
        }
    }

    pub fn get(&mut self, path: impl Display) -> io::Result<Response> {
        self.send("GET", &path.to_string(), None)
    }

    /// Posts a form; `body` must already be URL-encoded.
    pub fn post(&mut self, path: impl Display, body: &str) -> io::Result<Response> {
        self.send("POST", &path.to_string(), Some(body))
    }

    /// Logs in as `name` as a browser would: opens `/`, then posts its
    /// form with the token it carries. Returns both answers.
    pub fn log_in(&mut self, name: &str) -> (Response, Response) {
        let page = self.get(rocket::uri!(session_app::routes::index)).unwrap();
        let token = super::token_in(&page.body).expect("the login form carries a token");
        let body = super::form_body(&[("name", name), ("csrf_token", &token)]);
        let login = self
            .post(rocket::uri!(session_app::routes::login), &body)
            .unwrap();
        (page, login)
    }

    pub fn send(&mut self, method: &str, path: &str, body: Option<&str>) -> io::Result<Response> {
        let mut stream = (self.connect)()?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.host
        );
        if !self.cookies.is_empty() {
            let jar: Vec<_> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            head.push_str(&format!("Cookie: {}\r\n", jar.join("; ")));
        }
        for (name, value) in &self.extra_headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(body) = body {
            head.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        stream.write_all(body.unwrap_or("").as_bytes())?;
        stream.flush()?;

        let raw = read_response(&mut stream)?;
        let response = parse(&raw)?;
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

/// Reads one response: up to its Content-Length, its last chunk, or the
/// end of the stream (some peers keep the connection open regardless).
fn read_response(stream: &mut dyn Stream) -> io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    while !is_complete(&raw) {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            // TLS peers may close without close_notify after a full response.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && !raw.is_empty() => break,
            Err(e) => return Err(e),
        }
    }
    Ok(raw)
}

fn is_complete(raw: &[u8]) -> bool {
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let body = &raw[split + 4..];
    if let Some(length) = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|n| n.trim().parse::<usize>().ok())
    {
        return body.len() >= length;
    }
    head.contains("transfer-encoding: chunked") && body.ends_with(b"0\r\n\r\n")
}

fn parse(raw: &[u8]) -> io::Result<Response> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no header end"))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| bad("no status"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body).ok_or_else(|| bad("bad chunked body"))?;
    }
    Ok(Response {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
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
    let config = Arc::new(config);
    Agent::with(format!("localhost:{port}"), move || {
        let tcp = TcpStream::connect(("127.0.0.1", port))?;
        tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
        let name = ServerName::try_from("localhost").unwrap();
        let tls = ClientConnection::new(config.clone(), name).map_err(io::Error::other)?;
        Ok(Box::new(StreamOwned::new(tls, tcp)) as Box<dyn Stream>)
    })
}
