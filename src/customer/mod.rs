//! The data interface: finds the customer behind a call, wherever the record
//! lives (dialpop's own store, any SQL database, a CRM's REST API), maps its
//! fields into dialpop's, caches it, merges several sources into one view,
//! and fetches it ahead of the answer.

pub mod aggregate;
pub mod breaker;
pub mod cache;
pub mod config;
pub mod internal;
pub mod keys;
pub mod mapping;
pub mod rest;
pub mod sealed;
pub mod service;
pub mod source;
pub mod sql;
pub mod standin;

pub use keys::{KeyKind, Lookup};
pub use service::{CustomerService, CustomerView, HistoryBlock, SourceFailure};
pub use source::{FailureKind, PageRequest, Query, Raw, SourceDriver, SourceError};
