//! The binary with real peers: Chromium, nginx, Redis, TLS clients,
//! Prometheus' promtool, and the store on disk.

#[path = "../common/mod.rs"]
mod common;

mod browser;
mod i18n;
mod logging;
mod nginx;
mod operations;
mod redis;
mod revocation;
mod rolling_rotation;
mod templates;
mod tls;
mod topologies;
