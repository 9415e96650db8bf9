//! The AMI client against scripted Asterisk peers over real TCP.

use dialpop::switch::ami::client::{AmiClient, AmiClientConfig, AmiClientError, AmiNotice};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Reads one action (up to the empty line) as its lines.
async fn read_action(s: &mut TcpStream) -> Option<Vec<String>> {
    let mut buf = Vec::new();
    let mut b = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut b).await {
            Ok(1) => buf.push(b[0]),
            _ => return None,
        }
    }
    Some(
        String::from_utf8_lossy(&buf)
            .lines()
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect(),
    )
}

fn value(lines: &[String], key: &str) -> String {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(&format!("{key}: ")))
        .unwrap_or_default()
        .to_string()
}

async fn scripted<F, Fut>(script: F) -> String
where
    F: Fn(TcpStream, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr").to_string();
    let script = Arc::new(script);
    let n = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((sock, _)) = l.accept().await {
            let (s, i) = (script.clone(), n.fetch_add(1, Ordering::SeqCst));
            tokio::spawn(async move { s(sock, i).await });
        }
    });
    addr
}

/// Banner and login; `ok` decides the answer.
async fn login(s: &mut TcpStream, ok: bool) -> bool {
    if s.write_all(b"Asterisk Call Manager/11.0.0\r\n")
        .await
        .is_err()
    {
        return false;
    }
    let Some(a) = read_action(s).await else {
        return false;
    };
    let id = value(&a, "ActionID");
    let reply = if ok {
        format!(
            "Response: Success\r\nActionID: {id}\r\nMessage: Authentication accepted\r\n\r\nEvent: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n"
        )
    } else {
        format!("Response: Error\r\nActionID: {id}\r\nMessage: Authentication failed\r\n\r\n")
    };
    s.write_all(reply.as_bytes()).await.is_ok() && ok
}

fn config(addr: &str) -> AmiClientConfig {
    let mut c = AmiClientConfig::new(addr, "dialpop", "s3cret");
    c.backoff_initial = Duration::from_millis(20);
    c
}

#[tokio::test]
async fn a_refused_login_is_a_clear_error_and_not_retried() {
    let tries = Arc::new(AtomicUsize::new(0));
    let t = tries.clone();
    let addr = scripted(move |mut s, _| {
        t.fetch_add(1, Ordering::SeqCst);
        async move {
            login(&mut s, false).await;
        }
    })
    .await;
    let err = AmiClient::connect(config(&addr))
        .await
        .err()
        .expect("must fail");
    assert!(
        matches!(&err, AmiClientError::LoginRejected { message, .. } if message == "Authentication failed"),
        "{err:?}"
    );
    assert!(err.is_fatal());
    assert!(!format!("{err} {err:?}").contains("s3cret"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(tries.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn replies_are_routed_by_action_id_with_events_in_between() {
    let addr = scripted(|mut s, _| async move {
        if !login(&mut s, true).await {
            return;
        }
        // Two actions arrive; answer the second first, with events around.
        let (Some(a), Some(b)) = (read_action(&mut s).await, read_action(&mut s).await) else { return };
        let (ida, idb) = (value(&a, "ActionID"), value(&b, "ActionID"));
        let out = format!(
            "Event: Newchannel\r\nChannel: Local/1@x-1;1\r\nUniqueid: u1\r\nChannelState: 0\r\n\r\n\
             Response: Success\r\nActionID: {idb}\r\nMessage: second\r\n\r\n\
             Event: Newstate\r\nChannel: Local/1@x-1;1\r\nUniqueid: u1\r\nChannelState: 5\r\nChannelStateDesc: Ringing\r\n\r\n\
             Response: Error\r\nActionID: {ida}\r\nMessage: first\r\n\r\n"
        );
        let _ = s.write_all(out.as_bytes()).await;
        // CoreShowChannels as an event list.
        let Some(c) = read_action(&mut s).await else { return };
        let id = value(&c, "ActionID");
        let out = format!(
            "Response: Success\r\nActionID: {id}\r\nEventList: start\r\nMessage: Channels will follow\r\n\r\n\
             Event: CoreShowChannel\r\nActionID: {id}\r\nChannel: Local/1@x-1;1\r\nUniqueid: u1\r\nChannelState: 6\r\n\r\n\
             Event: Newstate\r\nUniqueid: u9\r\nChannelState: 5\r\n\r\n\
             Event: CoreShowChannel\r\nActionID: {id}\r\nChannel: Local/2@x-2;1\r\nUniqueid: u2\r\nChannelState: 5\r\n\r\n\
             Event: CoreShowChannelsComplete\r\nActionID: {id}\r\nEventList: Complete\r\nListItems: 2\r\n\r\n"
        );
        let _ = s.write_all(out.as_bytes()).await;
        let _ = read_action(&mut s).await;
    })
    .await;
    let (client, mut notices) = AmiClient::connect(config(&addr)).await.expect("logs in");
    let c2 = client.clone();
    let (a, b) = tokio::join!(
        client.action(vec![("Action".into(), "Ping".into())], false),
        async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            c2.action(vec![("Action".into(), "Status".into())], false)
                .await
        }
    );
    let msg = |r: &Result<Vec<dialpop::switch::ami::AmiPacket>, AmiClientError>| {
        r.as_ref()
            .ok()
            .and_then(|v| v.first())
            .and_then(|p| p.get_str("Message"))
            .map(|m| m.into_owned())
    };
    assert_eq!(msg(&a).as_deref(), Some("first"));
    assert_eq!(msg(&b).as_deref(), Some("second"));
    let chans = client.core_show_channels().await.expect("list");
    assert_eq!(
        chans
            .iter()
            .map(|c| (c.uniqueid.as_str(), c.state))
            .collect::<Vec<_>>(),
        [("u1", 6), ("u2", 5)]
    );
    // The events went to the notices, in order; the list's own did not.
    let mut seen = Vec::new();
    while let Ok(Some(n)) = tokio::time::timeout(Duration::from_millis(200), notices.recv()).await {
        if let AmiNotice::Event(p) = n {
            seen.push(p.get_str("Event").unwrap_or_default().into_owned());
        }
    }
    assert_eq!(seen, ["FullyBooted", "Newchannel", "Newstate", "Newstate"]);
    client.shutdown().await;
}

#[tokio::test]
async fn a_dead_socket_fails_waiting_actions_at_once_and_reconnects() {
    let addr = scripted(|mut s, i| async move {
        if !login(&mut s, true).await {
            return;
        }
        if i == 0 {
            let _ = read_action(&mut s).await;
            drop(s);
        } else {
            let _ = read_action(&mut s).await;
        }
    })
    .await;
    let (client, mut notices) = AmiClient::connect(config(&addr)).await.expect("logs in");
    let r = tokio::time::timeout(
        Duration::from_secs(2),
        client.action(vec![("Action".into(), "Status".into())], false),
    )
    .await
    .expect("fails at once, not at a timeout");
    assert!(matches!(r, Err(AmiClientError::ConnectionLost(_))), "{r:?}");
    let mut saw = Vec::new();
    while let Ok(Some(n)) = tokio::time::timeout(Duration::from_secs(2), notices.recv()).await {
        match n {
            AmiNotice::Disconnected { .. } => saw.push("down"),
            AmiNotice::Connected { reconnect: true } => {
                saw.push("up");
                break;
            }
            _ => {}
        }
    }
    assert_eq!(saw, ["down", "up"]);
    client.shutdown().await;
}
