//! The HTTP listener over TLS ([http.tls]): the API over HTTPS, agent pages
//! over WSS through a whole campaign, the agent page in Chromium trusting
//! only this certificate, no plain HTTP beside it, a client that never
//! finishes its handshake holding up no one, and certificate files that are
//! missing or do not fit refused with their names.

mod common;
mod support;

use common::{API_TOKEN, AckWhen, CAMPAIGN, lab};
use dialpop::api::tls::{TlsFiles, server_config};
use std::sync::Arc;
use std::time::Duration;
use support::browser::Browser;
use support::http::Api;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;

/// A self-signed certificate for localhost and 127.0.0.1, in `dir`.
struct Cert {
    files: TlsFiles,
    pem: String,
    /// base64 SHA-256 of the public key, for Chromium's SPKI allow-list.
    spki_sha256: String,
    der: rustls::pki_types::CertificateDer<'static>,
}

fn cert(dir: &std::path::Path) -> Cert {
    use base64::Engine;
    use rcgen::PublicKeyData;
    use sha2::Digest;
    let key = rcgen::KeyPair::generate().expect("key pair");
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("params");
    let c = params.self_signed(&key).expect("self-signed certificate");
    let files = TlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::write(&files.cert, c.pem()).expect("write cert");
    std::fs::write(&files.key, key.serialize_pem()).expect("write key");
    let spki_sha256 = base64::engine::general_purpose::STANDARD
        .encode(sha2::Sha256::digest(key.subject_public_key_info()));
    Cert {
        files,
        pem: c.pem(),
        spki_sha256,
        der: c.der().clone(),
    }
}

fn client_config(c: &Cert) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(c.der.clone()).expect("root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocols")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// The lab's daemon, serving over TLS with `c`.
async fn tls_daemon(lab: &common::Lab, c: &Cert) -> dialpop::daemon::Daemon {
    let mut setup = lab.setup();
    setup.tls = Some(server_config(&c.files).expect("the certificate loads"));
    dialpop::daemon::Daemon::start(setup).await.expect("daemon")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_runs_over_https_and_wss() {
    let dir = tempfile::tempdir().expect("dir");
    let c = cert(dir.path());
    let lab = lab("tls", 2, &[(1, 12)], 10.0).await;
    let daemon = tls_daemon(&lab, &c).await;

    // A client that opens a connection and says nothing: handshakes have
    // their own tasks, so it holds up none of what follows.
    let mut silent = tokio::net::TcpStream::connect(daemon.addr)
        .await
        .expect("connect");

    let api = Api::tls(daemon.addr, Some(API_TOKEN), &c.pem);
    let (code, v) = api.get("/api/campaigns").await;
    assert_eq!(code, 200, "{v}");
    assert!(v.to_string().contains(CAMPAIGN), "{v}");
    let (code, _) = Api::tls(daemon.addr, Some("wrong"), &c.pem)
        .get("/api/campaigns")
        .await;
    assert_eq!(code, 401, "HTTPS is still authenticated");

    // Plain HTTP on the TLS port gets no HTTP answer.
    let mut plain = tokio::net::TcpStream::connect(daemon.addr)
        .await
        .expect("connect");
    plain
        .write_all(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("write");
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut reply)).await;
    assert!(
        !reply.starts_with(b"HTTP/1.1 200"),
        "plain HTTP was served on the TLS port"
    );

    // Every agent's page over WSS gets every pop of the campaign.
    let stop = tokio_util::sync::CancellationToken::new();
    let tls = client_config(&c);
    let url = format!("wss://localhost:{}/ws/agent", daemon.addr.port());
    let pages: common::Pages = lab
        .agents
        .iter()
        .map(|(a, token)| {
            let page = common::agent_client_over(
                url.clone(),
                token.clone(),
                stop.clone(),
                AckWhen::AtOnce,
                Some(tls.clone()),
            );
            (a.id.clone(), page)
        })
        .collect();
    lab.wait_done(Duration::from_secs(90)).await;
    let counts = common::check_campaign(&lab, &pages).await;
    assert_eq!(counts.answered, 12, "{counts:?}");
    assert_eq!(counts.pops, 12, "{counts:?}");

    // The silent client is still there, unanswered, and was never served.
    let mut buf = [0u8; 1];
    let r = tokio::time::timeout(Duration::from_millis(200), silent.read(&mut buf)).await;
    assert!(r.is_err(), "the silent client got {r:?}");
    stop.cancel();
    daemon.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_page_pops_over_https_in_chromium() {
    let dir = tempfile::tempdir().expect("dir");
    let c = cert(dir.path());
    // 5XXX answers after 2 s and talks 60 s: at speed 4, 0.5 s and 15 s.
    let lab = lab("tls-browser", 1, &[(5, 1)], 4.0).await;
    let daemon = tls_daemon(&lab, &c).await;
    let (agent, token) = lab.agents[0].clone();
    let customer = lab.customer_of_task(1).await;

    // Chromium trusts this one key and no other certificate error.
    let browser = Browser::start_with(&[format!(
        "--ignore-certificate-errors-spki-list={}",
        c.spki_sha256
    )])
    .await;
    browser
        .goto(&format!("https://localhost:{}/agent", daemon.addr.port()))
        .await;
    assert_eq!(
        browser.eval("return location.protocol;").await,
        serde_json::json!("https:")
    );
    browser.sign_in(&token).await;
    browser
        .wait_text("agent-name", "the agent's name", |t| {
            t.contains(&agent.name)
        })
        .await;
    browser
        .wait_for_within(r#"[data-testid="pop-card"]"#, Duration::from_secs(20))
        .await;
    assert_eq!(browser.text_of("customer-name").await, customer.name);
    lab.sim
        .hangup_all(dialpop::switch::HangupCause::NormalClearing);
    browser.close().await;
    daemon.stop().await;
}

#[test]
fn certificate_files_that_are_missing_or_do_not_fit_are_named() {
    let dir = tempfile::tempdir().expect("dir");
    let a = cert(dir.path());
    let missing = TlsFiles {
        cert: dir.path().join("nowhere.pem"),
        key: a.files.key.clone(),
    };
    let e = server_config(&missing).expect_err("a missing certificate");
    assert!(
        e.contains("http.tls.cert") && e.contains("nowhere.pem"),
        "{e}"
    );

    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a PEM file\n").expect("write");
    let e = server_config(&TlsFiles {
        cert: garbage.clone(),
        key: a.files.key.clone(),
    })
    .expect_err("no certificate in the file");
    assert!(
        e.contains("garbage.pem") && e.contains("no CERTIFICATE"),
        "{e}"
    );

    // A key from another certificate.
    let other = tempfile::tempdir().expect("dir");
    let b = cert(other.path());
    let e = server_config(&TlsFiles {
        cert: a.files.cert.clone(),
        key: b.files.key.clone(),
    })
    .expect_err("a key that does not fit");
    assert!(e.contains("does not fit"), "{e}");
}
