//! Switch drivers and the call model they share.

pub mod ami;
pub mod backoff;
pub mod call;
pub mod calls;
pub mod cause;
pub mod driver;
pub mod esl;
pub mod fault;
pub mod headers;
pub mod manager;
pub mod sim;

pub use call::{AmdVerdict, AnswerAction, CallEvent, CallEventKind, CallId, OriginateRequest};
pub use cause::HangupCause;
