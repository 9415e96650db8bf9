//! What a cluster node's dialer is the dialer of.

/// A cluster node's dialer for one switch it holds: its calls are claimed,
/// placed and written under that switch's lease, and its agents are those
/// homed on that switch (`cluster::home`), so that a takeover moves the
/// switch's calls and their agents together to one new owner.
#[derive(Clone, Debug)]
pub struct Scope {
    pub fence: crate::store::Fence,
    pub homes: crate::cluster::home::Homes,
}

impl Scope {
    pub fn owns_agent(&self, agent_id: &str) -> bool {
        self.homes.home_of(agent_id) == Some(self.fence.switch.as_str())
    }
}
