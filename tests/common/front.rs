//! The production front, `deploy/nginx.conf`, run as committed with only
//! its ports and paths filled in, for the tests that need a real nginx.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use rocket::uri;
use session_app::routes;

use super::server::{free_port, https, stop, wait_until, Agent, TestCertificate};

const CONF: &str = include_str!("../../deploy/nginx.conf");
const LOGROTATE: &str = include_str!("../../deploy/logrotate.conf");
/// systemd's default soft limit of open files for a service.
const SERVICE_OPEN_FILES: u32 = 1024;

/// nginx, or `None` with a message when it is missing outside CI (in CI
/// its absence fails the test).
pub fn nginx_program() -> Option<PathBuf> {
    super::installed(
        &["/usr/sbin/nginx", "/usr/bin/nginx"],
        "the nginx tests need nginx: install the Debian package `nginx`",
    )
}

/// `deploy/nginx.conf` running in a folder of its own, on loopback ports.
pub struct Front {
    child: Child,
    pub https: u16,
    pub http: u16,
    dir: PathBuf,
    pub cert: TestCertificate,
}

/// `conf` with each `(from, to)` replaced; `from` must occur `times` times.
fn fill(conf: &str, replacements: &[(&str, String, usize)]) -> String {
    replacements
        .iter()
        .fold(conf.to_owned(), |conf, (from, to, times)| {
            assert_eq!(conf.matches(from).count(), *times, "{from} in the file");
            conf.replace(from, to)
        })
}

impl Front {
    /// Starts nginx in front of the instances on ports `upstreams`.
    pub fn start(program: &Path, upstreams: [u16; 2]) -> Front {
        static FRONTS: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "session-app-front-{}-{}",
            std::process::id(),
            FRONTS.fetch_add(1, Ordering::SeqCst)
        ));
        let cert = TestCertificate::new(&dir);
        let (https_port, http_port) = (free_port(), free_port());
        let at = |file: &str| dir.join(file).display().to_string();
        let conf = fill(
            CONF,
            &[
                (
                    "listen 443 ssl;",
                    format!("listen 127.0.0.1:{https_port} ssl;"),
                    1,
                ),
                ("listen 80;", format!("listen 127.0.0.1:{http_port};"), 1),
                (
                    "server 127.0.0.1:8081;",
                    format!("server 127.0.0.1:{};", upstreams[0]),
                    1,
                ),
                (
                    "server 127.0.0.1:8082;",
                    format!("server 127.0.0.1:{};", upstreams[1]),
                    1,
                ),
                ("/etc/ssl/session_app/cert.pem", at("cert.pem"), 1),
                ("/etc/ssl/session_app/key.pem", at("key.pem"), 1),
                ("/run/nginx-session_app.pid", at("nginx.pid"), 1),
                ("/var/lib/session_app-acme", at("acme"), 1),
                ("/var/log/session_app/nginx-error.log", at("error.log"), 1),
                ("/var/log/session_app/nginx-access.log", at("access.log"), 1),
                (
                    "/var/lib/nginx/session_app-",
                    format!("{}/", dir.display()),
                    5,
                ),
            ],
        );
        let path = dir.join("nginx.conf");
        std::fs::write(&path, conf).unwrap();
        // With the soft limit of open files a service starts with under
        // systemd, whatever this test process has, so that the file's own
        // `worker_rlimit_nofile` is what gives the workers room.
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ulimit -Sn {SERVICE_OPEN_FILES} && exec \"$0\" \"$@\""
            ))
            .arg(program)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(&path)
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nginx starts");
        let mut front = Front {
            child,
            https: https_port,
            http: http_port,
            dir,
            cert,
        };
        let error_log = front.dir.join("error.log");
        let probe = front.https;
        let der = front.cert.der.clone();
        wait_until(
            &mut front.child,
            "nginx",
            || https(probe, der.clone()).get(uri!(routes::healthz)).is_ok(),
            || std::fs::read_to_string(&error_log).unwrap_or_default(),
        );
        front
    }

    /// A browser talking HTTPS to the front.
    pub fn browser(&self) -> Agent {
        https(self.https, self.cert.der.clone())
    }

    /// `deploy/logrotate.conf` for this front's logs and pid, written into
    /// its folder; the path of the file.
    pub fn logrotate_conf(&self) -> PathBuf {
        let conf = fill(
            LOGROTATE,
            &[
                (
                    "/var/log/session_app/nginx-access.log",
                    self.at("access.log"),
                    1,
                ),
                (
                    "/var/log/session_app/nginx-error.log",
                    self.at("error.log"),
                    1,
                ),
                ("/run/nginx-session_app.pid", self.at("nginx.pid"), 1),
            ],
        );
        let path = self.dir.join("logrotate.conf");
        std::fs::write(&path, conf).unwrap();
        path
    }

    pub fn at(&self, file: &str) -> String {
        self.dir.join(file).display().to_string()
    }

    /// The requests nginx logged so far, each with its `request=` id.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("access.log")).unwrap_or_default()
    }

    /// What nginx logged so far (level `warn` and above).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        stop(&mut self.child);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
