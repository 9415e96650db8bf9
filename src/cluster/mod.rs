//! Several dialpop nodes as one system on one PostgreSQL (the `[cluster]`
//! section): the nodes' heartbeats and the switch leases that make each
//! switch driven by one node at a time.

pub mod config;
pub mod home;
pub mod lease;
pub mod lease_store;
pub mod leases;
pub mod node;
pub mod relay;
