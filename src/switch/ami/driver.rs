//! The AMI client behind the protocol-neutral `SwitchControl` interface.

use super::client::{
    AmiChannel, AmiClient, AmiClientConfig, AmiClientError, AmiNotice, response_ok,
};
use super::mapping::call_event;
use crate::switch::driver::{
    BoxFuture, DriverNotice, LiveCall, SwitchControl, SwitchError, Transfer,
};
use crate::switch::{AnswerAction, CallEventKind, CallId, HangupCause, OriginateRequest};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

impl From<AmiClientError> for SwitchError {
    fn from(e: AmiClientError) -> Self {
        match e {
            AmiClientError::NotConnected => SwitchError::NotConnected,
            AmiClientError::ConnectionLost(r) => SwitchError::ConnectionLost(r),
            AmiClientError::Failed(r) => SwitchError::Rejected(r),
            AmiClientError::Invalid(r) => SwitchError::Invalid(r),
            other => SwitchError::Stopped(other.to_string()),
        }
    }
}

fn refuse(what: &str, problem: &str) -> SwitchError {
    SwitchError::Invalid(format!("{what}: {problem}"))
}

/// The Originate action for a request, every value checked: Asterisk splits
/// `Variable:` values on commas, so a comma could add a variable.
pub fn originate_action(req: &OriginateRequest) -> Result<Vec<(String, String)>, SwitchError> {
    let id = req.call_id.as_str();
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err(refuse("call id", "must be letters, digits, - or ."));
    }
    let d = &req.destination;
    if d.is_empty()
        || d.chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == ',')
    {
        return Err(refuse(
            &format!("channel {d:?}"),
            "must be one word without commas",
        ));
    }
    if !d.contains('/') {
        return Err(refuse(&format!("channel {d:?}"), "must be tech/resource"));
    }
    let mut pairs: Vec<(String, String)> = vec![
        ("Action".into(), "Originate".into()),
        ("Channel".into(), d.clone()),
        ("ChannelId".into(), id.to_string()),
        ("OtherChannelId".into(), format!("{id}-2")),
        (
            "Timeout".into(),
            req.timeout.as_millis().max(1000).to_string(),
        ),
        ("Async".into(), "true".into()),
    ];
    let name = req.caller_id_name.as_deref().unwrap_or("");
    if name
        .chars()
        .any(|c| matches!(c, '"' | '<' | '>') || c.is_control())
    {
        return Err(refuse(
            "caller id name",
            "contains a quote, angle bracket or control character",
        ));
    }
    if let Some(num) = &req.caller_id_number {
        if !num.chars().all(|c| c.is_ascii_digit() || c == '+') {
            return Err(refuse(
                "caller id number",
                "must be digits with an optional +",
            ));
        }
        pairs.push(("CallerID".into(), format!("\"{name}\" <{num}>")));
    }
    let mut vars = vec![("dialpop_call_id".to_string(), id.to_string())];
    vars.extend(req.variables.iter().cloned());
    for (k, v) in &vars {
        if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(refuse(
                &format!("channel variable name {k:?}"),
                "must be letters, digits and _",
            ));
        }
        if v.chars().any(|c| c == ',' || c.is_control()) {
            return Err(refuse(
                &format!("channel variable {k}"),
                "value contains a comma or a control character",
            ));
        }
        pairs.push(("Variable".into(), format!("{k}={v}")));
    }
    match &req.on_answer {
        AnswerAction::Park => {
            pairs.push(("Application".into(), "Park".into()));
        }
        AnswerAction::Bridge { dial_string } => {
            if dial_string
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == ',')
            {
                return Err(refuse(
                    "agent dial string",
                    "must be one word without commas",
                ));
            }
            pairs.push(("Application".into(), "Dial".into()));
            pairs.push(("Data".into(), dial_string.clone()));
        }
        AnswerAction::Dialplan { extension, context } => {
            for (what, v) in [("extension", extension), ("context", context)] {
                if v.is_empty()
                    || !v
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                {
                    return Err(refuse(what, "must be letters, digits, - or _"));
                }
            }
            pairs.push(("Context".into(), context.clone()));
            pairs.push(("Exten".into(), extension.clone()));
            pairs.push(("Priority".into(), "1".into()));
        }
    }
    Ok(pairs)
}

/// A live channel's state as a call event kind (ChannelState numbers).
fn live_state(state: u32) -> CallEventKind {
    match state {
        6 => CallEventKind::Answered,
        5 => CallEventKind::Ringing,
        _ => CallEventKind::Originated,
    }
}

pub struct AmiDriver {
    client: AmiClient,
    /// Uniqueid → channel name, for the calls dialpop originated only (a
    /// PBX's other channels are none of its business): Hangup needs the
    /// name. An entry is made at the originate, named by the first event,
    /// dropped at its Hangup or, when the Hangup was missed in a gap, at the
    /// rebuild that no longer lists the channel.
    channels: Arc<Mutex<HashMap<String, Option<String>>>>,
}

impl AmiDriver {
    pub async fn connect(
        config: AmiClientConfig,
    ) -> Result<(AmiDriver, mpsc::Receiver<DriverNotice>), AmiClientError> {
        let queue = config.event_queue.max(16);
        let (client, mut notices) = AmiClient::connect(config).await?;
        let channels: Arc<Mutex<HashMap<String, Option<String>>>> = Arc::default();
        let names = channels.clone();
        let (tx, rx) = mpsc::channel(queue);
        tokio::spawn(async move {
            while let Some(n) = notices.recv().await {
                let out = match n {
                    AmiNotice::Event(p) => {
                        let received = std::time::Instant::now();
                        if let (Some(u), Some(c)) = (p.get_str("Uniqueid"), p.get_str("Channel"))
                            && let Ok(mut m) = names.lock()
                        {
                            if p.get("Event") == Some(b"Hangup") {
                                m.remove(u.as_ref());
                            } else if let Some(name @ None) = m.get_mut(u.as_ref()) {
                                *name = Some(c.into_owned());
                            }
                        }
                        match call_event(&p) {
                            Some(event) => DriverNotice::Call { event, received },
                            None => continue,
                        }
                    }
                    AmiNotice::Connected { reconnect } => DriverNotice::Connected { reconnect },
                    AmiNotice::Disconnected { reason } => DriverNotice::Disconnected { reason },
                    AmiNotice::Fatal(e) => DriverNotice::Fatal(e.to_string()),
                };
                if tx.send(out).await.is_err() {
                    return;
                }
            }
        });
        Ok((AmiDriver { client, channels }, rx))
    }

    pub fn client(&self) -> &AmiClient {
        &self.client
    }
}

impl AmiDriver {
    /// The channel name of one of dialpop's calls: from its events, or
    /// asked of the switch when none was seen (after a reconnect).
    async fn channel_of(&self, call: &CallId) -> Result<String, SwitchError> {
        let known = self
            .channels
            .lock()
            .ok()
            .and_then(|m| m.get(call.as_str()).cloned().flatten());
        match known {
            Some(c) => Ok(c),
            None => self
                .client
                .core_show_channels()
                .await?
                .into_iter()
                .find(|c: &AmiChannel| c.uniqueid == call.as_str())
                .map(|c| c.channel)
                .ok_or_else(|| SwitchError::Rejected(format!("no channel for call {call}"))),
        }
    }
}

/// The actions of a transfer, in order (checked by the caller): `Setvar`
/// for each variable, then `Redirect` to priority 1 of the extension.
pub fn transfer_actions(channel: &str, t: &Transfer) -> Vec<Vec<(String, String)>> {
    let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
    t.variables
        .iter()
        .map(|(k, v)| {
            vec![
                pair("Action", "Setvar"),
                pair("Channel", channel),
                pair("Variable", k),
                pair("Value", v),
            ]
        })
        .chain(std::iter::once(vec![
            pair("Action", "Redirect"),
            pair("Channel", channel),
            pair("Context", &t.context),
            pair("Exten", &t.extension),
            pair("Priority", "1"),
        ]))
        .collect()
}

impl SwitchControl for AmiDriver {
    fn originate<'a>(
        &'a self,
        req: &'a OriginateRequest,
    ) -> BoxFuture<'a, Result<(), SwitchError>> {
        Box::pin(async move {
            let pairs = originate_action(req)?;
            if let Ok(mut m) = self.channels.lock() {
                m.insert(req.call_id.as_str().to_string(), None);
            }
            let reply = self.client.action(pairs, false).await;
            let result = reply
                .map_err(SwitchError::from)
                .and_then(|r| response_ok(&r).map_err(Into::into));
            if result.is_err()
                && let Ok(mut m) = self.channels.lock()
            {
                m.remove(req.call_id.as_str());
            }
            result
        })
    }

    fn hangup<'a>(
        &'a self,
        call: &'a CallId,
        cause: &'a HangupCause,
    ) -> BoxFuture<'a, Result<(), SwitchError>> {
        Box::pin(async move {
            let mut pairs = vec![
                ("Action".to_string(), "Hangup".to_string()),
                ("Channel".to_string(), self.channel_of(call).await?),
            ];
            if let Some(q) = cause.q850() {
                pairs.push(("Cause".into(), q.to_string()));
            }
            let reply = self.client.action(pairs, false).await?;
            response_ok(&reply).map_err(Into::into)
        })
    }

    fn transfer<'a>(&'a self, t: &'a Transfer) -> BoxFuture<'a, Result<(), SwitchError>> {
        Box::pin(async move {
            t.validate()?;
            let channel = self.channel_of(&t.call_id).await?;
            for action in transfer_actions(&channel, t) {
                let reply = self.client.action(action, false).await?;
                response_ok(&reply).map_err(SwitchError::from)?;
            }
            Ok(())
        })
    }

    fn live_calls(&self) -> BoxFuture<'_, Result<Vec<LiveCall>, SwitchError>> {
        Box::pin(async move {
            let channels = self.client.core_show_channels().await?;
            // Calls whose Hangup fell in the gap leave the name map here.
            if let Ok(mut m) = self.channels.lock() {
                let up: std::collections::HashSet<&str> =
                    channels.iter().map(|c| c.uniqueid.as_str()).collect();
                m.retain(|id, _| up.contains(id.as_str()));
            }
            Ok(channels
                .into_iter()
                .map(|c| LiveCall {
                    state: live_state(c.state),
                    id: c.uniqueid,
                })
                .collect())
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.client.shutdown())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn req() -> OriginateRequest {
        OriginateRequest {
            call_id: CallId::from("5f0e2c1a-0000-4000-8000-000000000001"),
            destination: "Local/15551001@customers".into(),
            caller_id_number: Some("+15550100".into()),
            caller_id_name: Some("ACME Sales".into()),
            timeout: Duration::from_secs(30),
            variables: vec![("dialpop_task_id".into(), "42".into())],
            on_answer: AnswerAction::Dialplan {
                extension: "dialpop_connect".into(),
                context: "dialpop".into(),
            },
        }
    }

    #[test]
    fn originate_is_async_with_our_channel_id_and_variables() {
        let a = originate_action(&req()).expect("valid");
        let get = |k: &str| {
            a.iter()
                .filter(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(get("ChannelId"), ["5f0e2c1a-0000-4000-8000-000000000001"]);
        assert_eq!(get("Async"), ["true"]);
        assert_eq!(get("Timeout"), ["30000"]);
        assert_eq!(get("CallerID"), ["\"ACME Sales\" <+15550100>"]);
        assert_eq!(
            get("Variable"),
            [
                "dialpop_call_id=5f0e2c1a-0000-4000-8000-000000000001",
                "dialpop_task_id=42"
            ]
        );
        assert_eq!(
            (get("Context"), get("Exten"), get("Priority")),
            (vec!["dialpop"], vec!["dialpop_connect"], vec!["1"])
        );
    }

    #[test]
    fn values_that_would_change_the_action_are_refused() {
        let mut r = req();
        r.variables
            .push(("x".into(), "1,DIALPOP_AGENT_DIAL=PJSIP/666".into()));
        assert!(originate_action(&r).is_err());
        let mut r = req();
        r.destination = "Local/1555 1001@customers".into();
        assert!(originate_action(&r).is_err());
        let mut r = req();
        r.caller_id_name = Some("Evil\" <666>".into());
        assert!(originate_action(&r).is_err());
        let mut r = req();
        r.variables.push(("x".into(), "a\r\nAction: Hangup".into()));
        assert!(originate_action(&r).is_err());
    }
}
