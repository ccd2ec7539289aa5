//! The session layer's log lines, each tagged with the request it came
//! from when the app says how to name requests
//! ([`Builder::request_id`](crate::Builder::request_id)).

use std::fmt;

use log::Level;
use rocket::Request;

/// How an app names a request: the identifier its own request lines carry
/// (a front's `X-Request-Id`, say), or `None`.
pub type RequestIdHook = for<'r> fn(&'r Request<'_>) -> Option<&'r str>;

/// What the fairing manages: the app's [`RequestIdHook`], if it gave one.
#[derive(Clone, Copy, Default)]
pub(crate) struct RequestIds(pub(crate) Option<RequestIdHook>);

/// Where the events of one request go.
#[derive(Clone, Copy)]
pub(crate) struct Events<'r> {
    request: Option<&'r str>,
}

impl<'r> Events<'r> {
    /// The events of `req`. The hook is asked only when lines are logged
    /// at all (errors included): an app may make the identifier on demand.
    pub(crate) fn of(req: &'r Request<'_>, ids: &RequestIds) -> Events<'r> {
        let request = match ids.0 {
            Some(hook) if log::log_enabled!(Level::Error) => hook(req),
            _ => None,
        };
        Events { request }
    }

    pub(crate) fn info(self, message: fmt::Arguments<'_>) {
        self.log(Level::Info, message);
    }

    pub(crate) fn error(self, message: fmt::Arguments<'_>) {
        self.log(Level::Error, message);
    }

    fn log(self, level: Level, message: fmt::Arguments<'_>) {
        match self.request {
            Some(request) => log::log!(level, request = request; "{message}"),
            None => log::log!(level, "{message}"),
        }
    }
}
