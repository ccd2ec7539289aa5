//! Real Redis servers for the tests that share revocations, and what
//! those tests ask of the app's instances: log in and out on one, and see
//! whether another refuses a copy of the cookie.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use rocket::uri;
use session_app::routes;

use super::server::{wait_until, Agent, Server};
use super::{form_body, token_in, SESSION_COOKIE};

pub fn redis_program() -> Option<PathBuf> {
    super::installed(
        &["/usr/bin/redis-server", "/usr/local/bin/redis-server"],
        "the Redis tests need redis-server: install the Debian package `redis-server`",
    )
}

/// A Redis server on a loopback port, without persistence, until dropped.
pub struct Redis {
    child: Child,
    pub port: u16,
    pub program: PathBuf,
}

impl Redis {
    pub fn start(program: PathBuf, port: u16) -> Redis {
        Redis::start_with(program, port, &[])
    }

    /// A server started with `args` too (`--replicaof`, `--cluster-enabled`).
    pub fn start_with(program: PathBuf, port: u16, args: &[&str]) -> Redis {
        // A folder of its own: a replica writes the data it receives there
        // (dump.rdb), and a server loads what it finds there at start.
        let dir = PathBuf::from(super::fresh_store());
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new(&program)
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .arg("--dir")
            .arg(&dir)
            .args(args)
            // Its log, shown if it fails to start (a port taken, say).
            .arg("--logfile")
            .arg(dir.join("redis.log"))
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let mut redis = Redis {
            child,
            port,
            program,
        };
        let log = || std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default();
        wait_until(&mut redis.child, "redis", || ping(port), log);
        redis
    }

    /// Stops this server and starts an empty one on the same port.
    pub fn restart_empty(self) -> Redis {
        let (program, port) = (self.program.clone(), self.port);
        drop(self);
        Redis::start(program, port)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Redis {
    /// Kills it at once (`kill -9`), as a crash would.
    pub fn crash(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let mut answer = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut answer).is_ok()
        && &answer == b"+PONG\r\n"
}

/// Logs out through the front.
pub fn log_out(browser: &mut Agent) -> u16 {
    let output = browser.get(uri!(routes::output)).unwrap();
    assert_eq!(output.status, 200);
    let token = token_in(&output.body).unwrap();
    browser
        .post(uri!(routes::logout), &form_body(&[("csrf_token", &token)]))
        .unwrap()
        .status
}

/// `GET /output` on one instance directly, with `cookie` as the session
/// cookie `name`; the status.
pub fn status_with(instance: &Server, name: &str, cookie: &str) -> u16 {
    let mut thief = Agent::plain(instance.port);
    thief.cookies.insert(name.to_owned(), cookie.to_owned());
    let status = thief.get(uri!(routes::output)).unwrap().status;
    assert!(status < 500, "got {status}");
    status
}

/// Waits up to `within` for `instance` to refuse `cookie` as the session
/// cookie `name`; how long it took.
pub fn refused_with(
    instance: &Server,
    name: &str,
    cookie: &str,
    within: Duration,
) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < within {
        if status_with(instance, name, cookie) == 303 {
            return Some(started.elapsed());
        }
        thread::sleep(Duration::from_millis(20));
    }
    None
}

/// `/readyz`'s body; its status is always 200, outage or not, so that a
/// Redis shared by every instance never takes them all out at once.
pub fn readiness(instance: &Server) -> String {
    let response = Agent::plain(instance.port)
        .get(uri!(routes::readyz))
        .unwrap();
    assert_eq!(response.status, 200, "{}", response.body);
    response.body
}

/// Waits until every instance reports Redis unreachable.
pub fn wait_unreachable(instances: &[&Server]) {
    let started = Instant::now();
    while !instances
        .iter()
        .all(|i| readiness(i).contains("Redis unreachable"))
    {
        assert!(started.elapsed() < Duration::from_secs(20), "never noticed");
        thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until every instance reports its store reachable.
pub fn wait_ready(instances: &[&Server]) {
    let started = Instant::now();
    while !instances.iter().all(|i| readiness(i) == "ready") {
        assert!(started.elapsed() < Duration::from_secs(20), "never ready");
        thread::sleep(Duration::from_millis(50));
    }
}

/// An instance on `store`, without the front, its Redis spool at `spool`.
pub fn spooled(store: &str, spool: &str) -> Server {
    Server::start(&[
        ("ROCKET_SESSION_REVOCATION_STORE", store),
        ("ROCKET_SESSION_REVOCATION_SPOOL", spool),
    ])
}

/// Logs in on `instance` directly; the browser and its session cookie.
pub fn logged_in_at(instance: &Server, name: &str) -> (Agent, String) {
    let mut browser = Agent::plain(instance.port);
    let (_, login) = browser.log_in(name);
    assert_eq!(login.status, 303);
    let cookie = browser.cookies[SESSION_COOKIE].clone();
    (browser, cookie)
}

/// [`status_with`] for an instance without the front (plain cookies).
pub fn plain_output_status(instance: &Server, cookie: &str) -> u16 {
    status_with(instance, SESSION_COOKIE, cookie)
}

/// [`refused_with`] for an instance without the front.
pub fn refused_plain_within(instance: &Server, cookie: &str, within: Duration) -> bool {
    refused_with(instance, SESSION_COOKIE, cookie, within).is_some()
}

/// Sends one command to Redis and reads its one-line answer.
pub fn redis_command(port: u16, args: &[&str]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n") {
        stream.read_exact(&mut byte).unwrap();
        answer.push(byte[0]);
    }
    String::from_utf8(answer).unwrap()
}

/// Sends one command to the server on `port` and reads its whole answer,
/// flattened: each bulk string, simple string, integer or error in order
/// (`SENTINEL get-master-addr-by-name` gives `["127.0.0.1", "6380"]`).
pub fn redis_answer(port: u16, args: &[&str]) -> Vec<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream.write_all(request.as_bytes()).unwrap();
    let mut reader = std::io::BufReader::new(stream);
    let mut out = Vec::new();
    read_reply(&mut reader, &mut out);
    out
}

fn read_reply(reader: &mut impl std::io::BufRead, out: &mut Vec<String>) {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let line = line.trim_end();
    let (kind, rest) = line.split_at(1);
    match kind {
        "+" | "-" | ":" => out.push(rest.to_owned()),
        "$" => {
            let Ok(len) = rest.parse::<usize>() else {
                return; // $-1: nil
            };
            let mut data = vec![0u8; len + 2];
            reader.read_exact(&mut data).unwrap();
            out.push(String::from_utf8_lossy(&data[..len]).into_owned());
        }
        "*" => {
            for _ in 0..rest.parse::<i64>().unwrap_or(0).max(0) {
                read_reply(reader, out);
            }
        }
        _ => panic!("not a RESP reply: {line}"),
    }
}
