use std::process::ExitCode;

/// mimalloc: measured faster than the system allocator for this app's many
/// small, short-lived allocations per request (bench/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use figment::Figment;
use rocket::error::{Error, ErrorKind};
use rocket::fairing::AdHoc;
use session_app::config::{self, AppConfig, ConfigError};
use session_app::session::{Clock, Revocations};

/// Serves the app. Refused settings are explained in one line on stderr,
/// and the process exits with failure instead of Rocket's panic.
///
/// The settings are checked before Rocket builds its runtime: Rocket reads
/// `workers`, `max_blocking` and the settings file for it first, and panics
/// on what it cannot use. So this is a plain `main`, not `#[rocket::main]`.
fn main() -> ExitCode {
    let figment = config::figment();
    let checked = config::check_settings_file().and_then(|()| AppConfig::from_figment(&figment));
    if let Err(error) = checked {
        return refuse(&error.0);
    }
    rocket::execute(serve(figment))
}

/// The one line a refused start writes.
fn refuse(reason: &str) -> ExitCode {
    eprintln!("session_app: refusing to start: {reason}");
    ExitCode::FAILURE
}

async fn serve(figment: Figment) -> ExitCode {
    // Rocket closes no idle connection: with the usual soft limit of 1,024
    // open files, one client holding that many would lock everyone out.
    let open_files = rlimit::increase_nofile_limit(u64::MAX);
    let app = session_app::rocket_with(figment.clone()).attach(AdHoc::on_liftoff(
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
    // Ignition opens what the settings name (the revocation store): what
    // fails there is a refusal too, in the same one line.
    let app = match app.ignite().await {
        Ok(app) => app,
        Err(error) => return refuse(&ignition_failure(&error, &figment)),
    };
    match app.launch().await {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            let summary = error.pretty_print();
            eprintln!("session_app: {summary}");
            ExitCode::FAILURE
        }
    }
}

/// Why ignition failed, in one line. A fairing that fails logs its reason
/// and hands Rocket only its name, so the reason is found again by doing
/// what the app's settings fairing does: check the settings and open the
/// revocation store. The failed ignition has dropped the app, and with it
/// the store's lock, so the store opens now as it did then; only a failure
/// that does not happen twice falls back to the fairings' names.
fn ignition_failure(error: &Error, figment: &Figment) -> String {
    // Rocket's own account goes to the log on stdout, as it always did.
    let summary = error.pretty_print();
    match error.kind() {
        ErrorKind::FailedFairings(failed) => match reopen(figment) {
            Err(reason) => reason.0,
            Ok(()) => {
                let names: Vec<&str> = failed.iter().map(|f| f.name).collect();
                format!(
                    "{} failed at ignition ({summary}): the log above says why",
                    names.join(", ")
                )
            }
        },
        // Rocket's own checks at ignition (settings, key, routes): the
        // settings check before it refuses what the app can foresee.
        kind => format!("{kind} ({summary}): see the log above"),
    }
}

/// The settings fairing's work, done again for its reason.
fn reopen(figment: &Figment) -> Result<(), ConfigError> {
    let config = AppConfig::from_figment(figment)?;
    Revocations::open(
        &config.revocation_store,
        &config.revocation_spool,
        Clock::system(),
    )
    .map(drop)
    .map_err(ConfigError)
}
