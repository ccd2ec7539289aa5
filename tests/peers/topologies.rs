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
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::fresh_store;
use common::redis::{
    log_out, logged_in_at, plain_output_status, readiness, redis_answer, redis_command,
    redis_program, refused_plain_within, spooled, wait_ready, Redis,
};
use common::server::{free_port, Agent, Server, Started};

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
    let (mut early, early_cookie) = logged_in_at(&behind, "次郎");

    cut.store(true, Ordering::SeqCst);
    // A logout at once, before the link has noticed: its write to Redis
    // hangs, and the logout answers anyway, spooled, within 3 s.
    let started = Instant::now();
    assert_eq!(log_out(&mut early), 303);
    let took = started.elapsed();
    println!("logout as the partition began answered after {took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(plain_output_status(&behind, &early_cookie), 303);
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
    let waiting = "2 revocation(s) wait in the spool file";
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
    assert_eq!(
        accepted(&later, &[here_cookie, there_cookie, early_cookie]),
        0
    );
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

/// A Redis set up as production runs it: a primary, its replica, and
/// three sentinels watching them (a quorum of two), on loopback ports.
struct Sentinels {
    primary: Option<Redis>,
    replica: Redis,
    /// Killed, by process id, when the test ends.
    _sentinels: Vec<Started>,
    ports: Vec<u16>,
}

const SERVICE: &str = "sessions";

impl Sentinels {
    fn start(program: &std::path::Path) -> Sentinels {
        let primary = Redis::start(program.to_owned(), free_port());
        let of = primary.port.to_string();
        let replica = Redis::start_with(
            program.to_owned(),
            free_port(),
            &["--replicaof", "127.0.0.1", &of],
        );
        assert!(
            eventually_within(Duration::from_secs(20), || info(replica.port)
                .contains("master_link_status:up")),
            "the replica synced"
        );
        let dir = std::path::PathBuf::from(fresh_store());
        std::fs::create_dir_all(&dir).unwrap();
        let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let sentinels = ports
            .iter()
            .map(|port| {
                // Sentinel rewrites its file as it learns: one each.
                let conf = dir.join(format!("sentinel-{port}.conf"));
                std::fs::write(
                    &conf,
                    format!(
                        "port {port}\nbind 127.0.0.1\nprotected-mode no\ndir {dir}\n\
                         sentinel monitor {SERVICE} 127.0.0.1 {of} 2\n\
                         sentinel down-after-milliseconds {SERVICE} 1000\n\
                         sentinel failover-timeout {SERVICE} 3000\n",
                        dir = dir.display()
                    ),
                )
                .unwrap();
                Started(
                    Command::new(program)
                        .arg(&conf)
                        .arg("--sentinel")
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .spawn()
                        .expect("redis-server --sentinel starts"),
                )
            })
            .collect();
        let sentinels = Sentinels {
            primary: Some(primary),
            replica,
            _sentinels: sentinels,
            ports,
        };
        // Ready once each sees the others and could fail over.
        for port in &sentinels.ports {
            assert!(
                eventually_within(Duration::from_secs(30), || {
                    TcpStream::connect(("127.0.0.1", *port)).is_ok()
                        && redis_answer(*port, &["SENTINEL", "CKQUORUM", SERVICE])[0]
                            .starts_with("OK 3 usable")
                }),
                "sentinel {port} never reached its quorum"
            );
        }
        sentinels
    }

    /// The URL the app takes, naming the three sentinels.
    fn url(&self) -> String {
        let [first, second, third] = [self.ports[0], self.ports[1], self.ports[2]];
        format!(
            "redis-sentinel://127.0.0.1:{first}?node=127.0.0.1:{second}&node=127.0.0.1:{third}\
             &sentinelServiceName={SERVICE}"
        )
    }

    /// The port of the primary the sentinels name now.
    fn primary_port(&self) -> u16 {
        let answer = redis_answer(
            self.ports[0],
            &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE],
        );
        answer[1].parse().unwrap()
    }
}

fn info(port: u16) -> String {
    redis_answer(port, &["INFO", "replication"]).concat()
}

/// People logging in and out on `instances` from a few threads until
/// `stop`; the cookies of every logout acknowledged (303).
fn churn(instances: &[u16], stop: Arc<AtomicBool>) -> thread::JoinHandle<Vec<String>> {
    let instances = instances.to_vec();
    thread::spawn(move || {
        let workers: Vec<_> = (0..4)
            .map(|worker| {
                let (instances, stop) = (instances.clone(), stop.clone());
                thread::spawn(move || {
                    let mut cookies = Vec::new();
                    let mut turn = worker;
                    while !stop.load(Ordering::SeqCst) {
                        turn += 1;
                        let port = instances[turn % instances.len()];
                        let mut browser = Agent::plain(port);
                        let (_, login) = browser.log_in(&format!("利用者{worker}"));
                        assert_eq!(login.status, 303);
                        let cookie = browser.cookies[common::SESSION_COOKIE].clone();
                        if log_out(&mut browser) == 303 {
                            cookies.push(cookie);
                        }
                    }
                    cookies
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("every request answered"))
            .collect()
    })
}

#[test]
fn a_sentinel_failover_under_load_loses_no_acknowledged_logout() {
    let Some(program) = redis_program() else {
        return;
    };
    let mut redis = Sentinels::start(&program);
    let old_primary = redis.primary_port();
    let (first, second) = (
        spooled(&redis.url(), &fresh_store()),
        spooled(&redis.url(), &fresh_store()),
    );
    wait_ready(&[&first, &second]);
    let stop = Arc::new(AtomicBool::new(false));
    let load = churn(&[first.port, second.port], stop.clone());
    thread::sleep(Duration::from_millis(1500));

    // The primary dies mid-load; the sentinels promote the replica.
    let killed = Instant::now();
    redis.primary.take().unwrap().crash();
    assert!(
        eventually_within(Duration::from_secs(30), || redis.primary_port()
            == redis.replica.port),
        "no failover"
    );
    println!("promoted after {:?}", killed.elapsed());
    wait_ready(&[&first, &second]);
    println!("both instances ready after {:?}", killed.elapsed());
    stop.store(true, Ordering::SeqCst);
    let cookies = load.join().unwrap();
    println!("{} logouts acknowledged", cookies.len());
    assert!(cookies.len() > 50, "{}", cookies.len());

    // The old primary comes back empty; the sentinels make it a replica.
    let back = Redis::start(program, old_primary);
    assert!(
        eventually_within(Duration::from_secs(30), || info(back.port)
            .contains("master_link_status:up")),
        "the old primary rejoined as a replica"
    );
    let third = spooled(&redis.url(), &fresh_store());
    wait_ready(&[&third]);
    for instance in [&first, &second, &third] {
        assert_eq!(
            accepted(instance, &cookies),
            0,
            "accepted after the failover"
        );
    }
}

#[test]
fn a_cluster_shares_revocations_across_its_nodes() {
    let Some(program) = redis_program() else {
        return;
    };
    let Some(cli) = common::installed(
        &["/usr/bin/redis-cli", "/usr/local/bin/redis-cli"],
        "the Cluster test needs redis-cli: install the Debian package `redis-tools`",
    ) else {
        return;
    };
    let dir = std::path::PathBuf::from(fresh_store());
    std::fs::create_dir_all(&dir).unwrap();
    let nodes: Vec<Redis> = (0..3)
        .map(|_| {
            let port = free_port();
            let conf = dir.join(format!("nodes-{port}.conf")).display().to_string();
            // A bus port of its own choosing: the default, port + 10,000,
            // may be past 65,535, or taken by another test.
            let bus = free_port().to_string();
            Redis::start_with(
                program.clone(),
                port,
                &[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    &conf,
                    "--cluster-port",
                    &bus,
                ],
            )
        })
        .collect();
    let addresses: Vec<String> = nodes
        .iter()
        .map(|node| format!("127.0.0.1:{}", node.port))
        .collect();
    let created = Command::new(cli)
        .args(["--cluster", "create"])
        .args(&addresses)
        .arg("--cluster-yes")
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{created:?} {:?}",
        nodes
            .iter()
            .map(|node| redis_answer(node.port, &["CLUSTER", "NODES"]))
            .collect::<Vec<_>>()
    );
    for node in &nodes {
        assert!(eventually_within(Duration::from_secs(30), || redis_answer(
            node.port,
            &["CLUSTER", "INFO"]
        )[0]
        .contains("cluster_state:ok")));
    }
    let url = format!(
        "redis-cluster://{}?node={}&node={}",
        addresses[0], addresses[1], addresses[2]
    );
    let (first, second) = (spooled(&url, &fresh_store()), spooled(&url, &fresh_store()));
    wait_ready(&[&first, &second]);
    let cookies = logged_out_cookies(&first, 10);
    assert!(refused_plain_within(
        &second,
        &cookies[9],
        Duration::from_secs(1)
    ));
    let third = spooled(&url, &fresh_store());
    wait_ready(&[&third]);
    for instance in [&first, &second, &third] {
        assert_eq!(accepted(instance, &cookies), 0);
    }
    // All in the slot of the hash tag, on the node that owns it.
    let held: usize = nodes.iter().map(|node| keys_in(node.port)).sum();
    assert!(held >= 10, "{held}");

    // The slot moves to another node: the instances follow the MOVED,
    // with no outage, and sharing goes on.
    let ports: Vec<u16> = nodes.iter().map(|node| node.port).collect();
    move_slot_of("{session_app:}", &ports);
    let more = logged_out_cookies(&second, 5);
    assert!(refused_plain_within(
        &first,
        &more[4],
        Duration::from_secs(1)
    ));
    for instance in [&first, &second, &third] {
        assert_eq!(readiness(instance), "ready");
        assert!(
            !instance.output().contains("queuing"),
            "{}",
            instance.output()
        );
    }
    let fourth = spooled(&url, &fresh_store());
    wait_ready(&[&fourth]);
    assert_eq!(accepted(&fourth, &[cookies, more].concat()), 0);
}

/// Moves the slot `key` hashes to, with its keys, from the node that owns
/// it to another, as `redis-cli --cluster reshard` does.
fn move_slot_of(key: &str, ports: &[u16]) {
    let slot = redis_answer(ports[0], &["CLUSTER", "KEYSLOT", key])[0].clone();
    let id = |port: u16| redis_answer(port, &["CLUSTER", "MYID"])[0].clone();
    let owns = |port: u16| redis_answer(port, &["CLUSTER", "COUNTKEYSINSLOT", &slot])[0] != "0";
    let from = *ports
        .iter()
        .find(|port| owns(**port))
        .expect("a node holds the keys");
    let to = *ports.iter().find(|port| **port != from).unwrap();
    let (from_id, to_id) = (id(from), id(to));
    redis_answer(to, &["CLUSTER", "SETSLOT", &slot, "IMPORTING", &from_id]);
    redis_answer(from, &["CLUSTER", "SETSLOT", &slot, "MIGRATING", &to_id]);
    let keys = redis_answer(from, &["CLUSTER", "GETKEYSINSLOT", &slot, "10000"]);
    let to_port = to.to_string();
    let mut migrate = vec!["MIGRATE", "127.0.0.1", &to_port, "", "0", "5000", "KEYS"];
    migrate.extend(keys.iter().map(String::as_str));
    assert_eq!(redis_answer(from, &migrate), ["OK"]);
    for port in ports {
        redis_answer(*port, &["CLUSTER", "SETSLOT", &slot, "NODE", &to_id]);
    }
    assert!(!owns(from) && owns(to));
}

#[test]
fn a_revocation_outlives_its_session_in_redis_by_the_clock_skew_allowed() {
    let Some(program) = redis_program() else {
        return;
    };
    let redis = Redis::start(program, free_port());
    let instance = spooled(&redis.url(), &fresh_store());
    wait_ready(&[&instance]);
    logged_out_cookies(&instance, 1);
    let keys = redis_answer(redis.port, &["KEYS", "session_app:revoked:*"]);
    assert_eq!(keys.len(), 1, "{keys:?}");
    let until: u64 = redis_answer(redis.port, &["GET", &keys[0]])[0]
        .parse()
        .unwrap();
    let millis_now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
    };
    // Redis's clock and this one are the machine's: the key's end, read
    // between two readings of it, is known to within their gap (and
    // Redis's rounding to the millisecond).
    let before = millis_now();
    let ttl: u64 = redis_answer(redis.port, &["PTTL", &keys[0]])[0]
        .parse()
        .unwrap();
    let after = millis_now();
    // Kept 5 minutes (the skew allowed) past the session's end, so that
    // an instance whose clock is that far behind still finds it.
    // The app computed the lifetime a moment before Redis took it: the
    // key ends at most that moment (50 ms, generously) late.
    let (earliest, latest) = (before + ttl, after + ttl + 1);
    assert!(
        earliest <= until + 300_050 && latest >= until + 300_000,
        "the key ends between {} and {} ms past the session's end",
        earliest as i64 - until as i64,
        latest as i64 - until as i64
    );
}
