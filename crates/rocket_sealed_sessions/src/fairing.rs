//! The fairing that gives a Rocket its sessions: [`Sessions`].

use std::sync::{Arc, Mutex};

use rocket::fairing::{self, Fairing, Info, Kind};
use rocket::{Build, Rocket};

use crate::clock::Clock;
use crate::counts::Counts;
use crate::events::RequestIds;
use crate::guard::Layer;
use crate::opened_cache::OpenedCache;
use crate::revocations::Revocations;
use crate::settings::{Choices, Settings, SettingsError};

pub(crate) type RefusalHook = Arc<dyn Fn(&str) + Send + Sync>;

/// The session layer, attached to a Rocket: at ignition it reads its
/// settings, opens the revocation store, and manages what the
/// [`Session`](crate::Session) guard reads: the
/// [`Expiry`](crate::Expiry), the [`CookieRules`](crate::cookie::CookieRules),
/// the [`Revocations`], the [`Clock`] and the [`Counts`] (and the
/// [`Builder::request_id`](crate::Builder::request_id) hook). It refuses to
/// ignite, with the reason logged in one line, when a setting or the store
/// cannot be used.
///
/// ```
/// use rocket_sealed_sessions::Sessions;
///
/// let rocket = rocket::build().attach(Sessions::fairing());
/// # drop(rocket);
/// ```
pub struct Sessions {
    /// Taken at ignition: a fairing ignites once.
    pub(crate) chosen: Mutex<Option<Choices>>,
    pub(crate) clock: Clock,
    pub(crate) on_refusal: Option<RefusalHook>,
    pub(crate) request_ids: RequestIds,
}

impl Sessions {
    /// Fails ignition with `reason`: told to the refusal hook, or logged
    /// when there is none.
    // Rocket's own fairing result: the Rocket travels back on failure.
    #[allow(clippy::result_large_err)]
    fn refuse(&self, rocket: Rocket<Build>, reason: impl std::fmt::Display) -> fairing::Result {
        let reason = reason.to_string();
        match &self.on_refusal {
            Some(hook) => hook(&reason),
            None => rocket::error!("refusing to start: {reason}"),
        }
        Err(rocket)
    }
}

#[rocket::async_trait]
impl Fairing for Sessions {
    fn info(&self) -> Info {
        Info {
            name: "Sessions",
            kind: Kind::Ignite,
        }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> fairing::Result {
        let chosen = self
            .chosen
            .lock()
            .expect("BUG: sessions lock poisoned")
            .take()
            .unwrap_or_default();
        let settings = match Settings::resolve(rocket.figment(), chosen) {
            Ok(settings) => settings,
            Err(e) => return self.refuse(rocket, e),
        };
        let Settings {
            expiry,
            cookies,
            store,
        } = settings;
        let revocations = match Revocations::open(store, self.clock.clone()).await {
            Ok(revocations) => revocations,
            Err(e) => return self.refuse(rocket, SettingsError::from(e)),
        };
        let counts = Counts::default();
        let layer = Layer {
            expiry,
            cookies: cookies.clone(),
            clock: self.clock.clone(),
            counts: counts.clone(),
            request_ids: self.request_ids,
            opened: OpenedCache::default(),
        };
        Ok(rocket
            .manage(expiry)
            .manage(cookies)
            .manage(revocations)
            .manage(self.clock.clone())
            .manage(counts)
            .manage(layer))
    }
}
