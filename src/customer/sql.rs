//! (placeholder until the SQL driver lands)
use super::config::SourceConfig;
use super::source::{Query, Raw, SourceDriver, SourceError};

pub struct SqlSource;

impl SqlSource {
    pub fn new(_cfg: &SourceConfig) -> Result<SqlSource, String> {
        Err("sql sources are not built yet".into())
    }
}

#[async_trait::async_trait]
impl SourceDriver for SqlSource {
    async fn fetch(&self, _q: &Query<'_>) -> Result<Raw, SourceError> {
        Err(SourceError::new(super::FailureKind::Connect, "not built"))
    }
    fn describe(&self) -> String {
        String::new()
    }
}
