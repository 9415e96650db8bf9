use super::*;
use crate::switch::headers::Headers;

fn ev(name: &str, headers: &[(&str, &str)]) -> SimEvent {
    let mut h = Headers::from_pairs([("Event-Name", name)]);
    for (k, v) in headers {
        h.push_owned(k.as_bytes(), v.as_bytes());
    }
    SimEvent::new(
        event_id(name).unwrap_or(CUSTOM),
        None,
        EslEvent {
            headers: h,
            body: None,
        },
    )
}

#[test]
fn event_names_as_freeswitch_reads_them() {
    assert_eq!(event_id("channel_answer"), event_id("CHANNEL_ANSWER"));
    assert_eq!(
        event_id("SWITCH_EVENT_CHANNEL_ANSWER"),
        event_id("CHANNEL_ANSWER")
    );
    assert_eq!(event_id("ALL"), Some(ALL));
    assert_eq!(event_id("NOPE"), None);
}

#[test]
fn event_commands_add_to_the_set() {
    let mut s = Subscription::default();
    assert_eq!(s.event_command("event plain"), "-ERR no keywords supplied");
    assert_eq!(s.event_command("event"), "-ERR no keywords supplied");
    assert_eq!(
        s.event_command("event json CHANNEL_ANSWER BOGUS"),
        "+OK event listener enabled json"
    );
    assert_eq!(
        s.event_command("event plain BACKGROUND_JOB"),
        "+OK event listener enabled plain"
    );
    assert!(s.passes(&ev("CHANNEL_ANSWER", &[])));
    assert!(s.passes(&ev("BACKGROUND_JOB", &[])));
    assert!(!s.passes(&ev("CHANNEL_CREATE", &[])));
    assert_eq!(
        s.nixevent_command("nixevent CHANNEL_ANSWER"),
        "+OK events nixed"
    );
    assert!(!s.passes(&ev("CHANNEL_ANSWER", &[])));
    s.event_command("event plain ALL");
    assert_eq!(s.nixevent_command("nixevent HEARTBEAT"), "+OK events nixed");
    assert!(s.passes(&ev("CHANNEL_CREATE", &[])));
    assert!(!s.passes(&ev("HEARTBEAT", &[])));
    assert_eq!(s.noevents_command(), "+OK no longer listening for events");
    assert_eq!(s.noevents_command(), "-ERR not listening for events");
    assert!(!s.passes(&ev("CHANNEL_CREATE", &[])));
}

#[test]
fn filters_as_event_handler_applies_them() {
    let mut s = Subscription::default();
    s.event_command("event plain ALL");
    assert_eq!(s.filter_command("filter Unique-ID"), "-ERR invalid syntax");
    assert_eq!(
        s.filter_command("filter Unique-ID abc"),
        "+OK filter added. [Unique-ID]=[abc]"
    );
    // Events without the header are dropped once a filter exists.
    assert!(!s.passes(&ev("BACKGROUND_JOB", &[("Job-UUID", "j")])));
    assert!(s.passes(&ev("CHANNEL_ANSWER", &[("Unique-ID", "ABC")])));
    assert!(!s.passes(&ev("CHANNEL_ANSWER", &[("Unique-ID", "other")])));
    s.filter_command("filter Event-Name BACKGROUND_JOB");
    assert!(s.passes(&ev("BACKGROUND_JOB", &[("Job-UUID", "j")])));
    s.filter_command("filter Answer-State -ringing");
    assert!(!s.passes(&ev(
        "CHANNEL_STATE",
        &[("Unique-ID", "abc"), ("Answer-State", "ringing")]
    )));
    s.filter_command("filter add Channel-Name /^sofia\\/.*/i");
    assert!(s.passes(&ev("CHANNEL_STATE", &[("Channel-Name", "SOFIA/x")])));
    assert_eq!(
        s.filter_command("filter delete Unique-ID"),
        "+OK filter deleted. [Unique-ID][]"
    );
    assert!(!s.passes(&ev("CHANNEL_ANSWER", &[("Unique-ID", "abc")])));
    assert_eq!(
        s.filter_command("filter delete all"),
        "+OK filter deleted. [all][]"
    );
    assert!(s.passes(&ev("CHANNEL_ANSWER", &[("Unique-ID", "other")])));
}

#[tokio::test]
async fn a_listener_that_stops_reading_is_killed_not_waited_for() {
    let bus = Bus::default();
    let (slow, _slow_rx) = Listener::new(1);
    let (fast, mut fast_rx) = Listener::new(2);
    for l in [&slow, &fast] {
        lock(&l.sub).event_command("event plain ALL");
        bus.add(l.clone());
    }
    let e = Arc::new(ev("HEARTBEAT", &[]));
    for _ in 0..MAX_QUEUE_LEN + MAX_MISSED {
        bus.dispatch(e.clone());
        // The reading listener keeps up.
        let _ = fast_rx.try_recv();
    }
    assert!(!slow.killed.is_cancelled(), "500 lost events are tolerated");
    bus.dispatch(e.clone());
    assert!(slow.killed.is_cancelled());
    assert!(!fast.killed.is_cancelled());
    assert!(fast_rx.try_recv().is_ok());
}
