use std::process::ExitCode;

/// mimalloc: measured faster than the system allocator for this app's many
/// small, short-lived allocations per request (bench/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use figment::Figment;
use rocket::{Ignite, Rocket};
use rocket_sealed_sessions::cookie::CookieRules;
use rocket_sealed_sessions::{Expiry, Revocations};
use session_app::{config, logger};

/// Serves the app. A refused start is explained in one line on stderr, and
/// the process exits with failure instead of Rocket's panic.
///
/// What Rocket reads to build its runtime (the settings file, the thread
/// counts) is checked before it does, since it panics on what it cannot
/// use: so this is a plain `main`, not `#[rocket::main]`. Everything else
/// is checked once, at ignition, by the stage that owns it.
fn main() -> ExitCode {
    if let Some(answer) = answer_without_starting(std::env::args().skip(1)) {
        return answer;
    }
    let figment = config::figment();
    let checked =
        config::check_before_runtime(&figment).and_then(|()| config::log_settings(&figment));
    match checked {
        Ok((level, format)) => logger::install(level, format),
        Err(refusal) => return refuse(&refusal.to_string()),
    };
    rocket::execute(serve(figment))
}

/// The version.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `--version` and `--help`, answered without reading a setting or opening
/// anything; any other argument is refused, since the app takes its
/// settings from the environment and `Rocket.toml` only. `None`: start.
fn answer_without_starting(mut args: impl Iterator<Item = String>) -> Option<ExitCode> {
    let arg = args.next()?;
    match arg.as_str() {
        "--version" | "-V" => println!("session_app {VERSION}"),
        "--help" | "-h" => print!("{HELP}"),
        _ => {
            // Quoted with its control characters escaped, and cut short.
            let shown: String = arg.chars().take(64).collect();
            eprintln!("session_app: unknown argument {shown:?}: see session_app --help");
            return Some(ExitCode::from(2));
        }
    }
    Some(ExitCode::SUCCESS)
}

const HELP: &str = "\
session_app: the Flask cookie-session tutorial on Rocket 0.5.

Usage: session_app [--version | --help]

It takes no other argument. Its settings come from Rocket.toml (in the
working folder or a parent; ROCKET_CONFIG names another file), then from
ROCKET_* environment variables, in the profile ROCKET_PROFILE names
(release in a release build). Outside the debug profile it needs a key of
its own: ROCKET_SECRET_KEY=\"$(openssl rand -base64 32)\".
Every setting, with its default: docs/operations.md.
";

/// The one line a refused start writes.
fn refuse(reason: &str) -> ExitCode {
    eprintln!("session_app: refusing to start: {reason}");
    ExitCode::FAILURE
}

async fn serve(figment: Figment) -> ExitCode {
    // Rocket closes no idle connection: with the usual soft limit of 1,024
    // open files, one client holding that many would lock everyone out.
    let open_files = rlimit::increase_nofile_limit(u64::MAX);
    let app = match session_app::ignite(session_app::rocket_with(figment)).await {
        Ok(app) => app,
        Err(reason) => return refuse(&reason),
    };
    // Before binding, so an operator sees what it runs with even when the
    // port is taken.
    started(&app, open_files);
    match app.launch().await {
        // After SIGTERM or SIGINT, once the requests in flight are done.
        Ok(_) => {
            log::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            let summary = error.pretty_print();
            eprintln!("session_app: {summary}");
            ExitCode::FAILURE
        }
    }
}

/// The effective settings, in one line: never a key, never a password.
fn started(rocket: &Rocket<Ignite>, open_files: std::io::Result<u64>) {
    let config = rocket.config();
    let expiry = rocket.state::<Expiry>().expect("BUG: managed at ignition");
    let cookies = rocket
        .state::<CookieRules>()
        .expect("BUG: managed at ignition");
    let store = rocket
        .state::<Revocations>()
        .expect("BUG: managed at ignition");
    // The limit in force either way, a number; why it was not raised, if
    // it was not, in a line of its own.
    let open_files = open_files.unwrap_or_else(|e| {
        log::warn!("the open-files limit could not be raised: {e}");
        rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(0, |(soft, _)| soft)
    });
    log::info!(
        version = VERSION,
        address = config.address.to_string().as_str(),
        port = config.port,
        log_level = config.log_level.to_string().as_str(),
        form_limit_bytes = config.limits.get("form").map_or(0, |limit| limit.as_u64()),
        profile = rocket.figment().profile().as_str().as_str(),
        idle_timeout_s = expiry.idle().as_secs(),
        absolute_timeout_s = expiry.absolute().as_secs(),
        cookie = cookies.session_cookie(),
        secure = cookies.secure(),
        tls = config.tls_enabled(),
        revocation_store = store.describe(),
        open_files = open_files;
        "started"
    );
}
