//! The peer `bench/peer.sh` measures the app against: a session page the
//! way Rocket's own `examples/cookies` keeps one. A private cookie set by a
//! form POST, a guard that opens it, a handlebars page that shows it, an
//! entry set and deleted as a private cookie of its own, the cookie
//! removed on logout; nothing else (no expiry, no revocation, no CSRF, no
//! security headers). Templates in `bench/peer/`.

use rocket::form::{Form, FromForm};
use rocket::http::CookieJar;
use rocket::outcome::IntoOutcome;
use rocket::request::{self, FromRequest, Request};
use rocket::response::Redirect;
use rocket::{get, post, routes, uri};
use rocket_dyn_templates::{context, Template};

/// The logged-in user, from the private cookie.
struct User(String);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for User {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<User, Self::Error> {
        req.cookies()
            .get_private("user")
            .map(|cookie| User(cookie.value().to_owned()))
            .or_forward(rocket::http::Status::Unauthorized)
    }
}

#[derive(FromForm)]
struct Login<'r> {
    name: &'r str,
}

#[get("/output")]
fn session(user: User) -> Template {
    Template::render("session", context! { user: user.0 })
}

#[get("/output", rank = 2)]
fn no_session() -> Redirect {
    Redirect::to(uri!(index))
}

#[get("/")]
fn index() -> Template {
    Template::render("login", context! {})
}

#[post("/login", data = "<form>")]
fn login(form: Form<Login<'_>>, jar: &CookieJar<'_>) -> Redirect {
    jar.add_private(("user", form.name.to_owned()));
    Redirect::to(uri!(session))
}

#[derive(FromForm)]
struct Entry<'r> {
    key: &'r str,
    value: &'r str,
}

#[derive(FromForm)]
struct Key<'r> {
    key: &'r str,
}

/// An entry, as a private cookie of its own.
#[post("/session/set", data = "<form>")]
fn set_entry(_user: User, form: Form<Entry<'_>>, jar: &CookieJar<'_>) -> Redirect {
    jar.add_private((format!("entry_{}", form.key), form.value.to_owned()));
    Redirect::to(uri!(session))
}

#[post("/session/delete", data = "<form>")]
fn delete_entry(_user: User, form: Form<Key<'_>>, jar: &CookieJar<'_>) -> Redirect {
    jar.remove_private(format!("entry_{}", form.key));
    Redirect::to(uri!(session))
}

#[post("/logout")]
fn logout(jar: &CookieJar<'_>) -> Redirect {
    jar.remove_private("user");
    Redirect::to(uri!(index))
}

#[rocket::launch]
fn rocket() -> _ {
    rocket::build().attach(Template::fairing()).mount(
        "/",
        routes![
            index,
            login,
            session,
            no_session,
            set_entry,
            delete_entry,
            logout
        ],
    )
}
