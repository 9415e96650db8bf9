//! A test call's report, pure: its steps in the order they happened with
//! the time each took, and the record the agent was shown compared field
//! by field with what its source answers when asked again.

use super::test_call::Trace;
use crate::store::{Attempt, PopRecord};
use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Requested,
    Originate,
    Ringing,
    Answer,
    RecordReady,
    PopSent,
    Acknowledged,
    Hangup,
}

impl Step {
    pub const ALL: [Step; 8] = [
        Step::Requested,
        Step::Originate,
        Step::Ringing,
        Step::Answer,
        Step::RecordReady,
        Step::PopSent,
        Step::Acknowledged,
        Step::Hangup,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Step::Requested => "requested",
            Step::Originate => "originate",
            Step::Ringing => "ringing",
            Step::Answer => "answer",
            Step::RecordReady => "record ready",
            Step::PopSent => "pop sent",
            Step::Acknowledged => "acknowledged",
            Step::Hangup => "hangup",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Timed {
    pub step: Step,
    pub at_ms: i64,
    /// From the originate (negative: before it).
    pub offset_ms: i64,
    /// From the step before it in time.
    pub since_previous_ms: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The source answers what the agent was shown.
    Same,
    /// It answers something else now (changed since it was cached, or a
    /// source of higher precedence gave the field).
    Differs,
    /// The source's answer has no such field.
    NotInSource,
    /// The source could not be asked again (its failure is in `sources`).
    SourceFailed,
    /// Not from a source: the task's own key.
    FromTask,
}

impl Verdict {
    pub const ALL: [Verdict; 5] = [
        Verdict::Same,
        Verdict::Differs,
        Verdict::NotInSource,
        Verdict::SourceFailed,
        Verdict::FromTask,
    ];
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldCheck {
    pub field: String,
    pub on_screen: bool,
    pub shown: Value,
    pub source: Option<String>,
    /// Where the source's mapping reads it in the answer.
    pub path: Option<Value>,
    pub in_source: Option<Value>,
    pub verdict: Verdict,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub call_id: String,
    pub task_id: i64,
    pub phone: String,
    pub agent: String,
    pub campaign: String,
    pub customer: String,
    pub switch: String,
    /// placing, ringing, answered or ended.
    pub state: &'static str,
    pub outcome: Option<String>,
    pub cause: Option<String>,
    /// Why the call popped or did not (the campaign's filters).
    pub pop_rule: Option<String>,
    pub pop_id: Option<String>,
    pub degraded: Option<bool>,
    pub degraded_reasons: Vec<String>,
    pub template: Option<String>,
    pub steps: Vec<Timed>,
    pub answer_to_pop_ms: Option<i64>,
    pub pop_to_ack_ms: Option<i64>,
    /// The record was there before the answer (preloaded while ringing).
    pub record_before_answer: Option<bool>,
    pub fields: Vec<FieldCheck>,
    /// Each record source's fresh answer: outcome, time, raw, failure.
    pub sources: Vec<crate::customer::service::TestReport>,
    /// Nothing more will happen: the call ended and its pop (if one was
    /// owed) was acknowledged.
    pub complete: bool,
}

/// The report so far. `mappings`: per source, its field mapping.
pub fn report(
    trace: &Trace,
    attempt: Option<&Attempt>,
    pop: Option<&PopRecord>,
    mappings: &Map<String, Value>,
) -> Report {
    let at = |f: fn(&Attempt) -> Option<i64>| attempt.and_then(f);
    let originate = trace
        .originate_ms
        .or_else(|| attempt.map(|a| a.originate_ms));
    let marks = [
        (Step::Requested, Some(trace.requested_ms)),
        (Step::Originate, originate),
        (Step::Ringing, at(|a| a.ring_ms)),
        (Step::Answer, at(|a| a.answer_ms)),
        (Step::RecordReady, trace.record_ms),
        (Step::PopSent, pop.map(|p| p.sent_ms)),
        (Step::Acknowledged, pop.and_then(|p| p.acked_ms)),
        (Step::Hangup, at(|a| a.hangup_ms)),
    ];
    let mut steps: Vec<(Step, i64)> = marks
        .iter()
        .filter_map(|&(s, t)| t.map(|t| (s, t)))
        .collect();
    // In time order; a tie keeps the path's own order.
    steps.sort_by_key(|&(s, t)| (t, s as u8));
    let base = originate.unwrap_or(trace.requested_ms);
    let mut previous = None;
    let steps = steps
        .into_iter()
        .map(|(step, at_ms)| {
            let since = previous.map_or(0, |p| at_ms - p);
            previous = Some(at_ms);
            Timed {
                step,
                at_ms,
                offset_ms: at_ms - base,
                since_previous_ms: since,
            }
        })
        .collect();
    let answer = at(|a| a.answer_ms);
    let ended = at(|a| a.hangup_ms).is_some();
    let state = match (ended, answer, at(|a| a.ring_ms)) {
        (true, ..) => "ended",
        (false, Some(_), _) => "answered",
        (false, None, Some(_)) => "ringing",
        _ => "placing",
    };
    let not_popped = attempt
        .and_then(|a| a.pop_rule.as_deref())
        .is_some_and(|r| r.starts_with("not popped"));
    let pop_owed = answer.is_some() && !not_popped;
    let complete = ended && (!pop_owed || pop.is_some_and(|p| p.acked_ms.is_some()));
    Report {
        call_id: trace.call_id.clone(),
        task_id: trace.task_id,
        phone: trace.phone.clone(),
        agent: trace.agent_id.clone(),
        campaign: trace.campaign_id.clone(),
        customer: trace.customer_id.clone(),
        switch: trace.switch.clone(),
        state,
        outcome: attempt.and_then(|a| a.outcome.clone()),
        cause: attempt.and_then(|a| a.hangup_cause.clone()),
        pop_rule: attempt.and_then(|a| a.pop_rule.clone()),
        pop_id: pop.map(|p| p.pop_id.clone()),
        degraded: pop.map(|p| p.degraded),
        degraded_reasons: trace
            .record
            .as_ref()
            .map(|r| r.reasons.clone())
            .unwrap_or_default(),
        template: pop.and_then(|p| p.template.clone()),
        steps,
        answer_to_pop_ms: answer.zip(pop.map(|p| p.sent_ms)).map(|(a, p)| p - a),
        pop_to_ack_ms: pop.and_then(|p| p.acked_ms.map(|a| a - p.sent_ms)),
        record_before_answer: trace.record_ms.zip(answer).map(|(r, a)| r <= a),
        fields: compare(trace, mappings),
        sources: trace.probes.clone(),
        complete,
    }
}

/// Each field of the record shown, beside its source's fresh answer; the
/// fields on the screen first.
pub fn compare(trace: &Trace, mappings: &Map<String, Value>) -> Vec<FieldCheck> {
    let Some(record) = &trace.record else {
        return Vec::new();
    };
    let mut checks: Vec<FieldCheck> = record
        .fields
        .iter()
        .map(|(field, shown)| {
            let source = record
                .sources
                .get(field)
                .and_then(Value::as_str)
                .map(str::to_string);
            let probe = source
                .as_deref()
                .and_then(|s| trace.probes.iter().find(|p| p.source == s));
            let path = source
                .as_deref()
                .and_then(|s| mappings.get(s))
                .and_then(|m| m.get(field))
                .cloned();
            let answered = probe
                .and_then(|p| p.mapped.as_ref())
                .and_then(|m| m.get("fields"));
            let in_source = answered.and_then(|f| f.get(field)).cloned();
            let verdict = match (&source, probe, answered, &in_source) {
                (None, ..) => Verdict::FromTask,
                (Some(_), None, ..) | (Some(_), Some(_), None, _) => Verdict::SourceFailed,
                (Some(_), Some(_), Some(_), None) => Verdict::NotInSource,
                (Some(_), Some(_), Some(_), Some(v)) if v == shown => Verdict::Same,
                _ => Verdict::Differs,
            };
            FieldCheck {
                field: field.clone(),
                on_screen: record.shown.iter().any(|s| s == field),
                shown: shown.clone(),
                source,
                path,
                in_source,
                verdict,
            }
        })
        .collect();
    checks.sort_by_key(|c| !c.on_screen);
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customer::service::TestReport;
    use crate::dialer::test_call::RecordSeen;
    use serde_json::json;

    fn trace() -> Trace {
        Trace {
            call_id: "c1".into(),
            task_id: 7,
            phone: "+15550001111".into(),
            agent_id: "a1".into(),
            campaign_id: "camp".into(),
            customer_id: "k1".into(),
            switch: "sw".into(),
            requested_ms: 1_000,
            originate_ms: Some(1_010),
            record_ms: Some(1_050),
            record: Some(RecordSeen {
                fields: json!({"id": "k1", "name": "Wang Fang", "tier": "gold", "score": 700, "phone": "+15550001111"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                sources: json!({"name": "crm", "tier": "crm", "score": "crm", "id": "crm"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                reasons: vec![],
                found: true,
                template: "finance".into(),
                shown: vec!["name".into(), "score".into()],
            }),
            probes: vec![TestReport {
                source: "crm".into(),
                target: "GET https://crm.example/customers/{id}".into(),
                outcome: "found",
                elapsed_ms: 12.5,
                mapped: Some(json!({"kind": "record", "fields": {"id": "k1", "name": "Wang Fang", "tier": "platinum"}})),
                raw: Some("{}".into()),
                error: None,
            }],
        }
    }

    fn attempt() -> Attempt {
        Attempt {
            call_id: "c1".into(),
            task_id: 7,
            agent_id: "a1".into(),
            switch_name: "sw".into(),
            originate_ms: 1_005,
            ring_ms: Some(1_030),
            answer_ms: Some(2_030),
            hangup_ms: Some(7_030),
            outcome: Some("answered".into()),
            hangup_cause: Some("NORMAL_CLEARING".into()),
            wrap_end_ms: None,
            pop_rule: None,
        }
    }

    fn pop(acked: Option<i64>) -> PopRecord {
        PopRecord {
            pop_id: "p1".into(),
            call_id: "c1".into(),
            agent_id: "a1".into(),
            customer_id: "k1".into(),
            campaign_id: Some("camp".into()),
            task_id: Some(7),
            sent_ms: 2_031,
            acked_ms: acked,
            answered: true,
            degraded: false,
            template: Some("finance".into()),
            shown: vec![],
            trigger: Some("answer".into()),
        }
    }

    #[test]
    fn steps_go_in_time_order_with_the_preload_before_the_answer() {
        let r = report(
            &trace(),
            Some(&attempt()),
            Some(&pop(Some(2_045))),
            &Map::new(),
        );
        let order: Vec<Step> = r.steps.iter().map(|s| s.step).collect();
        assert_eq!(
            order,
            [
                Step::Requested,
                Step::Originate,
                Step::Ringing,
                Step::RecordReady,
                Step::Answer,
                Step::PopSent,
                Step::Acknowledged,
                Step::Hangup
            ]
        );
        let offsets: Vec<i64> = r.steps.iter().map(|s| s.offset_ms).collect();
        assert_eq!(offsets, [-10, 0, 20, 40, 1_020, 1_021, 1_035, 6_020]);
        assert_eq!(r.steps[4].since_previous_ms, 980);
        assert_eq!(
            (r.answer_to_pop_ms, r.pop_to_ack_ms, r.record_before_answer),
            (Some(1), Some(14), Some(true))
        );
        assert_eq!((r.state, r.complete), ("ended", true));
    }

    #[test]
    fn a_call_is_complete_only_once_its_owed_pop_is_acknowledged() {
        let r = report(&trace(), Some(&attempt()), Some(&pop(None)), &Map::new());
        assert!(!r.complete);
        let mut ringing = attempt();
        (ringing.answer_ms, ringing.hangup_ms) = (None, None);
        let r = report(&trace(), Some(&ringing), None, &Map::new());
        assert_eq!((r.state, r.complete), ("ringing", false));
        // Not answered: no pop is owed.
        ringing.hangup_ms = Some(9_000);
        let r = report(&trace(), Some(&ringing), None, &Map::new());
        assert_eq!((r.state, r.complete), ("ended", true));
        // The filters said no pop.
        let mut filtered = attempt();
        filtered.pop_rule = Some("not popped: tier is not vip".into());
        let r = report(&trace(), Some(&filtered), None, &Map::new());
        assert!(r.complete);
    }

    #[test]
    fn each_field_is_judged_against_its_source_s_fresh_answer() {
        let mappings = json!({"crm": {"name": "$.full_name", "tier": "$.level"}});
        let r = report(
            &trace(),
            Some(&attempt()),
            None,
            mappings.as_object().unwrap_or(&Map::new()),
        );
        let by = |f: &str| r.fields.iter().find(|c| c.field == f).cloned();
        let name = by("name").expect("name compared");
        assert_eq!(
            (name.verdict, name.on_screen, name.path),
            (Verdict::Same, true, Some(json!("$.full_name")))
        );
        assert_eq!(
            by("tier").map(|c| (c.verdict, c.in_source)),
            Some((Verdict::Differs, Some(json!("platinum"))))
        );
        assert_eq!(by("score").map(|c| c.verdict), Some(Verdict::NotInSource));
        assert_eq!(by("phone").map(|c| c.verdict), Some(Verdict::FromTask));
        // On-screen fields first.
        assert!(r.fields[0].on_screen && r.fields[1].on_screen);
        assert!(!r.fields[2].on_screen);
        let mut failed = trace();
        failed.probes[0].mapped = None;
        let checks = compare(&failed, &Map::new());
        assert!(
            checks
                .iter()
                .filter(|c| c.source.is_some())
                .all(|c| c.verdict == Verdict::SourceFailed)
        );
    }
}
