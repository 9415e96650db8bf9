//! The call manager: the one owner of call state. It places calls through a
//! driver, applies the driver's `CallEvent`s to its `CallTable`, and after a
//! reconnect rebuilds the table from the switch's live channels before it
//! lets another call be dialed.
//!
//! It starts without a driver: the switch is connected in the background
//! and attached when it answers, so a switch that is down at start delays
//! nothing else. Until then every originate ends at once as not placed.

use super::calls::{Applied, CallEnd, CallState, CallTable};
use super::driver::{DriverNotice, LiveCall, SwitchControl, SwitchError, Transfer};
use super::fault::SwitchFault;
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
    /// The switch's answering-machine detection judged a live call.
    Detected {
        call_id: CallId,
        verdict: super::AmdVerdict,
        received: Instant,
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
    Transfer(Transfer, oneshot::Sender<Result<(), SwitchError>>),
    Snapshot(oneshot::Sender<Vec<(CallId, CallState)>>),
    Adopt(Vec<CallId>),
    Attach(Arc<dyn SwitchControl>, mpsc::Receiver<DriverNotice>),
    /// A connection that can never be made (a refused login).
    GiveUp(String),
    Shutdown(oneshot::Sender<()>),
}

/// Results of work the manager started in the background.
enum Internal {
    OriginateRejected(CallId, SwitchError),
    LiveCalls(Result<Vec<LiveCall>, SwitchError>),
}

/// Updates from every switch's manager, each tagged with its switch's index.
pub type Updates = mpsc::Receiver<(usize, CallUpdate)>;

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
    /// A manager for switch number `index`, with no driver yet; its updates
    /// go to `updates`, tagged with `index`.
    pub fn start(index: usize, updates: mpsc::Sender<(usize, CallUpdate)>) -> CallManager {
        let (cmd_tx, cmd_rx) = mpsc::channel(1024);
        tokio::spawn(run(index, cmd_rx, updates));
        CallManager { commands: cmd_tx }
    }

    /// A manager with its driver already connected, and its own update
    /// channel (tests and tools that drive one switch).
    pub fn start_with<D: SwitchControl>(
        driver: Arc<D>,
        notices: mpsc::Receiver<DriverNotice>,
    ) -> (CallManager, mpsc::Receiver<CallUpdate>) {
        let (tx, mut tagged) = mpsc::channel(16 * 1024);
        let (out, rx) = mpsc::channel(16 * 1024);
        let m = CallManager::start(0, tx);
        // First in the fresh queue: before any originate the caller sends.
        let _ = m.commands.try_send(Command::Attach(driver, notices));
        tokio::spawn(async move {
            while let Some((_, u)) = tagged.recv().await {
                if out.send(u).await.is_err() {
                    return;
                }
            }
        });
        (m, rx)
    }

    /// Hands the manager its connected driver and the driver's notices.
    pub async fn attach(
        &self,
        driver: Arc<dyn SwitchControl>,
        notices: mpsc::Receiver<DriverNotice>,
    ) {
        let _ = self.commands.send(Command::Attach(driver, notices)).await;
    }

    /// The switch can never be reached as configured (wrong password, ACL):
    /// said once, as `Fatal`.
    pub async fn give_up(&self, reason: String) {
        let _ = self.commands.send(Command::GiveUp(reason)).await;
    }

    /// Records the call, then sends it to the switch. Returns when the
    /// switch accepted it; while state is being rebuilt after a reconnect
    /// the call waits. A call the switch does not take (not connected,
    /// refused) also ends as `NotPlaced` on the update channel, once.
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

    /// Sends a live call to a dialplan extension, with channel variables
    /// set first (a waiting customer to `dialpop_connect` and an agent, or
    /// to a message): ESL `uuid_setvar` and `uuid_transfer`, AMI `Setvar`
    /// and `Redirect`.
    pub async fn transfer(&self, t: Transfer) -> Result<(), SwitchError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Transfer(t, tx))
            .await
            .map_err(|_| SwitchError::Stopped("call manager".into()))?;
        rx.await
            .unwrap_or(Err(SwitchError::Stopped("call manager".into())))
    }

    /// Takes over calls placed before a restart (the store says they were
    /// open) and rebuilds from the switch once it is connected: those it no
    /// longer has come back as vanished, then `Reconciled`. Dialing waits
    /// until then.
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

    /// Leaves the switch politely (exit / Logoff); returns when done.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// Why an originate did not reach a call: the fault it is for the dialer.
fn fault_of(e: &SwitchError) -> SwitchFault {
    match e {
        SwitchError::NotConnected | SwitchError::ConnectionLost(_) | SwitchError::Stopped(_) => {
            SwitchFault::link_down(e.to_string())
        }
        SwitchError::Rejected(text) => SwitchFault::from_refusal(text),
        SwitchError::Invalid(text) => SwitchFault {
            kind: super::fault::FaultKind::Refused,
            detail: format!("refused before sending: {text}"),
        },
    }
}

struct State {
    index: usize,
    table: CallTable,
    link: Link,
    driver: Option<Arc<dyn SwitchControl>>,
    held: VecDeque<(OriginateRequest, oneshot::Sender<Result<(), SwitchError>>)>,
    /// Calls adopted before the driver was attached: rebuilt once it is.
    rebuild_pending: bool,
    updates: mpsc::Sender<(usize, CallUpdate)>,
    int_tx: mpsc::Sender<Internal>,
}

impl State {
    async fn tell(&self, u: CallUpdate) {
        let _ = self.updates.send((self.index, u)).await;
    }

    async fn changed(
        &self,
        call_id: CallId,
        applied: Applied,
        switch_time_us: Option<i64>,
        received: Instant,
    ) {
        match applied {
            Applied::Changed { from, to } => {
                self.tell(CallUpdate::Changed {
                    call_id,
                    from,
                    to,
                    switch_time_us,
                    received,
                })
                .await
            }
            Applied::Detected(verdict) => {
                self.tell(CallUpdate::Detected {
                    call_id,
                    verdict,
                    received,
                })
                .await
            }
            Applied::Unchanged | Applied::Unknown => {}
        }
    }

    async fn not_placed(&mut self, id: CallId, e: &SwitchError) {
        let applied = self.table.not_placed(&id, fault_of(e));
        self.changed(id, applied, None, Instant::now()).await;
    }

    fn send_originate(
        &mut self,
        req: OriginateRequest,
        reply: oneshot::Sender<Result<(), SwitchError>>,
    ) {
        self.table.dialing(req.call_id.clone());
        let Some(driver) = self.driver.clone() else {
            let _ = self.int_tx.try_send(Internal::OriginateRejected(
                req.call_id,
                SwitchError::NotConnected,
            ));
            let _ = reply.send(Err(SwitchError::NotConnected));
            return;
        };
        let int_tx = self.int_tx.clone();
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
    }

    fn start_rebuild(&mut self) {
        let Some(driver) = self.driver.clone() else {
            self.rebuild_pending = true;
            return;
        };
        self.rebuild_pending = false;
        self.link = Link::Rebuilding;
        let int_tx = self.int_tx.clone();
        tokio::spawn(async move {
            let _ = int_tx
                .send(Internal::LiveCalls(driver.live_calls().await))
                .await;
        });
    }
}

async fn run(
    index: usize,
    mut commands: mpsc::Receiver<Command>,
    updates: mpsc::Sender<(usize, CallUpdate)>,
) {
    let (int_tx, mut internal) = mpsc::channel::<Internal>(1024);
    let mut st = State {
        index,
        table: CallTable::default(),
        link: Link::Down,
        driver: None,
        held: VecDeque::new(),
        rebuild_pending: false,
        updates,
        int_tx,
    };
    let mut notices: Option<mpsc::Receiver<DriverNotice>> = None;

    loop {
        tokio::select! {
            notice = async { match notices.as_mut() { Some(n) => n.recv().await, None => std::future::pending().await } } => {
                let Some(notice) = notice else {
                    notices = None;
                    st.link = Link::Down;
                    st.tell(CallUpdate::SwitchDown { reason: "the driver stopped".into() }).await;
                    continue;
                };
                match notice {
                    DriverNotice::Call { event: ev, received } => {
                        let applied = st.table.apply(&ev);
                        st.changed(ev.call_id, applied, ev.switch_time_us, received).await;
                    }
                    DriverNotice::Connected { reconnect } => {
                        st.tell(CallUpdate::SwitchUp { reconnect }).await;
                        if reconnect || st.rebuild_pending {
                            st.start_rebuild();
                        } else if st.link != Link::Rebuilding {
                            st.link = Link::Up;
                        }
                    }
                    DriverNotice::Disconnected { reason } => {
                        st.link = Link::Down;
                        st.tell(CallUpdate::SwitchDown { reason }).await;
                    }
                    DriverNotice::Fatal(reason) => {
                        st.link = Link::Down;
                        for (req, reply) in std::mem::take(&mut st.held) {
                            let e = SwitchError::Stopped(reason.clone());
                            st.not_placed(req.call_id, &e).await;
                            let _ = reply.send(Err(e));
                        }
                        st.tell(CallUpdate::Fatal(reason)).await;
                    }
                }
            }
            Some(msg) = internal.recv() => match msg {
                Internal::OriginateRejected(id, e) => {
                    // Never reached the switch (or refused outright): the call
                    // is over before it began, and no customer was dialed.
                    st.not_placed(id, &e).await;
                }
                Internal::LiveCalls(Ok(live)) => {
                    let vanished = st.table.reconcile(live.iter().map(|c| c.id.as_str()));
                    // Calls that went on during the gap may have moved on
                    // (an answer nobody heard): catch up from the switch.
                    for c in live {
                        let ev = super::CallEvent { call_id: CallId(c.id), switch_time_us: None, kind: c.state };
                        let applied = st.table.apply(&ev);
                        st.changed(ev.call_id, applied, None, Instant::now()).await;
                    }
                    for (id, from) in &vanished {
                        st.tell(CallUpdate::Changed {
                            call_id: id.clone(),
                            from: from.clone(),
                            to: CallState::Ended(CallEnd::Vanished),
                            switch_time_us: None,
                            received: Instant::now(),
                        }).await;
                    }
                    st.tell(CallUpdate::Reconciled { live: st.table.live_count(), vanished: vanished.len() }).await;
                    st.link = Link::Up;
                    while let Some((req, reply)) = st.held.pop_front() {
                        st.send_originate(req, reply);
                    }
                }
                Internal::LiveCalls(Err(e)) => {
                    // The new connection failed too; the next Connected
                    // notice starts the rebuild again.
                    tracing::warn!(error = %e, "could not list live channels after reconnect");
                    st.link = Link::Down;
                    st.rebuild_pending = true;
                }
            },
            cmd = commands.recv() => {
                let Some(cmd) = cmd else { return };
                match cmd {
                    Command::Originate(req, reply) => match st.link {
                        Link::Up => st.send_originate(req, reply),
                        Link::Rebuilding => st.held.push_back((req, reply)),
                        Link::Down => {
                            st.table.dialing(req.call_id.clone());
                            st.not_placed(req.call_id, &SwitchError::NotConnected).await;
                            let _ = reply.send(Err(SwitchError::NotConnected));
                        }
                    },
                    Command::Hangup(id, cause, reply) => match st.driver.clone() {
                        Some(driver) => {
                            tokio::spawn(async move { let _ = reply.send(driver.hangup(&id, &cause).await); });
                        }
                        None => { let _ = reply.send(Err(SwitchError::NotConnected)); }
                    },
                    Command::Transfer(t, reply) => match st.driver.clone() {
                        Some(driver) => {
                            tokio::spawn(async move { let _ = reply.send(driver.transfer(&t).await); });
                        }
                        None => { let _ = reply.send(Err(SwitchError::NotConnected)); }
                    },
                    Command::Adopt(ids) => {
                        for id in ids {
                            st.table.dialing(id);
                        }
                        st.link = Link::Rebuilding;
                        st.start_rebuild();
                    }
                    Command::Attach(driver, n) => {
                        // A driver is attached once it has connected (its
                        // Connected notice is queued behind): calls may go.
                        st.driver = Some(driver);
                        notices = Some(n);
                        if st.rebuild_pending {
                            st.start_rebuild();
                        } else if st.link == Link::Down {
                            st.link = Link::Up;
                        }
                    }
                    Command::GiveUp(reason) => {
                        st.tell(CallUpdate::Fatal(reason)).await;
                    }
                    Command::Snapshot(reply) => {
                        let _ = reply.send(st.table.iter().map(|(id, s)| (id.clone(), s.clone())).collect());
                    }
                    Command::Shutdown(reply) => {
                        if let Some(d) = st.driver.clone() {
                            d.shutdown().await;
                        }
                        let _ = reply.send(());
                    }
                }
            }
        }
    }
}
