//! The session layer alone, in the spirit of Rocket's `examples/cookies`: a
//! login that keeps a name, a page that shows it, one entry set, and a
//! logout that ends the session on the server too. Nothing else of the app:
//! no templates, no CSRF, no pages. Run with `cargo run --example minimal`.

use rocket::form::{Form, FromForm};
use rocket::response::Redirect;
use rocket::{get, post, routes, uri, Build, Rocket};
use session_app::session::{self, Clock, LoggedIn, RequestSession};

#[derive(FromForm)]
struct Login<'r> {
    name: &'r str,
}

/// `session["name"] = name`.
#[post("/login", data = "<form>")]
fn login(form: Form<Login<'_>>, mut session: RequestSession<'_>) -> Redirect {
    session.start(form.name);
    Redirect::to(uri!(whoami))
}

#[get("/")]
fn whoami(user: LoggedIn<'_>) -> String {
    format!("{}: {:?}", user.name(), user.session().entries())
}

#[get("/", rank = 2)]
fn nobody() -> &'static str {
    "nobody"
}

/// `session[key] = value`.
#[post("/set/<key>/<value>")]
fn set(key: &str, value: &str, mut session: RequestSession<'_>) -> Option<Redirect> {
    session
        .set(key, value)
        .ok()
        .map(|_| Redirect::to(uri!(whoami)))
}

/// `session.clear()`, which also revokes the session's cookie everywhere.
#[post("/logout")]
async fn logout(mut session: RequestSession<'_>) -> Redirect {
    session.clear().await;
    Redirect::to(uri!(whoami))
}

fn app(rocket: Rocket<Build>, clock: Clock) -> Rocket<Build> {
    rocket
        .attach(session::stage_at(clock))
        .mount("/", routes![login, whoami, nobody, set, logout])
}

#[rocket::launch]
fn rocket() -> _ {
    app(rocket::build(), Clock::system())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocket::http::{ContentType, Status};
    use rocket::local::blocking::Client;
    use std::time::Duration;

    #[test]
    fn the_session_layer_alone_logs_in_expires_and_revokes() {
        let store = std::env::temp_dir().join(format!("minimal-{}", std::process::id()));
        let figment = rocket::Config::figment()
            .merge(("secret_key", "hPRYyVRiMyxpw5sBB1XeCMN1kFsDCqKvBi2QJxBVHQk="))
            .merge(("session_idle_timeout", 60))
            .merge(("session_revocation_store", store.display().to_string()));
        let clock = Clock::manual_from_now();
        let client = Client::tracked(app(rocket::custom(figment), clock.clone())).unwrap();
        let page = || client.get(uri!(whoami)).dispatch().into_string().unwrap();

        // Log in, set an entry.
        let login = client
            .post(uri!(login))
            .header(ContentType::Form)
            .body("name=太郎");
        assert_eq!(login.dispatch().status(), Status::SeeOther);
        client.post(uri!(set("color", "blue"))).dispatch();
        assert!(page().starts_with("太郎: "), "{}", page());
        assert!(page().contains(r#""color": "blue""#), "{}", page());

        // Idle past the window: nobody.
        clock.advance(Duration::from_secs(61));
        assert_eq!(page(), "nobody");

        // Log in again, copy the cookie, log out: the copy is refused.
        let login = client
            .post(uri!(login))
            .header(ContentType::Form)
            .body("name=花子");
        login.dispatch();
        let copy = client
            .cookies()
            .get("session")
            .unwrap()
            .clone()
            .into_owned();
        let before = client.get(uri!(whoami)).cookie(copy.clone()).dispatch();
        assert!(before.into_string().unwrap().starts_with("花子: "));
        client.post(uri!(logout)).dispatch();
        let replay = client.get(uri!(whoami)).cookie(copy).dispatch();
        assert_eq!(replay.into_string().unwrap(), "nobody");
        let _ = std::fs::remove_file(store);
    }
}
