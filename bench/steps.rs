//! Load for bench/steps.sh: one step of the flow, on one server (the app,
//! or its peer bench/peer.rs), from keep-alive connections; then one line
//! of figures. Every answer must have the status a browser would get (200
//! for a page, 303 for a form); any other is counted as an error.
//!
//! Usage: steps URL SIDE STEP CONNECTIONS AMOUNT SERVER_PID
//!
//! - SIDE: `app` (CSRF token and cookie, as the app's forms need) or
//!   `peer` (a private cookie and nothing else).
//! - STEP: `output` (GET /output), `login` (POST /login), `set` (POST
//!   /session/set), `delete` (POST /session/delete), `logout` (POST
//!   /logout), or `flow`: each connection a browser looping log in, its
//!   page, log out, a fresh session each time (counted in flows).
//! - AMOUNT: seconds of load (`4`), or `xN`: N requests in all. For
//!   `logout` it must be `xN`: N logouts, each of a session of its own,
//!   logged in before the clock starts (a replayed cookie would measure an
//!   already-revoked session).
//! - SERVER_PID: the server's process, whose CPU time over the timed part
//!   (not the preparation) gives the CPU per request.
//!
//! - `STEPS_BEFORE`, `STEPS_AFTER` (environment): shell commands run just
//!   before the clock starts and after the last answer.
//!
//! Printed: `steps: STEP SIDE requests N rps R p99_ms P cpu_us C errors E`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rocket::tokio;
use rocket::tokio::io::{AsyncReadExt, AsyncWriteExt};
use rocket::tokio::net::TcpStream;

/// The name each session is for.
const NAME: &str = "山田太郎";
/// The entry `set` writes and `delete` removes.
const ENTRY: (&str, &str) = ("color", "blue");

#[derive(Clone, Copy, PartialEq)]
enum Side {
    App,
    Peer,
}

#[derive(Clone, Copy, PartialEq)]
enum Step {
    Output,
    Login,
    Set,
    Delete,
    Logout,
    Flow,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(run) = Run::parse(&args) else {
        eprintln!(
            "usage: steps URL app|peer output|login|set|delete|logout CONNECTIONS SECONDS|xN SERVER_PID"
        );
        return ExitCode::from(2);
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    match runtime.block_on(run.go()) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("steps: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Run {
    address: SocketAddr,
    host: String,
    side: Side,
    step: Step,
    connections: usize,
    /// Seconds of load, or a number of prepared requests.
    amount: Amount,
    server: u32,
}

#[derive(Clone, Copy)]
enum Amount {
    Seconds(u64),
    Requests(usize),
}

impl Run {
    fn parse(args: &[String]) -> Option<Run> {
        let [url, side, step, connections, amount, server] = args else {
            return None;
        };
        let host = url
            .strip_prefix("http://")?
            .trim_end_matches('/')
            .to_owned();
        let address: SocketAddr = host.parse().ok()?;
        let side = match side.as_str() {
            "app" => Side::App,
            "peer" => Side::Peer,
            _ => return None,
        };
        let step = match step.as_str() {
            "output" => Step::Output,
            "login" => Step::Login,
            "set" => Step::Set,
            "delete" => Step::Delete,
            "logout" => Step::Logout,
            "flow" => Step::Flow,
            _ => return None,
        };
        let amount = match amount.strip_prefix('x') {
            Some(count) => Amount::Requests(count.parse().ok().filter(|n| *n > 0)?),
            None => Amount::Seconds(amount.parse().ok().filter(|n| *n > 0)?),
        };
        Some(Run {
            address,
            host,
            side,
            step,
            connections: connections.parse().ok().filter(|n| *n > 0)?,
            amount,
            server: server.parse().ok()?,
        })
    }

    async fn go(self) -> Result<String, String> {
        if self.step == Step::Flow {
            return self.flows().await;
        }
        let prepared = Arc::new(self.prepare().await?);
        let next = Arc::new(AtomicUsize::new(0));
        hook("STEPS_BEFORE")?;
        let cpu_before = cpu_ticks(self.server)?;
        let started = Instant::now();
        let (deadline, limit) = match self.amount {
            Amount::Seconds(seconds) => (Some(started + Duration::from_secs(seconds)), None),
            Amount::Requests(count) => (None, Some(count)),
        };
        let expected = self.expected();
        let tasks: Vec<_> = (0..self.connections)
            .map(|_| {
                let (prepared, next, address) = (prepared.clone(), next.clone(), self.address);
                tokio::spawn(async move {
                    load(address, &prepared, &next, (deadline, limit), expected).await
                })
            })
            .collect();
        let line = self
            .finish(self.step_name(), tasks, started, cpu_before)
            .await;
        hook("STEPS_AFTER")?;
        line
    }

    fn step_name(&self) -> &'static str {
        match self.step {
            Step::Output => "output",
            Step::Login => "login",
            Step::Set => "set",
            Step::Delete => "delete",
            Step::Logout => "logout",
            Step::Flow => "flow",
        }
    }

    /// The status each answer must have.
    fn expected(&self) -> u16 {
        match self.step {
            Step::Output => 200,
            _ => 303,
        }
    }

    /// The requests to send: one replayed, or for `xN` N of their own.
    async fn prepare(&self) -> Result<Vec<Vec<u8>>, String> {
        let mut browser = Browser::connect(self.address, &self.host).await?;
        // The login page gives the app's token and its cookie.
        let page = browser.send("GET", "/", None).await?;
        let token = page.token(self.side)?;
        let login_page_jar = browser.jar.clone();
        let requests = match (self.step, self.amount) {
            (Step::Login, _) => {
                vec![browser.request("POST", "/login", Some(&self.login_form(&token)))]
            }
            (Step::Output, _) => {
                self.logged_in(&mut browser, &token).await?;
                vec![browser.request("GET", "/output", None)]
            }
            (Step::Set, _) => {
                let token = self.logged_in(&mut browser, &token).await?;
                let body = self.with_token(&[("key", ENTRY.0), ("value", ENTRY.1)], &token);
                vec![browser.request("POST", "/session/set", Some(&body))]
            }
            (Step::Delete, _) => {
                let token = self.logged_in(&mut browser, &token).await?;
                let set = self.with_token(&[("key", ENTRY.0), ("value", ENTRY.1)], &token);
                browser
                    .send("POST", "/session/set", Some(&set))
                    .await?
                    .expect(303)?;
                // The page the set redirects to, as a browser follows it:
                // the page that shows the delete button.
                browser.send("GET", "/output", None).await?.expect(200)?;
                // Replayed, the same cookie holds the entry each time.
                let body = self.with_token(&[("key", ENTRY.0)], &token);
                vec![browser.request("POST", "/session/delete", Some(&body))]
            }
            (Step::Logout, Amount::Requests(count)) => {
                let mut requests = Vec::with_capacity(count);
                for _ in 0..count {
                    browser.jar = login_page_jar.clone();
                    let token = self.logged_in(&mut browser, &token).await?;
                    let body = self.with_token(&[], &token);
                    requests.push(browser.request("POST", "/logout", Some(&body)));
                }
                requests
            }
            (Step::Logout, Amount::Seconds(_)) => {
                return Err("logout takes xN: each logout needs a session of its own".into())
            }
            (Step::Flow, _) => return Err("flow prepares nothing".into()),
        };
        Ok(requests)
    }

    /// The whole flow, as issue 26 measures it: each connection a browser
    /// that loops log in, its page, log out, with a fresh session each
    /// time (the login page's token cookie kept, as a browser keeps it).
    /// Flows per second, a flow's p99, CPU per flow.
    async fn flows(&self) -> Result<String, String> {
        let Amount::Seconds(seconds) = self.amount else {
            return Err("flow takes seconds".into());
        };
        let mut first = Browser::connect(self.address, &self.host).await?;
        let page = first.send("GET", "/", None).await?;
        let token = page.token(self.side)?;
        let jar = first.jar.clone();
        let cpu_before = cpu_ticks(self.server)?;
        let started = Instant::now();
        let deadline = started + Duration::from_secs(seconds);
        let tasks: Vec<_> = (0..self.connections)
            .map(|_| {
                let (address, host, side) = (self.address, self.host.clone(), self.side);
                let (jar, token) = (jar.clone(), token.clone());
                tokio::spawn(async move {
                    let runner = Run {
                        address,
                        host: host.clone(),
                        side,
                        step: Step::Flow,
                        connections: 1,
                        amount: Amount::Seconds(seconds),
                        server: 0,
                    };
                    let mut browser = Browser::connect(address, &host).await?;
                    let mut latencies = Vec::new();
                    let mut errors = 0;
                    while Instant::now() < deadline {
                        browser.jar = jar.clone();
                        let began = Instant::now();
                        match runner.one_flow(&mut browser, &token).await {
                            Ok(()) => latencies.push(began.elapsed().as_micros() as u32),
                            Err(_) => {
                                errors += 1;
                                browser = Browser::connect(address, &host).await?;
                            }
                        }
                    }
                    Ok::<_, String>((latencies, errors))
                })
            })
            .collect();
        self.finish("flow", tasks, started, cpu_before).await
    }

    /// Waits for every connection's share, then sums up: the line printed.
    async fn finish(
        &self,
        step: &str,
        tasks: Vec<tokio::task::JoinHandle<Result<Share, String>>>,
        started: Instant,
        cpu_before: f64,
    ) -> Result<String, String> {
        let mut latencies = Vec::new();
        let mut errors = 0;
        for task in tasks {
            let (mut done, failed) = task.await.map_err(|e| e.to_string())??;
            latencies.append(&mut done);
            errors += failed;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let cpu = cpu_ticks(self.server)? - cpu_before;
        Ok(summary(
            step,
            self.side,
            &mut latencies,
            errors,
            elapsed,
            cpu,
        ))
    }

    /// One flow: log in, the page, log out.
    async fn one_flow(&self, browser: &mut Browser, token: &str) -> Result<(), String> {
        let token = self.logged_in(browser, token).await?;
        let body = self.with_token(&[], &token);
        browser
            .send("POST", "/logout", Some(&body))
            .await?
            .expect(303)
    }

    /// The login form, with the login page's token on the app's side.
    fn login_form(&self, token: &str) -> String {
        self.with_token(&[("name", NAME)], token)
    }

    /// Logs `browser` in and opens its session page; the page's token.
    async fn logged_in(&self, browser: &mut Browser, token: &str) -> Result<String, String> {
        let body = self.login_form(token);
        browser
            .send("POST", "/login", Some(&body))
            .await?
            .expect(303)?;
        let output = browser.send("GET", "/output", None).await?;
        output.expect(200)?;
        output.token(self.side)
    }

    /// `fields`, plus the CSRF token on the app's side.
    fn with_token(&self, fields: &[(&str, &str)], token: &str) -> String {
        let mut all = fields.to_vec();
        if self.side == Side::App {
            all.push(("csrf_token", token));
        }
        form(&all)
    }
}

/// One connection's share: the latencies of the answers as expected, and
/// the count of the others.
type Share = (Vec<u32>, usize);

/// The line printed: requests (or flows), their rate, p99, CPU each, and
/// the errors.
fn summary(
    step: &str,
    side: Side,
    latencies: &mut [u32],
    errors: usize,
    elapsed: f64,
    cpu: f64,
) -> String {
    let requests = latencies.len() + errors;
    latencies.sort_unstable();
    let p99 = latencies
        .get((latencies.len() * 99 / 100).min(latencies.len().saturating_sub(1)))
        .map_or(0.0, |micros| f64::from(*micros) / 1000.0);
    let cpu_per_request = cpu / ticks_per_second() * 1e6 / requests.max(1) as f64;
    let side = match side {
        Side::App => "app",
        Side::Peer => "peer",
    };
    format!(
        "steps: {step} {side} requests {requests} rps {:.0} p99_ms {p99:.2} cpu_us {cpu_per_request:.1} errors {errors}",
        requests as f64 / elapsed,
    )
}

/// One connection's share of the load: requests taken in turn (each one
/// once, for a prepared list longer than one; the one replayed up to
/// `limit` times in all, for `xN`) until the deadline or the list's end.
/// The latencies of the answers as expected, and the count of the others.
async fn load(
    address: SocketAddr,
    prepared: &[Vec<u8>],
    next: &AtomicUsize,
    (deadline, limit): (Option<Instant>, Option<usize>),
    expected: u16,
) -> Result<(Vec<u32>, usize), String> {
    let mut stream = TcpStream::connect(address)
        .await
        .map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut buffer = Vec::with_capacity(16 * 1024);
    let mut latencies = Vec::new();
    let mut errors = 0;
    loop {
        let request = match (prepared.len(), deadline) {
            (1, Some(deadline)) if Instant::now() < deadline => &prepared[0],
            (1, None) if limit.is_some_and(|n| next.fetch_add(1, Ordering::Relaxed) < n) => {
                &prepared[0]
            }
            (1, _) => break,
            (_, _) => match prepared.get(next.fetch_add(1, Ordering::Relaxed)) {
                Some(request) => request,
                None => break,
            },
        };
        let sent = Instant::now();
        stream.write_all(request).await.map_err(|e| e.to_string())?;
        let status = read_answer(&mut stream, &mut buffer).await?;
        if status == expected {
            latencies.push(sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
        } else {
            errors += 1;
        }
    }
    Ok((latencies, errors))
}

/// Reads one whole answer (its body by `Content-Length`); its status.
async fn read_answer(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Result<u16, String> {
    buffer.clear();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = find(buffer, b"\r\n\r\n") {
            let head = std::str::from_utf8(&buffer[..end]).map_err(|e| e.to_string())?;
            let status = head
                .get(9..12)
                .and_then(|code| code.parse().ok())
                .ok_or("no status line")?;
            let length: usize = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            while buffer.len() < end + 4 + length {
                let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
                if n == 0 {
                    return Err("the server closed the connection".into());
                }
                buffer.extend_from_slice(&chunk[..n]);
            }
            return Ok(status);
        }
        let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Runs the shell command in the environment variable `name`, if set:
/// bench/step-instructions.sh zeroes and dumps callgrind's counts with it,
/// so that only the timed part is counted.
fn hook(name: &str) -> Result<(), String> {
    let Ok(command) = std::env::var(name) else {
        return Ok(());
    };
    let status = std::process::Command::new("sh")
        .args(["-c", &command])
        .status()
        .map_err(|e| format!("{name}: {e}"))?;
    status
        .success()
        .then_some(())
        .ok_or_else(|| format!("{name} failed: {status}"))
}

/// `fields` as a form body.
fn form(fields: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

/// A keep-alive connection with a cookie jar, for the preparation.
struct Browser {
    stream: TcpStream,
    host: String,
    jar: Vec<(String, String)>,
    buffer: Vec<u8>,
}

/// An answer read whole.
struct Answer {
    status: u16,
    body: String,
}

impl Answer {
    fn expect(&self, status: u16) -> Result<(), String> {
        if self.status == status {
            Ok(())
        } else {
            Err(format!("expected {status}, got {}", self.status))
        }
    }

    /// The page's CSRF token (the app's), or nothing (the peer's).
    fn token(&self, side: Side) -> Result<String, String> {
        if side == Side::Peer {
            return Ok(String::new());
        }
        let marker = "name=\"csrf_token\" value=\"";
        let start = self.body.find(marker).ok_or("no token in the page")? + marker.len();
        let end = self.body[start..].find('"').ok_or("no token in the page")?;
        Ok(self.body[start..start + end].to_owned())
    }
}

impl Browser {
    async fn connect(address: SocketAddr, host: &str) -> Result<Browser, String> {
        Ok(Browser {
            stream: TcpStream::connect(address)
                .await
                .map_err(|e| e.to_string())?,
            host: host.to_owned(),
            jar: Vec::new(),
            buffer: Vec::new(),
        })
    }

    /// The bytes of a request with the jar's cookies.
    fn request(&self, method: &str, path: &str, body: Option<&str>) -> Vec<u8> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.host);
        if !self.jar.is_empty() {
            let cookies: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
            head.push_str(&format!("Cookie: {}\r\n", cookies.join("; ")));
        }
        let body = body.unwrap_or_default();
        if method == "POST" {
            head.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body.as_bytes());
        bytes
    }

    /// Sends a request, reads the answer, and keeps the cookies it sets.
    async fn send(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<Answer, String> {
        let request = self.request(method, path, body);
        self.stream
            .write_all(&request)
            .await
            .map_err(|e| e.to_string())?;
        let status = read_answer(&mut self.stream, &mut self.buffer).await?;
        let end = find(&self.buffer, b"\r\n\r\n").unwrap_or(0);
        let head = String::from_utf8_lossy(&self.buffer[..end]).into_owned();
        for line in head.lines() {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            if !name.eq_ignore_ascii_case("set-cookie") {
                continue;
            }
            let pair = value.trim().split(';').next().unwrap_or_default();
            let (key, val) = pair.split_once('=').unwrap_or((pair, ""));
            self.jar.retain(|(k, _)| k != key);
            if !value.contains("Max-Age=0") {
                self.jar.push((key.to_owned(), val.to_owned()));
            }
        }
        let body = String::from_utf8_lossy(&self.buffer[end + 4..]).into_owned();
        Ok(Answer { status, body })
    }
}

/// The CPU time a process has used, user and system, in clock ticks.
fn cpu_ticks(pid: u32) -> Result<f64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| e.to_string())?;
    // The fields after the command, which is in parentheses.
    let after = stat.rsplit_once(')').ok_or("no stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let user: f64 = fields
        .get(11)
        .and_then(|f| f.parse().ok())
        .ok_or("no utime")?;
    let system: f64 = fields
        .get(12)
        .and_then(|f| f.parse().ok())
        .ok_or("no stime")?;
    Ok(user + system)
}

fn ticks_per_second() -> f64 {
    // Linux's USER_HZ, the unit of /proc/PID/stat's times.
    100.0
}
