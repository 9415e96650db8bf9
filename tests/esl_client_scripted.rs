//! Client behaviour against scripted switches that misbehave in ways the
//! simulator does not (ACL rejection, refused subscription, a socket that
//! dies with commands in flight). Real TCP on loopback.

use dialpop::switch::esl::client::{ClientError, EslClient, EslClientConfig, SwitchNotice};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn read_command(sock: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\n\n") {
        match sock.read(&mut byte).await {
            Ok(1) => buf.push(byte[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&buf).trim().to_string())
}

/// A switch that runs `script` on each accepted connection.
async fn scripted<F, Fut>(script: F) -> String
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr").to_string();
    let script = std::sync::Arc::new(script);
    tokio::spawn(async move {
        while let Ok((sock, _)) = l.accept().await {
            let s = script.clone();
            tokio::spawn(async move { s(sock).await });
        }
    });
    addr
}

fn config(addr: &str) -> EslClientConfig {
    let mut c = EslClientConfig::new(addr, "ClueCon");
    c.connect_timeout = Duration::from_secs(3);
    c.backoff_initial = Duration::from_millis(20);
    c
}

#[tokio::test]
async fn rude_rejection_is_a_clear_error() {
    let addr = scripted(|mut s| async move {
        let _ = s
            .write_all(b"Content-Type: text/rude-rejection\nContent-Length: 24\n\nAccess Denied, go away.\n")
            .await;
    })
    .await;
    let err = EslClient::connect(config(&addr))
        .await
        .err()
        .expect("must fail");
    assert_eq!(
        err,
        ClientError::RudeRejection {
            addr: addr.clone(),
            text: "Access Denied, go away.".into()
        }
    );
    assert!(err.is_fatal());
    assert!(err.to_string().contains(&addr));
}

#[tokio::test]
async fn refused_subscription_is_a_clear_error() {
    let addr = scripted(|mut s| async move {
        let _ = s.write_all(b"Content-Type: auth/request\n\n").await;
        let _ = read_command(&mut s).await;
        let _ = s
            .write_all(b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
            .await;
        let _ = read_command(&mut s).await;
        let _ = s
            .write_all(b"Content-Type: command/reply\nReply-Text: -ERR permission denied\n\n")
            .await;
    })
    .await;
    let err = EslClient::connect(config(&addr))
        .await
        .err()
        .expect("must fail");
    assert!(
        matches!(&err, ClientError::SubscriptionRefused { text, .. } if text == "permission denied"),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_password_is_sent_once_and_never_shown() {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(8);
    let addr = scripted(move |mut s| {
        let tx = tx.clone();
        async move {
            let _ = s.write_all(b"Content-Type: auth/request\n\n").await;
            if let Some(cmd) = read_command(&mut s).await {
                let _ = tx.send(cmd).await;
            }
            let _ = s
                .write_all(b"Content-Type: command/reply\nReply-Text: -ERR invalid\n\n")
                .await;
        }
    })
    .await;
    let mut cfg = config(&addr);
    cfg.password = "s3cret".into();
    let err = EslClient::connect(cfg).await.err().expect("must fail");
    assert!(
        matches!(&err, ClientError::AuthRejected { text, .. } if text == "invalid"),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?}").contains("s3cret"));
    assert_eq!(rx.recv().await.as_deref(), Some("auth s3cret"));
    // No second attempt: a wrong password is not retried.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), rx.recv())
            .await
            .is_err()
    );
}

/// Authenticates and subscribes, then hands the socket to `after`.
async fn handshake(s: &mut TcpStream) -> bool {
    if s.write_all(b"Content-Type: auth/request\n\n")
        .await
        .is_err()
    {
        return false;
    }
    for reply in ["+OK accepted", "+OK event listener enabled plain"] {
        if read_command(s).await.is_none() {
            return false;
        }
        let frame = format!("Content-Type: command/reply\nReply-Text: {reply}\n\n");
        if s.write_all(frame.as_bytes()).await.is_err() {
            return false;
        }
    }
    true
}

#[tokio::test]
async fn a_dead_socket_fails_waiting_commands_at_once_and_reconnects() {
    let conns = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = conns.clone();
    let addr = scripted(move |mut s| {
        let n = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move {
            if !handshake(&mut s).await {
                return;
            }
            if n == 0 {
                // First connection: take two api commands, answer neither,
                // then die as a network cut would.
                let _ = read_command(&mut s).await;
                let _ = read_command(&mut s).await;
                drop(s);
            } else {
                // Later connections answer `show channels as json`.
                while let Some(cmd) = read_command(&mut s).await {
                    let body = if cmd == "api show channels as json" {
                        "{\"row_count\":0}\n"
                    } else {
                        "-ERR nope\n"
                    };
                    let frame = format!(
                        "Content-Type: api/response\nContent-Length: {}\n\n{body}",
                        body.len()
                    );
                    if s.write_all(frame.as_bytes()).await.is_err() {
                        return;
                    }
                }
            }
        }
    })
    .await;
    let (client, mut notices) = EslClient::connect(config(&addr)).await.expect("connects");
    assert!(matches!(
        notices.recv().await,
        Some(SwitchNotice::Connected { reconnect: false })
    ));
    let (a, b) = tokio::join!(client.api("status"), client.api("version"));
    for r in [a, b] {
        assert!(matches!(r, Err(ClientError::ConnectionLost(_))), "{r:?}");
    }
    assert!(matches!(
        notices.recv().await,
        Some(SwitchNotice::Disconnected { .. })
    ));
    assert!(matches!(
        notices.recv().await,
        Some(SwitchNotice::Connected { reconnect: true })
    ));
    assert_eq!(client.live_channels().await, Ok(vec![]));
    assert!(conns.load(std::sync::atomic::Ordering::SeqCst) >= 2);
    client.shutdown().await;
}

#[tokio::test]
async fn a_malformed_frame_drops_the_connection_and_reconnects() {
    let conns = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = conns.clone();
    let addr = scripted(move |mut s| {
        let n = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move {
            if !handshake(&mut s).await {
                return;
            }
            if n == 0 {
                let _ = s
                    .write_all(
                        b"Content-Length: 13\nContent-Type: text/event-plain\n\nno colon here",
                    )
                    .await;
            }
            let _ = read_command(&mut s).await;
        }
    })
    .await;
    let (client, mut notices) = EslClient::connect(config(&addr)).await.expect("connects");
    assert!(matches!(
        notices.recv().await,
        Some(SwitchNotice::Connected { reconnect: false })
    ));
    match notices.recv().await {
        Some(SwitchNotice::Disconnected { reason }) => {
            assert!(reason.contains("no colon here"), "{reason}")
        }
        other => panic!("expected a disconnect, got {other:?}"),
    }
    assert!(matches!(
        notices.recv().await,
        Some(SwitchNotice::Connected { reconnect: true })
    ));
    client.shutdown().await;
}
