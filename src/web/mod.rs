//! The pages embedded in the binary.

/// The agent's companion page, served at `/agent`.
pub const AGENT_PAGE: &str = include_str!("agent.html");
