//! The dialer's view of each switch: its link, its health after refusals,
//! its load, and which one the next call goes to.

use super::SwitchPlan;
use super::health::{Allowance, Health};
use super::pace::Pace;
use crate::switch::manager::CallManager;
use serde::Serialize;
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Link {
    /// Not connected yet since the start.
    Connecting,
    Up,
    /// Connected again; live calls are being rebuilt from the switch.
    Rebuilding,
    Down,
    /// The driver gave up (a refused login): no calls on it.
    Failed,
}

pub struct Switch {
    pub plan: SwitchPlan,
    pub manager: CallManager,
    pub link: Link,
    /// False after a start with open attempts, until they are reconciled.
    pub rebuilt: bool,
    /// Calls up or being claimed on it.
    pub load: usize,
    pub health: Health,
    pub pace: Pace,
    pub reconnects: u64,
}

/// A switch as `/readyz` and `/api/status` show it.
#[derive(Clone, Debug, Serialize)]
pub struct SwitchStatus {
    pub name: String,
    pub link: Link,
    /// Taking calls (not resting after refusals).
    pub healthy: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_fault: Option<String>,
    pub calls: usize,
    pub max_calls: usize,
    /// Times the control socket came back after a loss.
    pub reconnects: u64,
}

impl Switch {
    pub fn new(plan: SwitchPlan, manager: CallManager) -> Switch {
        Switch {
            pace: Pace::new(plan.originates_per_second),
            plan,
            manager,
            link: Link::Connecting,
            rebuilt: true,
            load: 0,
            health: Health::default(),
            reconnects: 0,
        }
    }

    /// Calls it may take now.
    pub fn free(&self, now: Instant) -> usize {
        if self.link != Link::Up || !self.rebuilt {
            return 0;
        }
        let room = self
            .plan
            .max_calls
            .saturating_sub(self.load)
            .min(self.pace.room(now));
        match self.health.allowance(now) {
            Allowance::Any => room,
            Allowance::One => room.min(1),
            Allowance::None => 0,
        }
    }

    pub fn status(&self) -> SwitchStatus {
        SwitchStatus {
            name: self.plan.name.clone(),
            link: self.link,
            healthy: self.health.healthy(),
            last_fault: self.health.last_fault().map(|f| f.to_string()),
            calls: self.load,
            max_calls: self.plan.max_calls,
            reconnects: self.reconnects,
        }
    }
}

/// The switch with the most free room; one that is down, rebuilding or
/// resting has none, so the others go on dialing.
pub fn pick(switches: &[Switch], now: Instant) -> Option<usize> {
    (0..switches.len())
        .map(|i| (i, switches[i].free(now)))
        .filter(|&(_, free)| free > 0)
        .max_by_key(|&(_, free)| free)
        .map(|(i, _)| i)
}
