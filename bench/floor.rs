//! The floor for `bench/load.sh`: a plain Rocket 0.5 app, built like the
//! session app (same Rocket, same allocator), that answers `GET /output`
//! with the very bytes and headers the session app sent for it, captured
//! from the running app and read once at start. It does no work per
//! request beyond what Rocket itself does (parsing the request and its
//! cookies, writing the response), so the app's throughput over the
//! floor's is the share of the machine the app's own work leaves.
//!
//! `FLOOR_CAPTURE=file` names the capture: `curl -D` headers, a blank
//! line, then the body (as `curl -i` writes it).

use std::io::Cursor;

use rocket::http::Status;
use rocket::response::{self, Responder, Response};
use rocket::shield::Shield;
use rocket::{get, routes, Request, State};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The captured response: its headers (but those Rocket writes itself) and
/// its body.
struct Captured {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Captured {
    fn read(path: &str) -> Captured {
        let bytes = std::fs::read(path).expect("FLOOR_CAPTURE names a readable file");
        let split = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("headers, a blank line, then the body");
        let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
        let headers = head
            .lines()
            .skip(1)
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
            .filter(|(name, _)| {
                !["date", "content-length", "server"].contains(&name.to_ascii_lowercase().as_str())
            })
            .collect();
        Captured {
            headers,
            body: bytes[split + 4..].to_vec(),
        }
    }
}

/// The captured response, borrowed: nothing is copied per request.
struct Replay<'a>(&'a Captured);

impl<'r, 'a: 'r> Responder<'r, 'a> for Replay<'a> {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'a> {
        let mut response = Response::build();
        response.status(Status::Ok);
        for (name, value) in &self.0.headers {
            response.raw_header_adjoin(name.as_str(), value.as_str());
        }
        response
            .sized_body(self.0.body.len(), Cursor::new(&self.0.body[..]))
            .ok()
    }
}

/// `FLOOR_BURN=N`: N rounds of arithmetic before each answer (none by
/// default). A yardstick for `bench/load.sh`: the throughput and latency
/// tail of a server that does nothing but spend a fixed amount of CPU per
/// request more than the floor.
struct Burn(u64);

impl Burn {
    fn from_env() -> Burn {
        Burn(std::env::var("FLOOR_BURN").map_or(0, |n| {
            n.parse()
                .expect("FLOOR_BURN is a number of rounds per request")
        }))
    }

    fn run(&self) {
        let mut x = 0u64;
        for i in 0..self.0 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        std::hint::black_box(x);
    }
}

#[get("/output")]
fn output<'a>(captured: &'a State<Captured>, burn: &State<Burn>) -> Replay<'a> {
    burn.run();
    Replay(captured.inner())
}

#[rocket::launch]
fn floor() -> _ {
    let path = std::env::var("FLOOR_CAPTURE").expect("FLOOR_CAPTURE is set");
    rocket::build()
        // Rocket's default shield would add headers the capture already has.
        .attach(Shield::new())
        .manage(Captured::read(&path))
        .manage(Burn::from_env())
        .mount("/", routes![output])
}
