//! dialpop: a dialer and screen-pop daemon beside a FreeSWITCH or Asterisk PBX.

pub mod cli;
pub mod switch;
pub mod web;
