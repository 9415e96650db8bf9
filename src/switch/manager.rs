//! The call manager: the one owner of call state. It places calls through a
//! driver, applies the driver's `CallEvent`s to its `CallTable`, and after a
//! reconnect rebuilds the table from the switch's live channels before it
//! lets another call be dialed.

use super::calls::{Applied, CallEnd, CallState, CallTable};
use super::driver::{DriverNotice, LiveCall, SwitchControl, SwitchError};
use super::{CallId, HangupCause, OriginateRequest};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

/// What the manager tells its listener (the dialer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallUpdate {
    Changed {
        call_id: CallId,
        from: CallState,
        to: CallState,
        switch_time_us: Option<i64>,
        /// When the driver read the event (now, for changes the manager
        /// made itself).
        received: Instant,
    },
    SwitchUp {
        reconnect: bool,
    },
    SwitchDown {
        reason: String,
    },
    /// State was rebuilt after a reconnect; `vanished` ended during the gap.
    Reconciled {
        live: usize,
        vanished: usize,
    },
    Fatal(String),
}

enum Command {
    Originate(OriginateRequest, oneshot::Sender<Result<(), SwitchError>>),
    Hangup(
        CallId,
        HangupCause,
        oneshot::Sender<Result<(), SwitchError>>,
    ),
    Snapshot(oneshot::Sender<Vec<(CallId, CallState)>>),
    Adopt(Vec<CallId>),
}

/// Results of work the manager started in the background.
enum Internal {
    OriginateRejected(CallId, SwitchError),
    LiveCalls(Result<Vec<LiveCall>, SwitchError>),
}

#[derive(Clone)]
pub struct CallManager {
    commands: mpsc::Sender<Command>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Link {
    Up,
    Down,
    /// Connected again, live channels being fetched; dialing waits.
    Rebuilding,
}

impl CallManager {
    pub fn start<D: SwitchControl + ?Sized>(
        driver: Arc<D>,
        notices: mpsc::Receiver<DriverNotice>,
    ) -> (CallManager, mpsc::Receiver<CallUpdate>) {
        let (cmd_tx, cmd_rx) = mpsc::channel(1024);
        let (upd_tx, upd_rx) = mpsc::channel(16 * 1024);
        tokio::spawn(run(driver, notices, cmd_rx, upd_tx));
        (CallManager { commands: cmd_tx }, upd_rx)
    }

    /// Records the call, then sends it to the switch. Returns when the
    /// switch accepted it; while state is being rebuilt after a reconnect
    /// the call waits, and while the switch is down it fails at once.
    pub async fn originate(&self, req: OriginateRequest) -> Result<(), SwitchError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Originate(req, tx))
            .await
            .map_err(|_| SwitchError::Stopped("call manager".into()))?;
        rx.await
            .unwrap_or(Err(SwitchError::Stopped("call manager".into())))
    }

    pub async fn hangup(&self, call: CallId, cause: HangupCause) -> Result<(), SwitchError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Hangup(call, cause, tx))
            .await
            .map_err(|_| SwitchError::Stopped("call manager".into()))?;
        rx.await
            .unwrap_or(Err(SwitchError::Stopped("call manager".into())))
    }

    /// Takes over calls placed before a restart (the store says they were
    /// open) and rebuilds from the switch: those it no longer has come back
    /// as vanished, then `Reconciled`. Dialing waits until then.
    pub async fn adopt(&self, calls: Vec<CallId>) {
        let _ = self.commands.send(Command::Adopt(calls)).await;
    }

    /// Every call the manager knows and its state.
    pub async fn snapshot(&self) -> Vec<(CallId, CallState)> {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Snapshot(tx)).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }
}

async fn run<D: SwitchControl + ?Sized>(
    driver: Arc<D>,
    mut notices: mpsc::Receiver<DriverNotice>,
    mut commands: mpsc::Receiver<Command>,
    updates: mpsc::Sender<CallUpdate>,
) {
    let mut table = CallTable::default();
    let mut link = Link::Up;
    let mut held: VecDeque<(OriginateRequest, oneshot::Sender<Result<(), SwitchError>>)> =
        VecDeque::new();
    let (int_tx, mut internal) = mpsc::channel::<Internal>(1024);

    let send_originate =
        |table: &mut CallTable,
         req: OriginateRequest,
         reply: oneshot::Sender<Result<(), SwitchError>>| {
            table.dialing(req.call_id.clone());
            let driver = driver.clone();
            let int_tx = int_tx.clone();
            tokio::spawn(async move {
                let result = driver.originate(&req).await;
                match &result {
                    // The bytes may have reached the switch before the socket
                    // died: only the rebuild after reconnect can tell, so the
                    // call stays as it is until then (never dialed twice).
                    Ok(()) | Err(SwitchError::ConnectionLost(_)) => {}
                    Err(e) => {
                        let _ = int_tx
                            .send(Internal::OriginateRejected(req.call_id.clone(), e.clone()))
                            .await;
                    }
                }
                let _ = reply.send(result);
            });
        };

    let start_rebuild = || {
        let driver = driver.clone();
        let int_tx = int_tx.clone();
        tokio::spawn(async move {
            let _ = int_tx
                .send(Internal::LiveCalls(driver.live_calls().await))
                .await;
        });
    };

    loop {
        tokio::select! {
            notice = notices.recv() => {
                let Some(notice) = notice else { return };
                match notice {
                    DriverNotice::Call { event: ev, received } => {
                        if let Applied::Changed { from, to } = table.apply(&ev) {
                            let _ = updates.send(CallUpdate::Changed { call_id: ev.call_id, from, to, switch_time_us: ev.switch_time_us, received }).await;
                        }
                    }
                    DriverNotice::Connected { reconnect } => {
                        let _ = updates.send(CallUpdate::SwitchUp { reconnect }).await;
                        if reconnect {
                            link = Link::Rebuilding;
                            start_rebuild();
                        } else if link != Link::Rebuilding {
                            link = Link::Up;
                        }
                    }
                    DriverNotice::Disconnected { reason } => {
                        link = Link::Down;
                        let _ = updates.send(CallUpdate::SwitchDown { reason }).await;
                    }
                    DriverNotice::Fatal(reason) => {
                        link = Link::Down;
                        for (_, reply) in held.drain(..) {
                            let _ = reply.send(Err(SwitchError::Stopped(reason.clone())));
                        }
                        let _ = updates.send(CallUpdate::Fatal(reason)).await;
                    }
                }
            }
            Some(msg) = internal.recv() => match msg {
                Internal::OriginateRejected(id, e) => {
                    // Never reached the switch (or refused outright): the call
                    // is over before it began.
                    let ev = super::CallEvent {
                        call_id: id.clone(),
                        switch_time_us: None,
                        kind: super::CallEventKind::OriginateFailed { cause: HangupCause::Other(format!("NOT_SENT: {e}")) },
                    };
                    if let Applied::Changed { from, to } = table.apply(&ev) {
                        let _ = updates.send(CallUpdate::Changed { call_id: id, from, to, switch_time_us: None, received: Instant::now() }).await;
                    }
                }
                Internal::LiveCalls(Ok(live)) => {
                    let vanished = table.reconcile(live.iter().map(|c| c.id.as_str()));
                    // Calls that went on during the gap may have moved on
                    // (an answer nobody heard): catch up from the switch.
                    for c in live {
                        let ev = super::CallEvent { call_id: CallId(c.id), switch_time_us: None, kind: c.state };
                        if let Applied::Changed { from, to } = table.apply(&ev) {
                            let _ = updates.send(CallUpdate::Changed { call_id: ev.call_id, from, to, switch_time_us: None, received: Instant::now() }).await;
                        }
                    }
                    for (id, from) in &vanished {
                        let _ = updates.send(CallUpdate::Changed {
                            call_id: id.clone(),
                            from: from.clone(),
                            to: CallState::Ended(CallEnd::Vanished),
                            switch_time_us: None,
                            received: Instant::now(),
                        }).await;
                    }
                    let _ = updates.send(CallUpdate::Reconciled { live: table.live_count(), vanished: vanished.len() }).await;
                    link = Link::Up;
                    while let Some((req, reply)) = held.pop_front() {
                        send_originate(&mut table, req, reply);
                    }
                }
                Internal::LiveCalls(Err(e)) => {
                    // The new connection failed too; the next Connected
                    // notice starts the rebuild again.
                    tracing::warn!(error = %e, "could not list live channels after reconnect");
                    link = Link::Down;
                }
            },
            cmd = commands.recv() => {
                let Some(cmd) = cmd else { return };
                match cmd {
                    Command::Originate(req, reply) => match link {
                        Link::Up => send_originate(&mut table, req, reply),
                        Link::Rebuilding => held.push_back((req, reply)),
                        Link::Down => { let _ = reply.send(Err(SwitchError::NotConnected)); }
                    },
                    Command::Hangup(id, cause, reply) => {
                        let driver = driver.clone();
                        tokio::spawn(async move { let _ = reply.send(driver.hangup(&id, &cause).await); });
                    }
                    Command::Adopt(ids) => {
                        for id in ids {
                            table.dialing(id);
                        }
                        link = Link::Rebuilding;
                        start_rebuild();
                    }
                    Command::Snapshot(reply) => {
                        let _ = reply.send(table.iter().map(|(id, s)| (id.clone(), s.clone())).collect());
                    }
                }
            }
        }
    }
}
