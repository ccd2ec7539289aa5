use std::process::ExitCode;

/// Serves the app. A refused configuration is explained in one line, and
/// the process exits with failure instead of Rocket's panic.
#[rocket::main]
async fn main() -> ExitCode {
    // Rocket would report a malformed setting with its value, and the value
    // may be the secret key: name the setting only.
    if let Err(error) = rocket::Config::figment().extract::<rocket::Config>() {
        let setting = error.path.join(".");
        eprintln!("session_app: refusing to start: invalid value for `{setting}` (not shown)");
        return ExitCode::FAILURE;
    }
    match session_app::rocket().launch().await {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            let summary = error.pretty_print();
            eprintln!("session_app: {summary}");
            ExitCode::FAILURE
        }
    }
}
