//! The app in process, through Rocket's local client: the flow, the
//! pages, the entries, the codec and the refusals of bad input.

#[path = "../common/mod.rs"]
mod common;

mod bad_input;
mod codec_props;
mod contrast;
mod entries;
mod flow;
mod fuzz;
mod pages;
mod secure_cookies;
mod security;
