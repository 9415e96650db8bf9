//! What may reach a log or a `Debug` print. Secrets (switch passwords,
//! database URLs with their credentials) live in `Secret`, whose `Debug`
//! and `Display` never show the value. Customer data (numbers, names) stays
//! out of the log unless the operator started the daemon with
//! `--log-customer-data`, which the log says at startup.

use std::sync::atomic::{AtomicBool, Ordering};

/// A value that must not be printed: `{:?}` and `{}` show `[redacted]`.
/// `expose()` is the one way to the value, at the place that sends it.
#[derive(Clone, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret(s.to_string())
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Secret {
        Secret(s)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A database URL as a log may show it: scheme, host and database, without
/// user or password (`sqlite://` paths are shown: they hold no secret).
pub fn shown_db_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "(unparsable url)".into();
    };
    if scheme.starts_with("sqlite") {
        return url.to_string();
    }
    let rest = rest.rsplit_once('@').map(|(_, host)| host).unwrap_or(rest);
    let rest = rest.split_once('?').map(|(h, _)| h).unwrap_or(rest);
    format!("{scheme}://{rest}")
}

/// A secret: written in the file, or (better) named by an environment
/// variable: `token = { env = "CRM_TOKEN" }`. Never shown by `Debug`.
#[derive(Clone, serde::Deserialize)]
#[serde(untagged)]
pub enum SecretSource {
    Literal(String),
    Env { env: String },
}

impl SecretSource {
    /// The secret's value; an unset variable is an error naming it.
    pub fn resolve(&self) -> Result<String, String> {
        match self {
            SecretSource::Literal(s) => Ok(s.clone()),
            SecretSource::Env { env } => {
                std::env::var(env).map_err(|_| format!("environment variable {env} is not set"))
            }
        }
    }
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Literal(_) => f.write_str("Secret(***)"),
            SecretSource::Env { env } => write!(f, "Secret(env {env})"),
        }
    }
}

impl SecretSource {
    /// The value, kept redacted.
    pub fn secret(&self) -> Result<Secret, String> {
        self.resolve().map(Secret)
    }
}

static CUSTOMER_DATA: AtomicBool = AtomicBool::new(false);

/// `--log-customer-data`: numbers appear in call lines (for a debugging
/// session with the operator's consent; never the default).
pub fn allow_customer_data(on: bool) {
    CUSTOMER_DATA.store(on, Ordering::Relaxed);
}

pub fn customer_data_allowed() -> bool {
    CUSTOMER_DATA.load(Ordering::Relaxed)
}

/// A customer's number as a log line may carry it.
pub fn number(phone: &str) -> &str {
    if customer_data_allowed() {
        phone
    } else {
        "[hidden]"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints() {
        let s = Secret::new("ClueCon");
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Conn {
            password: Secret,
        }
        assert!(
            !format!(
                "{:?}",
                Conn {
                    password: s.clone()
                }
            )
            .contains("ClueCon")
        );
        assert_eq!(s.expose(), "ClueCon");
    }

    #[test]
    fn a_database_url_loses_its_credentials() {
        assert_eq!(
            shown_db_url(
                "postgres://dialpop:s3cret@db.example:5432/dialpop?sslmode=require&password=x"
            ),
            "postgres://db.example:5432/dialpop"
        );
        assert_eq!(
            shown_db_url("mysql://root@127.0.0.1/test"),
            "mysql://127.0.0.1/test"
        );
        assert_eq!(
            shown_db_url("sqlite:///var/lib/dialpop/dialpop.db"),
            "sqlite:///var/lib/dialpop/dialpop.db"
        );
        assert_eq!(shown_db_url("nonsense"), "(unparsable url)");
    }
}
