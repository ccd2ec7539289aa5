//! Settings and keys: what starts and what is refused, in process and
//! as the binary. Kept apart from the other tests: `figment::Jail`
//! changes this process's environment and working folder while it runs.

#[path = "../common/mod.rs"]
mod common;

mod config;
mod hardening;
mod rotation;
