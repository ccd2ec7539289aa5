//! The session layer alone, in the spirit of Rocket's `examples/cookies`: a
//! login that binds a session to a user, a page that shows it, one entry
//! set, a logout that ends the session on the server too, and "log out
//! everywhere", which ends every session of the user at once. Run with
//! `cargo run -p rocket_sealed_sessions --example minimal`.

use rocket::form::{Form, FromForm};
use rocket::response::Redirect;
use rocket::{get, post, routes, uri, Build, Rocket};
use rocket_sealed_sessions::{Clock, Session, Sessions};

#[derive(FromForm)]
struct Login<'r> {
    user: &'r str,
}

/// A fresh session for the user (a new identifier: no fixation).
#[post("/login", data = "<form>")]
fn login(form: Form<Login<'_>>, mut session: Session<'_>) -> Redirect {
    match session.start(form.user) {
        Ok(()) => Redirect::to(uri!(whoami)),
        Err(_) => Redirect::to(uri!(whoami)),
    }
}

#[get("/")]
fn whoami(session: Session<'_>) -> String {
    match session.record() {
        Some(record) => format!(
            "{}: {:?}",
            record.subject().unwrap_or_default(),
            record.entries()
        ),
        None => "nobody".to_owned(),
    }
}

/// `session[key] = value`.
#[post("/set/<key>/<value>")]
fn set(key: &str, value: &str, mut session: Session<'_>) -> Option<Redirect> {
    session
        .insert(key, value)
        .ok()
        .map(|_| Redirect::to(uri!(whoami)))
}

/// `session.clear()`, which also revokes this session's cookie everywhere.
#[post("/logout")]
async fn logout(mut session: Session<'_>) -> Redirect {
    session.clear().await;
    Redirect::to(uri!(whoami))
}

/// Ends every session of this user, on every browser and instance.
#[post("/logout/everywhere")]
async fn logout_everywhere(mut session: Session<'_>) -> Redirect {
    session.log_out_everywhere().await;
    Redirect::to(uri!(whoami))
}

fn app(rocket: Rocket<Build>, clock: Clock) -> Rocket<Build> {
    rocket
        .attach(Sessions::builder().clock(clock).build())
        .mount("/", routes![login, whoami, set, logout, logout_everywhere])
}

#[rocket::launch]
fn rocket() -> _ {
    app(rocket::build(), Clock::system())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocket::http::{ContentType, Cookie};
    use rocket::local::blocking::Client;
    use std::time::Duration;

    const KEY: &str = "V+Ly6JPKyHU+z4DyD0e0PU1AxvY83MtQi5HFTAa0WKc=";

    fn client(store: &std::path::Path, clock: &Clock) -> Client {
        let figment = rocket::Config::figment()
            .merge(("secret_key", KEY))
            .merge(("session_idle_timeout", 60))
            .merge(("session_revocation_store", store.display().to_string()));
        Client::untracked(app(rocket::custom(figment), clock.clone())).unwrap()
    }

    /// Each browser is a cookie: the client keeps none of its own.
    fn log_in(client: &Client, user: &str) -> Cookie<'static> {
        let login = client
            .post(uri!(login))
            .header(ContentType::Form)
            .body(format!("user={user}"))
            .dispatch();
        login.cookies().get("session").unwrap().clone().into_owned()
    }

    fn page(client: &Client, cookie: &Cookie<'static>) -> String {
        let response = client.get(uri!(whoami)).cookie(cookie.clone()).dispatch();
        response.into_string().unwrap()
    }

    #[test]
    fn logs_in_expires_revokes_and_logs_out_everywhere() {
        let store = std::env::temp_dir().join(format!("minimal-{}", std::process::id()));
        let clock = Clock::manual_from_now();
        let client = client(&store, &clock);

        // Log in, set an entry.
        let taro = {
            let set = client
                .post(uri!(set("color", "blue")))
                .cookie(log_in(&client, "taro"))
                .dispatch();
            set.cookies().get("session").unwrap().clone().into_owned()
        };
        assert_eq!(page(&client, &taro), r#"taro: {"color": "blue"}"#);

        // Idle past the window: nobody.
        clock.advance(Duration::from_secs(61));
        assert_eq!(page(&client, &taro), "nobody");

        // Log in again, copy the cookie, log out: the copy is refused.
        let copy = log_in(&client, "hanako");
        assert_eq!(page(&client, &copy), "hanako: {}");
        client.post(uri!(logout)).cookie(copy.clone()).dispatch();
        assert_eq!(page(&client, &copy), "nobody");

        // Two browsers of one user and one of another; one logs out
        // everywhere: both of the user's end, the other's lives.
        let phone = log_in(&client, "jiro");
        let laptop = log_in(&client, "jiro");
        let other = log_in(&client, "saburo");
        clock.advance(Duration::from_millis(5));
        client
            .post(uri!(logout_everywhere))
            .cookie(phone.clone())
            .dispatch();
        assert_eq!(page(&client, &laptop), "nobody");
        assert_eq!(page(&client, &phone), "nobody");
        assert_eq!(page(&client, &other), "saburo: {}");

        // A session the user starts afterwards is not touched, and the
        // revocation outlives a restart.
        clock.advance(Duration::from_millis(5));
        let later = log_in(&client, "jiro");
        drop(client);
        let restarted = self::client(&store, &clock);
        assert_eq!(page(&restarted, &laptop), "nobody");
        assert_eq!(page(&restarted, &later), "jiro: {}");
        let _ = std::fs::remove_file(store);
    }
}
