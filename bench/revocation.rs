//! What revocation costs: memory per revoked session, the throughput of
//! an authenticated `GET /output` with 100,000 revocations held against
//! none (target: no more than 2% lower), and the cost of one logout's
//! revocation (appended and fsynced) with 1,000,000 held against none
//! (target: the same, within 10%), with the memory it takes.
//!
//! Run with `cargo bench --bench revocation`. Both apps run in this process
//! through Rocket's local client (no sockets), measured in interleaved
//! rounds; the figure is the median of the per-round ratios.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rocket::http::Cookie;
use rocket::local::blocking::Client;
use rocket_sealed_sessions::store::FileStore;
use rocket_sealed_sessions::{Clock, Record, Revocations, SessionId};
use session_app::cookies::SESSION_COOKIE;

const HELD: usize = 100_000;
const MEMORY_SAMPLE: usize = 1_000_000;
const ROUNDS: usize = 9;
const REQUESTS_PER_ROUND: usize = 20_000;
const REVOCATIONS_PER_ROUND: usize = 2_000;
const KEY: &str = "V+Ly6JPKyHU+z4DyD0e0PU1AxvY83MtQi5HFTAa0WKc=";

/// A store file holding `count` revocations that run for another day, in
/// the embedded store's format (`<32 hex digits> <until ms>` a line).
fn store_with(dir: &Path, count: usize) -> PathBuf {
    let path = dir.join(format!("revoked-{count}"));
    let until = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 86_400_000;
    let mut text = String::with_capacity(count * 48);
    for _ in 0..count {
        text.push_str(&format!("{} {until}\n", SessionId::random().to_hex()));
    }
    fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    path
}

/// Resident memory of this process, in bytes.
fn resident() -> u64 {
    let statm = fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn client(store: &Path) -> Client {
    let figment = session_app::config::figment()
        .select("release")
        .merge(("secret_key", KEY))
        .merge(("log_level", "off"))
        .merge(("session_revocation_store", store.display().to_string()));
    Client::untracked(session_app::rocket_with(figment)).unwrap()
}

/// Requests per second of `GET /output` with a live session.
fn throughput(client: &Client, session: &Cookie<'static>) -> f64 {
    let started = Instant::now();
    for _ in 0..REQUESTS_PER_ROUND {
        let response = client
            .get("/output")
            .private_cookie(session.clone())
            .dispatch();
        assert_eq!(response.status().code, 200);
        std::hint::black_box(response.into_bytes());
    }
    REQUESTS_PER_ROUND as f64 / started.elapsed().as_secs_f64()
}

/// Revocations per second written to `store` (each appended and fsynced,
/// as a logout does), and how much resident memory grew meanwhile.
fn revoke_rate(store: &Revocations, runtime: &rocket::tokio::runtime::Runtime) -> (f64, i64) {
    let until = SystemTime::now() + Duration::from_secs(86_400);
    let before = resident();
    let started = Instant::now();
    runtime.block_on(async {
        for _ in 0..REVOCATIONS_PER_ROUND {
            std::hint::black_box(store.revoke(SessionId::random(), until).await);
        }
    });
    let rate = REVOCATIONS_PER_ROUND as f64 / started.elapsed().as_secs_f64();
    (rate, resident() as i64 - before as i64)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let dir = std::env::temp_dir().join(format!("session-app-bench-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();

    // Memory: a million revocations loaded from the store, as at start.
    let sample = store_with(&dir, MEMORY_SAMPLE);
    let runtime = rocket::tokio::runtime::Runtime::new().unwrap();
    let open = |path: &Path| {
        let store = Box::new(FileStore::new(path));
        runtime
            .block_on(Revocations::open(store, Clock::system()))
            .unwrap()
    };
    let before = resident();
    let loaded = open(&sample);
    let after = resident();
    assert_eq!(loaded.len(), MEMORY_SAMPLE);
    println!(
        "memory per revoked session: {:.1} bytes ({} revocations, {:.1} MiB resident)",
        (after - before) as f64 / MEMORY_SAMPLE as f64,
        MEMORY_SAMPLE,
        (after - before) as f64 / (1 << 20) as f64
    );

    // Logout: revoking with a million held costs what it costs with none.
    let empty = open(&store_with(&dir, 0));
    let mut ratios = Vec::new();
    for round in 1..=ROUNDS {
        let ((a, grew_a), (b, grew_b)) = if round % 2 == 0 {
            let b = revoke_rate(&loaded, &runtime);
            (revoke_rate(&empty, &runtime), b)
        } else {
            let a = revoke_rate(&empty, &runtime);
            (a, revoke_rate(&loaded, &runtime))
        };
        println!(
            "round {round}: logout revocations with none held {a:.0}/s (+{:.1} MiB), \
             with {MEMORY_SAMPLE} held {b:.0}/s (+{:.1} MiB), ratio {:.3}",
            grew_a as f64 / (1 << 20) as f64,
            grew_b as f64 / (1 << 20) as f64,
            b / a
        );
        ratios.push(b / a);
    }
    let ratio = median(ratios);
    let verdict = if ratio >= 0.90 { "PASS" } else { "MISS" };
    println!(
        "logout revocation with {MEMORY_SAMPLE} held / with none: median {ratio:.3} \
         (target >= 0.90: {verdict}); resident now {:.1} MiB",
        resident() as f64 / (1 << 20) as f64
    );
    drop((loaded, empty));

    // Throughput: the same request to an app holding none and one holding
    // 100,000, in interleaved rounds.
    let none = client(&store_with(&dir, 0));
    let held = client(&store_with(&dir, HELD));
    assert_eq!(held.rocket().state::<Revocations>().unwrap().len(), HELD);
    let session = Cookie::new(
        SESSION_COOKIE,
        Record::from_parts(
            SystemTime::now(),
            SystemTime::now(),
            [("name".to_owned(), "山田".to_owned())].into(),
        )
        .unwrap()
        .encode(),
    );
    throughput(&none, &session);
    throughput(&held, &session);
    let mut ratios = Vec::new();
    for round in 1..=ROUNDS {
        let (a, b) = if round % 2 == 0 {
            let b = throughput(&held, &session);
            (throughput(&none, &session), b)
        } else {
            let a = throughput(&none, &session);
            (a, throughput(&held, &session))
        };
        println!(
            "round {round}: none {a:.0} req/s, {HELD} held {b:.0} req/s, ratio {:.3}",
            b / a
        );
        ratios.push(b / a);
    }
    let ratio = median(ratios);
    let verdict = if ratio >= 0.98 { "PASS" } else { "MISS" };
    println!("GET /output with {HELD} revocations held / with none: median {ratio:.3} (target >= 0.98: {verdict})");
    let _ = fs::remove_dir_all(dir);
}
