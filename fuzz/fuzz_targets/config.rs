//! The daemon's config file: arbitrary text through `Config::parse`, which
//! `Config::load` (what `dialpop serve` calls) runs on the file's text, with
//! its validation.
//!
//! Invariants:
//! - nothing panics;
//! - an error names the file (and is one line, as the daemon logs it);
//! - a config that passed builds everything `daemon::setup_from_config`
//!   builds from it without I/O (durations, agents, pacing) without a panic
//!   or an error, and each campaign's seeded settings pass the settings'
//!   own validation and survive the store's JSON round trip unchanged.

#![no_main]

use dialpop::campaign::CampaignSettings;
use dialpop::config::Config;
use libfuzzer_sys::fuzz_target;
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    // `Config::load` reads the file with read_to_string: not UTF-8 is a read
    // error before any parsing.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let cfg = match Config::parse(text, "fuzz.toml") {
        Ok(cfg) => cfg,
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with("config file fuzz.toml"), "{msg}");
            assert!(!msg.contains('\n'), "a multi-line error: {msg:?}");
            return;
        }
    };
    Duration::try_from_secs_f64(cfg.dialer.wrap_up_seconds).expect("validated wrap-up");
    let _ = Duration::from_secs(cfg.dialer.ring_timeout_seconds);
    let _ = Duration::from_secs(cfg.dialer.drain_seconds);
    let mut switches = 0;
    for sw in cfg.switch.iter() {
        switches += 1;
        assert!(sw.max_calls >= 1);
        // dialer::pace's period.
        let _ = Duration::from_secs_f64(1.0 / sw.originates_per_second.max(f64::MIN_POSITIVE));
    }
    assert!(switches >= 1, "a config without a switch passed");
    for c in &cfg.campaigns {
        let s = c.seed_settings();
        if let Err(e) = s.validate() {
            panic!("campaign {:?}: seeded settings fail their validation: {e:?}", c.id);
        }
        // The store keeps them as JSON and reads them back.
        let json = serde_json::to_string(&s).expect("settings serialize");
        let back: CampaignSettings = serde_json::from_str(&json)
            .unwrap_or_else(|e| panic!("stored settings do not read back: {e}: {json}"));
        assert_eq!(back, s, "settings changed through the store's JSON: {json}");
        if let Some(w) = s.wrap_up_seconds {
            Duration::try_from_secs_f64(w).expect("validated campaign wrap-up");
        }
    }
    for a in &cfg.agents {
        let agent = a.agent();
        assert!(!agent.campaigns.is_empty());
    }
});
