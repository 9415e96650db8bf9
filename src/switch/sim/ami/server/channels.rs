//! The actions on calls and channels: Originate, Hangup (by name or by
//! regex) and CoreShowChannels.

use super::*;

/// What `ast_channel_get_by_name` and the regex form of `Hangup` find.
enum Pattern {
    Name(String),
    Regex(regex::Regex),
}

impl Session {
    pub(super) async fn originate(&mut self, p: &AmiPacket, id: &str) -> std::io::Result<Next> {
        let o = match AmiOriginate::from_packet(p) {
            Ok(o) => o,
            Err(msg) => return self.error(id, &msg).await,
        };
        if !o.is_async && o.application.is_empty() && o.priority == 0 {
            return self
                .error(
                    id,
                    "Originate with 'Exten' requires 'Context' and 'Priority'",
                )
                .await;
        }
        match self.core.refusal() {
            Some(crate::switch::sim::Refusal::AmiError { message }) => {
                return self.error(id, &message).await;
            }
            Some(crate::switch::sim::Refusal::AmiNoChannel) if o.is_async => {
                let reply = Reply::Event {
                    action_id: o.action_id.clone(),
                };
                call::refuse(&self.core, &o, reply);
                return self.ack(id, "Originate successfully queued").await;
            }
            _ => {}
        }
        if o.is_async {
            let reply = Reply::Event {
                action_id: o.action_id.clone(),
            };
            // The call's events are queued for this session too, but they
            // are written after this reply (this task writes both).
            call::start(&self.core, o, reply);
            return self.ack(id, "Originate successfully queued").await;
        }
        // Without Async the action waits for the outcome; events queue up
        // meanwhile and follow the reply.
        let (tx, rx) = oneshot::channel();
        call::start(&self.core, o, Reply::Wait(tx));
        let shutdown = self.core.shutdown.clone();
        let answered = tokio::select! {
            r = rx => r.unwrap_or(false),
            _ = shutdown.cancelled() => return Ok(Next::Close),
        };
        if answered {
            self.ack(id, "Originate successfully queued").await
        } else {
            self.error(id, "Originate failed").await
        }
    }

    /// `ast_manager_hangup_helper`.
    pub(super) async fn hangup(&mut self, p: &AmiPacket, id: &str) -> std::io::Result<Next> {
        let target = header(p, "Channel");
        if target.is_empty() {
            return self.error(id, "No channel specified").await;
        }
        let cause_text = header(p, "Cause");
        // strtol over the whole value, 0..127; anything else hangs up
        // without setting a cause.
        let code = cause_text
            .parse::<u16>()
            .ok()
            .filter(|c| *c <= 127)
            .unwrap_or(0);
        let cause = if code == 0 {
            HangupCause::NormalClearing
        } else {
            HangupCause::from_q850(code)
        };
        let pattern = if let Some(inner) = target.strip_prefix('/') {
            let Some(expr) = inner.strip_suffix('/') else {
                return self
                    .error(id, "Regex format invalid, Channel param should be /regex/")
                    .await;
            };
            match regex::Regex::new(expr) {
                Ok(r) => Pattern::Regex(r),
                Err(_) => {
                    let msg = format!("Regex compile failed on: {target}");
                    return self.error(id, &msg).await;
                }
            }
        } else {
            Pattern::Name(target.clone())
        };
        if let Pattern::Name(name) = &pattern
            && self.core.channel_exists(name)
        {
            // A Uniqueid (what dialpop knows, its ChannelId): no need to
            // list every channel to find it.
            return if self.core.kill(name, cause) {
                self.ack(id, "Channel Hungup").await
            } else {
                self.error(id, "No such channel").await
            };
        }
        let channels: Vec<(String, String)> = self
            .core
            .rows()
            .into_iter()
            .filter_map(|row| {
                let get = |k: &str| row.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
                Some((get("Uniqueid")?, get("Channel")?))
            })
            .collect();
        match pattern {
            Pattern::Name(name) => {
                let found = channels
                    .iter()
                    .find(|(_, n)| n.eq_ignore_ascii_case(&name))
                    .or_else(|| channels.iter().find(|(u, _)| *u == name));
                match found {
                    Some((uniqueid, _)) if self.core.kill(uniqueid, cause) => {
                        self.ack(id, "Channel Hungup").await
                    }
                    _ => self.error(id, "No such channel").await,
                }
            }
            Pattern::Regex(re) => {
                let mut out = String::from_utf8_lossy(&response(
                    "Success",
                    id,
                    Some("start"),
                    Some("Channels hung up will follow"),
                ))
                .into_owned();
                let mut n = 0;
                for (uniqueid, name) in &channels {
                    if !re.is_match(name) || !self.core.kill(uniqueid, cause.clone()) {
                        continue;
                    }
                    n += 1;
                    let _ = write!(out, "Event: ChannelHungup\r\nChannel: {name}\r\n");
                    if !id.is_empty() {
                        let _ = write!(out, "ActionID: {id}\r\n");
                    }
                    out.push_str("\r\n");
                }
                out.push_str(&list_complete("ChannelsHungupListComplete", id, n));
                self.write(out.as_bytes()).await?;
                Ok(Next::Continue)
            }
        }
    }

    /// `action_coreshowchannels`: one CoreShowChannel per channel (the
    /// snapshot, Application, ApplicationData, Duration, BridgeId).
    pub(super) async fn core_show_channels(&mut self, id: &str) -> std::io::Result<Next> {
        let mut out = String::from_utf8_lossy(&response(
            "Success",
            id,
            Some("start"),
            Some("Channels will follow"),
        ))
        .into_owned();
        let rows = self.core.rows();
        let now = clock::now_micros();
        let mut n = 0;
        for row in &rows {
            let get = |k: &str| {
                row.iter()
                    .find(|(name, _)| *name == k)
                    .map(|(_, v)| v.as_str())
                    .unwrap_or("")
            };
            if get("Uniqueid").is_empty() {
                continue;
            }
            out.push_str("Event: CoreShowChannel\r\n");
            if !id.is_empty() {
                let _ = write!(out, "ActionID: {id}\r\n");
            }
            for key in crate::switch::sim::ami::templates::SNAPSHOT_KEYS {
                let _ = write!(out, "{key}: {}\r\n", get(key));
            }
            let secs = get("Created")
                .parse::<i64>()
                .map(|c| ((now - c) / 1_000_000).max(0))
                .unwrap_or(0);
            let _ = write!(
                out,
                "Application: {}\r\nApplicationData: {}\r\nDuration: {:02}:{:02}:{:02}\r\nBridgeId: {}\r\n\r\n",
                get("Application"),
                get("ApplicationData"),
                secs / 3600,
                secs % 3600 / 60,
                secs % 60,
                get("BridgeId"),
            );
            n += 1;
        }
        out.push_str(&list_complete("CoreShowChannelsComplete", id, n));
        self.write(out.as_bytes()).await?;
        Ok(Next::Continue)
    }
}
