//! A wrap-up under way: the call it follows and what its task becomes if
//! the agent gives no disposition. The task is settled when the wrap-up
//! ends (by the disposition, or by the call's own outcome), not at hangup.

use crate::campaign::disposition::DispositionCode;
use crate::store::{Task, TaskNext};
use crate::switch::CallId;
use std::time::Duration;

/// How long a wrap-up that waits for its disposition may last.
pub const REQUIRED_WRAP_UP: Duration = Duration::from_secs(12 * 3600);

pub struct Wrap {
    pub call_id: CallId,
    pub task: Task,
    /// The settlement by the call's outcome, when no disposition comes.
    pub by_outcome: TaskNext,
    pub cause: Option<String>,
    pub codes: Vec<DispositionCode>,
    /// The wrap-up does not end without a disposition.
    pub required: bool,
    pub grace_ms: i64,
}
