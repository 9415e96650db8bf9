//! Which switch an agent belongs to on a cluster. A switch's node drives
//! the switch's calls and the agents homed on it together, so that when the
//! switch moves to another node its calls and their agents move as one,
//! and an agent's state has one owner at a time (an agent's softphone is
//! registered on one PBX in any case).
//!
//! Rendezvous hashing over the configured switch names: every node with the
//! same configuration agrees without asking anyone, and adding a switch
//! moves only the agents that now rank it first. FNV-1a, not std's hasher,
//! because the result must not change between builds or Rust versions: a
//! rolling upgrade runs two builds side by side.

/// The configured switches, to home agents on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Homes {
    switches: Vec<String>,
}

impl Homes {
    pub fn new(switches: impl IntoIterator<Item = String>) -> Homes {
        let mut switches: Vec<String> = switches.into_iter().collect();
        switches.sort();
        switches.dedup();
        Homes { switches }
    }

    /// The switches, sorted.
    pub fn switches(&self) -> &[String] {
        &self.switches
    }

    /// The agent's switch (None only when no switch is configured).
    pub fn home_of(&self, agent_id: &str) -> Option<&str> {
        self.switches
            .iter()
            .max_by_key(|s| (rank(agent_id, s), std::cmp::Reverse(s.as_str())))
            .map(String::as_str)
    }
}

fn rank(agent_id: &str, switch: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    // The separator keeps ("ab", "c") and ("a", "bc") apart.
    for b in agent_id.bytes().chain([0xff]).chain(switch.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(PRIME);
    }
    // FNV's low bits mix poorly for short keys; a final avalanche spreads
    // them (the finaliser of MurmurHash3).
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn homes(names: &[&str]) -> Homes {
        Homes::new(names.iter().map(|s| s.to_string()))
    }

    #[test]
    fn every_node_agrees_whatever_the_order_of_its_switches() {
        let a = homes(&["pbx-a", "pbx-b", "pbx-c"]);
        let b = homes(&["pbx-c", "pbx-a", "pbx-b", "pbx-a"]);
        for i in 0..500 {
            let agent = format!("agent-{i}");
            assert_eq!(a.home_of(&agent), b.home_of(&agent));
        }
    }

    #[test]
    fn agents_spread_over_the_switches() {
        let h = homes(&["pbx-a", "pbx-b", "pbx-c"]);
        let mut counts = std::collections::BTreeMap::new();
        for i in 0..3000 {
            *counts
                .entry(h.home_of(&format!("a{i}")).unwrap_or(""))
                .or_insert(0) += 1;
        }
        assert_eq!(counts.len(), 3, "{counts:?}");
        for (s, n) in &counts {
            assert!((800..=1200).contains(n), "{s}: {n} of 3000 ({counts:?})");
        }
    }

    #[test]
    fn a_new_switch_moves_only_the_agents_that_go_to_it() {
        let before = homes(&["pbx-a", "pbx-b"]);
        let after = homes(&["pbx-a", "pbx-b", "pbx-c"]);
        let mut moved = 0;
        for i in 0..2000 {
            let agent = format!("a{i}");
            let (was, is) = (before.home_of(&agent), after.home_of(&agent));
            if was != is {
                assert_eq!(is, Some("pbx-c"), "{agent} moved from {was:?} to {is:?}");
                moved += 1;
            }
        }
        assert!((500..=830).contains(&moved), "{moved} of 2000 moved");
    }

    #[test]
    fn no_switch_no_home() {
        assert_eq!(homes(&[]).home_of("a"), None);
        assert_eq!(homes(&["only"]).home_of("a"), Some("only"));
    }
}
