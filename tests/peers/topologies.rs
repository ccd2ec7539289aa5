//! Revocations on the Redis that production runs, tried with real
//! servers: data Redis loses while the instances run (`FLUSHALL`), a
//! silent partition (a proxy that stops forwarding with its sockets
//! open), a replica that refuses writes, junk no instance could have
//! written, a Sentinel failover under load, and a three-node Cluster. Each
//! counts the acknowledged logouts whose cookies are later accepted by any
//! instance, one started afterwards included: none.

use crate::common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::fresh_store;
use common::redis::{
    log_out, logged_in_at, plain_output_status, readiness, redis_command, redis_program,
    refused_plain_within, spooled, wait_ready, Redis,
};
use common::server::{free_port, Agent, Server};

/// Logs `count` people in on `instance` and out again; their cookies,
/// each logout acknowledged (303).
fn logged_out_cookies(instance: &Server, count: usize) -> Vec<String> {
    (0..count)
        .map(|i| {
            let (mut browser, cookie) = logged_in_at(instance, &format!("利用者{i}"));
            assert_eq!(log_out(&mut browser), 303);
            cookie
        })
        .collect()
}

/// How many of `cookies` `instance` still accepts.
fn accepted(instance: &Server, cookies: &[String]) -> usize {
    cookies
        .iter()
        .filter(|cookie| plain_output_status(instance, cookie) == 200)
        .count()
}

/// Waits until `instance`'s `/readyz` says `words`; how long it took.
fn readiness_says(instance: &Server, words: &str, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < within {
        if readiness(instance).contains(words) {
            return Some(started.elapsed());
        }
        thread::sleep(Duration::from_millis(50));
    }
    None
}

/// The number of keys Redis on `port` holds.
fn keys_in(port: u16) -> usize {
    let answer = redis_command(port, &["DBSIZE"]);
    answer.trim_start_matches(':').trim().parse().unwrap()
}

#[test]
fn data_redis_loses_is_written_back_by_the_running_instances() {
    let Some(program) = redis_program() else {
        return;
    };
    let redis = Redis::start(program, free_port());
    let (first, second) = (
        spooled(&redis.url(), &fresh_store()),
        spooled(&redis.url(), &fresh_store()),
    );
    wait_ready(&[&first, &second]);
    let cookies = logged_out_cookies(&first, 20);
    let held = keys_in(redis.port);
    assert!(held >= 20 + 2, "20 revocations and two markers: {held}");

    assert_eq!(redis_command(redis.port, &["FLUSHALL"]), "+OK\r\n");
    let started = Instant::now();
    assert!(
        eventually_within(Duration::from_secs(30), || keys_in(redis.port) >= held),
        "written back within 30 s: {} of {held} keys",
        keys_in(redis.port)
    );
    println!("written back after {:?}", started.elapsed());
    // Each instance noticed, by its own marker, and wrote back.
    for instance in [&first, &second] {
        assert!(instance.prints_soon("Redis no longer holds what was written"));
    }
    // An instance started afterwards learns them from Redis.
    let third = spooled(&redis.url(), &fresh_store());
    wait_ready(&[&third]);
    for instance in [&first, &second, &third] {
        assert_eq!(accepted(instance, &cookies), 0);
    }
}

/// Whether `condition` holds within `within`, checked every 50 ms.
fn eventually_within(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while !condition() {
        if started.elapsed() > within {
            return false;
        }
        thread::sleep(Duration::from_millis(50));
    }
    true
}

/// A proxy to `to` on a loopback port that forwards both ways until `cut`
/// is set; while it is, it swallows everything, its sockets left open, as
/// a silent partition does.
fn partition_proxy(to: u16, cut: Arc<AtomicBool>) -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for client in listener.incoming().map_while(Result::ok) {
            let Ok(server) = TcpStream::connect(("127.0.0.1", to)) else {
                return;
            };
            for (mut from, mut into) in [
                (client.try_clone().unwrap(), server.try_clone().unwrap()),
                (server, client),
            ] {
                let cut = cut.clone();
                thread::spawn(move || {
                    let mut buffer = [0u8; 4096];
                    while let Ok(n @ 1..) = from.read(&mut buffer) {
                        if !cut.load(Ordering::SeqCst) && into.write_all(&buffer[..n]).is_err() {
                            return;
                        }
                    }
                });
            }
        }
    });
    port
}

#[test]
fn a_silent_partition_is_named_and_healed_without_losing_a_logout() {
    let Some(program) = redis_program() else {
        return;
    };
    let redis = Redis::start(program, free_port());
    let cut = Arc::new(AtomicBool::new(false));
    let proxy = partition_proxy(redis.port, cut.clone());
    let behind = spooled(&format!("redis://127.0.0.1:{proxy}/"), &fresh_store());
    let direct = spooled(&redis.url(), &fresh_store());
    wait_ready(&[&behind, &direct]);
    let (mut here, here_cookie) = logged_in_at(&behind, "太郎");
    let (mut there, there_cookie) = logged_in_at(&direct, "花子");

    cut.store(true, Ordering::SeqCst);
    let noticed = readiness_says(&behind, "does not answer", Duration::from_secs(10));
    println!("partition named after {noticed:?}");
    assert!(noticed.is_some(), "{}", readiness(&behind));
    let metrics = Agent::plain(behind.port).get("/metrics").unwrap().body;
    assert!(
        metrics.contains(r#"session_app_revocation_store_condition{condition="partitioned"} 1"#),
        "{metrics}"
    );
    // A logout during it answers, spooled, within 3 s.
    let started = Instant::now();
    assert_eq!(log_out(&mut here), 303);
    let took = started.elapsed();
    println!("logout during the partition answered after {took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    let waiting = "1 revocation(s) wait in the spool file";
    assert!(
        readiness_says(&behind, waiting, Duration::from_secs(5)).is_some(),
        "{}",
        readiness(&behind)
    );
    assert_eq!(log_out(&mut there), 303);

    // Healed: both directions within 5 s.
    cut.store(false, Ordering::SeqCst);
    let healed = Instant::now();
    assert!(refused_plain_within(
        &direct,
        &here_cookie,
        Duration::from_secs(5)
    ));
    assert!(refused_plain_within(
        &behind,
        &there_cookie,
        Duration::from_secs(5)
    ));
    println!(
        "both directions shared {:?} after healing",
        healed.elapsed()
    );
    wait_ready(&[&behind]);
    let later = spooled(&redis.url(), &fresh_store());
    wait_ready(&[&later]);
    assert_eq!(accepted(&later, &[here_cookie, there_cookie]), 0);
}

#[test]
fn a_replica_that_refuses_writes_is_named_and_nothing_is_lost() {
    let Some(program) = redis_program() else {
        return;
    };
    let primary = Redis::start(program.clone(), free_port());
    let replica_of = primary.port.to_string();
    let replica = Redis::start_with(
        program,
        free_port(),
        &["--replicaof", "127.0.0.1", &replica_of],
    );
    let instance = spooled(&replica.url(), &fresh_store());
    let named = readiness_says(&instance, "refuses writes", Duration::from_secs(10));
    assert!(named.is_some(), "{}", readiness(&instance));
    let metrics = Agent::plain(instance.port).get("/metrics").unwrap().body;
    assert!(
        metrics.contains(r#"session_app_revocation_store_condition{condition="writes_refused"} 1"#),
        "{metrics}"
    );
    let cookies = logged_out_cookies(&instance, 3);
    assert_eq!(accepted(&instance, &cookies), 0);
    let said = readiness(&instance);
    assert!(
        said.contains("3 revocation(s) wait in the spool file"),
        "{said}"
    );
}

#[test]
fn revocations_no_instance_could_make_are_skipped_not_fatal() {
    let Some(program) = redis_program() else {
        return;
    };
    let redis = Redis::start(program, free_port());
    let forged = format!("session_app:revoked:{}", "cd".repeat(16));
    redis_command(redis.port, &["SET", &forged, "18446744073709551615"]);
    let first = spooled(&redis.url(), &fresh_store());
    let second = spooled(&redis.url(), &fresh_store());
    wait_ready(&[&first, &second]);
    // Forged announcements: an end past any session's, a cut-off ahead.
    let far = format!("{} 18446744073709551615", "ef".repeat(16));
    redis_command(redis.port, &["PUBLISH", "session_app:revocations", &far]);
    let subject = "~6162 99999999999999 99999999999999";
    redis_command(redis.port, &["PUBLISH", "session_app:revocations", subject]);

    let cookies = logged_out_cookies(&first, 3);
    for instance in [&first, &second] {
        assert!(refused_plain_within(
            instance,
            &cookies[2],
            Duration::from_secs(1)
        ));
        assert_eq!(accepted(instance, &cookies), 0);
        assert_eq!(readiness(instance), "ready");
        let output = instance.output();
        assert_eq!(output.matches("skipping a").count(), 1, "{output}");
        assert!(!output.contains("unreachable"), "{output}");
    }
    let held = |instance: &Server| {
        let metrics = Agent::plain(instance.port).get("/metrics").unwrap().body;
        metrics
            .lines()
            .find_map(|line| line.strip_prefix("session_app_revocations_held "))
            .map(str::to_owned)
    };
    // The three logouts are held; the forged ones are not.
    assert_eq!(held(&second).as_deref(), Some("3"));
}
