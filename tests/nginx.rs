//! Cookie sessions are stateless: two instances sharing a key serve the
//! same users behind a real nginx balancing round-robin; an instance with
//! another key refuses their cookies.

mod common;

use rocket::uri;
use session_app::routes;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;

use common::server::{answers, free_port, wait_until, Agent, Response, Server};
use common::{form_body, token_in, SESSION_COOKIE};

const OTHER_KEY: &str = "q0v8Yp6rO5yB3fJ0l7m2b9qC1dXz4sT6uW8eR0tY2iE=";
const CLIENTS: usize = 24;

fn nginx_program() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// nginx with its own prefix and config in a temporary folder, on loopback.
struct Nginx {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Nginx {
    fn start(program: &Path, upstreams: &[u16]) -> Nginx {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("session-app-nginx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let servers: String = upstreams
            .iter()
            .map(|p| format!("    server 127.0.0.1:{p};\n"))
            .collect();
        let config = format!(
            "daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 512; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  upstream app {{
{servers}  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://app;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_next_upstream off;
      add_header X-Upstream $upstream_addr always;
    }}
  }}
}}
",
            dir = dir.display()
        );
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, config).unwrap();
        let child = Command::new(program)
            .arg("-p")
            .arg(&dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nginx starts");
        let mut nginx = Nginx { child, port, dir };
        let error_log = nginx.dir.join("error.log");
        wait_until(
            &mut nginx.child,
            "nginx",
            || answers(port, uri!(routes::healthz)),
            || std::fs::read_to_string(&error_log).unwrap_or_default(),
        );
        nginx
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn upstream(response: &Response) -> String {
    response.header("X-Upstream").unwrap_or_default().to_owned()
}

/// One person's visit through the balancer. Returns, per request, which
/// instance answered; and the session cookie they had while logged in.
fn visit(port: u16, name: &str) -> (Vec<(&'static str, String)>, String) {
    let mut browser = Agent::plain(port);
    let mut seen = Vec::new();

    let page = browser.get(uri!(routes::index)).unwrap();
    assert_eq!(page.status, 200);
    seen.push(("index", upstream(&page)));
    let token = token_in(&page.body).unwrap();

    let login = browser
        .post(
            uri!(routes::login),
            &form_body(&[("name", name), ("csrf_token", &token)]),
        )
        .unwrap();
    assert_eq!(
        (login.status, login.header("Location")),
        (303, Some(uri!(routes::output).to_string().as_str()))
    );
    seen.push(("login", upstream(&login)));
    let cookie = browser.cookies[SESSION_COOKIE].clone();

    // Login issued a new CSRF token; the output page's forms carry it.
    let mut token = String::new();
    for _ in 0..3 {
        let output = browser.get(uri!(routes::output)).unwrap();
        assert_eq!(output.status, 200, "{name} via {}", upstream(&output));
        assert!(output.body.contains(&format!("セッション情報:「{name}」")));
        token = token_in(&output.body).unwrap();
        seen.push(("output", upstream(&output)));
    }

    let logout = browser
        .post(uri!(routes::logout), &form_body(&[("csrf_token", &token)]))
        .unwrap();
    assert_eq!(
        (logout.status, logout.header("Location")),
        (303, Some(uri!(routes::index).to_string().as_str()))
    );
    seen.push(("logout", upstream(&logout)));
    let after = browser.get(uri!(routes::output)).unwrap();
    assert_eq!(
        (after.status, after.header("Location")),
        (303, Some(uri!(routes::index).to_string().as_str()))
    );
    (seen, cookie)
}

#[test]
fn instances_sharing_a_key_serve_the_same_sessions_behind_nginx() {
    let Some(nginx) = nginx_program() else {
        let message = "the load balancer test needs nginx: install the Debian package `nginx`";
        assert!(std::env::var_os("CI").is_none(), "{message}");
        eprintln!("skipped: {message}");
        return;
    };
    let first = Server::start(&[]);
    let second = Server::start(&[]);
    let balancer = Nginx::start(&nginx, &[first.port, second.port]);
    let port = balancer.port;

    // Many people at once, each through whichever instance answers.
    let visits: Vec<_> = (0..CLIENTS)
        .map(|i| thread::spawn(move || visit(port, &format!("利用者{i}"))))
        .collect();
    let visits: Vec<_> = visits
        .into_iter()
        .map(|v| v.join().expect("every request succeeded"))
        .collect();

    let instances: BTreeSet<String> = visits
        .iter()
        .flat_map(|(seen, _)| seen.iter().map(|(_, u)| u.clone()))
        .collect();
    let expected: BTreeSet<String> = [first.port, second.port]
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect();
    assert_eq!(instances, expected, "both instances answered");
    let crossed = visits
        .iter()
        .filter(|(seen, _)| {
            let login = &seen.iter().find(|(what, _)| *what == "login").unwrap().1;
            seen.iter().any(|(what, u)| *what == "output" && u != login)
        })
        .count();
    assert!(
        crossed > 0,
        "some sessions were read by the instance that did not create them"
    );

    // An instance with another key refuses those cookies.
    let stranger = Server::start(&[("ROCKET_SECRET_KEY", OTHER_KEY)]);
    let cookie = visits[0].1.clone();
    let mut thief = Agent::plain(stranger.port);
    thief.cookies.insert(SESSION_COOKIE.into(), cookie.clone());
    let refused = thief.get(uri!(routes::output)).unwrap();
    assert_eq!(
        (refused.status, refused.header("Location")),
        (303, Some(uri!(routes::index).to_string().as_str()))
    );
    assert!(refused
        .set_cookies()
        .any(|c| c.starts_with(&format!("{SESSION_COOKIE}=")) && c.contains("Max-Age=0")));

    // While its siblings still accept it (the logout did not revoke it: a
    // stateless cookie lives until it expires, as the README explains).
    let mut replay = Agent::plain(first.port);
    replay.cookies.insert(SESSION_COOKIE.into(), cookie);
    assert_eq!(replay.get(uri!(routes::output)).unwrap().status, 200);
}
