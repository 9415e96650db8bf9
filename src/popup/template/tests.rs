use super::*;

#[test]
fn json_errors_carry_their_line_and_later_ones_their_path() {
    let bad =
        "{\n  \"name\": \"x\",\n  \"header\": [\n    {\"field\": \"name\", \"colour\": 1}\n  ]\n}";
    let e = parse(bad).expect_err("unknown key");
    assert_eq!(e[0].line, Some(4), "{e:?}");
    assert!(e[0].message.contains("colour"), "{e:?}");
    let bad = r#"{"name":"x","header":[{"field":"balance","format":"money","currency":"yuan"}],
            "blocks":[{"kind":"fields","title":"VIP","when":{"filters":[{"field":"tier","op":"gt","value":"VIP"}]},"fields":[]}]}"#;
    let e = parse(bad).expect_err("two problems");
    let paths: Vec<&str> = e.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        ["header[0].currency", "blocks[0].when.filters[0].value"],
        "{e:?}"
    );
}

#[test]
fn a_good_template_reads_and_texts_follow_the_locale() {
    let t = parse(
        r#"{"name":"vip","header":[{"field":"name","label":{"en":"Name","zh-CN":"姓名"}}],
                "blocks":[{"kind":"notes","title":"Hints","when":{"levels":["novice"]},"lines":["Greet by name"]},
                          {"kind":"history","title":"Orders","source":"orders","columns":[{"field":"total","format":"money","currency":"CNY"}]}]}"#,
    )
    .expect("reads");
    assert_eq!(t.header[0].label(Locale::ZhCn), "姓名");
    assert_eq!(t.header[0].label(Locale::En), "Name");
    assert!(matches!(
        &t.blocks[1],
        BlockSpec::History {
            column: Column::Right,
            ..
        }
    ));
    assert!(check(&builtin()).is_empty());
}

#[test]
fn the_scenario_templates_read_and_show_their_blocks() {
    use crate::popup::render::{Block, render};
    let files = [
        (
            "finance",
            include_str!("../../../config/templates/finance.json"),
        ),
        (
            "ecommerce",
            include_str!("../../../config/templates/ecommerce.json"),
        ),
        (
            "education",
            include_str!("../../../config/templates/education.json"),
        ),
    ];
    let mut read = BTreeMap::new();
    for (name, text) in files {
        let t = parse(text).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(t.name, name);
        read.insert(name, t);
    }
    let titles = |s: &crate::popup::render::Screen| -> Vec<String> {
        s.blocks
            .iter()
            .map(|b| match b {
                Block::Fields { title, .. }
                | Block::Notes { title, .. }
                | Block::History { title, .. } => title.clone(),
            })
            .collect()
    };
    let record = |v: serde_json::Value| v.as_object().cloned().unwrap_or_default();
    let finance = &read["finance"];
    let good = record(
        serde_json::json!({"name": "王芳", "vip": true, "credit_score": 712, "outstanding": "8800.5"}),
    );
    let s = render(finance, &good, &[], Some("novice"), Locale::ZhCn);
    assert_eq!(titles(&s), ["客户经理", "分期方案", "提示", "还款记录"]);
    assert_eq!(s.header[4].value, "¥8,800.50");
    let poor = record(serde_json::json!({"name": "Ana", "vip": false, "credit_score": "590"}));
    let s = render(finance, &poor, &[], Some("senior"), Locale::En);
    assert_eq!(titles(&s), ["Repayments"]);
    let returning = record(serde_json::json!({"name": "Li", "open_return": "R-1"}));
    let s = render(&read["ecommerce"], &returning, &[], None, Locale::En);
    assert_eq!(titles(&s), ["Open return", "Orders"]);
    let lead = record(
        serde_json::json!({"name": "Chen", "trial_booked": true, "trial_at": "2026-12-05T02:00:00Z"}),
    );
    let s = render(&read["education"], &lead, &[], None, Locale::ZhCn);
    assert_eq!(titles(&s), ["试听课", "历史咨询"]);
    assert!(
        matches!(&s.blocks[0], Block::Fields { items, .. } if items[0].value == "2026年12月5日 10:00"),
        "{s:?}"
    );
}

#[test]
fn the_level_picks_then_the_default_then_the_builtin() {
    let senior = serde_json::json!({"name": "compact", "header": [{"field": "name"}]});
    let broken = serde_json::json!({"name": "", "header": []});
    let choice = TemplateChoice {
        default: None,
        levels: BTreeMap::from([
            ("Senior".to_string(), senior),
            ("novice".to_string(), broken),
        ]),
    };
    let t = Templates::of(&choice);
    assert_eq!(
        t.pick(Some("senior")).map(|t| t.name.as_str()),
        Ok("compact")
    );
    assert_eq!(t.pick(None).map(|t| t.name.as_str()), Ok("built-in"));
    assert_eq!(
        t.pick(Some("trainee")).map(|t| t.name.as_str()),
        Ok("built-in")
    );
    let e = t.pick(Some("novice")).expect_err("broken");
    assert!(e.contains("levels.novice") && e.contains("name"), "{e}");
}
