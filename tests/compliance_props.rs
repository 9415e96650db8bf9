//! Compliance on a simulated clock: random calling windows (holidays and
//! DST transitions included), zones, do-not-call entries and tasks. The
//! dialer's judgement is replayed the way the dialer uses it (a task is
//! looked at when it is due, and a deferral makes it due again then), and
//! must never dial outside the window or a listed number, and must dial
//! each eligible task at its first opening.

use chrono::{NaiveDate, TimeZone, Utc};
use dialpop::campaign::CampaignSettings;
use dialpop::campaign::intake::{TaskInput, intake};
use dialpop::dialer::eligibility::{Judgement, judge};
use dialpop::dialer::window::CallingWindow;
use dialpop::store::{Campaign, CampaignState, DncEntry, Task, TaskStatus};
use proptest::prelude::*;

const ZONES: &[&str] = &[
    "America/New_York",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Auckland",
    "UTC",
];

fn window() -> impl Strategy<Value = CallingWindow> {
    let day = prop::collection::vec((0u16..=1440, 0u16..=240), 0..3).prop_map(|v| {
        v.into_iter()
            .map(|(s, len)| (s.min(1439), (s + len.max(1)).min(1440)))
            .collect::<Vec<_>>()
    });
    (
        prop::array::uniform7(day),
        prop::collection::vec(0i64..1461, 0..6),
    )
        .prop_filter_map("valid window", |(days, hol)| {
            let base = NaiveDate::from_ymd_opt(2025, 1, 1)?;
            CallingWindow::new(
                days,
                hol.into_iter().map(|d| base + chrono::Duration::days(d)),
            )
            .ok()
        })
}

/// An instant in 2025–2028, often within hours of a DST change.
fn instant() -> impl Strategy<Value = i64> {
    let start = Utc
        .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .unwrap()
        .timestamp_millis();
    let span = 4 * 365 * 86_400_000i64;
    let near_dst = prop::sample::select(vec![
        Utc.with_ymd_and_hms(2026, 3, 8, 7, 0, 0)
            .unwrap()
            .timestamp_millis(),
        Utc.with_ymd_and_hms(2026, 11, 1, 6, 0, 0)
            .unwrap()
            .timestamp_millis(),
        Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0)
            .unwrap()
            .timestamp_millis(),
        Utc.with_ymd_and_hms(2026, 10, 25, 1, 0, 0)
            .unwrap()
            .timestamp_millis(),
        Utc.with_ymd_and_hms(2026, 4, 4, 15, 0, 0)
            .unwrap()
            .timestamp_millis(),
    ]);
    prop_oneof![
        (0..span).prop_map(move |o| start + o),
        (near_dst, -6 * 3_600_000i64..6 * 3_600_000).prop_map(|(t, o)| t + o),
    ]
}

fn task_from(n: dialpop::store::NewTask) -> Task {
    Task {
        id: 1,
        campaign_id: n.campaign_id,
        customer_id: n.customer_id,
        phone: n.phone,
        priority: n.priority,
        status: TaskStatus::Dialing,
        attempts: 1,
        tags: n.tags,
        due_ms: n.due_ms,
        not_before_ms: n.not_before_ms,
        not_after_ms: n.not_after_ms,
        time_zone: n.time_zone,
        variables: n.variables,
        ..Task::default()
    }
}

fn rfc(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms).unwrap().to_rfc3339()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn never_outside_the_window_never_a_listed_number_each_at_its_first_opening(
        w in window(),
        zone in prop::sample::select(ZONES),
        own_zone in prop::option::of(prop::sample::select(ZONES)),
        listed in any::<bool>(),
        created in instant(),
        not_before in prop::option::of(0i64..20 * 86_400_000),
        not_after in prop::option::of(1i64..40 * 86_400_000),
        probes in prop::collection::vec(instant(), 8),
    ) {
        let settings = CampaignSettings {
            calling_window: Some(w.clone()),
            time_zone: zone.to_string(),
            ..CampaignSettings::default()
        };
        let campaign = Campaign {
            id: "c".into(), name: "c".into(), state: CampaignState::Running,
            settings: settings.clone(), created_ms: 0, updated_ms: 0,
        };
        let nb = not_before.map(|d| created + d);
        let na = not_after.map(|d| nb.unwrap_or(created) + d);
        let input = TaskInput {
            customer_id: "k".into(),
            phone: "+12127361234".into(),
            not_before: nb.map(rfc),
            not_after: na.map(rfc),
            time_zone: own_zone.map(String::from),
            ..TaskInput::default()
        };
        let task = task_from(intake(&input, &campaign, created, None).expect("a valid task"));
        let tz: chrono_tz::Tz = own_zone.unwrap_or(zone).parse().unwrap();
        let dnc = listed.then(|| DncEntry { phone: task.phone.clone(), campaign_id: None, reason: None, added_ms: 0 });
        let at = |ms: i64| Utc.timestamp_millis_opt(ms).unwrap();

        // At any instant: a dial is inside the window, never to a listed
        // number, never before not_before or after not_after.
        for &t in &probes {
            if judge(&task, &settings, dnc.as_ref(), t) == Judgement::Dial {
                prop_assert!(w.is_open(at(t), tz), "dialed at {} outside the window", rfc(t));
                prop_assert!(!listed);
                prop_assert!(nb.is_none_or(|b| t >= b) && na.is_none_or(|e| t < e));
            }
        }

        // As the dialer runs it: looked at when due, due again when deferred.
        let start = nb.map_or(created, |b| b.max(created));
        let first_opening = w.next_opening(at(start), tz).map(|o| o.timestamp_millis());
        let mut due = task.due_ms;
        let mut deferrals = 0;
        let end = loop {
            match judge(&task, &settings, dnc.as_ref(), due) {
                Judgement::Defer { until_ms, .. } => {
                    prop_assert!(until_ms > due, "a deferral moves the task forward");
                    due = until_ms;
                    deferrals += 1;
                    prop_assert!(deferrals < 10);
                }
                j => break j,
            }
        };
        let eligible = !listed
            && first_opening.is_some_and(|o| na.is_none_or(|e| o < e));
        if eligible {
            prop_assert_eq!(&end, &Judgement::Dial);
            prop_assert_eq!(Some(due), first_opening, "dialed at its first opening");
            prop_assert_eq!(deferrals, 0, "the intake made it due at the opening: nothing polls");
        } else {
            let refused = matches!(end, Judgement::Refuse { .. });
            prop_assert!(refused, "{:?}", end);
            if listed {
                let dnc_refusal = matches!(end, Judgement::Refuse { reason: "do_not_call", .. });
                prop_assert!(dnc_refusal, "{:?}", end);
            }
        }
    }
}
