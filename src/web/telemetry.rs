//! What an operator watches: one log line per request (method, path without
//! its query, status, duration, client address and request id: never a
//! name, a token, a cookie or a session identifier), and `GET /metrics` in Prometheus' text
//! format, for scrapers on this machine only.

use std::borrow::Cow;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::{ContentType, Status};
use rocket::request::{self, FromRequest, Request};
use rocket::{get, Data, Response, State};

use rocket_sealed_sessions::store::Condition;
use rocket_sealed_sessions::{Counts, EndReason, Revocations};

use super::process::{BuildInfo, ProcessMetrics};
use super::request_id;

/// The metrics this app exports, registered once at ignition.
pub struct Telemetry {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Histogram,
    revocations_held: Gauge,
    revocations_queued: Gauge,
    store_reachable: Gauge,
    store_condition: Family<ConditionLabel, Gauge>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConditionLabel {
    condition: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// The route's name (its handler), or `none` for a request no route
    /// took: never the path, which a client chooses.
    route: Cow<'static, str>,
    status: u16,
}

impl Telemetry {
    /// The registry: the app's metrics under `session_app_`, the session
    /// layer's `counts` among them, and the process's own (`process_*`).
    pub fn new(counts: Counts) -> Telemetry {
        let mut root = Registry::default();
        root.register_collector(Box::new(ProcessMetrics));
        let registry = root.sub_registry_with_prefix("session_app");
        registry.register_collector(Box::new(BuildInfo));
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests answered, by route and status",
            requests.clone(),
        );
        // From 1 ms to about 4 s, doubling.
        let latency = Histogram::new((0..13).map(|i| 0.001 * f64::from(1u32 << i)));
        registry.register(
            "request_duration_seconds",
            "Time from request to response",
            latency.clone(),
        );
        registry.register_collector(Box::new(SessionCounts(counts)));
        let revocations_held = Gauge::default();
        registry.register(
            "revocations_held",
            "Revoked sessions held in memory (expired ones not yet dropped included)",
            revocations_held.clone(),
        );
        let revocations_queued = Gauge::default();
        registry.register(
            "revocations_queued",
            "Revocations acknowledged but not yet in the store",
            revocations_queued.clone(),
        );
        let store_reachable = Gauge::default();
        registry.register(
            "revocation_store_reachable",
            "1 while the revocation store is reachable, else 0",
            store_reachable.clone(),
        );
        let store_condition = Family::<ConditionLabel, Gauge>::default();
        registry.register(
            "revocation_store_condition",
            "1 for what keeps the revocation store from taking revocations now \
             (ready, unreachable, writes_refused, partitioned), else 0",
            store_condition.clone(),
        );
        Telemetry {
            registry: root,
            requests,
            latency,
            revocations_held,
            revocations_queued,
            store_reachable,
            store_condition,
        }
    }

    fn count(&self, route: Cow<'static, str>, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels { route, status })
            .inc();
        self.latency.observe(seconds);
    }
}

/// The session crate's plain counters, read at each scrape: logins, and
/// sessions ended by reason (a reason appears once it has happened).
#[derive(Debug)]
struct SessionCounts(Counts);

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndedBy {
    reason: &'static str,
}

impl Collector for SessionCounts {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let started = ConstCounter::new(self.0.started());
        let metric =
            encoder.encode_descriptor("sessions_started", "Logins", None, started.metric_type())?;
        started.encode(metric)?;
        let mut ended = encoder.encode_descriptor(
            "sessions_ended",
            "Sessions ended, by reason",
            None,
            MetricType::Counter,
        )?;
        for reason in EndReason::ALL {
            let count = self.0.ended(reason);
            if count == 0 {
                continue;
            }
            // In this app, the only subject taken away is a deleted name.
            let label = match reason {
                EndReason::SubjectDetached => "name_deleted",
                reason => reason.as_str(),
            };
            ConstCounter::new(count).encode(ended.encode_family(&EndedBy { reason: label })?)?;
        }
        Ok(())
    }
}

/// When the request came in: `None` for a request the fairings never saw.
struct Started(Option<Instant>);

/// Counts every request and writes its log line.
pub struct RequestLog;

#[rocket::async_trait]
impl Fairing for RequestLog {
    fn info(&self) -> Info {
        Info {
            name: "Request log and metrics",
            kind: Kind::Request | Kind::Response,
        }
    }

    async fn on_request(&self, req: &mut Request<'_>, _: &mut Data<'_>) {
        req.local_cache(|| Started(Some(Instant::now())));
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        let took = req
            .local_cache(|| Started(None))
            .0
            .map_or(Duration::ZERO, |started| started.elapsed());
        record(req, req.method().as_str(), res.status(), took);
    }
}

/// Counts and logs a request Rocket could not read (an unknown method, or
/// a target that is not a path), which it answers with a catcher alone:
/// the fairings never see it. Its method is not known: `-`.
pub fn unread_request(req: &Request<'_>, status: Status) {
    if req.local_cache(|| Started(None)).0.is_none() {
        record(req, "-", status, Duration::ZERO);
    }
}

/// Counts `req`, answered with `status` after `took`, and writes its
/// request line.
fn record(req: &Request<'_>, method: &str, status: Status, took: Duration) {
    let route = req
        .route()
        .and_then(|route| route.name.clone())
        .unwrap_or(Cow::Borrowed("none"));
    if let Some(telemetry) = req.rocket().state::<Telemetry>() {
        telemetry.count(route, status.code, took.as_secs_f64());
    }
    // Nothing is formatted for a log that is off (the benchmarks').
    if !log::log_enabled!(log::Level::Info) {
        return;
    }
    let client = req
        .client_ip()
        .map_or_else(|| "-".to_owned(), |ip| ip.to_string());
    log::info!(
        method = method,
        path = req.uri().path().as_str(),
        status = status.code,
        ms = (took.as_secs_f64() * 1000.0 * 100.0).round() / 100.0,
        client = client.as_str(),
        request = request_id::of(req);
        "request"
    );
}

/// A scraper on this machine: the connection comes from loopback and
/// carries no proxy's address header, so a request that came through a
/// front (which adds one) is not one, whatever address it claims.
pub struct LocalScraper;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for LocalScraper {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let local = req.remote().is_some_and(|remote| match remote.ip() {
            IpAddr::V4(ip) => ip.is_loopback(),
            IpAddr::V6(ip) => {
                ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
            }
        });
        let proxied = ["X-Real-IP", "X-Forwarded-For", "Forwarded"]
            .iter()
            .any(|name| req.headers().contains(*name));
        if local && !proxied {
            request::Outcome::Success(LocalScraper)
        } else {
            request::Outcome::Forward(Status::NotFound)
        }
    }
}

/// The metrics, in Prometheus' text format (0.0.4); a 404 for anyone but
/// a scraper on this machine.
#[get("/metrics")]
pub fn metrics(
    _scraper: LocalScraper,
    telemetry: &State<Telemetry>,
    revocations: &State<Revocations>,
) -> (ContentType, String) {
    let health = revocations.health();
    telemetry
        .revocations_held
        .set(revocations.len().try_into().unwrap_or(i64::MAX));
    telemetry
        .revocations_queued
        .set(health.queued.try_into().unwrap_or(i64::MAX));
    telemetry.store_reachable.set(i64::from(health.reachable));
    for condition in Condition::ALL {
        let label = ConditionLabel {
            condition: condition.as_str(),
        };
        let now = i64::from(health.condition == condition);
        telemetry.store_condition.get_or_create(&label).set(now);
    }
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &telemetry.registry);
    let prometheus_text =
        ContentType::new("text", "plain").with_params([("version", "0.0.4"), ("charset", "utf-8")]);
    (prometheus_text, text)
}
