//! (placeholder until the REST driver lands)
use super::config::SourceConfig;
use super::source::{Query, Raw, SourceDriver, SourceError};

pub struct RestSource;

impl RestSource {
    pub fn new(_cfg: &SourceConfig) -> Result<RestSource, String> {
        Err("rest sources are not built yet".into())
    }
}

#[async_trait::async_trait]
impl SourceDriver for RestSource {
    async fn fetch(&self, _q: &Query<'_>) -> Result<Raw, SourceError> {
        Err(SourceError::new(super::FailureKind::Connect, "not built"))
    }
    fn describe(&self) -> String {
        String::new()
    }
}
