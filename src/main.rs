use std::process::ExitCode;

/// Serves the app. A refused configuration has already been explained in
/// one logged line; exit with failure instead of Rocket's panic.
#[rocket::main]
async fn main() -> ExitCode {
    match session_app::rocket().launch().await {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            let summary = error.pretty_print();
            eprintln!("session_app: {summary}");
            ExitCode::FAILURE
        }
    }
}
