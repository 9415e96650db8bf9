//! Login, plain and MD5 (after a Challenge), and the security event a
//! successful one sends.

use super::*;

/// `IPV4/TCP/127.0.0.1/5038`, as security events write addresses.
fn address(a: Option<SocketAddr>) -> String {
    match a {
        Some(SocketAddr::V4(v4)) => format!("IPV4/TCP/{}/{}", v4.ip(), v4.port()),
        Some(SocketAddr::V6(v6)) => format!("IPV6/TCP/{}/{}", v6.ip(), v6.port()),
        None => "IPV4/TCP/0.0.0.0/0".into(),
    }
}

/// `2026-11-24T21:05:53.623+0000`.
fn event_tv(micros: i64) -> String {
    use chrono::{Local, TimeZone};
    Local
        .timestamp_micros(micros)
        .single()
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string())
        .unwrap_or_default()
}

pub(super) fn hex_md5(text: &str) -> String {
    let digest = Md5::digest(text.as_bytes());
    digest.iter().fold(String::with_capacity(32), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

impl Session {
    /// `authenticate`: the user, then the MD5 key or the secret.
    fn authenticate(&self, p: &AmiPacket) -> bool {
        let user = header(p, "Username");
        if !user.eq_ignore_ascii_case(&self.core.ami.username) {
            return false;
        }
        let secret = &self.core.password;
        if header(p, "AuthType").eq_ignore_ascii_case("MD5") {
            let key = header(p, "Key");
            match &self.challenge {
                Some(ch) if !key.is_empty() => hex_md5(&format!("{ch}{secret}")) == key,
                _ => false,
            }
        } else {
            header(p, "Secret") == *secret
        }
    }

    pub(super) async fn login(&mut self, p: &AmiPacket, id: &str) -> std::io::Result<Next> {
        if self.authed {
            return self.ack(id, "Already authenticated").await;
        }
        if !self.authenticate(p) {
            tokio::time::sleep(FAILED_LOGIN_DELAY).await;
            self.write(&response("Error", id, None, Some("Authentication failed")))
                .await?;
            return Ok(Next::Close);
        }
        self.authed = true;
        if let Some(mask) = bus::strings_to_mask(&header(p, "Events")) {
            self.listener.set_mask(mask);
        }
        let mut out =
            BytesMut::from(&response("Success", id, None, Some("Authentication accepted"))[..]);
        if self.listener.mask() & bus::SYSTEM == bus::SYSTEM {
            let up = self.core.started.elapsed().as_secs().to_string();
            let t = self
                .core
                .ami
                .templates
                .get(crate::switch::sim::ami::templates::Kind::FullyBooted);
            out.put_slice(&t.render(&[], &[("Uptime", Some(&up)), ("LastReload", Some(&up))]));
        }
        self.write(&out).await?;
        // From now on the session takes events (those before were skipped).
        self.rx = self.pending_rx.take();
        self.core.ami.bus.add(self.listener.clone());
        self.successful_auth();
        Ok(Next::Continue)
    }

    /// The security event every session taking `security` events gets.
    fn successful_auth(&self) {
        let t = self
            .core
            .ami
            .templates
            .get(crate::switch::sim::ami::templates::Kind::SuccessfulAuth);
        if !self.core.ami.bus.wants(t.category) {
            return;
        }
        let now = event_tv(clock::now_micros());
        let session_tv = event_tv(self.started_us);
        let session_id = format!("0x7f65{:08x}", 0x1800_0000u64 + self.id * 0x40);
        let bytes = t.render(
            &[],
            &[
                ("EventTV", Some(&now)),
                ("AccountID", Some(&self.core.ami.username)),
                ("SessionID", Some(&session_id)),
                ("LocalAddress", Some(&address(self.local))),
                ("RemoteAddress", Some(&address(self.peer))),
                ("SessionTV", Some(&session_tv)),
            ],
        );
        self.core.ami.bus.dispatch(Arc::new(AmiEvent {
            category: t.category,
            bytes,
        }));
    }

    pub(super) async fn challenge(&mut self, p: &AmiPacket, id: &str) -> std::io::Result<Next> {
        if !header(p, "AuthType").eq_ignore_ascii_case("MD5") {
            return self.error(id, "Must specify AuthType").await;
        }
        let ch = self
            .challenge
            .get_or_insert_with(|| (rand::random::<u32>() & 0x7fff_ffff).to_string())
            .clone();
        let mut r = String::from("Response: Success\r\n");
        if !id.is_empty() {
            let _ = write!(r, "ActionID: {id}\r\n");
        }
        let _ = write!(r, "Challenge: {ch}\r\n\r\n");
        self.write(r.as_bytes()).await?;
        Ok(Next::Continue)
    }
}
