//! What the crate's tests share: a scratch folder, and a real
//! `redis-server` started on a free loopback port and ended by process id.
#![allow(dead_code)] // each test binary uses its own subset

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A folder of its own for `name`, empty.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "sealed-sessions-tests-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A running `redis-server`, killed when dropped.
pub struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    /// Starts one, and waits until it says it accepts connections. `None`
    /// (with a note) when the machine has no `redis-server`, except under
    /// CI, which must have it: there it panics.
    pub fn start() -> Option<Redis> {
        let Some(program) = program("redis-server") else {
            assert!(
                std::env::var_os("CI").is_none(),
                "redis-server is missing: .ci/run installs it"
            );
            eprintln!("skipped: no redis-server on this machine");
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .unwrap()
            .port();
        let mut child = Command::new(program)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let stdout = child.stdout.take().expect("piped");
        // Owned from here: a failed wait below still kills it.
        let redis = Redis { child, port };
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("redis-server's output reads");
            if line.contains("Ready to accept connections") {
                return Some(redis);
            }
        }
        panic!("redis-server ended before accepting connections");
    }

    /// Its URL, database 0.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where `name` is on `PATH` (or in /usr/sbin and /usr/bin, where Debian
/// puts servers), if anywhere.
pub fn program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/bin".into()])
        .map(|folder| folder.join(name))
        .find(|candidate| candidate.is_file())
}
