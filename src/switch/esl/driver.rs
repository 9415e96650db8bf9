//! The ESL client behind the protocol-neutral `SwitchControl` interface.

use super::client::{ClientError, EslClient, EslClientConfig, SwitchNotice};
use super::mapping::call_event;
use crate::switch::driver::{
    BoxFuture, DriverNotice, LiveCall, SwitchControl, SwitchError, Transfer,
};
use crate::switch::{CallEventKind, CallId, HangupCause, OriginateRequest};
use tokio::sync::mpsc;

impl From<ClientError> for SwitchError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::NotConnected => SwitchError::NotConnected,
            ClientError::ConnectionLost(r) => SwitchError::ConnectionLost(r),
            ClientError::Failed(r) => SwitchError::Rejected(r),
            ClientError::Invalid(r) => SwitchError::Invalid(r),
            other => SwitchError::Stopped(other.to_string()),
        }
    }
}

pub struct EslDriver {
    client: EslClient,
}

impl EslDriver {
    /// Connects (a wrong password is an error here) and starts translating
    /// FreeSWITCH's events into `DriverNotice`s.
    pub async fn connect(
        config: EslClientConfig,
    ) -> Result<(EslDriver, mpsc::Receiver<DriverNotice>), ClientError> {
        let queue = config.event_queue.max(16);
        let (client, mut notices) = EslClient::connect(config).await?;
        let (tx, rx) = mpsc::channel(queue);
        tokio::spawn(async move {
            while let Some(n) = notices.recv().await {
                let out = match n {
                    SwitchNotice::Event(ev) => match call_event(&ev) {
                        Some(event) => DriverNotice::Call {
                            event,
                            received: std::time::Instant::now(),
                        },
                        None => continue,
                    },
                    SwitchNotice::Connected { reconnect } => DriverNotice::Connected { reconnect },
                    SwitchNotice::Disconnected { reason } => DriverNotice::Disconnected { reason },
                    SwitchNotice::Fatal(e) => DriverNotice::Fatal(e.to_string()),
                };
                if tx.send(out).await.is_err() {
                    return;
                }
            }
        });
        Ok((EslDriver { client }, rx))
    }

    pub fn client(&self) -> &EslClient {
        &self.client
    }
}

impl SwitchControl for EslDriver {
    fn originate<'a>(
        &'a self,
        req: &'a OriginateRequest,
    ) -> BoxFuture<'a, Result<(), SwitchError>> {
        Box::pin(async move {
            // The job's result also arrives as a BACKGROUND_JOB event, which
            // the mapping turns into OriginateFailed for this call id.
            self.client
                .originate(req)
                .await
                .map(drop)
                .map_err(Into::into)
        })
    }

    fn hangup<'a>(
        &'a self,
        call: &'a CallId,
        cause: &'a HangupCause,
    ) -> BoxFuture<'a, Result<(), SwitchError>> {
        Box::pin(async move {
            self.client
                .hangup(call.as_str(), cause.name())
                .await
                .map_err(Into::into)
        })
    }

    fn transfer<'a>(&'a self, t: &'a Transfer) -> BoxFuture<'a, Result<(), SwitchError>> {
        Box::pin(async move { self.client.transfer(t).await.map_err(Into::into) })
    }

    fn live_calls(&self) -> BoxFuture<'_, Result<Vec<LiveCall>, SwitchError>> {
        Box::pin(async move {
            let rows = self.client.live_channels().await?;
            Ok(rows
                .into_iter()
                .map(|r| LiveCall {
                    // FreeSWITCH's channel call states (switch_channel.c).
                    state: match r.callstate.as_str() {
                        "ACTIVE" | "HELD" => CallEventKind::Answered,
                        "EARLY" => CallEventKind::EarlyMedia,
                        "RINGING" | "RING_WAIT" => CallEventKind::Ringing,
                        _ => CallEventKind::Originated,
                    },
                    id: r.uuid,
                })
                .collect())
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.client.shutdown())
    }
}
