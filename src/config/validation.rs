//! The checks a file must pass beyond its TOML shape: each error names the
//! key and what is wrong with it.

use super::{
    Config, ConfigError, MAX_DRAIN_SECONDS, MAX_RETRY_DELAY_SECONDS, MAX_RING_TIMEOUT_SECONDS,
    MAX_WRAP_UP_SECONDS, OneOrMany,
};

impl Config {
    pub(super) fn validate(&self, path: &str) -> Result<(), ConfigError> {
        let bad = |key: &str, problem: &str| ConfigError::Invalid {
            path: path.to_string(),
            key: key.to_string(),
            problem: problem.to_string(),
        };
        let is_sha256 = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
        if !is_sha256(&self.api.token_sha256) {
            return Err(bad(
                "api.token_sha256",
                "must be 64 hex digits (sha256sum of the token)",
            ));
        }
        self.monitor.check().map_err(|(k, p)| bad(&k, &p))?;
        if let Some(c) = &self.cluster {
            c.check().map_err(|(k, p)| bad(&k, &p))?;
            // The store is what the nodes share: leases, tasks, counters.
            let on_postgres = self.store.url().is_ok_and(|u| {
                let u = u.expose();
                u.starts_with("postgres://") || u.starts_with("postgresql://")
            });
            if !on_postgres {
                return Err(bad(
                    "store.url",
                    "a [cluster] needs PostgreSQL, the store all its nodes share",
                ));
            }
        }
        if self.http.unauthenticated_sockets_per_address == 0 {
            return Err(bad(
                "http.unauthenticated_sockets_per_address",
                "must be at least 1",
            ));
        }
        if self.http.sign_in_failures_per_minute == 0 {
            return Err(bad(
                "http.sign_in_failures_per_minute",
                "must be at least 1",
            ));
        }
        if !(1..=86_400).contains(&self.http.lockout_seconds) {
            return Err(bad("http.lockout_seconds", "must be from 1 to 86400"));
        }
        let mut names = std::collections::HashSet::new();
        for (i, sw) in self.switch.iter().enumerate() {
            let key = |k: &str| match &self.switch {
                OneOrMany::One(_) => format!("switch.{k}"),
                OneOrMany::Many(_) => format!("switch[{i}].{k}"),
            };
            if !sw.customer_dial_string.contains("{phone}") {
                return Err(bad(&key("customer_dial_string"), "must contain {phone}"));
            }
            if !sw.agent_dial_string.contains("{extension}") {
                return Err(bad(&key("agent_dial_string"), "must contain {extension}"));
            }
            if sw.max_calls == 0 {
                return Err(bad(&key("max_calls"), "must be at least 1"));
            }
            if !(0.01..=100_000.0).contains(&sw.originates_per_second) {
                return Err(bad(
                    &key("originates_per_second"),
                    "must be a number from 0.01 to 100000",
                ));
            }
            if let Some(a) = &sw.ami_auth
                && a != "plain"
                && a != "md5"
            {
                return Err(bad(&key("ami_auth"), "must be \"plain\" or \"md5\""));
            }
            if !names.insert(sw.name.clone()) {
                return Err(bad(
                    &key("name"),
                    &format!("{:?} is used by another switch", sw.name),
                ));
            }
        }
        if self.switch.iter().next().is_none() {
            return Err(bad("switch", "at least one switch is needed"));
        }
        // Bounded, so that no duration built from them can overflow.
        if !(0.0..=MAX_WRAP_UP_SECONDS).contains(&self.dialer.wrap_up_seconds) {
            return Err(bad(
                "dialer.wrap_up_seconds",
                &format!("must be a number of seconds from 0 to {MAX_WRAP_UP_SECONDS}"),
            ));
        }
        if self.dialer.drain_seconds > MAX_DRAIN_SECONDS {
            return Err(bad(
                "dialer.drain_seconds",
                &format!("must be a whole number of seconds from 0 to {MAX_DRAIN_SECONDS}"),
            ));
        }
        if let Some(r) = self.dialer.max_originates_per_second
            && !(r.is_finite() && r > 0.0 && r <= 100_000.0)
        {
            return Err(bad(
                "dialer.max_originates_per_second",
                "must be a number above 0, at most 100000",
            ));
        }
        if !(1..=MAX_RING_TIMEOUT_SECONDS).contains(&self.dialer.ring_timeout_seconds) {
            return Err(bad(
                "dialer.ring_timeout_seconds",
                &format!("must be a whole number of seconds from 1 to {MAX_RING_TIMEOUT_SECONDS}"),
            ));
        }
        for (i, c) in self.campaigns.iter().enumerate() {
            if c.max_attempts == Some(0) {
                return Err(bad(
                    &format!("campaign[{i}].max_attempts"),
                    "must be at least 1",
                ));
            }
            if c.retry_delay_seconds
                .is_some_and(|d| !(0.0..=MAX_RETRY_DELAY_SECONDS).contains(&d))
            {
                return Err(bad(
                    &format!("campaign[{i}].retry_delay_seconds"),
                    &format!("must be a number of seconds from 0 to {MAX_RETRY_DELAY_SECONDS}"),
                ));
            }
            if (c.max_attempts.is_some() || c.retry_delay_seconds.is_some())
                && c.settings.retry != crate::campaign::RetryPolicy::default()
            {
                return Err(bad(
                    &format!("campaign[{i}].max_attempts"),
                    "give the retries either with max_attempts and retry_delay_seconds or in [campaign.settings.retry], not both",
                ));
            }
            if !crate::campaign::valid_name(&c.id, 64) {
                return Err(bad(
                    &format!("campaign[{i}].id"),
                    "must be 1 to 64 letters, digits, - _ or .",
                ));
            }
            if let Err(e) = c.seed_settings().validate() {
                return Err(bad(
                    &format!("campaign[{i}].settings.{}", e.field),
                    &e.message,
                ));
            }
        }
        for (i, a) in self.agents.iter().enumerate() {
            if let Some(l) = &a.locale
                && !crate::popup::format::Locale::ALL
                    .iter()
                    .any(|x| x.tag() == l)
            {
                return Err(bad(
                    &format!("agent[{i}].locale"),
                    "must be \"en\" or \"zh-CN\"",
                ));
            }
            if !is_sha256(&a.token_sha256) {
                return Err(bad(
                    &format!("agent[{i}].token_sha256"),
                    "must be 64 hex digits",
                ));
            }
            if !self.campaigns.iter().any(|c| c.id == a.campaign) {
                return Err(bad(
                    &format!("agent[{i}].campaign"),
                    &format!("no [[campaign]] has id {:?}", a.campaign),
                ));
            }
            if a.extension.is_empty()
                || !a
                    .extension
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(bad(
                    &format!("agent[{i}].extension"),
                    "must be letters, digits, _ or -",
                ));
            }
        }
        Ok(())
    }
}
