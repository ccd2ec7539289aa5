//! The fairing, configured from code: [`Builder`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::clock::Clock;
use crate::events::{RequestIdHook, RequestIds};
use crate::fairing::{RefusalHook, Sessions};
use crate::settings::Choices;
use crate::store::RevocationStore;

/// Configures [`Sessions`] from code. What is set here is used whatever
/// Rocket's figment says; what is not is read from the figment's
/// `session_*` keys at ignition (see [`crate::settings`]), else its
/// default ([`crate::defaults`]). Every value is checked at ignition, as
/// the figment's are.
///
/// ```
/// use std::time::Duration;
/// use rocket_sealed_sessions::{store::FileStore, Clock, Sessions};
///
/// let sessions = Sessions::builder()
///     .cookie_name("sid")
///     .secure(true)
///     .idle(Duration::from_secs(15 * 60))
///     .absolute(Duration::from_secs(12 * 3600))
///     .revocations(FileStore::new("data/revoked"))
///     .clock(Clock::system())
///     .build();
/// let rocket = rocket::build().attach(sessions);
/// # drop(rocket);
/// ```
#[derive(Default)]
#[must_use = "a builder does nothing until built and attached"]
pub struct Builder {
    chosen: Choices,
    clock: Clock,
    on_refusal: Option<RefusalHook>,
    request_ids: RequestIds,
}

impl Builder {
    /// The session cookie's name: 1-64 letters, digits, `-` or `_`.
    /// Prefixed with `__Host-` when [`Builder::secure`].
    pub fn cookie_name(mut self, name: impl Into<String>) -> Builder {
        self.chosen.cookie_name = Some(name.into());
        self
    }

    /// Whether the cookie is `Secure` with the `__Host-` prefix (it always
    /// is when Rocket itself serves TLS). Set it behind a TLS proxy.
    pub fn secure(mut self, secure: bool) -> Builder {
        self.chosen.secure = Some(secure);
        self
    }

    /// How long a session may go unused: from 1 s to 400 days, and no
    /// longer than [`Builder::absolute`].
    pub fn idle(mut self, window: Duration) -> Builder {
        self.chosen.idle = Some(window);
        self
    }

    /// How long a session may live however active it is, sealed in it at
    /// its start: from 1 s to 400 days.
    pub fn absolute(mut self, window: Duration) -> Builder {
        self.chosen.absolute = Some(window);
        self
    }

    /// Older keys whose cookies still open, then are re-sealed under
    /// `secret_key`: a rotation that logs nobody out. Build each with
    /// [`key_from_bytes`](crate::cookie::key_from_bytes), as Rocket builds
    /// `secret_key`.
    pub fn fallback_keys(mut self, keys: Vec<cookie::Key>) -> Builder {
        self.chosen.fallback_keys = Some(keys);
        self
    }

    /// Where revocations are kept: [`FileStore`](crate::store::FileStore),
    /// `RedisStore` (feature `redis`), or a store of your own.
    pub fn revocations(mut self, store: impl RevocationStore) -> Builder {
        self.chosen.store = Some(Box::new(store));
        self
    }

    /// The clock every rule reads: [`Clock::system`] unless set; tests set
    /// a [`Clock::manual`] one and move it.
    pub fn clock(mut self, clock: Clock) -> Builder {
        self.clock = clock;
        self
    }

    /// Called with the reason, in one line, when the fairing refuses to
    /// ignite, instead of logging it: for an app that explains a refused
    /// start in its own words.
    pub fn on_refusal(mut self, hook: impl Fn(&str) + Send + Sync + 'static) -> Builder {
        self.on_refusal = Some(Arc::new(hook));
        self
    }

    /// How the app names a request: the session layer's log lines (a
    /// login, a logout, a cookie refused) then carry `request=<id>`, so
    /// they join the app's request lines. Asked only when the log is on,
    /// and a few times per request: make the identifier once, in the
    /// request's local cache.
    ///
    /// ```
    /// use rocket::Request;
    /// use rocket_sealed_sessions::Sessions;
    ///
    /// fn request_id<'r>(req: &'r Request<'_>) -> Option<&'r str> {
    ///     req.headers().get_one("X-Request-Id")
    /// }
    ///
    /// let sessions = Sessions::builder().request_id(request_id).build();
    /// # drop(sessions);
    /// ```
    pub fn request_id(mut self, hook: RequestIdHook) -> Builder {
        self.request_ids = RequestIds(Some(hook));
        self
    }

    /// The fairing, to attach to a Rocket.
    pub fn build(self) -> Sessions {
        Sessions {
            chosen: Mutex::new(Some(self.chosen)),
            clock: self.clock,
            on_refusal: self.on_refusal,
            request_ids: self.request_ids,
        }
    }
}

impl Sessions {
    /// The session layer configured by Rocket's figment alone, on the
    /// system clock.
    pub fn fairing() -> Sessions {
        Sessions::builder().build()
    }

    /// Configures the session layer from code.
    pub fn builder() -> Builder {
        Builder::default()
    }
}
