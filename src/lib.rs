//! dialpop: a dialer and screen-pop daemon beside a FreeSWITCH or Asterisk PBX.

pub mod api;
pub mod campaign;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod customer;
pub mod daemon;
pub mod dialer;
pub mod metrics;
pub mod monitor;
pub mod popup;
pub mod redact;
pub mod store;
pub mod switch;
pub mod web;
