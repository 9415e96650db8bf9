//! The seed's three scenarios end to end: each one's foreign database,
//! read through its mapping (config/scenarios/*.toml) by the real customer
//! service, drawn by its template (config/templates/*.json). What a block
//! shows follows the data: an instalment offer only from a credit score of
//! 650, a return block only with a return under way, a trial block only
//! with a trial booked. Then `dialpop demo --scenario` runs each.

mod support;

use dialpop::campaign::settings::PopTrigger;
use dialpop::cli::demo::scenario::{self, Scenario};
use dialpop::customer::{CustomerService, Lookup};
use dialpop::popup::format::Locale;
use dialpop::popup::render::Block;
use dialpop::popup::template::{TemplateChoice, Templates};
use dialpop::popup::{Look, prepare};
use dialpop::store::{Customer, Task};
use sqlx::Row;
use support::demo_run::{assert_complete, count, run_demo};

fn customers() -> Vec<Customer> {
    (0..40)
        .map(|i| Customer {
            id: format!("s{i:03}"),
            name: ["王芳", "李伟", "张敏", "陈静"][i % 4].to_string(),
            phone: format!("+1212736{:04}", 1000 + i),
            email: None,
            tier: Some(["gold", "silver", "platinum", "bronze"][i % 4].to_string()),
            vip: i % 5 == 0,
            fields: Default::default(),
        })
        .collect()
}

struct Drawn {
    customer: serde_json::Map<String, serde_json::Value>,
    blocks: Vec<Block>,
    degraded: Vec<String>,
}

impl Drawn {
    fn block(&self, title: &str) -> Option<&Block> {
        self.blocks.iter().find(|b| b.title() == title)
    }
    fn history_rows(&self, title: &str) -> usize {
        match self.block(title) {
            Some(Block::History { rows, .. }) => rows.len(),
            _ => 0,
        }
    }
}

/// Each customer's screen, through the scenario's sources and template,
/// for a novice agent in English; and the scenario's database.
async fn draw(s: Scenario) -> (Vec<Drawn>, sqlx::SqlitePool) {
    let dir = std::env::temp_dir().join(format!(
        "dialpop-scenario-{}-{}",
        s.name(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let store = dialpop::store::open(&format!("sqlite://{}", dir.join("store.db").display()))
        .await
        .expect("store");
    let people = customers();
    for c in &people {
        store.upsert_customer(c).await.expect("customer");
    }
    let url = scenario::create(s, &dir.join("system.db"), &people, 7)
        .await
        .expect("the scenario's database");
    let sources = s.sources(&url).expect("the scenario's sources read");
    let service = CustomerService::new(&Default::default(), &sources, store.clone())
        .expect("the sources are valid");
    let templates = Templates::of(&TemplateChoice {
        default: Some(s.template().expect("template")),
        levels: Default::default(),
    });
    let mut drawn = Vec::new();
    for c in &people {
        let lookup = Lookup::new(Some(&c.id), Some(&c.phone), None, "US");
        let view = service.resolve(&lookup).await;
        let task = Task {
            campaign_id: "demo".into(),
            customer_id: c.id.clone(),
            phone: c.phone.clone(),
            ..Task::default()
        };
        let look = Look {
            templates: &templates,
            level: Some("novice"),
            locale: Locale::En,
            trigger: PopTrigger::Answer,
        };
        let p = prepare(&task, Some(view), look);
        assert_eq!(p.screen.fallback, None, "{}: the template holds", s.name());
        drawn.push(Drawn {
            customer: p.customer,
            blocks: p.screen.blocks,
            degraded: p.reasons,
        });
    }
    let pool = sqlx::SqlitePool::connect(&url).await.expect("system db");
    (drawn, pool)
}

async fn rows(pool: &sqlx::SqlitePool, sql: &'static str, id: &str) -> usize {
    let r = sqlx::query(sql)
        .bind(id.to_string())
        .fetch_one(pool)
        .await
        .expect("count");
    r.try_get::<i64, _>(0).unwrap_or(0) as usize
}

#[tokio::test]
async fn finance_shows_the_score_the_debt_and_an_offer_only_from_650() {
    let (drawn, db) = draw(Scenario::Finance).await;
    let (mut offered, mut not_offered) = (0, 0);
    for d in &drawn {
        assert!(d.degraded.is_empty(), "{:?}", d.degraded);
        let id = d.customer["id"].as_str().unwrap_or_default();
        let score = d.customer["credit_score"]
            .as_i64()
            .expect("an integer score");
        assert!(d.customer["outstanding"].is_string(), "money as exact text");
        let offer = d.block("Instalment offer").is_some();
        assert_eq!(offer, score >= 650, "{id}: score {score}");
        if offer {
            offered += 1;
        } else {
            not_offered += 1;
        }
        // The VIP block with the manager, only for VIPs (from the core's flag).
        assert_eq!(
            d.block("Account manager").is_some(),
            d.customer["vip"] == true,
            "{id}"
        );
        assert!(d.block("Hints").is_some(), "a novice sees the hints");
        let repaid = rows(&db, "SELECT COUNT(*) FROM repay_plan WHERE cust_no = ?", id).await;
        assert_eq!(d.history_rows("Repayments"), repaid.min(6), "{id}");
    }
    assert!(
        offered > 0 && not_offered > 0,
        "{offered} offered, {not_offered} not"
    );
}

#[tokio::test]
async fn ecommerce_shows_orders_with_logistics_and_a_return_only_when_open() {
    let (drawn, db) = draw(Scenario::Ecommerce).await;
    let mut returns = 0;
    for d in &drawn {
        assert!(d.degraded.is_empty(), "{:?}", d.degraded);
        let id = d.customer["id"].as_str().unwrap_or_default();
        let open = rows(
            &db,
            "SELECT COUNT(*) FROM member WHERE member_id = ? AND return_no IS NOT NULL",
            id,
        )
        .await;
        assert_eq!(d.block("Open return").is_some(), open == 1, "{id}");
        returns += open;
        let orders = rows(
            &db,
            "SELECT COUNT(*) FROM trade_order WHERE member_id = ?",
            id,
        )
        .await;
        assert_eq!(d.history_rows("Orders"), orders.min(5), "{id}");
        if let Some(Block::History { columns, rows, .. }) = d.block("Orders")
            && let Some(first) = rows.first()
        {
            assert_eq!(columns, &["Order", "Total", "Placed", "Logistics"]);
            assert!(
                first[1].starts_with('¥') || first[1].starts_with("CN¥"),
                "{first:?}"
            );
        }
    }
    assert!(returns > 0 && returns < drawn.len(), "{returns} returns");
}

#[tokio::test]
async fn education_shows_the_lead_s_course_and_a_trial_only_when_booked() {
    let (drawn, db) = draw(Scenario::Education).await;
    let mut trials = 0;
    for d in &drawn {
        assert!(d.degraded.is_empty(), "{:?}", d.degraded);
        let id = d.customer["id"].as_str().unwrap_or_default();
        assert!(d.customer["lead_source"].is_string() && d.customer["course"].is_string());
        let booked = d.customer["trial_booked"] == true;
        assert_eq!(d.block("Trial lesson").is_some(), booked, "{id}");
        if booked {
            trials += 1;
            // A time with the school's offset, stored as UTC.
            let at = d.customer["trial_at"].as_str().unwrap_or_default();
            assert!(at.ends_with('Z'), "{at}");
        }
        let consulted = rows(
            &db,
            "SELECT COUNT(*) FROM consult_log WHERE lead_id = ?",
            id,
        )
        .await;
        assert_eq!(
            d.history_rows("Previous consultations"),
            consulted.min(5),
            "{id}"
        );
    }
    assert!(trials > 0 && trials < drawn.len(), "{trials} trials");
}

#[test]
fn each_scenario_runs_as_a_demo_with_its_screen_on_every_pop() {
    for (s, history) in [
        ("finance", "还款记录"),
        ("ecommerce", "订单"),
        ("education", "历史咨询"),
    ] {
        let r = run_demo(&[
            "--scenario",
            s,
            "--agents",
            "4",
            "--customers",
            "60",
            "--speed",
            "50",
            "--listen",
            "127.0.0.1:0",
        ]);
        assert_complete(&r, 60);
        let sc = &r["scenario"];
        assert_eq!(sc["name"], s);
        assert_eq!(sc["fallbacks"], 0, "{s}: {sc}");
        // Agents are in Chinese: the blocks carry the Chinese titles, and
        // every pop has the scenario's history.
        assert_eq!(
            sc["blocks_shown"][history].as_u64(),
            Some(count(&r, "answered")),
            "{s}: {sc}"
        );
        // Hints go to the novices (half the agents) only.
        let hints = sc["blocks_shown"]["提示"].as_u64().unwrap_or(0);
        assert!(hints > 0 && hints < count(&r, "answered"), "{s}: {sc}");
    }
}
