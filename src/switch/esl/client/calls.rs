//! Between dialpop's calls and FreeSWITCH's: the originate for a request,
//! and the live channels `show channels` lists.

use super::ClientError;
use crate::switch::call::{AnswerAction, OriginateRequest};
use crate::switch::esl::command::{Originate, OriginateTarget};

/// One row of `show channels as json`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct LiveChannel {
    pub uuid: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub direction: String,
    #[serde(default)]
    pub dest: String,
    #[serde(default)]
    pub callstate: String,
}

/// Reads `show channels as json` (`{"row_count":0}` when there are none).
pub fn parse_show_channels(body: &[u8]) -> Result<Vec<LiveChannel>, ClientError> {
    #[derive(serde::Deserialize)]
    struct Rows {
        #[serde(default)]
        rows: Vec<LiveChannel>,
    }
    serde_json::from_slice::<Rows>(body)
        .map(|r| r.rows)
        .map_err(|e| {
            ClientError::Protocol(format!(
                "show channels as json: {e}: {}",
                crate::switch::esl::printable(body)
            ))
        })
}

/// The ESL originate for a request: the call id becomes `origination_uuid`
/// so that every event of the leg carries it, and is also set as
/// `dialpop_call_id` so that the other legs of the call can be recognised.
pub fn originate_command(req: &OriginateRequest) -> Result<Originate, ClientError> {
    let mut variables = vec![
        ("origination_uuid".to_string(), req.call_id.to_string()),
        ("dialpop_call_id".to_string(), req.call_id.to_string()),
        (
            "originate_timeout".to_string(),
            req.timeout.as_secs().max(1).to_string(),
        ),
        ("ignore_early_media".to_string(), "true".to_string()),
    ];
    if let Some(n) = &req.caller_id_number {
        variables.push(("origination_caller_id_number".into(), n.clone()));
    }
    if let Some(n) = &req.caller_id_name {
        variables.push(("origination_caller_id_name".into(), n.clone()));
    }
    variables.extend(req.variables.iter().cloned());
    let target = match &req.on_answer {
        AnswerAction::Park => OriginateTarget::App {
            name: "park".into(),
            arg: String::new(),
        },
        AnswerAction::Bridge { dial_string } => {
            variables.push(("hangup_after_bridge".into(), "true".into()));
            OriginateTarget::App {
                name: "bridge".into(),
                arg: dial_string.clone(),
            }
        }
        AnswerAction::Dialplan { extension, context } => OriginateTarget::Extension {
            exten: extension.clone(),
            dialplan: Some("XML".into()),
            context: Some(context.clone()),
        },
    };
    let o = Originate {
        variables,
        dial_string: req.destination.clone(),
        target,
    };
    o.validate()
        .map_err(|e| ClientError::Invalid(e.to_string()))?;
    Ok(o)
}
