//! Logout really ends a session: a copy of the cookie taken before logout
//! (or before `name` was deleted) is refused afterwards, the revocation
//! survives `kill -9` and a restart (after a full disk too, and with the
//! store file deleted under the app), and revocations are forgotten once
//! the sessions they name would have expired anyway, by the end sealed at
//! login, whatever the settings say later.

use crate::common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::server::{Agent, Response, Server};
use common::*;
use rocket::http::{Cookie, Status};
use rocket::local::blocking::Client;
use rocket::uri;
use rocket_sealed_sessions::{Clock, Revocations};
use session_app::routes;

/// The sealed session cookie the client holds now.
fn captured(client: &Client) -> Cookie<'static> {
    client
        .cookies()
        .get(SESSION_COOKIE)
        .expect("a session cookie")
        .clone()
        .into_owned()
}

fn revocations(client: &Client) -> &Revocations {
    client.rocket().state::<Revocations>().unwrap()
}

#[test]
fn a_copy_taken_before_logout_is_refused_after_it() {
    let client = client();
    login(&client, "太郎");
    let copy = captured(&client);

    // Log out.
    let response = post_form(&client, uri!(routes::logout), &[]);
    assert_redirects_to(&response, uri!(routes::index));
    drop(response);

    // The copy, replayed, is no session, and is removed.
    let replay = output_with(&client, copy);
    assert_redirects_to(&replay, uri!(routes::index));
    assert_removes(&replay, SESSION_COOKIE);
    assert_eq!(revocations(&client).len(), 1);
}

#[test]
fn a_copy_taken_before_name_was_deleted_is_refused_after_it() {
    let client = client();
    login(&client, "太郎");
    let copy = captured(&client);

    let response = post_form(&client, uri!(routes::delete_key), &[("key", "name")]);
    assert_redirects_to(&response, uri!(routes::index));
    drop(response);

    // What stays of the session lives on under a new identifier...
    let rest = session_of(&client).expect("the other entries stay");
    assert!(rest.entries().contains_key("logged_in_at"));
    assert_eq!(
        output_with(&client, captured(&client)).status(),
        Status::SeeOther,
        "nobody is logged in"
    );
    // ...while the copy that still names 太郎 is refused.
    let replay = output_with(&client, copy);
    assert_redirects_to(&replay, uri!(routes::index));
    assert_removes(&replay, SESSION_COOKIE);
}

#[test]
fn other_sessions_are_untouched() {
    let client = client();
    login(&client, "太郎");
    let taro = captured(&client);
    // 花子 logs in with the same browser, then logs out.
    login(&client, "花子");
    let hanako = captured(&client);
    post_form(&client, uri!(routes::logout), &[]);

    // Only 花子's session ended: 太郎's was never logged out.
    assert_eq!(output_with(&client, taro).status(), Status::Ok);
    assert_redirects_to(&output_with(&client, hanako), uri!(routes::index));
}

#[test]
fn revocations_are_forgotten_once_their_sessions_would_have_expired() {
    let (client, clock) = client_with_timeouts(60, 600);
    login(&client, "太郎");
    let id = session_of(&client).unwrap().id();
    post_form(&client, uri!(routes::logout), &[]);
    assert_eq!(revocations(&client).len(), 1);

    // Still revoked just before the session's absolute expiry...
    clock.advance(Duration::from_secs(599));
    assert!(revocations(&client).is_revoked(&id));

    // ...then no longer, and dropped from memory by the next revocation.
    clock.advance(Duration::from_secs(2));
    assert!(!revocations(&client).is_revoked(&id));
    login(&client, "花子");
    post_form(&client, uri!(routes::logout), &[]);
    assert_eq!(revocations(&client).len(), 1, "only 花子's is held");
}

#[test]
fn a_revocation_survives_kill_9_and_a_restart() {
    let store = fresh_store();
    let env = [("ROCKET_SESSION_REVOCATION_STORE", store.as_str())];
    let server = Server::start(&env);
    let mut browser = Agent::plain(server.port);
    let page = browser.get(uri!(routes::index)).unwrap();
    let token = token_in(&page.body).unwrap();
    browser
        .post(
            uri!(routes::login),
            &form_body(&[("name", "太郎"), ("csrf_token", &token)]),
        )
        .unwrap();
    let copy = browser.cookies[SESSION_COOKIE].clone();
    let token = token_in(&browser.get(uri!(routes::output)).unwrap().body).unwrap();
    let logout = browser
        .post(uri!(routes::logout), &form_body(&[("csrf_token", &token)]))
        .unwrap();
    assert_eq!(logout.status, 303);

    // The logout has answered: kill -9 (Server's drop sends SIGKILL).
    drop(server);

    let restarted = Server::start(&env);
    let mut thief = Agent::plain(restarted.port);
    thief.cookies.insert(SESSION_COOKIE.into(), copy);
    let replay = thief.get(uri!(routes::output)).unwrap();
    assert_eq!(
        (replay.status, replay.header("Location")),
        (303, Some(uri!(routes::index).to_string().as_str()))
    );
    assert!(restarted.prints_soon("session: cookie rejected: revoked"));
}

#[test]
fn an_unusable_store_refuses_to_start_in_one_line() {
    let folder = fresh_folder("unusable");
    let symlink = folder.join("symlink");
    std::os::unix::fs::symlink(folder.join("target"), &symlink).unwrap();
    let fifo = folder.join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let lock_named = folder.join("revoked.lock");
    for store in [
        "/proc/no/such/folder/revoked",
        "redis://no host/",
        "ftp://x/y",
        "/dev/null",
        "/dev/full",
        "/tmp",
        symlink.to_str().unwrap(),
        fifo.to_str().unwrap(),
        lock_named.to_str().unwrap(),
    ] {
        let run = common::server::run_binary(
            env!("CARGO_MANIFEST_DIR").as_ref(),
            &[
                ("ROCKET_PROFILE", "release"),
                ("ROCKET_SECRET_KEY", common::server::TEST_KEY),
                ("ROCKET_SESSION_REVOCATION_STORE", store),
            ],
        );
        let line = run.refusal();
        assert!(
            line.starts_with("session_app: refusing to start: session_revocation_store"),
            "{store}: {line}"
        );
    }
}

#[test]
fn readiness_reports_the_file_store_as_reachable() {
    let client = client();
    let response = client.get(uri!(routes::readyz)).dispatch();
    assert_eq!(response.status(), Status::Ok);
    assert_eq!(response.into_string().as_deref(), Some("ready"));
}

/// An empty folder of this test's own.
fn fresh_folder(name: &str) -> PathBuf {
    let folder = PathBuf::from(fresh_store()).with_file_name(name);
    let _ = fs::remove_dir_all(&folder);
    fs::create_dir_all(&folder).unwrap();
    folder
}

/// A browser logged in on `server`, and a copy of its session cookie.
fn logged_in_at(server: &Server, name: &str) -> (Agent, String) {
    let mut browser = Agent::plain(server.port);
    let (_, login) = browser.log_in(name);
    assert_eq!(login.status, 303);
    let copy = browser.cookies[SESSION_COOKIE].clone();
    (browser, copy)
}

/// Logs out with the form on the output page; the page shown next.
fn log_out(browser: &mut Agent) -> Response {
    let token = token_in(&browser.get(uri!(routes::output)).unwrap().body).unwrap();
    let logout = browser
        .post(uri!(routes::logout), &form_body(&[("csrf_token", &token)]))
        .unwrap();
    assert_eq!(logout.status, 303);
    browser.get(uri!(routes::index)).unwrap()
}

/// `GET /output` on `server` with a copied session cookie; the status.
fn replay(server: &Server, copy: &str) -> u16 {
    let mut thief = Agent::plain(server.port);
    thief.cookies.insert(SESSION_COOKIE.into(), copy.to_owned());
    thief.get(uri!(routes::output)).unwrap().status
}

fn readiness(server: &Server) -> String {
    let response = Agent::plain(server.port).get(uri!(routes::readyz)).unwrap();
    assert_eq!(response.status, 200);
    response.body
}

/// A 64 KiB tmpfs mounted at a fresh folder, unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    /// `None` outside CI where mounting is not allowed (not root).
    fn mount() -> Option<SmallDisk> {
        let folder = fresh_folder("small-disk");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
            .arg(&folder)
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            common::skip_outside_ci("mounting a 64 KiB tmpfs needs root");
            return None;
        }
        Some(SmallDisk(folder))
    }

    /// Fills what room is left with a file of its own.
    fn fill(&self) {
        let mut filler = fs::File::create(self.0.join("filler")).unwrap();
        for chunk in [4096, 1] {
            loop {
                match filler.write_all(&vec![b'x'; chunk]) {
                    Ok(()) => continue,
                    Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                    Err(e) => panic!("{e}"),
                }
            }
        }
    }

    fn free(&self) {
        fs::remove_file(self.0.join("filler")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_write_torn_by_a_full_disk_never_swallows_the_next_revocation() {
    let Some(disk) = SmallDisk::mount() else {
        return;
    };
    let store = disk.0.join("revoked");
    let env = [("ROCKET_SESSION_REVOCATION_STORE", store.to_str().unwrap())];
    let server = Server::start(&env);
    // The store's first page is taken before the disk fills, so the line
    // that crosses its end is written in part.
    let (mut browser, _) = logged_in_at(&server, "a");
    log_out(&mut browser);
    disk.fill();
    let mut unstored = None;
    for i in 0..200 {
        let (mut browser, copy) = logged_in_at(&server, &format!("n{i}"));
        let page = log_out(&mut browser);
        if server.output().contains("revocation NOT stored") {
            unstored = Some((copy, page));
            break;
        }
    }
    let (unstored, page) = unstored.expect("the disk filled up");
    // The person, /readyz and the log say so.
    let notice = notice_in(&page.body).unwrap();
    assert!(notice.contains("記録できませんでした"), "{notice}");
    assert!(readiness(&server).contains("1 revocation(s) not yet written"));
    assert!(server.output().contains("writing the store failed"));

    disk.free();
    let (mut victim, copy) = logged_in_at(&server, "victim");
    let page = log_out(&mut victim);
    assert_eq!(notice_in(&page.body).unwrap(), "ログアウトしました。");
    assert_eq!(readiness(&server), "ready");

    drop(server); // kill -9
    let restarted = Server::start(&env);
    assert_eq!(replay(&restarted, &copy), 303, "{}", restarted.output());
    assert_eq!(replay(&restarted, &unstored), 303, "written with the next");
    assert!(!restarted.output().contains("unreadable"));
}

#[test]
fn a_store_deleted_while_running_is_written_anew_and_reported() {
    let store = fresh_store();
    let env = [("ROCKET_SESSION_REVOCATION_STORE", store.as_str())];
    let server = Server::start(&env);
    let (mut first, first_copy) = logged_in_at(&server, "first");
    log_out(&mut first);
    fs::remove_file(&store).unwrap();
    let (mut second, second_copy) = logged_in_at(&server, "second");
    log_out(&mut second);
    assert!(server.prints_soon("written anew from memory"));
    assert!(readiness(&server).contains("deleted, replaced or truncated"));

    drop(server); // kill -9
    let restarted = Server::start(&env);
    assert_eq!(replay(&restarted, &first_copy), 303);
    assert_eq!(replay(&restarted, &second_copy), 303);
}

#[test]
fn unreadable_lines_are_counted_at_start() {
    let store = fresh_store();
    fs::create_dir_all(Path::new(&store).parent().unwrap()).unwrap();
    fs::write(&store, "garbled\nnot a revocation either\n").unwrap();
    let server = Server::start(&[("ROCKET_SESSION_REVOCATION_STORE", store.as_str())]);
    assert!(
        server.prints_soon("2 unreadable line(s)"),
        "{}",
        server.output()
    );
}

#[test]
fn raising_the_absolute_timeout_revives_no_logged_out_copy() {
    let store = fresh_store();
    let clock = Clock::manual_from_now();
    let with = |absolute: u64| {
        let figment = figment()
            .merge(("session_revocation_store", store.as_str()))
            .merge(("session_idle_timeout", 5))
            .merge(("session_absolute_timeout", absolute));
        Client::tracked(session_app::rocket_at(figment, clock.clone())).unwrap()
    };
    let client = with(8);
    login(&client, "太郎");
    clock.advance(Duration::from_secs(4));
    // Renewed by the visit: the copy taken now is the latest cookie.
    assert_eq!(
        client.get(uri!(routes::output)).dispatch().status(),
        Status::Ok
    );
    let copy = captured(&client);
    clock.advance(Duration::from_millis(1_100));
    post_form(&client, uri!(routes::logout), &[]);
    drop(client);

    // Restarted with a far longer absolute timeout, past the old end.
    let client = with(3_600);
    clock.advance(Duration::from_millis(3_300));
    let replayed = output_with(&client, copy);
    assert_redirects_to(&replayed, uri!(routes::index));
    assert_removes(&replayed, SESSION_COOKIE);
}
