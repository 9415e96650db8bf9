//! What the loop hears besides commands: the results of work it started
//! (claims, lookups, loads, settlements) and the switches' call updates.

use super::*;

impl Dialer {
    pub(super) async fn on_internal(&mut self, i: Internal) {
        match i {
            Internal::CustomerLoaded(id, view) => {
                self.test_call_record(&id, &view);
                let span = call_log::span(&id, self.calls.get(&id));
                if let Some(call) = self.calls.get_mut(&id) {
                    call.customer = CustomerLookup::Ready(view);
                    self.pop_waiting(&id).instrument(span).await;
                }
            }
            Internal::Claims(claims) => {
                self.claim_jobs -= 1;
                let claim::Claims {
                    campaign,
                    dials,
                    unfilled,
                    next_due_ms,
                    error,
                } = *claims;
                for (seat, call_id, task) in dials {
                    let _ = self.dial(seat, task, call_id).await;
                }
                for seat in unfilled {
                    self.give_back_claim(seat.switch);
                    match &seat.agent {
                        Some(a) => self.release_claim(&a.id),
                        None => self.lines_unclaimed(&campaign),
                    }
                }
                if let Some(due) = next_due_ms {
                    // Nothing due in this campaign: do not ask again before
                    // the next retry is due (or new tasks arrive), nor later
                    // than a few seconds on: a callback bound to an agent who
                    // was busy is due for them as soon as they are free.
                    let now = now_ms();
                    self.idle_until
                        .insert(campaign, due.clamp(now + 1, now + IDLE_RECHECK_MS));
                }
                if let Some(error) = error {
                    tracing::error!(%error, "could not claim tasks; will try again");
                }
            }
            Internal::CapCounts(campaign, tally) => {
                if let Some(l) = self.lines.by_campaign.get_mut(&campaign) {
                    match tally {
                        Some(t) => l.cap.stored(t),
                        None => l.cap.failed(),
                    }
                }
            }
            Internal::AgentLoaded(id, agent) => match agent {
                // Another switch's agent is another dialer's.
                Some(_) if self.scope.as_ref().is_some_and(|s| !s.owns_agent(&id)) => {}
                Some(a) => self.agents.upsert(a),
                None => tracing::warn!(agent = %id, "changed agent not in the store"),
            },
            Internal::Disposed {
                agent_id,
                call_id,
                code,
            } => {
                self.hub
                    .send(
                        &agent_id,
                        crate::popup::messages::ServerMsg::Disposed { call_id, code },
                    )
                    .await;
            }
            Internal::TaskSettled(campaign) => {
                self.idle_until.remove(&campaign);
            }
            Internal::TestCall(job) => self.on_test_call(*job).await,
            Internal::Connected(id, agent, at) => {
                let span = call_log::span(&id, self.calls.get(&id));
                self.on_connected(id, agent, at).instrument(span).await
            }
            Internal::CampaignsLoaded(all) => {
                let mut seen = std::collections::HashSet::new();
                for c in all {
                    seen.insert(c.id.clone());
                    let changed = self.campaigns.get(&c.id).is_none_or(|v| {
                        v.campaign.updated_ms != c.updated_ms || v.campaign.state != c.state
                    });
                    if changed {
                        tracing::info!(campaign = %c.id, state = c.state.as_str(), "campaign changed in the store");
                        self.idle_until.remove(&c.id);
                        self.campaigns
                            .insert(c.id.clone(), Arc::new(CampaignView::new(c)));
                    }
                }
                self.campaigns.retain(|id, _| seen.contains(id));
            }
            Internal::CampaignLoaded(id, c) => {
                self.idle_until.remove(&id);
                match c {
                    Some(c) => {
                        tracing::info!(campaign = %id, state = c.state.as_str(), "campaign read again");
                        self.campaigns.insert(id, Arc::new(CampaignView::new(*c)));
                    }
                    None => {
                        self.campaigns.remove(&id);
                    }
                }
            }
        }
    }

    pub(super) async fn on_update(&mut self, sw: usize, u: CallUpdate) {
        let Some(switch) = self.switches.get_mut(sw) else {
            return;
        };
        let name = switch.plan.name.clone();
        match u {
            CallUpdate::Changed {
                call_id,
                from,
                to,
                received,
                ..
            } => {
                let span = call_log::span(&call_id, self.calls.get(&call_id));
                self.on_call_state(sw, call_id, from, to, received)
                    .instrument(span)
                    .await
            }
            CallUpdate::Detected {
                call_id,
                verdict,
                received,
            } => {
                let span = call_log::span(&call_id, self.calls.get(&call_id));
                self.on_verdict(&call_id, verdict, received)
                    .instrument(span)
                    .await
            }
            CallUpdate::SwitchDown { reason } => {
                tracing::warn!(switch = %name, %reason, "switch down: dialing paused on it");
                switch.link = Link::Down;
            }
            CallUpdate::SwitchUp { reconnect } => {
                // After a reconnect, dialing waits for the rebuild.
                if reconnect {
                    switch.reconnects += 1;
                }
                switch.link = if reconnect {
                    Link::Rebuilding
                } else {
                    Link::Up
                };
                if !reconnect {
                    tracing::info!(switch = %name, "switch connected");
                    switch.health.reconnected();
                }
            }
            CallUpdate::Reconciled { live, vanished } => {
                tracing::info!(switch = %name, live, vanished, "call state rebuilt from the switch");
                switch.link = Link::Up;
                switch.rebuilt = true;
                switch.health.reconnected();
            }
            CallUpdate::Fatal(reason) => {
                tracing::error!(switch = %name, %reason, "switch driver gave up: no more calls on it");
                switch.link = Link::Failed;
            }
        }
    }
}
