//! Browsers, for bench/logout.sh: N threads, each a person using the app at
//! http://127.0.0.1:PORT over real HTTP/1.1 for S seconds, then one line of
//! counts. Every answer must be the status (and, for a redirect, the
//! `Location`) a person's browser would get; any other answer is an error,
//! and any error makes the run fail.
//!
//! Usage: browsers PORT BROWSERS SECONDS MODE
//!
//! Each browser loops: `GET /` (the login form: its `csrf_token` and the
//! cookies set), `POST /login` with a name and the token (303 to
//! `/output`), `GET /output` (the token again). Then, by MODE:
//! - `every`: as `logout`, with an entry set (and the page showing it) and
//!   deleted before the logout;
//! - `logout`: `POST /logout` with the token (303 to `/`), and the next
//!   loop's `GET /`, with the same cookie jar, must show the notice that the
//!   logout was recorded ("You have logged out."), not the one that says it
//!   could not be stored;
//! - `login`: nothing more; the next loop is a new browser with an empty
//!   cookie jar.
//!
//! One connection per request (`Connection: close`), read to its end, so
//! the server closes first and no client port is left waiting. A loop under
//! way when the time is up is finished, not counted short. Loopback only:
//! the port is all it takes.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

/// The name each browser logs in with.
const NAME: &str = "山田太郎";
/// The notice `GET /` shows after a logout that was recorded (English).
const LOGGED_OUT: &str = "You have logged out.";
/// No answer on loopback takes this long unless something is wrong.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Errors described in full; the rest are only counted.
const SHOWN_ERRORS: usize = 5;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Login,
    Logout,
    /// Every step: an entry set and deleted before the logout.
    Every,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = match args.as_slice() {
        [port, browsers, seconds, mode] => (|| {
            let port: u16 = port.parse().ok()?;
            let browsers: usize = browsers.parse().ok().filter(|n| *n >= 1)?;
            let seconds: u64 = seconds.parse().ok().filter(|n| *n >= 1)?;
            let mode = match mode.as_str() {
                "login" => Mode::Login,
                "logout" => Mode::Logout,
                "every" => Mode::Every,
                _ => return None,
            };
            Some((port, browsers, seconds, mode))
        })(),
        _ => None,
    };
    let Some((port, browsers, seconds, mode)) = parsed else {
        eprintln!("usage: browsers PORT BROWSERS SECONDS login|logout|every");
        return ExitCode::from(2);
    };
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let threads: Vec<_> = (0..browsers)
        .map(|_| thread::spawn(move || browse(address, mode, deadline)))
        .collect();
    let mut total = Tally::default();
    for thread in threads {
        let tally = thread.join().unwrap_or_else(|_| Tally {
            errors: 1,
            shown: vec!["a browser thread panicked".to_owned()],
            ..Tally::default()
        });
        total.loops += tally.loops;
        total.requests += tally.requests;
        total.errors += tally.errors;
        total.shown.extend(tally.shown);
    }
    let elapsed = started.elapsed().as_secs_f64();
    for error in total.shown.iter().take(SHOWN_ERRORS) {
        eprintln!("browsers: error: {error}");
    }
    println!(
        "browsers: {} {browsers} browsers, {elapsed:.1} s: {} loops done, {} requests ({:.0}/s), {} errors",
        match mode {
            Mode::Login => "login",
            Mode::Logout => "logout",
            Mode::Every => "every",
        },
        total.loops,
        total.requests,
        total.requests as f64 / elapsed,
        total.errors,
    );
    if total.errors > 0 || total.loops == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

#[derive(Default)]
struct Tally {
    loops: u64,
    requests: u64,
    errors: u64,
    shown: Vec<String>,
}

/// One browser until the deadline. After an error it starts over as a new
/// browser, so that one fault is counted once, not in every later loop.
fn browse(address: SocketAddr, mode: Mode, deadline: Instant) -> Tally {
    let mut tally = Tally::default();
    let mut browser = Browser::new(address);
    let mut logged_out = false;
    while Instant::now() < deadline {
        if mode == Mode::Login {
            browser = Browser::new(address);
        }
        let outcome = one_loop(&mut browser, mode, logged_out);
        tally.requests += browser.requests;
        browser.requests = 0;
        match outcome {
            Ok(()) => {
                tally.loops += 1;
                logged_out = mode != Mode::Login;
            }
            Err(error) => {
                tally.errors += 1;
                if tally.shown.len() < SHOWN_ERRORS {
                    tally.shown.push(error);
                }
                browser = Browser::new(address);
                logged_out = false;
            }
        }
    }
    tally
}

/// One loop of a person's use of the app; `logged_out` says the previous
/// loop of this browser ended with a logout, whose notice `GET /` shows.
fn one_loop(browser: &mut Browser, mode: Mode, logged_out: bool) -> Result<(), String> {
    let index = browser.request("GET", "/", None)?;
    index.expect(200, None)?;
    if logged_out && !index.body_contains(LOGGED_OUT) {
        return Err(format!(
            "GET / after a logout does not say {LOGGED_OUT:?} (the logout was not recorded?)"
        ));
    }
    let token = index.csrf_token()?;
    let login = browser.request(
        "POST",
        "/login",
        Some(&form(&[("name", NAME), ("csrf_token", &token)])),
    )?;
    login.expect(303, Some("/output"))?;
    let output = browser.request("GET", "/output", None)?;
    output.expect(200, None)?;
    let mut token = output.csrf_token()?;
    if mode == Mode::Every {
        let set = browser.request(
            "POST",
            "/session/set",
            Some(&form(&[
                ("key", "color"),
                ("value", "青"),
                ("csrf_token", &token),
            ])),
        )?;
        set.expect(303, Some("/output"))?;
        let output = browser.request("GET", "/output", None)?;
        output.expect(200, None)?;
        if !output.body_contains("<code>color</code>") {
            return Err("GET /output after setting an entry does not list it".into());
        }
        token = output.csrf_token()?;
        let delete = browser.request(
            "POST",
            "/session/delete",
            Some(&form(&[("key", "color"), ("csrf_token", &token)])),
        )?;
        delete.expect(303, Some("/output"))?;
    }
    if mode != Mode::Login {
        let logout = browser.request("POST", "/logout", Some(&form(&[("csrf_token", &token)])))?;
        logout.expect(303, Some("/"))?;
    }
    Ok(())
}

/// `fields` as a form body (`application/x-www-form-urlencoded`).
fn form(fields: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

/// A cookie jar and a count of the requests sent.
struct Browser {
    address: SocketAddr,
    jar: BTreeMap<String, String>,
    requests: u64,
}

impl Browser {
    fn new(address: SocketAddr) -> Browser {
        Browser {
            address,
            jar: BTreeMap::new(),
            requests: 0,
        }
    }

    /// Sends one request on a connection of its own, reads the answer to
    /// its end, and keeps the cookies it sets.
    fn request(&mut self, method: &str, path: &str, form: Option<&str>) -> Result<Answer, String> {
        let what = format!("{method} {path}");
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: bench-browsers\r\n\
             Accept: text/html\r\nAccept-Language: en\r\nConnection: close\r\n",
            self.address
        );
        if !self.jar.is_empty() {
            let cookies: Vec<String> = self
                .jar
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect();
            head.push_str(&format!("Cookie: {}\r\n", cookies.join("; ")));
        }
        if let Some(form) = form {
            head.push_str(&format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                form.len()
            ));
        }
        head.push_str("\r\n");
        head.push_str(form.unwrap_or_default());

        self.requests += 1;
        let io = |e: std::io::Error| format!("{what}: {e}");
        let mut stream = TcpStream::connect_timeout(&self.address, TIMEOUT).map_err(io)?;
        stream.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
        stream.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
        stream.set_nodelay(true).map_err(io)?;
        stream.write_all(head.as_bytes()).map_err(io)?;
        let mut raw = Vec::with_capacity(8192);
        stream.read_to_end(&mut raw).map_err(io)?;
        let answer = Answer::parse(&what, &raw)?;
        for set in &answer.set_cookies {
            self.keep(set);
        }
        Ok(answer)
    }

    /// A `Set-Cookie` header's effect on the jar: stored, replaced, or
    /// removed (Rocket removes with `Max-Age=0` and an empty value).
    fn keep(&mut self, set: &str) {
        let mut parts = set.split(';');
        let Some((name, value)) = parts.next().and_then(|pair| pair.split_once('=')) else {
            return;
        };
        let (name, value) = (name.trim(), value.trim());
        let removed = value.is_empty()
            || parts.any(|attribute| {
                let attribute = attribute.trim().to_ascii_lowercase();
                attribute
                    .strip_prefix("max-age=")
                    .is_some_and(|age| age.parse::<i64>().is_ok_and(|age| age <= 0))
            });
        if removed {
            self.jar.remove(name);
        } else {
            self.jar.insert(name.to_owned(), value.to_owned());
        }
    }
}

/// A whole HTTP/1.1 answer.
struct Answer {
    what: String,
    status: u16,
    location: Option<String>,
    set_cookies: Vec<String>,
    body: Vec<u8>,
}

impl Answer {
    fn parse(what: &str, raw: &[u8]) -> Result<Answer, String> {
        let fail = |why: &str| Err(format!("{what}: {why}"));
        let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            return fail(&format!("no whole head in {} bytes", raw.len()));
        };
        let Ok(head) = std::str::from_utf8(&raw[..end]) else {
            return fail("head not UTF-8");
        };
        let rest = &raw[end + 4..];
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = match status_line.split(' ').collect::<Vec<_>>().as_slice() {
            ["HTTP/1.1", code, ..] => code.parse::<u16>().ok(),
            _ => None,
        };
        let Some(status) = status else {
            return fail(&format!("status line {status_line:?}"));
        };
        let mut answer = Answer {
            what: what.to_owned(),
            status,
            location: None,
            set_cookies: Vec::new(),
            body: Vec::new(),
        };
        let mut length = None;
        let mut chunked = false;
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                return fail(&format!("header line {line:?}"));
            };
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => match value.parse::<usize>() {
                    Ok(n) if length.is_none_or(|known| known == n) => length = Some(n),
                    _ => return fail(&format!("Content-Length {value:?}")),
                },
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "location" => answer.location = Some(value.to_owned()),
                "set-cookie" => answer.set_cookies.push(value.to_owned()),
                _ => {}
            }
        }
        answer.body = match (chunked, length) {
            (true, _) => dechunk(rest).ok_or_else(|| format!("{what}: malformed chunked body"))?,
            (false, Some(n)) if rest.len() == n => rest.to_vec(),
            (false, Some(n)) => {
                return fail(&format!("Content-Length {n}, {} bytes sent", rest.len()))
            }
            // Without either, the body runs to the connection's end.
            (false, None) => rest.to_vec(),
        };
        Ok(answer)
    }

    /// Fails unless the status, and for a redirect the target, are these.
    fn expect(&self, status: u16, location: Option<&str>) -> Result<(), String> {
        if self.status != status {
            return Err(format!(
                "{}: status {} (expected {status}), Location {:?}",
                self.what, self.status, self.location
            ));
        }
        if location.is_some() && self.location.as_deref() != location {
            return Err(format!(
                "{}: {status} to {:?} (expected {location:?})",
                self.what, self.location
            ));
        }
        Ok(())
    }

    fn body_contains(&self, text: &str) -> bool {
        self.body
            .windows(text.len())
            .any(|window| window == text.as_bytes())
    }

    /// The value of the page's first `csrf_token` hidden input.
    fn csrf_token(&self) -> Result<String, String> {
        const FIELD: &str = r#"name="csrf_token" value=""#;
        let body = String::from_utf8_lossy(&self.body);
        body.split_once(FIELD)
            .and_then(|(_, after)| after.split_once('"'))
            .map(|(token, _)| token.to_owned())
            .filter(|token| !token.is_empty())
            .ok_or_else(|| format!("{}: no csrf_token in the page", self.what))
    }
}

/// A chunked body, decoded; `None` unless it ends with its last chunk.
fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_field = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size_hex = size_field.split(';').next()?.trim();
        let size = usize::from_str_radix(size_hex, 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            // Trailers, if any, then the blank line.
            return (rest.ends_with(b"\r\n")).then_some(body);
        }
        if rest.len() < size + 2 || &rest[size..size + 2] != b"\r\n" {
            return None;
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}
