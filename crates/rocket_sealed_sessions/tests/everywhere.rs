//! "Log out everywhere" across two instances that share a Redis, and after
//! a restart: every session of the subject started before it is refused
//! on each, and a later one is not.

mod common;

use std::time::{Duration, Instant};

use rocket::http::Cookie;
use rocket::local::asynchronous::Client;
use rocket::{get, post, routes};
use rocket_sealed_sessions::{Revocations, Session, Sessions};

#[post("/login/<user>")]
fn login(user: &str, mut session: Session<'_>) {
    session.start(user).unwrap();
}

#[get("/")]
fn whoami(session: Session<'_>) -> String {
    session.subject().unwrap_or("nobody").to_owned()
}

#[post("/logout/everywhere")]
async fn everywhere(mut session: Session<'_>) {
    session.log_out_everywhere().await;
}

const KEY: &str = "V+Ly6JPKyHU+z4DyD0e0PU1AxvY83MtQi5HFTAa0WKc=";

/// An instance on `url`, with a spool of its own in `folder`.
async fn instance(url: &str, folder: &std::path::Path, name: &str) -> Client {
    let figment = rocket::Config::figment()
        .merge(("secret_key", KEY))
        .merge(("log_level", "off"))
        .merge(("session_revocation_store", url))
        .merge((
            "session_revocation_spool",
            folder.join(name).display().to_string(),
        ))
        .merge(("session_redis_prefix", "everywhere:"));
    let rocket = rocket::custom(figment)
        .attach(Sessions::fairing())
        .mount("/", routes![login, whoami, everywhere]);
    let client = Client::untracked(rocket).await.unwrap();
    let connected = || {
        client
            .rocket()
            .state::<Revocations>()
            .unwrap()
            .health()
            .reachable
    };
    wait(connected, "the instance connects to Redis").await;
    client
}

async fn log_in(client: &Client, user: &str) -> Cookie<'static> {
    let response = client.post(format!("/login/{user}")).dispatch().await;
    response
        .cookies()
        .get("session")
        .unwrap()
        .clone()
        .into_owned()
}

async fn who(client: &Client, cookie: &Cookie<'static>) -> String {
    let response = client.get("/").cookie(cookie.clone()).dispatch().await;
    response.into_string().await.unwrap()
}

async fn wait(holds: impl Fn() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !holds() {
        assert!(Instant::now() < deadline, "{what}");
        rocket::tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `client` refuses `cookie`: the revocation has reached it.
async fn refused_soon(client: &Client, cookie: &Cookie<'static>, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while who(client, cookie).await != "nobody" {
        assert!(Instant::now() < deadline, "{what}");
        rocket::tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[rocket::async_test]
async fn logging_out_everywhere_reaches_every_instance_and_a_restart() {
    let Some(redis) = common::Redis::start() else {
        return;
    };
    let folder = common::scratch("everywhere");
    let a = instance(&redis.url(), &folder, "a").await;
    let b = instance(&redis.url(), &folder, "b").await;

    let on_a = log_in(&a, "alice").await;
    let on_b = log_in(&b, "alice").await;
    let bob = log_in(&a, "bob").await;
    assert_eq!(
        who(&a, &on_b).await,
        "alice",
        "a cookie opens on every instance"
    );
    rocket::tokio::time::sleep(Duration::from_millis(5)).await;

    let status = b
        .post("/logout/everywhere")
        .cookie(on_b.clone())
        .dispatch()
        .await
        .status();
    assert_eq!(status.code, 200);
    assert_eq!(who(&b, &on_a).await, "nobody", "refused where it was done");
    // The other instance learns it from Redis's announcement.
    refused_soon(&a, &on_a, "the other instance refuses it").await;
    assert_eq!(
        who(&a, &bob).await,
        "bob",
        "another subject's session lives"
    );
    rocket::tokio::time::sleep(Duration::from_millis(5)).await;
    let later = log_in(&a, "alice").await;
    assert_eq!(
        who(&b, &later).await,
        "alice",
        "a later session is not touched"
    );

    // An instance started afterwards loads it from Redis.
    drop((a, b));
    let c = instance(&redis.url(), &folder, "c").await;
    refused_soon(&c, &on_b, "a new instance refuses it").await;
    assert_eq!(who(&c, &on_a).await, "nobody");
    assert_eq!(who(&c, &later).await, "alice");
}
