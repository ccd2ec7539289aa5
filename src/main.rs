use std::process::ExitCode;

/// mimalloc: measured faster than the system allocator for this app's many
/// small, short-lived allocations per request (bench/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use rocket::fairing::AdHoc;
use session_app::config::{self, AppConfig};

/// Serves the app. Refused settings are explained in one line, and the
/// process exits with failure instead of Rocket's panic.
#[rocket::main]
async fn main() -> ExitCode {
    let figment = config::figment();
    if let Err(error) = AppConfig::from_figment(&figment) {
        eprintln!("session_app: refusing to start: {error}");
        return ExitCode::FAILURE;
    }
    // Rocket closes no idle connection: with the usual soft limit of 1,024
    // open files, one client holding that many would lock everyone out.
    let open_files = rlimit::increase_nofile_limit(u64::MAX);
    let app = session_app::rocket_with(figment).attach(AdHoc::on_liftoff(
        "Open files limit",
        move |_| {
            Box::pin(async move {
                match open_files {
                    Ok(limit) => rocket::info!("open files limit: {limit}"),
                    Err(e) => rocket::warn!("open files limit not raised: {e}"),
                }
            })
        },
    ));
    match app.launch().await {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            let summary = error.pretty_print();
            eprintln!("session_app: {summary}");
            ExitCode::FAILURE
        }
    }
}
