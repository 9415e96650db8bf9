//! Campaigns as the store keeps them: their lifecycle and their settings
//! (which tasks they take, when customers may be called, how outcomes are
//! retried). Pure types and checks; the store persists them and the dialer
//! reads them.

pub mod dialing;
pub mod disposition;
pub mod import;
pub mod intake;
pub mod phone;
pub mod pop_rules;
pub mod settings;
pub mod stats;

pub use settings::{CampaignSettings, RetryPolicy, RetryRule, Selection};

use serde::{Deserialize, Serialize};

/// Where a campaign is in its life. Only a running campaign dials; calls up
/// when it is paused or stopped go on to their end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignState {
    /// Created, not started yet.
    Created,
    Running,
    Paused,
    /// Ended by a supervisor; may be started again.
    Stopped,
}

/// A supervisor's request to move a campaign.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    Start,
    Pause,
    Resume,
    Stop,
}

impl CampaignState {
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignState::Created => "created",
            CampaignState::Running => "running",
            CampaignState::Paused => "paused",
            CampaignState::Stopped => "stopped",
        }
    }

    pub fn parse(s: &str) -> Option<CampaignState> {
        Some(match s {
            "created" => CampaignState::Created,
            "running" => CampaignState::Running,
            "paused" => CampaignState::Paused,
            "stopped" => CampaignState::Stopped,
            _ => return None,
        })
    }

    /// The state a transition leads to from this one, or why it cannot.
    pub fn apply(self, t: Transition) -> Result<CampaignState, String> {
        use CampaignState as S;
        use Transition as T;
        match (self, t) {
            (S::Created | S::Stopped, T::Start) => Ok(S::Running),
            (S::Running, T::Pause) => Ok(S::Paused),
            (S::Paused, T::Resume) => Ok(S::Running),
            (S::Running | S::Paused, T::Stop) => Ok(S::Stopped),
            (s, t) => Err(format!(
                "a {} campaign cannot be {}",
                s.as_str(),
                match t {
                    T::Start => "started",
                    T::Pause => "paused",
                    T::Resume => "resumed",
                    T::Stop => "stopped",
                }
            )),
        }
    }
}

impl Transition {
    pub fn parse(s: &str) -> Option<Transition> {
        Some(match s {
            "start" => Transition::Start,
            "pause" => Transition::Pause,
            "resume" => Transition::Resume,
            "stop" => Transition::Stop,
            _ => return None,
        })
    }
}

/// A campaign id or a tag: what may be typed into a URL, a CSV file and a
/// channel variable without quoting.
pub fn valid_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle() {
        use CampaignState as S;
        use Transition as T;
        assert_eq!(S::Created.apply(T::Start), Ok(S::Running));
        assert_eq!(S::Running.apply(T::Pause), Ok(S::Paused));
        assert_eq!(S::Paused.apply(T::Resume), Ok(S::Running));
        assert_eq!(S::Paused.apply(T::Stop), Ok(S::Stopped));
        assert_eq!(S::Stopped.apply(T::Start), Ok(S::Running));
        assert!(S::Created.apply(T::Pause).is_err());
        assert!(S::Running.apply(T::Start).is_err());
        assert!(S::Stopped.apply(T::Resume).is_err());
        for s in [S::Created, S::Running, S::Paused, S::Stopped] {
            assert_eq!(CampaignState::parse(s.as_str()), Some(s));
        }
    }
}
