//! Helpers shared by integration tests (`mod support;` in a test file).
//! Each test binary uses only some of them, hence the allowance below.
#![allow(dead_code)]

pub mod browser;
pub mod demo_run;
pub mod http;
pub mod netns;
pub mod page;
pub mod relay;
pub mod slow_store;
pub mod stores;
pub mod stub_daemon;
