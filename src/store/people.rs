//! The people behind the calls as the store keeps them: customers, agents
//! (and the campaigns they serve), and what an agent said a call came to.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub phone: String,
    pub email: Option<String>,
    pub tier: Option<String>,
    pub vip: bool,
    /// Further fields shown on the pop, in order.
    pub fields: serde_json::Map<String, serde_json::Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Agent {
    pub id: String,
    pub name: String,
    pub extension: String,
    /// The campaigns the agent takes calls of, highest priority first
    /// (never empty).
    pub campaigns: Vec<Serves>,
    /// Picks the pop template and its blocks (`novice`, `senior`, …).
    pub level: Option<String>,
    /// The language of the agent's pops and page (`en`, `zh-CN`; none:
    /// the browser's).
    pub locale: Option<String>,
}

impl Agent {
    /// An agent of one campaign.
    pub fn of(id: &str, name: &str, extension: &str, campaign_id: &str) -> Agent {
        Agent {
            id: id.into(),
            name: name.into(),
            extension: extension.into(),
            level: None,
            locale: None,
            campaigns: vec![Serves {
                campaign_id: campaign_id.into(),
                priority: 0,
            }],
        }
    }

    /// The first campaign: the one of the highest priority.
    pub fn home(&self) -> &str {
        self.campaigns
            .first()
            .map(|s| s.campaign_id.as_str())
            .unwrap_or("")
    }

    pub fn serves(&self, campaign_id: &str) -> bool {
        self.campaigns.iter().any(|s| s.campaign_id == campaign_id)
    }

    /// Highest priority first; equal priorities keep their order.
    pub fn sort_campaigns(&mut self) {
        self.campaigns
            .sort_by_key(|s| std::cmp::Reverse(s.priority));
    }
}

/// One campaign an agent serves, with the agent's priority for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Serves {
    pub campaign_id: String,
    #[serde(default)]
    pub priority: i64,
}

/// What the agent said a call came to, at the end of its wrap-up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Disposition {
    pub call_id: String,
    pub task_id: i64,
    pub campaign_id: String,
    pub agent_id: String,
    pub code: String,
    pub notes: Option<String>,
    pub callback_ms: Option<i64>,
    pub at_ms: i64,
}
