//! The `[cluster]` section of the config file: this node's name among the
//! nodes on one PostgreSQL, the broker pops cross nodes through, and the
//! lease times.

use super::lease::Timing;
use serde::Deserialize;
use std::time::Duration;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Unique among the nodes: letters, digits, `.`, `_` and `-`, up to 64.
    pub node_id: String,
    /// `redis://host:port` (or `rediss://`): pages whose agent's switch
    /// another node drives are relayed to it through Redis pub/sub. None:
    /// a page must be on the node that drives its agent's switch.
    #[serde(default)]
    pub broker: Option<crate::redact::SecretSource>,
    /// The broker's channels start with this: clusters sharing one Redis
    /// keep apart by it.
    #[serde(default = "default_broker_prefix")]
    pub broker_prefix: String,
    /// How long a switch's lease lasts without a renewal: the longest a
    /// dead node's switch waits for another node.
    #[serde(default = "default_lease_seconds")]
    pub lease_seconds: f64,
    /// How often the leases are renewed: at most a third of the lease.
    #[serde(default = "default_renew_seconds")]
    pub renew_seconds: f64,
}

/// 1 to 64 letters, digits, `.`, `_` or `-`: safe in a log line, a key or
/// a channel name.
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

fn default_broker_prefix() -> String {
    "dialpop".into()
}

fn default_lease_seconds() -> f64 {
    10.0
}

fn default_renew_seconds() -> f64 {
    3.0
}

impl ClusterConfig {
    pub fn timing(&self) -> Timing {
        Timing::new(
            Duration::from_secs_f64(self.lease_seconds),
            Duration::from_secs_f64(self.renew_seconds),
        )
    }

    /// The key and the problem of the first thing wrong.
    pub fn check(&self) -> Result<(), (String, String)> {
        let bad = |k: &str, p: &str| Err((format!("cluster.{k}"), p.to_string()));
        let id_ok = is_name(&self.node_id);
        if !id_ok {
            return bad(
                "node_id",
                "must be 1 to 64 letters, digits, '.', '_' or '-'",
            );
        }
        if !(1.0..=3600.0).contains(&self.lease_seconds) {
            return bad("lease_seconds", "must be a number from 1 to 3600");
        }
        if !(self.renew_seconds >= 0.1 && self.renew_seconds * 3.0 <= self.lease_seconds) {
            return bad(
                "renew_seconds",
                "must be at least 0.1 and at most a third of lease_seconds",
            );
        }
        if let Some(Ok(url)) = self.broker.as_ref().map(|b| b.secret()) {
            let u = url.expose();
            if !["redis://", "rediss://"].iter().any(|p| u.starts_with(p)) {
                return bad(
                    "broker",
                    "must be a redis:// or rediss:// URL (Redis pub/sub is the broker dialpop speaks)",
                );
            }
        }
        let prefix_ok = is_name(&self.broker_prefix);
        if !prefix_ok {
            return bad(
                "broker_prefix",
                "must be 1 to 64 letters, digits, '.', '_' or '-'",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> ClusterConfig {
        toml::from_str(toml_text).expect("parses")
    }

    #[test]
    fn defaults_and_checks() {
        let c = parse("node_id = \"n1\"");
        assert_eq!((c.lease_seconds, c.renew_seconds), (10.0, 3.0));
        assert_eq!(c.check(), Ok(()));
        let t = c.timing();
        assert_eq!(t.margin, Duration::from_millis(2_500));
        let key = |s: &str| parse(s).check().err().map(|(k, _)| k);
        assert_eq!(key("node_id = \"a b\""), Some("cluster.node_id".into()));
        assert_eq!(key("node_id = \"\""), Some("cluster.node_id".into()));
        assert_eq!(
            key("node_id = \"n\"\nlease_seconds = 6\nrenew_seconds = 3"),
            Some("cluster.renew_seconds".into())
        );
        assert_eq!(
            key("node_id = \"n\"\nlease_seconds = 0.5\nrenew_seconds = 0.1"),
            Some("cluster.lease_seconds".into())
        );
        assert_eq!(
            key("node_id = \"n\"\nbroker = \"http://x\""),
            Some("cluster.broker".into())
        );
        assert_eq!(
            key("node_id = \"n\"\nbroker = \"nats://127.0.0.1:4222\""),
            Some("cluster.broker".into())
        );
        assert_eq!(
            key("node_id = \"n\"\nbroker_prefix = \"a:b\""),
            Some("cluster.broker_prefix".into())
        );
        assert_eq!(
            key("node_id = \"n\"\nbroker = \"redis://127.0.0.1:6379\""),
            None
        );
    }
}
