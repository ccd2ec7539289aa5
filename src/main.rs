#[rocket::launch]
fn rocket() -> _ {
    session_app::rocket()
}
