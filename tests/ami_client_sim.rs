//! The AMI client and driver against the simulated Asterisk over real TCP.

use dialpop::switch::ami::client::{AmiClient, AmiClientConfig, AmiClientError};
use dialpop::switch::ami::driver::AmiDriver;
use dialpop::switch::driver::{DriverNotice, SwitchControl};
use dialpop::switch::sim::{SimConfig, SimProtocol, SimSwitch};
use dialpop::switch::{AnswerAction, CallEventKind, CallId, OriginateRequest};
use std::time::Duration;

async fn asterisk() -> SimSwitch {
    SimSwitch::start(SimConfig {
        protocol: SimProtocol::Ami,
        speed: 10.0,
        ..SimConfig::default()
    })
    .await
    .expect("simulated Asterisk")
}

fn config(sim: &SimSwitch, secret: &str, md5: bool) -> AmiClientConfig {
    let mut c = AmiClientConfig::new(sim.local_addr().to_string(), "dialpop", secret);
    c.md5 = md5;
    c
}

#[tokio::test]
async fn md5_login_works_and_a_wrong_secret_is_refused() {
    let sim = asterisk().await;
    let (client, _notices) = AmiClient::connect(config(&sim, "ClueCon", true))
        .await
        .expect("MD5 login");
    client.shutdown().await;
    let err = AmiClient::connect(config(&sim, "wrong", true))
        .await
        .err()
        .expect("refused");
    assert!(
        matches!(&err, AmiClientError::LoginRejected { message, .. } if message == "Authentication failed"),
        "{err:?}"
    );
    let err = AmiClient::connect(config(&sim, "wrong", false))
        .await
        .err()
        .expect("refused");
    assert!(err.is_fatal());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_driver_places_a_call_and_rebuilds_live_calls_from_core_show_channels() {
    let sim = asterisk().await;
    let (driver, mut notices) = AmiDriver::connect(config(&sim, "ClueCon", false))
        .await
        .expect("connects");
    let id = CallId::new_random();
    let req = OriginateRequest {
        call_id: id.clone(),
        // 5XXX answers after 2 s and talks 60 s (0.2 s and 6 s at speed 10).
        destination: "Local/15555001@customers".into(),
        caller_id_number: Some("+15550100".into()),
        caller_id_name: Some("Lab".into()),
        timeout: Duration::from_secs(30),
        variables: vec![("dialpop_task_id".into(), "7".into())],
        on_answer: AnswerAction::Park,
    };
    driver.originate(&req).await.expect("queued");
    let mut kinds = Vec::new();
    while !kinds.contains(&CallEventKind::Answered) {
        match tokio::time::timeout(Duration::from_secs(10), notices.recv())
            .await
            .expect("events come")
        {
            Some(DriverNotice::Call { event, .. }) if event.call_id == id => kinds.push(event.kind),
            Some(_) => {}
            None => panic!("driver stopped"),
        }
    }
    assert_eq!(kinds.first(), Some(&CallEventKind::Originated));
    // The switch lists the call, answered, under dialpop's own call id.
    let live = driver.live_calls().await.expect("CoreShowChannels");
    let mine = live
        .iter()
        .find(|c| c.id == id.as_str())
        .expect("the call is listed");
    assert_eq!(mine.state, CallEventKind::Answered);
    // Hangup finds the channel by the call id.
    driver
        .hangup(&id, &dialpop::switch::HangupCause::NormalClearing)
        .await
        .expect("hung up");
    loop {
        match tokio::time::timeout(Duration::from_secs(10), notices.recv())
            .await
            .expect("events come")
        {
            Some(DriverNotice::Call { event, .. }) if event.call_id == id && event.is_final() => {
                break;
            }
            Some(_) => {}
            None => panic!("driver stopped"),
        }
    }
    assert_eq!(
        sim.originates().variables_of_each()[0]
            .iter()
            .find(|(k, _)| k == "dialpop_task_id")
            .map(|(_, v)| v.as_str()),
        Some("7")
    );
    driver.shutdown().await;
}
