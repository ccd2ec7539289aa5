//! Each request's identifier, on its request line and on the session
//! events it caused, so both join the front's access log: the front's
//! `X-Request-Id` when it sends a plausible one (deploy/nginx.conf sends
//! nginx's `$request_id`), else 32 random hex digits made here.

use rocket::Request;

/// The header a front names the request with.
pub const HEADER: &str = "X-Request-Id";

/// The longest identifier taken from a front.
const MAX_LEN: usize = 64;

/// A request's identifier, made once per request (on first use: nothing
/// is made for a request nobody logs).
struct RequestId(String);

/// The identifier of `req`.
pub fn of<'r>(req: &'r Request<'_>) -> &'r str {
    &req.local_cache(|| RequestId(from_front(req).unwrap_or_else(made_here)))
        .0
}

/// [`of`], as the session crate asks for it.
pub fn hook<'r>(req: &'r Request<'_>) -> Option<&'r str> {
    Some(of(req))
}

/// The front's identifier, if it is one: a client reaching the app
/// directly may send anything, so only short tokens of letters, digits,
/// `-`, `_` and `.` are taken, which need no escaping in a log line.
fn from_front(req: &Request<'_>) -> Option<String> {
    let value = req.headers().get_one(HEADER)?;
    let plausible = (1..=MAX_LEN).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    plausible.then(|| value.to_owned())
}

fn made_here() -> String {
    format!("{:032x}", rand::random::<u128>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocket::http::Header;
    use rocket::local::blocking::Client;

    fn id_with(header: Option<&str>) -> String {
        let client = Client::debug(rocket::build()).unwrap();
        let mut req = client.get("/");
        if let Some(value) = header {
            req.add_header(Header::new(HEADER, value.to_owned()));
        }
        let id = of(req.inner()).to_owned();
        assert_eq!(of(req.inner()), id, "made once per request");
        id
    }

    fn made_here_shape(id: &str) -> bool {
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
    }

    #[test]
    fn a_fronts_identifier_is_kept() {
        let nginx = "5f0c8e3c1b0f4a7e9d2c6b8a1e3f5d7c";
        assert_eq!(id_with(Some(nginx)), nginx);
        assert_eq!(id_with(Some("req-1.a_b")), "req-1.a_b");
    }

    #[test]
    fn anything_else_gets_one_made_here() {
        let too_long = "a".repeat(MAX_LEN + 1);
        for sent in [
            None,
            Some(""),
            Some("a b"),
            Some("x\u{9b}y"),
            Some("a\"b"),
            Some(&too_long[..]),
        ] {
            let id = id_with(sent);
            assert!(made_here_shape(&id), "{sent:?} gave {id:?}");
        }
        assert_ne!(id_with(None), id_with(None));
    }
}
