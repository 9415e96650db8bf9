//! What a template costs a pop: preparing its content with the built-in
//! template and with a full one (header, conditional blocks, a 50-row
//! history table with money, dates and phones), which happens while the
//! phone rings and off the dialer's loop, and wrapping it at the answer,
//! against serializing the same pop for the socket, which every pop pays
//! anyway.
//!
//! `cargo bench --bench pop_render`

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use dialpop::campaign::settings::PopTrigger;
use dialpop::customer::cache::HistoryPage;
use dialpop::customer::{CustomerView, HistoryBlock};
use dialpop::popup::format::Locale;
use dialpop::popup::messages::PopCallState;
use dialpop::popup::template::{TemplateChoice, Templates};
use dialpop::popup::{Look, build_pop, pop_message, prepare};
use dialpop::store::Task;
use serde_json::{Map, Value, json};
use std::hint::black_box;

const FULL: &str = r#"{"name":"finance","header":[
  {"field":"name","label":{"en":"Name","zh-CN":"姓名"}},
  {"field":"phone","format":"phone"},
  {"field":"tier"},
  {"field":"balance","format":"money","currency":"CNY"}],
 "blocks":[
  {"kind":"fields","title":"Account manager","when":{"filters":[{"field":"tier","op":"eq","value":"VIP"}]},
   "fields":[{"field":"manager","label":"Manager"},{"field":"manager_phone","format":"phone"}]},
  {"kind":"fields","title":"Credit","fields":[{"field":"credit_score","format":"number"},{"field":"last_contact","format":"date","time_zone":"Asia/Shanghai"}]},
  {"kind":"notes","title":"Hints","when":{"levels":["novice"]},"lines":["Greet the customer by name","Offer the instalment plan"]},
  {"kind":"history","title":"Orders","source":"orders","columns":[
    {"field":"id","label":"Order"},{"field":"total","format":"money","currency":"CNY"},
    {"field":"at","format":"date_time","time_zone":"Asia/Shanghai"},{"field":"status"}]}]}"#;

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn view() -> CustomerView {
    CustomerView {
        fields: obj(
            json!({"id": "C-42", "name": "王芳 (Wang Fang)", "phone": "+8613800138000",
            "tier": "VIP", "balance": "123456.78", "manager": "Li Lei", "manager_phone": "+8613900139000",
            "credit_score": 712, "last_contact": "2026-10-12T08:30:00Z"}),
        ),
        history: vec![HistoryBlock {
            source: "orders".into(),
            title: "Orders".into(),
            page: HistoryPage {
                items: (0..50)
                    .map(|i| {
                        obj(
                            json!({"id": format!("O-{i}"), "total": format!("{}.50", i * 37),
                        "at": 1_772_755_200_000_i64 + i * 86_400_000, "status": "shipped"}),
                        )
                    })
                    .collect(),
                next_offset: Some(50),
                next_cursor: None,
                total: Some(10_000),
            },
        }],
        found: true,
        ..CustomerView::default()
    }
}

fn look(templates: &Templates) -> Look<'_> {
    Look {
        templates,
        level: Some("novice"),
        locale: Locale::ZhCn,
        trigger: PopTrigger::Answer,
    }
}

fn bench(c: &mut Criterion) {
    let task = Task {
        id: 1,
        campaign_id: "demo".into(),
        customer_id: "C-42".into(),
        phone: "+8613800138000".into(),
        ..Task::default()
    };
    let builtin = Templates::default();
    let full = Templates::of(&TemplateChoice {
        default: serde_json::from_str(FULL).ok(),
        ..TemplateChoice::default()
    });
    let v = view();
    let mut g = c.benchmark_group("pop_render");
    // The baseline: the pop as the socket gets it, serialized once per pop.
    let msg = build_pop(
        "p",
        "c",
        &task,
        Some(v.clone()),
        false,
        look(&full),
        PopCallState::Answered,
    );
    g.bench_function("serialize the full pop (baseline)", |b| {
        b.iter(|| black_box(serde_json::to_string(&msg).map(|s| s.len())))
    });
    // While the phone rings, off the dialer's loop: the record made into
    // the pop's content, the template filled (the record's copy excluded).
    g.bench_function("prepare with the built-in template (off the loop)", |b| {
        b.iter_batched(
            || v.clone(),
            |v| black_box(prepare(&task, Some(v), look(&builtin))),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("prepare with the full template (off the loop)", |b| {
        b.iter_batched(
            || v.clone(),
            |v| black_box(prepare(&task, Some(v), look(&full))),
            BatchSize::SmallInput,
        )
    });
    // At the answer, on the loop: what is ready wrapped in the message.
    let ready = prepare(&task, Some(v.clone()), look(&full));
    g.bench_function(
        "at the answer: the prepared pop wrapped (on the loop)",
        |b| {
            b.iter_batched(
                || ready.clone(),
                |p| {
                    black_box(pop_message(
                        "p",
                        "c",
                        &task,
                        p,
                        false,
                        PopTrigger::Answer,
                        PopCallState::Answered,
                    ))
                },
                BatchSize::SmallInput,
            )
        },
    );
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
