use std::process::ExitCode;

/// Serves the app. Refused settings are explained in a line, and the
/// process exits with failure instead of Rocket's panic.
#[rocket::main]
async fn main() -> ExitCode {
    let figment = rocket::Config::figment();
    if let Err(error) = figment.extract::<rocket::Config>() {
        // Rocket would print the offending value, and for `secret_key` the
        // value is the secret: name that one setting only.
        let mentions_key = error
            .clone()
            .into_iter()
            .any(|e| e.path.iter().any(|p| p == "secret_key"));
        if mentions_key {
            eprintln!("session_app: refusing to start: invalid value for `secret_key` (not shown)");
        } else {
            eprintln!("session_app: refusing to start: {error}");
        }
        return ExitCode::FAILURE;
    }
    match session_app::rocket_with(figment).launch().await {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            let summary = error.pretty_print();
            eprintln!("session_app: {summary}");
            ExitCode::FAILURE
        }
    }
}
